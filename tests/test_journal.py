"""The journal: history, action items and follow-ups, stats in SQL, forget, migrations.

Sessions are built through the real transitions (session.py) and written with
`Journal.apply`, as the runner does. `record` is also used by the command tests. Every
test that takes `journal` runs twice: on a SQLite file and on a real PostgreSQL database
(conftest.store_url).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import inspect, text

from mea_culpa.errors import NotFound, StorageError, UsageError
from mea_culpa.journal import SCHEMA_VERSION, Journal, memory_journal, open_journal, stats
from mea_culpa.journal.tables import HEAD
from mea_culpa.playbook.model import Stage, Step
from mea_culpa.run import session as sm


def Step_(step_id: str, kind: str, prompt: str, stage: str, **extra: Any) -> Step:
    """A step as the `stage` stage of a playbook holds it."""
    return Stage.model_validate({"stage": stage, "steps": [{"id": step_id, "type": kind, "prompt": prompt, **extra}]}).steps[0]


STEPS = {
    "severity": Step_("severity", "choice", "?", "facts"),
    "what_happened": Step_("what_happened", "long-text", "?", "facts"),
    "noticed_at": Step_("noticed_at", "datetime", "?", "facts"),
    "next_update_minutes": Step_("next_update_minutes", "number", "?", "facts"),
    "contributing_factors": Step_("contributing_factors", "long-text", "?", "cause"),
    "follow_up_sent": Step_("follow_up_sent", "action", "?", "move-on"),
    "resolved_notice": Step_("resolved_notice", "action", "?", "fix"),
    "updates_posted": Step_("updates_posted", "action", "?", "apologize"),
    "apology_sent": Step_("apology_sent", "action", "?", "apologize"),
    "prevention_actions": Step_("prevention_actions", "list", "?", "prevent", action_items=True),
    "lesson": Step_("lesson", "text", "?", "move-on"),
}
START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)


def at(minutes: float, start: dt.datetime = START) -> str:
    return (start + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Recorder:
    """Walks one session through transitions, writing each change like the runner does."""

    def __init__(self, journal: Journal, sid: str, *, title: str = "Checkout down", playbook: str = "service-outage",
                 start: dt.datetime = START, tags: tuple[str, ...] = ()) -> None:
        self.journal, self.start, self.clock = journal, start, 0.0
        book = SimpleNamespace(id=playbook, title=playbook.title(), version="1", content_hash="h", tags=(), path=None)
        self.s, change = sm.new_session(book, session_id=sid, title=title, now=at(0, start), tags=tags)  # type: ignore[arg-type]
        journal.apply(self.s, change)

    def now(self, minutes: float | None = None) -> str:
        self.clock = self.clock + 1 if minutes is None else minutes
        return at(self.clock, self.start)

    def apply(self, pair: tuple[sm.Session, sm.Change]) -> Recorder:
        self.s, change = pair
        self.journal.apply(self.s, change)
        return self

    def answer(self, step_id: str, value: Any, minutes: float | None = None) -> Recorder:
        return self.apply(sm.set_answer(self.s, STEPS[step_id], value, now=self.now(minutes)))

    def clear(self, step_id: str) -> Recorder:
        return self.apply(sm.clear_answer(self.s, STEPS[step_id], now=self.now()))

    def complete(self, stage: str, minutes: float | None = None) -> Recorder:
        return self.apply(sm.complete_stage(self.s, stage, now=self.now(minutes)))

    def draft(self, message: str, phase: str | None = None, minutes: float | None = None, text: str = "text") -> Recorder:
        return self.apply(sm.add_draft(self.s, sm.Draft(message, "warm", text, self.now(minutes), phase)))

    def status(self, status: str) -> Recorder:
        return self.apply(sm.set_status(self.s, status, now=self.now()))


def record(journal: Journal, sid: str, *, title: str = "Checkout down", playbook: str = "service-outage",
           start: dt.datetime = START, severity: str | None = "major", tags: tuple[str, ...] = (),
           noticed_before: float | None = 30, factors: str | None = None, actions: list[dict[str, Any]] | None = None,
           lesson: str | None = None, own: float | None = 20, apologize: float | None = 45, fix: float | None = 120,
           status: str = "completed") -> Recorder:
    """A whole session: its milestones at the given minutes after the start (None: not reached)."""
    r = Recorder(journal, sid, title=title, playbook=playbook, start=start, tags=tags)
    if severity:
        r.answer("severity", severity)
    if noticed_before is not None:
        noticed = start - dt.timedelta(minutes=noticed_before)
        r.answer("noticed_at", noticed.isoformat())
    if factors:
        r.answer("contributing_factors", factors)
    for stage, minutes in (("own", own), ("apologize", apologize), ("fix", fix)):
        if minutes is not None:
            r.complete(stage, minutes)
    if actions:
        r.answer("prevention_actions", actions)
    if lesson:
        r.answer("lesson", lesson)
    if status != "in-progress":
        r.status(status)
    return r


@pytest.fixture
def journal(store_url: str):
    with open_journal(store_url) as j:
        yield j


@pytest.fixture
def sqlite_journal(tmp_path: Path):
    """For what only a file has: bytes on the disk, a write-ahead log, PRAGMA user_version."""
    with open_journal(tmp_path / "journal.sqlite3") as j:
        yield j


def rows(journal: Journal, sql: str, **params: Any) -> list[Any]:
    with journal.engine.connect() as conn:
        return list(conn.execute(text(sql), params).all())


def every_text(journal: Journal) -> str:
    """Every value of every row of every table in the journal's database, as one text."""
    with journal.engine.connect() as conn:
        names = inspect(conn).get_table_names()
        return "\n".join(
            repr(tuple(row)) for name in names for row in conn.execute(text(f'SELECT * FROM "{name}"'))
        )


def item(what: str, owner: str = "Dana", due: str = "2026-04-01", **extra: Any) -> dict[str, Any]:
    return {"what": what, "owner": owner, "due": due, "effort": "1 h", "commitment": True, **extra}


# --- history ------------------------------------------------------------------------------


def test_history_lists_sessions_newest_first_a_page_at_a_time(journal):
    for day in range(1, 6):
        record(journal, f"s{day}", start=START.replace(day=day))
    assert [r.id for r in journal.history(limit=2)] == ["s5", "s4"]
    assert [r.id for r in journal.history(limit=2, offset=4)] == ["s1"]
    assert journal.count_sessions() == 5


def test_history_filters_by_playbook_tag_status_severity_and_start(journal):
    record(journal, "a", playbook="general", tags=("billing",), severity="minor", start=START.replace(day=1))
    record(journal, "b", playbook="service-outage", tags=("billing", "eu"), status="in-progress", start=START.replace(day=5))
    record(journal, "c", playbook="service-outage", severity="critical", start=START.replace(day=9))
    ids = lambda **f: [r.id for r in journal.history(**f)]  # noqa: E731
    assert ids(playbook="service-outage") == ["c", "b"]
    assert ids(tag="billing") == ["b", "a"]
    assert ids(status="in-progress") == ["b"]
    assert ids(severity="critical") == ["c"]
    assert ids(since="2026-03-05") == ["c", "b"]
    assert ids(before="2026-03-05") == ["a"]
    assert journal.count_sessions(tag="billing", since="2026-03-02") == 1


def test_a_history_row_shows_severity_stage_tags_and_open_actions(journal):
    r = record(journal, "a", tags=("eu",), actions=[item("Add a canary"), item("Alert on errors")])
    journal.set_action_status(journal.actions()[0].id, "done")
    row = journal.history()[0]
    assert (row.severity, row.stage_reached, row.tags, row.open_actions, row.status) == ("major", "fix", ("eu",), 1, "completed")
    assert row.title == r.s.title and not row.lessons_only


# --- action items -------------------------------------------------------------------------


def test_action_items_from_a_list_step_are_listed_soonest_due_first(journal):
    record(journal, "a", actions=[item("Later", due="2026-05-01"), item("Sooner", due="2026-04-01"), item("Whenever", due=None)])
    assert [a.what for a in journal.actions()] == ["Sooner", "Later", "Whenever"]
    first = journal.actions()[0]
    assert (first.owner, first.effort, first.commitment, first.kind, first.session_id) == ("Dana", "1 h", True, "action", "a")


def test_an_open_item_past_its_due_date_is_overdue(journal):
    record(journal, "a", actions=[item("Late", due="2026-03-10"), item("Fine", due="2026-03-20")])
    now = dt.datetime(2026, 3, 15, 12, tzinfo=dt.timezone.utc)
    assert [(a.what, a.overdue) for a in journal.actions(now=now)] == [("Late", True), ("Fine", False)]
    assert [a.what for a in journal.actions(overdue=True, now=now)] == ["Late"]


def test_done_and_dropped_items_leave_the_open_list_and_show_with_all(journal):
    record(journal, "a", actions=[item("One"), item("Two"), item("Three")])
    one, two, _ = journal.actions()
    journal.set_action_status(one.id, "done")
    dropped = journal.set_action_status(two.id, "dropped", reason="replaced by the checklist")
    assert dropped.reason == "replaced by the checklist"
    assert [a.what for a in journal.actions()] == ["Three"]
    assert {a.what: a.status for a in journal.actions(include_closed=True)} == {"One": "done", "Two": "dropped", "Three": "open"}
    assert journal.set_action_status(two.id, "open").status == "open"


def test_dropping_needs_a_reason_and_an_unknown_id_is_not_found(journal):
    record(journal, "a", actions=[item("One")])
    with pytest.raises(UsageError, match="reason"):
        journal.set_action_status(journal.actions()[0].id, "dropped", reason="  ")
    with pytest.raises(NotFound):
        journal.set_action_status(999, "done")
    with pytest.raises(UsageError):
        journal.set_action_status(journal.actions()[0].id, "finished")


def test_the_owner_filter_ignores_case(journal):
    record(journal, "a", actions=[item("One", owner="Dana"), item("Two", owner="Sam")])
    assert [a.what for a in journal.actions(owner="dana")] == ["One"]


def test_editing_the_list_keeps_the_id_and_status_of_items_that_stay(journal):
    r = record(journal, "a", actions=[item("Keep me"), item("Remove me")])
    keep = journal.actions()[0]
    journal.set_action_status(keep.id, "done")
    r.answer("prevention_actions", [item("Keep me", due="2026-04-15"), item("New one")])
    rows = {a.what: a for a in journal.actions(include_closed=True)}
    assert set(rows) == {"Keep me", "New one"}
    assert (rows["Keep me"].id, rows["Keep me"].status, rows["Keep me"].due) == (keep.id, "done", "2026-04-15")


def test_clearing_the_list_removes_its_items(journal):
    r = record(journal, "a", actions=[item("One")])
    r.clear("prevention_actions")
    assert journal.actions(include_closed=True) == []


def test_saving_a_whole_session_again_keeps_action_ids_and_statuses(journal):
    record(journal, "a", actions=[item("One"), item("Two")])
    one = journal.actions()[0]
    journal.set_action_status(one.id, "done")
    journal.save(journal.load("a"))
    journal.save(journal.load("a"))
    assert {(a.id, a.what, a.status) for a in journal.actions(include_closed=True)} >= {(one.id, "One", "done")}
    assert len(journal.actions(include_closed=True)) == 2
    assert len(journal.load("a").events) == len({(e.at, e.kind, e.stage, e.step) for e in journal.load("a").events})


def test_a_memory_journal_deletes_a_sessions_rows_with_it():
    j = memory_journal()
    record(j, "a", actions=[item("One")])
    events = len(j.load("a").events)
    j.save(j.load("a"))
    assert len(j.load("a").events) == events
    j.forget(["a"])
    assert rows(j, "SELECT COUNT(*) FROM events") == [(0,)]


# --- follow-ups ---------------------------------------------------------------------------


def follow_ups(journal: Journal, **kw: Any) -> dict[str, Any]:
    return {a.step_id: a for a in journal.actions(include_closed=True, **kw) if a.is_follow_up}


def test_an_unresolved_status_update_asks_for_the_next_one_at_the_chosen_interval(journal):
    r = record(journal, "a", fix=None, own=None, apologize=None, status="in-progress")
    r.answer("next_update_minutes", 20).draft("status-update", "investigating", minutes=10)
    nxt = follow_ups(journal)["status-update"]
    assert (nxt.status, nxt.due, nxt.kind) == ("open", at(30), "follow-up")
    assert "investigating" in nxt.what
    r.draft("status-update", "identified", minutes=40)
    assert follow_ups(journal)["status-update"].due == at(60)
    r.draft("status-update", "resolved", minutes=90)  # drafted is not posted: posting it is what is due now
    nxt = follow_ups(journal)["status-update"]
    assert (nxt.status, nxt.what, nxt.due) == ("open", "Post the resolved update", at(90))
    r.apply(sm.mark_sent(r.s, r.s.drafts[-1], now=r.now(95)))
    assert follow_ups(journal)["status-update"].status == "done"


def test_an_interval_typed_as_about_fifteen_is_read_as_its_number(journal):
    """`next_update_minutes` answered "~15" is kept as typed ({number, typed}); the next
    update falls due 15 minutes on, not after the default 30."""
    r = record(journal, "a", fix=None, own=None, apologize=None, status="in-progress")
    r.answer("next_update_minutes", {"number": 15, "typed": "~15"}).draft("status-update", "investigating", minutes=10)
    assert follow_ups(journal)["status-update"].due == at(25)


def test_without_an_interval_the_next_update_is_due_after_thirty_minutes(journal):
    r = record(journal, "a", fix=None, status="in-progress")
    r.draft("status-update", "monitoring", minutes=100)
    assert follow_ups(journal)["status-update"].due == at(130)


def test_a_new_status_update_reopens_a_next_update_marked_done(journal):
    r = record(journal, "a", fix=None, status="in-progress")
    r.draft("status-update", "investigating", minutes=10)
    journal.set_action_status(follow_ups(journal)["status-update"].id, "done")
    r.draft("status-update", "identified", minutes=40)
    assert follow_ups(journal)["status-update"].status == "open"


def test_after_the_fix_a_told_customer_is_owed_the_follow_up_message(journal):
    r = record(journal, "a", fix=None, status="in-progress")
    r.draft("customer-apology", minutes=50)
    assert "follow-up" not in follow_ups(journal)
    r.complete("fix", 120)
    owed = follow_ups(journal)["follow-up"]
    assert owed.status == "open"
    assert owed.due == ((START + dt.timedelta(minutes=120)).astimezone().date() + dt.timedelta(days=1)).isoformat()
    r.draft("follow-up", minutes=200)
    assert follow_ups(journal)["follow-up"].status == "open"  # drafting is not sending
    r.apply(sm.mark_sent(r.s, r.s.drafts[-1], now=r.now(210)))
    assert follow_ups(journal)["follow-up"].status == "done"


@pytest.mark.parametrize(("message", "phase"), [("follow-up", None), ("status-update", "resolved"), ("status-update", "identified")])
def test_no_draft_closes_a_follow_up(journal, message: str, phase: str | None):
    """Whatever is drafted, what was owed stays open until it is marked sent or posted."""
    r = record(journal, "a", fix=None, status="in-progress")
    r.draft("status-update", "investigating", minutes=50).complete("fix", 120)
    r.draft(message, phase, minutes=200)
    assert {step: a.status for step, a in follow_ups(journal).items()} == {"status-update": "open", "follow-up": "open"}


def test_marking_the_follow_up_step_done_settles_the_follow_up(journal):
    r = record(journal, "a", fix=None, status="in-progress")
    r.draft("customer-apology", minutes=50).complete("fix", 120)
    r.answer("follow_up_sent", {"state": "done", "reason": ""})
    assert follow_ups(journal)["follow-up"].status == "done"


def test_nobody_told_means_no_follow_up_is_owed(journal):
    record(journal, "a")
    assert follow_ups(journal) == {}


def test_an_abandoned_session_drops_its_open_follow_ups(journal):
    r = record(journal, "a", fix=None, status="in-progress")
    r.draft("status-update", "identified", minutes=10)
    r.status("abandoned")
    assert follow_ups(journal)["status-update"].status == "dropped"


# --- to-dos left open ---------------------------------------------------------------------


def to_dos(journal: Journal, **kw: Any) -> dict[str, Any]:
    return {a.step_id: a for a in journal.actions(include_closed=True, **kw) if a.kind == "to-do"}


def test_a_run_keeps_its_open_to_dos_answer_by_answer(journal):
    """Written as the runner writes (each change with the playbook): required to-dos are
    open while the run has not marked them, one put off keeps its note, one marked done
    leaves `actions`, and one closed with `actions done` stays closed through later answers."""
    from test_session import book

    general = book("general")
    session, change = sm.new_session(general, session_id="run", title="Gate left open", now=at(0))
    journal.apply(session, change, playbook=general)
    pending = to_dos(journal)
    assert {"apology_sent", "fix_status"} <= set(pending) and {a.step_state for a in pending.values()} == {"pending"}

    def answer(step_id: str, value: Any, minutes: float) -> None:
        nonlocal session
        session, change = sm.set_answer(session, general.step(step_id), value, now=at(minutes))
        journal.apply(session, change, playbook=general)

    answer("apology_sent", {"state": "later", "reason": "call Grace first"}, 10)
    answer("fix_status", {"state": "done", "reason": ""}, 11)
    found = to_dos(journal)
    assert (found["apology_sent"].step_state, found["apology_sent"].note, found["apology_sent"].status) == ("later", "call Grace first", "open")
    assert "fix_status" not in found
    journal.set_action_status(found["apology_sent"].id, "done")
    answer("severity", "minor", 12)
    assert to_dos(journal)["apology_sent"].status == "done"  # `actions done` is not undone by the next answer
    answer("follow_up_sent", {"state": "later", "reason": "next week"}, 13)
    session, change = sm.set_status(session, "abandoned", now=at(14))
    journal.apply(session, change, playbook=general)
    # abandoned: what was put off is dropped, what was never marked is no longer owed
    assert {step: a.status for step, a in to_dos(journal).items()} == {"apology_sent": "done", "follow_up_sent": "dropped"}


def test_writes_without_the_playbook_leave_the_to_dos_as_they_were(journal):
    from test_session import TWO_LATER_ONE_BLOCKED, answered, book, drafted

    general = book("general")
    session = answered(general, TWO_LATER_ONE_BLOCKED)
    journal.save(session, playbook=general)
    before = to_dos(journal)
    assert set(before) == {"stop_the_damage", "apology_sent", "fix_status"}
    session = drafted(session, "customer-apology", at(30))
    journal.apply(session, sm.Change("draft", "customer-apology", session.events[-1]))
    journal.save(session)
    assert to_dos(journal) == before


# --- stats --------------------------------------------------------------------------------


def test_stats_count_sessions_by_playbook_severity_tag_status_and_month(journal):
    record(journal, "a", playbook="general", severity="minor", tags=("eu",), start=START.replace(month=1))
    record(journal, "b", playbook="general", severity=None, tags=("eu", "api"), start=START.replace(month=3))
    record(journal, "c", status="in-progress", start=START.replace(month=3, day=5))
    report = journal.stats()
    assert report.sessions == 3
    assert dict(report.by_playbook) == {"general": 2, "service-outage": 1}
    assert dict(report.by_severity) == {"minor": 1, "unset": 1, "major": 1}
    assert dict(report.by_tag) == {"eu": 2, "api": 1}
    assert dict(report.by_status) == {"completed": 2, "in-progress": 1}
    assert report.per_month == (("2026-01", 1), ("2026-02", 0), ("2026-03", 2))
    assert journal.stats(since="2026-02-01").sessions == 2


def test_medians_in_sql_match_the_pure_medians_of_the_event_timestamps(journal):
    rng = random.Random(3)
    sessions = []
    for n in range(41):
        r = record(
            journal, f"s{n}", start=START + dt.timedelta(days=n), severity=rng.choice(["minor", "major", None]),
            noticed_before=rng.choice([None, rng.randint(0, 300)]), own=rng.choice([None, rng.randint(1, 90)]),
            apologize=rng.randint(91, 400), fix=rng.choice([None, rng.randint(401, 5000)]),
        )
        sessions.append(r.s)
    for since in (None, "2000-01-01"):  # the index walk, with and without the start-time filter
        report = journal.stats(since=since)
        for median in report.medians:
            values = [v for s in sessions if (v := stats.milestone_seconds(s.noticed_at, s.created_at, s.events)[median.milestone]) is not None]
            assert median.sessions == len(values)
            assert median.seconds == pytest.approx(stats.median(values), abs=0.01)
        minor = [s for s in sessions if s.severity == "minor"]
        fixed = [v for s in minor if (v := stats.milestone_seconds(s.noticed_at, s.created_at, s.events)["fixed"]) is not None]
        assert report.medians_by_severity["minor"][2].seconds == pytest.approx(stats.median(fixed), abs=0.01)


def test_a_later_noticed_time_moves_the_medians(journal):
    r = record(journal, "a", noticed_before=60, own=20)
    assert journal.stats().medians[0].seconds == 80 * 60
    r.answer("noticed_at", (START - dt.timedelta(minutes=10)).isoformat())
    assert journal.stats().medians[0].seconds == 30 * 60


def test_apologies_marked_later_are_no_apology_until_they_are_done(journal):
    """Issue 19: `stats` said "to apologize 3 h 35 min" when both apologies were marked
    later; the apology happens when the last of them is marked done."""
    r = record(journal, "a", noticed_before=0, own=10, apologize=None, fix=None, status="in-progress")
    r.answer("updates_posted", {"state": "later", "reason": "after the call"}, minutes=40)
    r.answer("apology_sent", {"state": "later", "reason": ""}, minutes=41)
    r.complete("apologize", 45)
    assert [(m.milestone, m.sessions) for m in journal.stats().medians] == [("owned", 1), ("apologized", 0), ("fixed", 0)]
    r.answer("updates_posted", {"state": "done", "reason": ""}, minutes=120)
    assert journal.stats().medians[1].sessions == 0  # one apology is still to come
    r.answer("apology_sent", {"state": "done", "reason": ""}, minutes=215)
    assert (journal.stats().medians[1].seconds, journal.stats().medians[1].sessions) == (215 * 60, 1)


def test_completion_rate_counts_prevention_actions_not_follow_ups(journal):
    r = record(journal, "a", actions=[item("One", due="2000-01-01"), item("Two"), item("Three"), item("Four")])
    r.draft("customer-apology")  # owes a follow-up message, which is no prevention action
    ids = {a.what: a.id for a in journal.actions()}
    journal.set_action_status(ids["Two"], "done")
    journal.set_action_status(ids["Three"], "dropped", reason="no budget")
    a = journal.stats(now=START).actions
    assert (a.open, a.overdue, a.done, a.dropped, a.completion_rate) == (2, 1, 1, 1, 0.25)


def test_a_factor_recurring_in_two_sessions_is_a_pattern_counted_once_per_session(journal):
    record(journal, "a", factors="No review step before sending.\n- no review steps before send")
    record(journal, "b", factors="Missing a review step before sending; tired")
    record(journal, "c", factors="A vendor changed their API")
    patterns = journal.stats().patterns
    assert [(p.sessions, p.key) for p in patterns] == [(2, stats.normalise_factor("review step send"))]
    assert patterns[0].label in ("Missing a review step before sending", "No review step before sending")


def test_a_pattern_shows_learning_once_a_session_has_a_lesson_and_every_action_done(journal):
    record(journal, "a", factors="No review step", lesson="Check before sending.", actions=[item("Add a review")])
    record(journal, "b", factors="no review steps")
    pattern = journal.stats().patterns[0]
    assert pattern.without_learning
    journal.set_action_status(journal.actions(session="a")[0].id, "done")
    assert journal.stats().patterns[0].learned == 1
    journal.set_action_status(journal.actions(session="a", include_closed=True)[0].id, "open")
    assert journal.stats().patterns[0].without_learning


def test_changing_the_factors_answer_updates_the_patterns(journal):
    record(journal, "a", factors="No review step")
    r = record(journal, "b", factors="no review steps")
    assert journal.stats().patterns
    r.answer("contributing_factors", "Tired")
    assert journal.stats().patterns == ()


def test_a_rare_pattern_without_learning_is_kept_beyond_the_most_frequent(journal):
    for n in range(3):
        record(journal, f"common{n}", factors="Deploy on Friday", start=START + dt.timedelta(days=n))
    record(journal, "rare1", factors="Autocomplete picked the wrong recipient")
    record(journal, "rare2", factors="autocomplete picks wrong recipients")
    keys = [p.label for p in journal.stats(patterns=1).patterns]
    assert keys[0] == "Deploy on Friday" and len(keys) == 2


# --- forget -------------------------------------------------------------------------------

SECRET = "Zq7-ACME-invoice-4411-sent-to-bob"


def file_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    wal = Path(f"{path}-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def secret_session(journal: Journal, sid: str = "2026-03-02-invoice") -> Recorder:
    r = record(journal, sid, title=f"Invoice {SECRET}", factors=f"Autocomplete chose {SECRET}", lesson="Type the address, do not pick it.",
               actions=[item("Turn off autocomplete for external mail")])
    r.answer("what_happened", f"The invoice {SECRET} went to the wrong Bob.")
    r.draft("customer-apology", text=f"Sorry about {SECRET}")
    return r


def test_forget_deletes_a_session_and_every_row_that_belongs_to_it(journal):
    secret_session(journal)
    record(journal, "other")
    result = journal.forget(["2026-03-02-invoice"])
    assert result.deleted == ("2026-03-02-invoice",) and result.scrubbed
    assert not journal.exists("2026-03-02-invoice")
    for table in ("steps", "stages", "events", "actions", "drafts", "factors", "session_tags"):
        assert rows(journal, f"SELECT COUNT(*) FROM {table} WHERE session_id = :sid", sid="2026-03-02-invoice") == [(0,)]
    assert journal.exists("other")


def test_forget_leaves_no_trace_of_the_answers_in_any_table(journal):
    secret_session(journal)
    record(journal, "other", factors="Autocomplete chose the wrong Bob")  # shares words with the secret's factor
    assert SECRET in every_text(journal)
    journal.forget(["2026-03-02-invoice"])
    remaining = every_text(journal)
    assert SECRET not in remaining and "Zq7" not in remaining and "4411" not in remaining
    assert journal.exists("other")


def test_forgotten_facts_are_gone_from_the_database_file_and_its_log(sqlite_journal):
    journal = sqlite_journal
    secret_session(journal)
    assert SECRET.encode() in file_bytes(journal.path)
    journal.forget(["2026-03-02-invoice"])
    assert SECRET.encode() not in file_bytes(journal.path)


def test_forget_keeping_lessons_keeps_the_lesson_and_actions_and_nothing_else(journal):
    secret_session(journal)
    result = journal.forget(["2026-03-02-invoice"], keep_lessons=True)
    (old, new), = result.kept
    assert old == "2026-03-02-invoice" and new == "2026-03-02-facts-forgotten"
    kept = journal.load(new)
    assert kept.title == "(facts forgotten)"
    assert set(kept.steps) == {"lesson", "prevention_actions"}
    assert kept.drafts == () and all(e.detail == "" for e in kept.events)
    assert [a.what for a in journal.actions(session=new)] == ["Turn off autocomplete for external mail"]
    assert journal.history()[0].lessons_only
    assert journal.stats().medians[0].sessions == 1  # the timings still count
    remaining = every_text(journal)
    assert SECRET not in remaining and "Zq7" not in remaining
    assert "Type the address" in remaining
    if journal.path is not None:
        assert SECRET.encode() not in file_bytes(journal.path)


def test_forget_keeping_lessons_removes_the_notes_of_the_to_dos_left_open(journal):
    """A to-do's note is the person's text ("call Bob about the invoice…"): a fact, not a lesson."""
    from test_session import answered, book

    general = book("general")
    session = answered(general, {"apology_sent": {"state": "later", "reason": f"call Bob about {SECRET}"}})
    journal.save(session, playbook=general)
    assert [a.note for a in journal.actions(session=session.id) if a.kind == "to-do"] == [f"call Bob about {SECRET}"]
    (_, new), = journal.forget([session.id], keep_lessons=True).kept
    assert {a.kind for a in journal.actions(session=new, include_closed=True)} == {"action"}
    assert SECRET not in every_text(journal)


def test_forgetting_lessons_of_a_session_twice_changes_nothing_more(journal):
    secret_session(journal)
    (_, new), = journal.forget(["2026-03-02-invoice"], keep_lessons=True).kept
    assert journal.forget([new], keep_lessons=True).kept == ((new, new),)


def test_forget_of_an_unknown_session_changes_nothing(journal):
    record(journal, "a")
    with pytest.raises(NotFound):
        journal.forget(["a", "nope"])
    assert journal.exists("a")


def test_sessions_before_a_date_are_listed_oldest_first_for_forget_before(journal):
    for day in (3, 1, 9):
        record(journal, f"s{day}", start=START.replace(day=day))
    assert journal.session_ids(before="2026-03-05") == ["s1", "s3"]


# --- the file: migrations -----------------------------------------------------------------


def legacy_journal(path: Path, version: int) -> None:
    """A SQLite journal as mea-culpa wrote it before Alembic: schema `version`, marked by
    PRAGMA user_version alone."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    from mea_culpa.journal.migrate import MIGRATIONS
    from mea_culpa.journal.tables import REVISIONS

    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, REVISIONS[version - 1])
        conn.exec_driver_sql("DROP TABLE alembic_version")
        conn.exec_driver_sql(f"PRAGMA user_version = {version}")
    engine.dispose()


def test_a_journal_from_a_newer_version_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "journal.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StorageError, match="newer"):
        open_journal(path)
    assert path.read_bytes() == before


def test_a_journal_at_an_unknown_revision_is_refused(journal, store_url):
    with journal.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(StorageError, match=rf"newer mea-culpa \(schema 9999_future; this one reads up to {HEAD}\)"):
        open_journal(store_url)


def test_a_version_1_journal_is_migrated_with_factors_milestones_and_follow_ups(tmp_path):
    path = tmp_path / "journal.sqlite3"
    legacy_journal(path, 1)
    conn = sqlite3.connect(path, isolation_level=None)
    for sid in ("a", "b"):
        conn.execute(
            "INSERT INTO sessions (id, title, playbook_id, playbook_title, playbook_version, playbook_hash, playbook_path, status,"
            " created_at, updated_at, noticed_at) VALUES (?, 't', 'general', 'G', '1', 'h', '', 'completed', ?, ?, ?)",
            (sid, at(0), at(300), at(-10)),
        )
        conn.execute("INSERT INTO steps (session_id, step_id, stage, state, value, at) VALUES (?, 'contributing_factors', 'cause', 'answered', ?, ?)",
                     (sid, json.dumps("No review step"), at(1)))
        conn.execute("INSERT INTO events (session_id, at, kind, stage) VALUES (?, ?, 'stage-completed', 'own')", (sid, at(20)))
        conn.execute("INSERT INTO stages (session_id, stage, state, completed_at) VALUES (?, 'fix', 'completed', ?)", (sid, at(200)))
        conn.execute("INSERT INTO drafts (session_id, message_id, tone, text, created_at) VALUES (?, 'customer-apology', 'warm', 'x', ?)", (sid, at(30)))
    conn.close()
    with open_journal(path) as j:
        assert rows(j, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
        report = j.stats()
        assert report.patterns[0].sessions == 2
        assert report.medians[0].seconds == 30 * 60
        assert {a.step_id for a in j.actions() if a.is_follow_up} == {"follow-up"}
        assert {r.author for r in j.history()} == {"Test Person"}


def test_two_first_opens_of_a_new_journal_both_find_it_ready(tmp_path):
    """Both may find it empty; only the first migrates, the second waits and sees it done."""
    import threading

    path = tmp_path / "journal.sqlite3"
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            open_journal(path).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert rows(open_journal(path), "SELECT version_num FROM alembic_version") == [(HEAD,)]


def test_the_kept_pattern_counts_agree_with_a_recount_after_edits_and_forgets(journal):
    """The no-`--since` path reads trigger-kept counts; `--since` recounts the factors."""
    rng = random.Random(5)
    themes = ["No review step", "Deploy on Friday", "Unclear ownership", "Too many urgent tasks", "Tired"]
    recorders = []
    for n in range(30):
        picked = rng.sample(themes, rng.randint(1, 3))
        recorders.append(record(journal, f"s{n:02d}", start=START + dt.timedelta(days=n), factors="\n".join(picked),
                                lesson=rng.choice([None, "Slow down."]), actions=[item("Add a check")]))
    for r in recorders[:5]:
        r.answer("contributing_factors", rng.choice(themes))
    for a in journal.actions()[::2]:
        journal.set_action_status(a.id, "done")
    journal.forget(["s05", "s06"])
    journal.forget(["s07", "s08"], keep_lessons=True)
    kept = {(p.key, p.sessions, p.learned, p.first, p.last) for p in journal.stats().patterns}
    recounted = {(p.key, p.sessions, p.learned, p.first, p.last) for p in journal.stats(since="1970-01-01").patterns}
    assert kept == recounted and kept


def _figures(report: stats.Report) -> dict[str, Any]:
    data = stats.to_json(report)
    return {k: v for k, v in data.items() if k not in ("since", "recurring_factors")}


def test_the_kept_tallies_agree_with_a_recount_after_edits_drafts_copies_and_forgets(journal):
    """Over the whole journal `stats`, `history` and `actions` read tallies kept on write;
    over a range they count. After every kind of write the two agree."""
    rng = random.Random(11)
    recorders = []
    for n in range(24):
        recorders.append(record(
            journal, f"s{n:02d}", playbook=rng.choice(["general", "service-outage", "email-blunder"]),
            start=START + dt.timedelta(days=9 * n), severity=rng.choice(["minor", "major", None]),
            tags=tuple(rng.sample(["eu", "api", "billing"], rng.randint(0, 2))), noticed_before=rng.choice([None, 30, 600]),
            own=rng.choice([None, 5, 20, 90]), apologize=rng.choice([None, 45, 300]), fix=rng.choice([None, 120, 4000]),
            actions=[item(f"Check {k}", due=f"2026-0{rng.randint(3, 9)}-01") for k in range(rng.randint(0, 3))] or None,
            lesson=rng.choice([None, "Slow down."]), status=rng.choice(["completed", "in-progress", "abandoned"]),
        ))
    recorders[0].answer("severity", "critical")
    told = record(journal, "told", fix=120, status="in-progress")
    told.draft("status-update", phase="investigating")  # owes the next update
    told.draft("customer-apology")  # after the fix: owes the follow-up message
    recorders[3].answer("prevention_actions", [item("Another check")])
    recorders[4].clear("prevention_actions")
    for a in journal.actions()[::3]:
        journal.set_action_status(a.id, "done")
    journal.set_action_statuses([(a.id, "dropped", "no budget") for a in journal.actions()[:2]])
    again = journal.load("s05")
    journal.save(sm.set_status(again, "completed", now=at(5000))[0])
    journal.save_many([journal.load("s06"), sm.new_session(SimpleNamespace(  # type: ignore[arg-type]
        id="general", title="General", version="1", content_hash="h", tags=(), path=None), session_id="s99", title="New", now=at(1))[0]])
    journal.forget(["s07", "s08"])
    journal.forget(["s09", "s10"], keep_lessons=True)
    later = START + dt.timedelta(days=120)  # some items overdue, some not yet
    kept, counted = journal.stats(now=later), journal.stats(since="1970-01-01", now=later)
    assert _figures(kept) == _figures(counted)
    assert kept.sessions == 24 and kept.medians[0].sessions and 0 < kept.actions.overdue < kept.actions.open
    assert journal.count_sessions() == len(journal.history(limit=100)) == 24
    assert journal.count_sessions(status="completed") == len(journal.history(status="completed", limit=100))
    assert journal.count_actions() == len(journal.actions())
    assert journal.count_actions(include_closed=True) == len(journal.actions(include_closed=True))
    copy = memory_journal()  # `journal copy` writes each session anew, statuses and all
    journal.copy_to(copy)
    copied = copy.stats(now=later)
    assert _figures(copied) == _figures(copy.stats(since="1970-01-01", now=later)) and copied.sessions == kept.sessions


def _kept_items(journal: Journal) -> dict[str, int]:
    """The kept tallies of items ("<kind> <status>"), after checking that every kept tally
    and duration is what a recount of the journal finds: the items counted row by row,
    the rest as `count_tallies` counts them."""
    from mea_culpa.journal import upkeep
    from mea_culpa.journal.tables import durations, sessions

    with journal.engine.connect() as conn:
        kept = {(r.figure, r.value): r.n for r in conn.execute(text("SELECT figure, value, n FROM tallies")) if r.n}
        kept_durations = {(r.milestone, r.severity, r.bucket): r.n for r in conn.execute(durations.select()) if r.n}
        items = {("item", f"{r.kind} {r.status}"): r.n
                 for r in conn.execute(text("SELECT kind, status, COUNT(*) AS n FROM actions GROUP BY kind, status"))}
        recount = upkeep.shares(conn, [r[0] for r in conn.execute(sessions.select().with_only_columns(sessions.c.id))])
    assert {k: n for k, n in kept.items() if k[0] == "item"} == items
    assert kept == {k: n for k, n in recount.figures.items() if n}
    assert kept_durations == {k: n for k, n in recount.durations.items() if n}
    assert journal.count_actions() == len(journal.actions())
    assert journal.count_actions(include_closed=True) == len(journal.actions(include_closed=True))
    return {value: n for (figure, value), n in kept.items() if figure == "item"}


def test_the_kept_tallies_agree_with_a_recount_through_to_dos_follow_ups_sent_and_forgetting(journal):
    """To-dos a run leaves open (later, blocked) and marks done, `actions done` on a to-do,
    follow-ups owed and marked sent, a session abandoned with its to-dos, a copy, and
    `forget` with and without the lessons: after each, the kept tallies (to-dos and
    follow-ups by status among them) are what a recount finds."""
    from mea_culpa.journal.tables import sent as sent_table
    from test_session import TWO_LATER_ONE_BLOCKED, answered, book

    general = book("general")
    first = journal.save_as_new(answered(general, TWO_LATER_ONE_BLOCKED), "2026-03-14", "gate", playbook=general)
    assert _kept_items(journal)["to-do open"] == 3
    # the run goes on: one to-do done in the run leaves `actions`, one is marked done in `actions`
    s, change = sm.set_answer(first, general.step("stop_the_damage"), {"state": "done"}, now="2026-03-14T12:00:00Z")
    journal.apply(s, change, playbook=general)
    (blocked,) = [a for a in journal.actions() if a.kind == "to-do" and a.step_state == "blocked"]
    journal.set_action_status(blocked.id, "done")
    assert (_kept_items(journal)["to-do open"], _kept_items(journal)["to-do done"]) == (1, 1)

    # a follow-up owed after the fix and the apology, drafted (still open), then marked sent
    owed = answered(general, {"follow_up_sent": {"state": "later"}}, at="2026-03-15T10:00:00Z")
    owed = replace(owed, id="2026-03-15-owed")
    journal.save(owed, playbook=general)
    owed, change = sm.add_draft(owed, sm.Draft("customer-apology", "warm", "Sorry.\n", "2026-03-15T11:00:00Z"))
    journal.apply(owed, change)
    owed, change = sm.add_draft(owed, sm.Draft("follow-up", "warm", "What changed.\n", "2026-03-16T09:00:00Z"))
    journal.apply(owed, change)
    assert _kept_items(journal)["follow-up open"] == 1
    owed, change = sm.mark_sent(owed, owed.drafts[-1], now="2026-03-16T09:30:00Z")
    journal.apply(owed, change, playbook=general)
    assert _kept_items(journal)["follow-up done"] == 1 and not _kept_items(journal).get("follow-up open")

    # a status update posted, a session abandoned with its to-dos open
    told = record(journal, "told", fix=None, status="in-progress")
    told.draft("status-update", "investigating", minutes=10)
    told.apply(sm.record_sent(told.s, sm.Sent("status-update", "slack", "https://hooks.slack.com/services/***", "text",
                                              at(12), told.s.drafts[-1].created_at, "investigating")))
    left = replace(answered(general, TWO_LATER_ONE_BLOCKED, at="2026-03-17T10:00:00Z"), id="2026-03-17-left")
    journal.save(left, playbook=general)
    journal.save(sm.set_status(left, "abandoned", now="2026-03-17T11:00:00Z")[0], playbook=general)
    kept = _kept_items(journal)
    assert kept["to-do dropped"] == 3 and kept["follow-up open"] == 1  # the next status update

    # many at once (new and again), a copy, then forgetting
    journal.save_many([journal.load("told"), replace(journal.load(first.id), id="2026-03-18-again")])
    _kept_items(journal)
    copy = memory_journal()
    journal.copy_to(copy)
    assert _kept_items(copy) == _kept_items(journal)
    journal.forget([owed.id], keep_lessons=True)
    journal.forget([left.id])
    kept = _kept_items(journal)
    assert kept["to-do open"] == 1 and not kept.get("follow-up done")  # the owed follow-up went with the facts
    with journal.engine.connect() as conn:
        assert conn.execute(sent_table.select()).all()  # the posted update is still there


def test_stats_counts_the_sessions_another_program_wrote_where_the_tallies_cannot(journal):
    """A session added by hand (SQL, not mea-culpa's writes) is in no tally: `stats` sees
    that the tallies hold fewer sessions than the journal and counts instead."""
    from mea_culpa.journal.tables import sessions

    record(journal, "a", tags=("eu",), actions=[item("Check")])
    record(journal, "b", start=START + dt.timedelta(days=40), severity="minor")
    assert journal.stats().sessions == 2
    columns = [c.name for c in sessions.columns if c.name not in ("id", "uid")]
    with journal.engine.begin() as conn:
        conn.execute(text(f"INSERT INTO sessions (id, {', '.join(columns)}) SELECT 'by-hand', {', '.join(columns)} FROM sessions WHERE id = 'b'"))
    report = journal.stats()
    assert report.sessions == 3 and dict(report.by_status) == {"completed": 3}
    assert _figures(report) == _figures(journal.stats(since="1970-01-01"))


def test_a_journal_from_before_the_kept_counts_has_them_counted_when_upgraded(journal, store_url):
    """A journal at 0005_to_dos (sessions, no tallies) upgraded in place, or by `journal
    upgrade` on a server: the tallies are counted from what it holds."""
    from mea_culpa.journal import upgrade_journal

    for n in range(5):
        record(journal, f"u{n}", start=START + dt.timedelta(days=40 * n), severity=("minor", None)[n % 2],
               tags=("eu",) * (n % 2), actions=[item("Check", due="2026-04-01")], own=10 * (n + 1))
    expected = _figures(journal.stats(now=START + dt.timedelta(days=60)))
    with journal.engine.begin() as conn:  # as 0005_to_dos left it
        conn.execute(text("DROP TABLE tallies"))
        conn.execute(text("DROP TABLE durations"))
        conn.execute(text("DROP INDEX actions_due"))
        conn.execute(text("DROP INDEX actions_session_status"))
        conn.execute(text("DROP INDEX sessions_author_lower"))
        conn.execute(text("CREATE INDEX sessions_author ON sessions (author, created_at)"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0005_to_dos'"))
    journal.close()
    assert upgrade_journal(store_url)[:2] == ("0005_to_dos", HEAD)
    with open_journal(store_url) as upgraded:
        assert _figures(upgraded.stats(now=START + dt.timedelta(days=60))) == expected
        assert upgraded.count_sessions() == 5 and upgraded.count_actions() == 5


def test_a_median_is_read_across_buckets_as_the_pure_median(journal):
    """Durations spread over many buckets, an even and an odd count: the middle is found
    through the kept bucket counts, and is the exact middle value."""
    for n, minutes in enumerate([1, 2, 3, 50, 51, 52, 400, 3000]):
        record(journal, f"m{n}", start=START + dt.timedelta(days=n), noticed_before=None, own=minutes, severity="minor")
    assert journal.stats().medians[0].seconds == (51 + 50) / 2 * 60
    assert journal.stats().medians_by_severity["minor"][0].seconds == (51 + 50) / 2 * 60
    record(journal, "m9", start=START + dt.timedelta(days=20), noticed_before=None, own=10, severity="minor")
    assert journal.stats().medians[0].seconds == 50 * 60
    assert _figures(journal.stats()) == _figures(journal.stats(since="1970-01-01"))


def test_forget_says_when_another_reader_keeps_the_file_from_being_compacted(sqlite_journal, monkeypatch):
    from mea_culpa.journal import store

    journal = sqlite_journal
    monkeypatch.setattr(store, "SCRUB_WAIT_MS", 50)
    secret_session(journal)
    reader = sqlite3.connect(journal.path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT COUNT(*) FROM sessions").fetchone()
    result = journal.forget(["2026-03-02-invoice"])
    assert result.deleted == ("2026-03-02-invoice",) and not result.scrubbed
    reader.execute("COMMIT")
    reader.close()
    assert journal.scrub()
    assert SECRET.encode() not in file_bytes(journal.path)
