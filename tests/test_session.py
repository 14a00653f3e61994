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
