"""The runner over the core, driven by a scripted asker: when, defaults, back, skip, resume."""

from __future__ import annotations

from pathlib import Path

import pytest

from mea_culpa.errors import AnswersError
from mea_culpa.journal import memory_journal, open_journal
from mea_culpa.playbook.loading import load
from mea_culpa.run import session as sm
from mea_culpa.run.asking import NoInputAsker, ScriptedAsker, attempts, skip_stage
from mea_culpa.run.runner import Review, Runner, SaveAndQuit, SkipStage

ANSWERS = {
    "severity": "minor",
    "what_happened": "We sent the March invoices twice.",
    "affected_count": 12,
    "contributing_factors": "The export job has no check for invoices already sent.",
    "channels": ["email"],
    "apology_sent": {"state": "done"},
    "fixed": True,
    "prevention_actions": [{"what": "Add a sent-check to the export", "owner": "Ana", "due": "2026-12-01"}],
    "lesson": "Jobs that send money-related mail need a duplicate check.",
}


@pytest.fixture
def book(mini_playbook_path: Path):
    return load(mini_playbook_path)


def fresh(book, sid: str = "2026-11-22-test") -> tuple[sm.Session, sm.Change]:
    return sm.new_session(book, session_id=sid, title="Test", now="2026-11-22T10:00:00Z")


def run(book, answers, **kw):
    journal = memory_journal()
    session, change = fresh(book)
    journal.apply(session, change)
    asker = ScriptedAsker(answers, **kw)
    runner = Runner(book, session, journal, asker)
    return runner.run(), asker, journal


def test_a_complete_run_records_every_answer_and_completes(book):
    final, asker, journal = run(book, ANSWERS)
    assert final.status == "completed"
    assert final.steps["what_happened"].value == "We sent the March invoices twice."
    assert final.steps["apology_sent"].state == "done"
    assert journal.load(final.id).answers == final.answers


def test_stage_headers_count_only_applicable_stages(book):
    _, asker, _ = run(book, {**ANSWERS, "severity": "none"})
    assert [h[0] for h in asker.headers] == ["facts", "cause", "own", "fix", "prevent", "move-on"]
    assert asker.headers[2] == ("own", 3, 6)


def test_when_switches_a_step_on_from_an_earlier_answer(book):
    _, asker, _ = run(book, {**ANSWERS, "contributing_factors": "It was human error", "system_gap": "No review step"})
    assert "system_gap" in asker.asked
    _, asker, _ = run(book, ANSWERS)
    assert "system_gap" not in asker.asked


def test_critical_adds_the_make_good_step(book):
    final, asker, _ = run(book, {**ANSWERS, "severity": "critical", "make_good": "A free month"})
    assert "make_good" in asker.asked and final.steps["make_good"].value == "A free month"


def test_templated_default_is_rendered_from_earlier_answers(book):
    final, _, _ = run(book, ANSWERS)  # responsibility not scripted: the asker falls back to the default
    assert final.steps["responsibility"].value == "We sent the March invoices twice. That was my mistake."
    assert final.steps["responsibility"].source == "default"


def test_an_invalid_answer_is_explained_and_asked_again(book):
    final, asker, _ = run(book, {**ANSWERS, "affected_count": attempts("lots", -3, 40)})
    assert final.steps["affected_count"].value == 40
    assert [p[0] for p in asker.problems] == ["affected_count", "affected_count"]
    assert "not a number" in asker.problems[0][1]
    assert "at least 0" in asker.problems[1][1]


def test_editing_an_earlier_answer_at_a_review_replaces_it(book):
    edited = {**ANSWERS, "severity": attempts("minor", "critical"), "make_good": "A refund"}
    final, asker, _ = run(book, edited, reviews={"fix": [Review("edit", "severity")]})
    assert final.steps["severity"].value == "critical"
    assert final.steps["make_good"].value == "A refund"  # the edit switched the step on
    assert any(e.kind == "answer-changed" and e.step == "severity" for e in final.events)


def test_skipping_a_stage_keeps_the_reason_and_never_marks_it_done(book):
    final, asker, _ = run(book, {**ANSWERS, "prevention_actions": skip_stage("covered by last week's review")})
    assert final.stages["prevent"].state == "skipped"
    assert final.stages["prevent"].reason == "covered by last week's review"
    plan = sm.plan(book, final)
    assert next(s for s in plan.stages if s.stage.kind == "prevent").state == "skipped"
    assert final.status == "completed"


def test_skipping_part_way_keeps_what_the_stage_already_has(book):
    final, asker, _ = run(book, {**ANSWERS, "apology_sent": skip_stage("the customer asked us not to write")})
    apologize = next(s for s in sm.plan(book, final).stages if s.stage.kind == "apologize")
    assert apologize.state == "skipped"
    assert [(p.step.id, p.state) for p in apologize.steps] == [("channels", "answered"), ("apology_sent", "skipped")]
    assert final.steps["channels"].value == ["email"]
    assert "fixed" in asker.asked  # the run goes on with the next stage
    assert [e.kind for e in final.events if e.stage == "apologize"][-1] == "stage-skipped"


def test_a_skipped_stage_asks_nothing_even_without_input(book):
    """Replaying a file that skips a stage: its required steps are not missing."""
    journal = memory_journal()
    session, change = fresh(book)
    journal.apply(session, change)
    values = {k: v for k, v in ANSWERS.items() if k not in ("channels", "apology_sent")}
    runner = Runner(book, session, journal, NoInputAsker(), prefilled={k: (v, "file") for k, v in values.items()},
                    skip_stages={"apologize": "we called each of them"})
    final = runner.run()
    assert final.status == "completed"
    assert (final.stages["apologize"].state, final.stages["apologize"].reason) == ("skipped", "we called each of them")


def test_save_and_quit_leaves_the_session_in_progress(book):
    journal = memory_journal()
    session, change = fresh(book)
    journal.apply(session, change)
    runner = Runner(book, session, journal, ScriptedAsker(ANSWERS, reviews={"cause": [Review("quit")]}))
    with pytest.raises(SaveAndQuit):
        runner.run()
    saved = journal.load(session.id)
    assert saved.status == "in-progress"
    assert saved.stages["facts"].state == "completed"
    assert saved.steps["contributing_factors"].value == ANSWERS["contributing_factors"]


def test_an_interrupted_run_resumes_at_the_first_unanswered_step(book, isolated_home):
    journal = open_journal()
    session, change = fresh(book)
    journal.apply(session, change)
    with pytest.raises(KeyboardInterrupt):
        Runner(book, session, journal, ScriptedAsker(ANSWERS, interrupt_before="responsibility")).run()
    journal.close()

    journal = open_journal()
    saved = journal.load(session.id)
    assert set(saved.steps) == {"severity", "what_happened", "affected_count", "noticed_at", "contributing_factors"}
    asker = ScriptedAsker({**ANSWERS, "responsibility": "I sent them twice."})
    final = Runner(book, saved, journal, asker).run()
    assert asker.asked[0] == "responsibility"  # nothing answered is asked again
    assert final.status == "completed"
    assert final.steps["severity"].value == "minor"


def test_prefilled_answers_win_over_the_resumed_session(book):
    journal = memory_journal()
    session, change = fresh(book)
    journal.apply(session, change)
    session, change = sm.set_answer(session, book.step("severity"), "major", now="2026-11-22T10:01:00Z")
    journal.apply(session, change)
    final = Runner(book, session, journal, ScriptedAsker(ANSWERS), prefilled={"severity": ("minor", "file")}).run()
    assert final.steps["severity"].value == "minor"
    assert final.steps["severity"].source == "file"


def test_no_input_lists_every_missing_required_answer(book):
    journal = memory_journal()
    session, change = fresh(book)
    journal.apply(session, change)
    runner = Runner(book, session, journal, NoInputAsker(), prefilled={"severity": ("minor", "file")})
    with pytest.raises(AnswersError) as err:
        runner.run()
    missing = [p.split(":")[0] for p in err.value.problems]
    assert missing == ["what_happened", "contributing_factors", "channels", "apology_sent", "fixed", "prevention_actions", "lesson"]


def test_every_change_is_committed_before_the_next_question(book):
    """The store sees each answer before the asker is asked the next question."""
    journal = memory_journal()
    session, change = fresh(book)
    journal.apply(session, change)
    seen_before_asking: dict[str, set[str]] = {}

    class Watching(ScriptedAsker):
        def ask(self, step, default, check, current=None, keep=None, doubt=None):
            seen_before_asking[step.id] = set(journal.load(session.id).steps)
            return super().ask(step, default, check, current, keep, doubt)

    Runner(book, session, journal, Watching(ANSWERS)).run()
    assert seen_before_asking["what_happened"] == {"severity"}
    assert seen_before_asking["lesson"] >= {"severity", "what_happened", "prevention_actions"}


def test_noticed_at_becomes_a_session_fact_in_utc(book):
    final, _, _ = run(book, ANSWERS)
    assert final.noticed_at is not None and final.noticed_at.endswith("Z")


def test_action_items_reach_the_actions_table(book):
    final, _, journal = run(book, ANSWERS)
    rows = journal.actions(session=final.id, include_closed=True)
    assert [(r.what, r.owner, r.due, r.status) for r in rows] == [("Add a sent-check to the export", "Ana", "2026-12-01", "open")]


def test_a_when_that_needs_an_unanswered_answer_is_not_yet_true(write):
    path = write(
        "pb.yaml",
        """
        id: pb
        title: T
        summary: S
        version: 1
        stages:
          - stage: facts
            steps:
              - id: others
                type: multi-choice
                prompt: Who else?
                required: false
                choices: [colleague, courier]
              - id: talk
                type: text
                prompt: Talk to them
                when: "'colleague' in others"
        """,
    )
    book = load(path)
    session, _ = fresh(book)
    assert sm.plan(book, session).step("talk").state == "not-applicable"
    final, asker, _ = run(book, {"others": ["colleague"], "talk": "done"})
    assert asker.asked == ["others", "talk"]
    final, asker, _ = run(book, {"others": []})
    assert asker.asked == ["others"]


def test_the_asker_is_handed_a_doubt_for_a_time_still_to_come(book):
    final, asker, _ = run(book, {**ANSWERS, "noticed_at": "2099-01-01 10:00"})
    assert [(step_id, line.split(" has not come yet")[0]) for step_id, line in asker.doubts] == [
        ("noticed_at", "10:00 Thu 01 Jan 2099")]
    assert final.steps["noticed_at"].value == "2099-01-01T10:00"  # a doubt never refuses


def test_a_stage_skipped_inside_a_list_keeps_its_whole_items(book):
    """Items finished before the skip are the answer; one cut short is kept when its
    required fields are there."""
    journal = memory_journal()
    session, change = fresh(book)
    journal.apply(session, change)
    first = {"what": "Add a sent-check", "owner": "Ana", "due": "2026-12-01"}

    class SkipsInsideTheList(ScriptedAsker):
        def ask(self, step, default, check, current=None, keep=None, doubt=None):
            if step.id == "prevention_actions":
                keep({"items": [first], "item": {"what": "Review the export", "owner": "Bo", "due": "2026-12-02"}})
                raise SkipStage("the rest waits for Monday's review")
            return super().ask(step, default, check, current, keep, doubt)

    final = Runner(book, session, journal, SkipsInsideTheList(ANSWERS)).run()
    assert final.stages["prevent"].state == "skipped"
    assert journal.load(session.id).steps["prevention_actions"].value == [
        first, {"what": "Review the export", "owner": "Bo", "due": "2026-12-02"}]
