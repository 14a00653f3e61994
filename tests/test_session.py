"""The session's pure functions: what it leaves open, what it drafted and sent, and the
follow-ups they imply. No journal, no terminal: sessions are built transition by transition."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from mea_culpa.playbook import answers as answers_mod
from mea_culpa.playbook.loading import load
from mea_culpa.playbook.model import Playbook
from mea_culpa.run import session as sm

REPO = Path(__file__).resolve().parent.parent
ANSWERS = REPO / "tests" / "data" / "answers"


def book(playbook_id: str) -> Playbook:
    return load(REPO / "playbooks" / f"{playbook_id}.yaml")


def answered(playbook: Playbook, changes: dict[str, Any], *, at: str = "2026-03-14T10:00:00Z") -> sm.Session:
    """The playbook's example answers with some changed, recorded stage by stage at `at`."""
    values = {**answers_mod.load_file(ANSWERS / f"{playbook.id}.yaml"), **changes}
    values = answers_mod.check_all(playbook, values, source="test")
    session, _ = sm.new_session(playbook, session_id="2026-03-14-test", title="Test", now=at)
    for stage in playbook.stages:
        session, _ = sm.enter_stage(session, stage.kind, now=at)
        for step in stage.steps:
            if step.id in values:
                session, _ = sm.set_answer(session, step, values[step.id], now=at)
        session, _ = sm.complete_stage(session, stage.kind, now=at)
    return session


TWO_LATER_ONE_BLOCKED = {
    "still_happening": True,
    "stop_the_damage": {"state": "later", "reason": "today 15:00, after the walk"},
    "apology_sent": {"state": "later", "reason": "call Grace first"},
    "fix_status": {"state": "blocked", "reason": "the locksmith comes on Monday"},
}


# --- open items ----------------------------------------------------------------------------


def test_open_items_hold_every_later_and_blocked_to_do_with_its_note_and_date():
    general = book("general")
    session = answered(general, TWO_LATER_ONE_BLOCKED, at="2026-03-14T10:00:00Z")
    to_dos = [i for i in sm.open_items(general, session) if i.kind == "to-do"]
    assert [(i.step_id, i.state, i.note) for i in to_dos] == [
        ("stop_the_damage", "later", "today 15:00, after the walk"),
        ("apology_sent", "later", "call Grace first"),
        ("fix_status", "blocked", "the locksmith comes on Monday"),
    ]
    first = to_dos[0]
    assert first.what == general.step("stop_the_damage").prompt
    assert first.due == "2026-03-14T15:00"  # "today" is the day it was noted, not the day it is read
    assert first.since == "2026-03-14T10:00:00Z"
    assert to_dos[1].due is None


def test_open_items_hold_every_action_item_unless_the_journal_closed_it():
    general = book("general")
    session = answered(general, {})
    items = [i for i in sm.open_items(general, session) if i.kind == "action"]
    plan_items = session.steps["prevention_actions"].value
    assert [(i.what, i.owner, i.due) for i in items] == [(p["what"], p["owner"], p["due"]) for p in plan_items]
    closed = {("prevention_actions", plan_items[0]["what"]): "done"}
    assert [i.what for i in sm.open_items(general, session, status=closed) if i.kind == "action"] == [
        p["what"] for p in plan_items[1:]]


def test_a_to_do_marked_done_or_skipped_is_not_open():
    general = book("general")
    session = answered(general, {"apology_sent": {"state": "skipped", "reason": "told her in person"}})
    assert not [i for i in sm.open_items(general, session) if i.kind == "to-do"]


def test_an_unmarked_required_to_do_is_open_while_the_session_runs():
    general = book("general")
    session, _ = sm.new_session(general, session_id="s", title="t", now="2026-03-14T10:00:00Z")
    pending = [i.step_id for i in sm.open_items(general, session) if i.state == "pending"]
    assert "apology_sent" in pending or "stop_the_damage" in pending


def write_answers(tmp_path: Path, playbook_id: str, changes: dict[str, Any]) -> Path:
    import yaml

    values = {**answers_mod.load_file(ANSWERS / f"{playbook_id}.yaml"), **changes}
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump(values, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_the_run_summary_lists_each_open_to_do_with_its_note(cli, tmp_path):
    answers = write_answers(tmp_path, "general", TWO_LATER_ONE_BLOCKED)
    code, out, err = cli("start", "general", "--answers", str(answers), "--no-input")
    assert code == 0, err
    block = err[err.index("Still open:"):].splitlines()[1:4]
    general = book("general")
    today = dt.date.today().strftime("%a %d %b %Y")
    assert block == [
        f"  - {general.step('stop_the_damage').prompt} — later: today 15:00, after the walk (due {today} 15:00)",
        f"  - {general.step('apology_sent').prompt} — later: call Grace first",
        f"  - {general.step('fix_status').prompt} — blocked: the locksmith comes on Monday",
    ]


# --- drafting is not sending -----------------------------------------------------------------


def drafted(session: sm.Session, message_id: str, at: str, *, phase: str | None = None, text: str = "Hello\n") -> sm.Session:
    session, _ = sm.add_draft(session, sm.Draft(message_id=message_id, tone="warm", text=text, created_at=at, phase=phase))
    return session


def states(session: sm.Session) -> dict[str, str]:
    return {f.message_id: f.state for f in sm.follow_ups(session)}


def test_drafting_the_follow_up_leaves_it_open_until_it_is_marked_sent():
    general = book("general")
    session = answered(general, {"follow_up_sent": {"state": "later"}})
    session = drafted(session, "customer-apology", "2026-03-14T11:00:00Z")
    assert states(session) == {"follow-up": "open"}
    session = drafted(session, "follow-up", "2026-03-15T09:00:00Z")
    session = drafted(session, "follow-up", "2026-03-15T09:05:00Z")
    assert states(session) == {"follow-up": "open"}
    session, change = sm.mark_sent(session, session.drafts[-1], now="2026-03-15T09:30:00Z")
    assert change.kind == "session" and change.event is not None and change.event.kind == "draft-sent"
    assert states(session) == {"follow-up": "done"}


def test_the_follow_up_is_done_when_the_to_do_that_says_it_was_sent_is_done():
    general = book("general")
    session = drafted(answered(general, {"follow_up_sent": {"state": "done"}}), "customer-apology", "2026-03-14T11:00:00Z")
    assert states(session) == {"follow-up": "done"}


@pytest.mark.parametrize("message_id, phase", [
    ("follow-up", None), ("status-update", "investigating"), ("status-update", "resolved"),
    ("customer-apology", None), ("internal-note", None),
])
def test_no_draft_ever_settles_a_follow_up(message_id: str, phase: str | None):
    """Whatever is drafted, a follow-up that was open stays open: only sending settles it."""
    outage = book("service-outage")
    session = answered(outage, {"follow_up_sent": {"state": "later"}, "resolved_notice": {"state": "later"}})
    session = drafted(session, "status-update", "2026-03-14T11:00:00Z", phase="investigating")
    before = states(session)
    assert before == {"status-update": "open", "follow-up": "open"}
    after = states(drafted(session, message_id, "2026-03-14T12:00:00Z", phase=phase))
    assert after == before


def test_the_next_status_update_falls_due_from_the_last_one():
    outage = book("service-outage")
    session = answered(outage, {"resolved_notice": {"state": "later"}, "next_update_minutes": 15})
    session = drafted(session, "status-update", "2026-03-14T11:00:00Z", phase="identified")
    [update] = [f for f in sm.follow_ups(session) if f.message_id == "status-update"]
    assert (update.what, update.due) == ("Post the next status update (last: identified)", "2026-03-14T11:15:00Z")
    session, _ = sm.mark_sent(session, session.drafts[-1], now="2026-03-14T11:10:00Z")
    [update] = [f for f in sm.follow_ups(session) if f.message_id == "status-update"]
    assert update.due == "2026-03-14T11:25:00Z"  # from when it went out
    session = drafted(session, "status-update", "2026-03-14T12:00:00Z", phase="resolved")
    assert [(f.what, f.state) for f in sm.follow_ups(session) if f.message_id == "status-update"] == [
        ("Post the resolved update", "open")]
    session, _ = sm.mark_sent(session, session.drafts[-1], now="2026-03-14T12:01:00Z")
    assert states(session)["status-update"] == "done"


# --- which drafts an export shows ---------------------------------------------------------------


def test_drafts_to_show_are_the_latest_of_each_message_and_phase_and_the_one_sent():
    general = book("general")
    session = answered(general, {})
    for minute in range(4):
        session = drafted(session, "customer-apology", f"2026-03-14T11:0{minute}:00Z", text=f"Apology {minute}\n")
    session, _ = sm.mark_sent(session, session.drafts[1], now="2026-03-14T11:30:00Z")
    session = drafted(session, "status-update", "2026-03-14T12:00:00Z", phase="investigating")
    session = drafted(session, "status-update", "2026-03-14T12:30:00Z", phase="identified")
    shown = sm.drafts_to_show(session)
    assert [(s.draft.text.strip(), s.latest, s.sent_at) for s in shown if s.draft.message_id == "customer-apology"] == [
        ("Apology 1", False, "2026-03-14T11:30:00Z"), ("Apology 3", True, None)]
    assert [s.draft.phase for s in shown if s.draft.message_id == "status-update"] == ["investigating", "identified"]
    assert len(sm.drafts_to_show(session, every=True)) == len(session.drafts) == 6


# --- at the command line ---------------------------------------------------------------------


def journal_follow_ups(session_id: str) -> dict[str, str]:
    from mea_culpa.journal import open_journal

    with open_journal() as journal:
        rows = journal.actions(session=session_id, include_closed=True)
    return {r.step_id: r.status for r in rows if r.kind == "follow-up"}


def general_run(cli, tmp_path: Path) -> str:
    answers = write_answers(tmp_path, "general", {"follow_up_sent": {"state": "later"}})
    code, out, err = cli("start", "general", "--answers", str(answers), "--no-input")
    assert code == 0, err
    session_id = out.strip()
    assert cli("draft", session_id, "-m", "customer-apology")[0] == 0
    return session_id


def test_mark_sent_records_the_latest_draft_of_a_message(cli, tmp_path):
    from mea_culpa.journal import open_journal

    session_id = general_run(cli, tmp_path)
    code, _, err = cli("draft", session_id, "-m", "follow-up", "--mark-sent")
    assert code == 2 and f"session {session_id} has no follow-up draft to mark sent" in err
    assert f"draft it first: mea-culpa draft {session_id} --message follow-up" in err
    assert cli("draft", session_id, "-m", "follow-up")[0] == 0
    code, out, err = cli("draft", session_id, "-m", "follow-up", "--mark-sent")
    assert (code, out) == (0, "") and err.startswith("marked sent: follow-up (drafted ")
    with open_journal() as journal:
        session = journal.load(session_id)
    assert list(sm.sent_at(session)) == [len(session.drafts) - 1]
    assert sm.follow_ups(session)[-1].state == "done"


def test_drafting_the_follow_up_never_marks_the_reminder_done(cli, tmp_path):
    session_id = general_run(cli, tmp_path)
    assert journal_follow_ups(session_id) == {"follow-up": "open"}
    assert cli("draft", session_id, "-m", "follow-up")[0] == 0
    assert journal_follow_ups(session_id) == {"follow-up": "open"}
    assert cli("draft", session_id, "-m", "follow-up", "--mark-sent")[0] == 0
    assert journal_follow_ups(session_id) == {"follow-up": "done"}
