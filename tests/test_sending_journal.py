"""What was sent, in the journal, on SQLite and PostgreSQL: kept and read back, posted
status updates move the next one, posted follow-ups settle theirs, history counts posts,
forget and copy treat the rows like the rest of a session."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from mea_culpa.journal import open_journal
from mea_culpa.journal.tables import sent as sent_table
from mea_culpa.run import session as sm
from test_journal import Recorder, at, follow_ups, record


@pytest.fixture
def journal(store_url: str):
    with open_journal(store_url) as j:
        yield j


def send(r: Recorder, how: str, minutes: float, *, phase: str | None = None, message: str = "status-update",
         where: str = "https://hooks.slack.com/services/T…/B…/***") -> Recorder:
    draft = [d for d in r.s.drafts if d.message_id == message][-1]
    item = sm.Sent(message, how, where, draft.text, at(minutes), draft.created_at, phase)
    return r.apply(sm.record_sent(r.s, item))


def test_what_was_sent_is_kept_and_read_back_with_its_event(journal):
    r = Recorder(journal, "s1").draft("status-update", "investigating", minutes=5, text="Looking into it.\n")
    send(r, "slack", 7, phase="investigating")
    loaded = journal.load("s1")
    assert loaded.sent == r.s.sent
    (item,) = loaded.sent
    assert (item.how, item.posted, item.at, item.draft_created_at, item.text) == ("slack", True, at(7), at(5), "Looking into it.\n")
    assert loaded.events[-1] == sm.Event(at(7), "draft-sent", detail=f"status-update {at(5)}")


def test_the_next_status_update_falls_due_from_the_moment_one_was_posted(journal):
    r = Recorder(journal, "s1").draft("status-update", "investigating", minutes=0)
    assert follow_ups(journal)["status-update"].due == at(30)
    send(r, "slack", 20, phase="investigating")
    assert follow_ups(journal)["status-update"].due == at(50)
    send(r, "clipboard", 40, phase="investigating", where="clipboard")  # handed over is not posted
    assert follow_ups(journal)["status-update"].due == at(50)
    r.answer("next_update_minutes", 60, minutes=41)
    assert follow_ups(journal)["status-update"].due == at(80)
    r.draft("status-update", "identified", minutes=90)  # a newer draft, not posted yet
    assert follow_ups(journal)["status-update"].due == at(150)


def test_a_posted_resolved_update_settles_the_status_updates(journal):
    r = Recorder(journal, "s1").draft("status-update", "monitoring", minutes=0).draft("status-update", "resolved", minutes=10)
    r.draft("status-update", "monitoring", minutes=20)  # drafted again after the resolved one…
    assert follow_ups(journal)["status-update"].status == "open"
    r.s = sm.record_sent(r.s, sm.Sent("status-update", "webhook", "https://status.example.com/***", "Resolved.", at(25),
                                      at(10), "resolved"))[0]
    journal.apply(r.s, sm.Change("sent", "status-update", r.s.events[-1]))
    nxt = follow_ups(journal)["status-update"]
    assert (nxt.status, nxt.reason) == ("done", "resolved update sent")  # …but the resolved one went out


def test_a_posted_follow_up_settles_the_follow_up(journal):
    r = record(journal, "s1", fix=120)
    r.draft("customer-apology", minutes=130)
    assert follow_ups(journal)["follow-up"].status == "open"
    r.draft("follow-up", minutes=200)
    send(r, "webhook", 201, message="follow-up", where="https://status.example.com/***")
    assert follow_ups(journal)["follow-up"].status == "done"


def test_history_counts_what_was_posted(journal):
    r = Recorder(journal, "s1").draft("status-update", "investigating", minutes=1)
    send(r, "slack", 2, phase="investigating")
    send(r, "clipboard", 3, phase="investigating", where="clipboard")
    send(r, "webhook", 4, phase="investigating", where="https://status.example.com/***")
    Recorder(journal, "s2")
    rows = {row.id: row for row in journal.history()}
    assert (rows["s1"].posted, rows["s1"].last_posted) == (2, at(4))
    assert (rows["s2"].posted, rows["s2"].last_posted) == (0, None)


def test_a_whole_save_and_the_spool_keep_what_was_sent(journal):
    from mea_culpa.journal import spool

    r = Recorder(journal, "s1").draft("status-update", "identified", minutes=1)
    send(r, "slack", 2, phase="identified")
    journal.save(journal.load("s1"))
    assert journal.load("s1").sent == r.s.sent
    assert spool.session_from_data(spool.session_data(r.s)).sent == r.s.sent
    assert spool.merge(journal.load("s1"), r.s).sent == r.s.sent  # merged once, not twice


def _rows(journal, session_id: str) -> int:
    with journal.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(sent_table).where(sent_table.c.session_id == session_id)).scalar() or 0)


def test_forget_removes_what_was_sent_even_when_it_keeps_the_lessons(journal):
    for sid in ("s1", "s2"):
        r = Recorder(journal, sid).draft("status-update", "identified", minutes=1, text=f"the unique fact of {sid}")
        send(r, "slack", 2, phase="identified")
    journal.forget(["s1"])
    assert _rows(journal, "s1") == 0
    kept = journal.forget(["s2"], keep_lessons=True).kept[0][1]
    assert _rows(journal, "s2") == 0 and _rows(journal, kept) == 0
    assert journal.load(kept).sent == ()


def test_copying_a_journal_brings_what_was_sent(journal, tmp_path):
    r = Recorder(journal, "s1").draft("status-update", "identified", minutes=1)
    send(r, "slack", 2, phase="identified")
    with open_journal(tmp_path / "mine.sqlite3") as mine:
        mine.save(journal.load("s1"))
        mine.copy_to(journal_two := open_journal(tmp_path / "theirs.sqlite3"))
        with journal_two:
            assert journal_two.load("s1").sent == r.s.sent
