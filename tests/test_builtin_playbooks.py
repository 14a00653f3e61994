"""The seven built-in playbooks: their shape, the wisdom they carry, and their example answers.

Each built-in must validate, walk the seven stages in order with short guidance, triage
first, ask for factors rather than a culprit, produce a first-person statement of
responsibility and dated prevention actions, and close with the lesson. Each ships an
example answers file (`tests/data/answers/<id>.yaml`) that completes it with no input.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mea_culpa.playbook import answers as answers_mod
from mea_culpa.playbook import expressions
from mea_culpa.playbook.loading import load
from mea_culpa.playbook.model import STAGE_KINDS, VOCABULARY, Playbook, Step
from mea_culpa.run import session as sm
from mea_culpa.run.asking import NoInputAsker
from mea_culpa.run.runner import Runner
from mea_culpa.text import filters

REPO = Path(__file__).resolve().parent.parent
PLAYBOOKS = REPO / "playbooks"
ANSWERS = Path(__file__).resolve().parent / "data" / "answers"
BUILTINS = (
    "general",
    "service-outage",
    "email-blunder",
    "order-mistake",
    "team-mistake",
    "wrong-recipient",
    "missed-deadline",
)
SEVERITIES = ("none", "minor", "major", "critical")
# Where customers were not affected, no customer apology is offered (see the issue).
NO_CUSTOMER_APOLOGY = {"team-mistake"}
# The type each conventional id must have wherever a built-in uses it, so that the shared
# message templates read the same kind of value from every playbook.
VOCABULARY_TYPES = {
    "severity": "choice",
    "sender_name": "text",
    "organization": "text",
    "recipient_name": "text",
    "what_happened": "long-text",
    "who_affected": "text",
    "affected_count": "number",
    "impact": "long-text",
    "happened_at": "datetime",
    "noticed_at": "datetime",
    "still_happening": "yes-no",
    "what_is_affected": "text",
    "workaround": "text",
    "data_lost": "yes-no",
    "trigger": "text",
    "contributing_factors": "long-text",
    "system_gap": "long-text",
    "explanation": "long-text",
    "responsibility": "long-text",
    "apology_channels": "multi-choice",
    "fix_done": "long-text",
    "fix_status": "action",
    "repair": "long-text",
    "make_good": "text",
    "next_update_minutes": "number",
    "resolved_at": "datetime",
    "prevention_actions": "list",
    "prevention_summary": "long-text",
    "lesson": "text",
    "still_to_tell": "text",
    "keep_record": "yes-no",
}
# The answers a customer apology is built from.
CUSTOMER_FACING = ("what_happened", "impact", "explanation", "responsibility", "repair", "prevention_summary")
# Phrases that turn an apology into a non-apology (see ../shared/research/apology.md).
NON_APOLOGY = (
    r"\bif\b", r"\bbut\b", r"\bhowever\b", r"any inconvenience", r"\bonly\b", r"mistakes were made", r"never again",
)
OPTIONAL_IDS = {"organization", "recipient_name", "affected_count", "workaround", "still_to_tell"}
BLAME = "Human error: Sam forgot to check it."
DROP = object()  # in `run(..., step=DROP)`: leave that example answer out
# What someone who judged "no harm done" would answer differently from the examples.
NO_HARM = {
    "general": {},
    "service-outage": {},
    "email-blunder": {"correction": DROP, "harm_real": False},  # the default then lets it go
    "order-mistake": {"out_of_pocket": False},
    "team-mistake": {},
    "wrong-recipient": {},
    "missed-deadline": {},
}


# --- helpers ----------------------------------------------------------------------------


@cache
def book(playbook_id: str) -> Playbook:
    """A built-in, loaded and fully validated (playbooks are frozen, so one load is shared)."""
    return load(PLAYBOOKS / f"{playbook_id}.yaml")


@cache
def _example(playbook_id: str) -> tuple[tuple[str, Any], ...]:
    raw = answers_mod.load_file(ANSWERS / f"{playbook_id}.yaml")
    return tuple(answers_mod.check_all(book(playbook_id), raw, source=f"{playbook_id}.yaml").items())


def example(playbook_id: str) -> dict[str, Any]:
    """The example answers of a built-in, checked like typed ones (a fresh copy)."""
    return copy.deepcopy(dict(_example(playbook_id)))


class Unsaved:
    """A store that keeps nothing: these tests look at the session the runner returns."""

    def apply(self, session: sm.Session, change: sm.Change, *, playbook: object = None) -> None:
        return None


def run(playbook_id: str, **changes: Any) -> tuple[Playbook, sm.Session]:
    """Complete a built-in with no input from its example answers, with some changed."""
    playbook = book(playbook_id)
    values = {**example(playbook_id), **changes}
    values = {k: v for k, v in values.items() if v is not DROP}
    values = answers_mod.check_all(playbook, values, source="test")
    session, _ = sm.new_session(
        playbook, session_id=f"2026-11-22-{playbook_id}", title=playbook_id, now="2026-11-22T10:00:00Z"
    )
    prefilled = {step_id: (value, "file") for step_id, value in values.items()}
    runner = Runner(playbook, session, Unsaved(), NoInputAsker(), prefilled=prefilled)
    return playbook, runner.run()


def applies(playbook: Playbook, session: sm.Session, step_id: str) -> bool:
    planned = sm.plan(playbook, session).step(step_id)
    assert planned is not None, f"{playbook.id} has no step {step_id!r}"
    return planned.applicable


def offered(playbook: Playbook, session: sm.Session) -> set[str]:
    """The message ids whose `when` holds for the session."""
    context = dict(sm.plan(playbook, session).context)
    return {m.id for m in playbook.messages if not m.when or expressions.condition(m.when, context)}


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def stage_steps(playbook: Playbook, kind: str) -> list[Step]:
    return [step for stage in playbook.stages if stage.kind == kind for step in stage.steps]


# --- the set of built-ins --------------------------------------------------------------


def test_the_seven_builtins_ship_with_an_example_answers_file_each():
    assert sorted(p.stem for p in PLAYBOOKS.glob("*.yaml")) == sorted(BUILTINS)
    assert sorted(p.stem for p in ANSWERS.glob("*.yaml")) == sorted(BUILTINS)


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_builtin_validates_and_its_id_matches_its_file_name(playbook_id):
    # Every message names a built-in template, so this also checks that the templates exist
    # and read only answers the playbook or the shared vocabulary provides.
    assert book(playbook_id).id == playbook_id


# --- the shape every built-in shares ------------------------------------------------------


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_all_seven_stages_come_in_order_each_with_a_title(playbook_id):
    playbook = book(playbook_id)
    assert tuple(stage.kind for stage in playbook.stages) == STAGE_KINDS
    assert all(stage.title.strip() for stage in playbook.stages)


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_each_stage_says_why_it_matters_in_two_to_five_sentences(playbook_id):
    for stage in book(playbook_id).stages:
        count = len(sentences(stage.guidance))
        assert 2 <= count <= 5, f"{playbook_id} {stage.kind}: {count} sentences of guidance"


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_the_run_opens_with_a_moment_to_breathe(playbook_id):
    intro = book(playbook_id).intro
    assert len(sentences(intro)) >= 3
    assert "breath" in intro.lower()


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_triage_comes_first_with_four_levels_in_plain_words(playbook_id):
    first = book(playbook_id).stages[0].steps[0]
    assert (first.id, first.type) == ("severity", "choice")
    assert tuple(choice.value for choice in first.choices) == SEVERITIES
    for choice in first.choices:
        assert choice.label != choice.value, "labels are plain words"
        assert choice.help, f"{playbook_id}: severity {choice.value!r} needs a line saying what it means"


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_conventional_ids_have_the_types_the_shared_templates_expect(playbook_id):
    playbook = book(playbook_id)
    for step in playbook.steps:
        if step.id in VOCABULARY:
            assert step.type == VOCABULARY_TYPES[step.id], f"{playbook_id}: {step.id} is {step.type}"
            if step.id in OPTIONAL_IDS:
                assert not step.required, f"{playbook_id}: {step.id} should be optional"
    for needed in CUSTOMER_FACING + ("sender_name",):
        assert playbook.step(needed) is not None, f"{playbook_id} lacks {needed}"


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_the_cause_stage_asks_for_factors_and_follows_up_on_blame(playbook_id):
    cause = {step.id: step for step in stage_steps(book(playbook_id), "cause")}
    assert {"trigger", "contributing_factors", "system_gap"} <= set(cause)
    assert "blaming" in (cause["system_gap"].when or "")
    assert "not a culprit" in cause["contributing_factors"].help


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_a_cause_that_names_a_person_asks_what_in_the_system_let_it_happen(playbook_id):
    playbook, session = run(playbook_id)
    assert not applies(playbook, session, "system_gap"), "the example's factors blame nobody"
    playbook, session = run(playbook_id, contributing_factors=BLAME, system_gap="No second check before it went out.")
    assert applies(playbook, session, "system_gap")


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_the_own_stage_produces_a_first_person_statement_of_responsibility(playbook_id):
    playbook = book(playbook_id)
    own = {step.id: step for step in stage_steps(playbook, "own")}
    step = own["responsibility"]
    assert step.type == "long-text" and step.required
    context = {s.id: None for s in playbook.steps} | example(playbook_id)
    suggested = expressions.render_string(step.default, context)
    assert re.match(r"(?:We|I)\b", suggested), suggested
    assert re.search(r"\b(?:our|my) (?:mistake|responsibility)\b", suggested), suggested
    assert re.match(r"(?:We|I)\b", example(playbook_id)["responsibility"])


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_prevention_is_a_list_of_dated_owned_costed_actions_split_into_commitments_and_ideas(playbook_id):
    prevent = {step.id: step for step in stage_steps(book(playbook_id), "prevent")}
    step = prevent["prevention_actions"]
    assert step.type == "list" and step.action_items and step.required
    fields = {f.id: f for f in step.fields}
    assert [f.id for f in step.fields] == ["what", "owner", "due", "effort", "commitment"]
    assert fields["due"].type == "date"
    assert fields["effort"].type == "choice"
    assert [c.value for c in fields["effort"].choices] == ["small", "medium", "large"]
    assert fields["commitment"].type == "yes-no"
    items = example(playbook_id)["prevention_actions"]
    assert any(item["commitment"] for item in items)
    assert any(not item["commitment"] for item in items), "an example keeps at least one idea apart"


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_move_on_keeps_the_lesson_who_still_needs_to_hear_and_whether_to_keep_the_record(playbook_id):
    move_on = {step.id: step for step in stage_steps(book(playbook_id), "move-on")}
    assert move_on["lesson"].type == "text"
    assert move_on["lesson"].validation.max_length
    assert "still_to_tell" in move_on
    assert move_on["keep_record"].type == "yes-no"


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_the_apologize_stage_has_a_step_to_mark_the_apology_sent(playbook_id):
    steps = stage_steps(book(playbook_id), "apologize") + stage_steps(book(playbook_id), "fix")
    assert any(step.type == "action" for step in steps)


# --- severity shapes the run ------------------------------------------------------------


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_no_harm_takes_the_short_path_without_a_customer_apology(playbook_id):
    playbook, session = run(playbook_id, severity="none", **NO_HARM[playbook_id])
    assert session.status == "completed"
    assert "customer-apology" not in offered(playbook, session)
    assert not applies(playbook, session, "repair")
    assert not applies(playbook, session, "make_good")
    # still a brief look at the cause and at prevention
    for step_id in ("trigger", "contributing_factors", "prevention_actions", "lesson"):
        assert applies(playbook, session, step_id), step_id


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_critical_adds_the_step_that_makes_it_up_to_them(playbook_id):
    changes: dict[str, Any] = {"severity": "critical", "make_good": "A free month of service."}
    if playbook_id == "team-mistake":
        changes.update(customers_affected=True, apology_channels=["email"], apology_sent={"state": "done"},
                       explanation="We loaded an old price list.", repair="We refunded the difference.",
                       prevention_summary="From Monday, a second person checks every price list.")
    playbook, session = run(playbook_id, **changes)
    assert applies(playbook, session, "make_good")
    playbook, session = run(playbook_id, **{**changes, "severity": "minor"})
    if playbook_id not in ("email-blunder", "order-mistake"):  # those also ask when harm was real
        assert not applies(playbook, session, "make_good")


def test_outage_updates_come_more_often_when_it_is_critical():
    playbook = book("service-outage")
    step = playbook.step("next_update_minutes")
    assert expressions.render_string(step.default, {"severity": "critical"}).strip() == "15"
    assert expressions.render_string(step.default, {"severity": "major"}).strip() == "30"


# --- each situation's own wisdom ----------------------------------------------------------


def test_outage_team_note_timeline_says_when_it_worked_again():
    from mea_culpa.messages import drafting

    playbook, session = run("service-outage")
    text = drafting.render(playbook, session, "internal-note").text
    timeline = text[text.index("Timeline"):text.index("Cause")]
    lines = [line for line in timeline.splitlines() if line.startswith("- ")]
    assert [line.split(": ", 1)[1].split(",")[0] for line in lines] == ["it started.", "we noticed", "working again"]
    assert "10:40: working again" in timeline and "after it started." in timeline


def test_outage_tells_customers_early_and_offers_status_updates_for_every_phase():
    playbook = book("service-outage")
    facts = [step.id for step in stage_steps(playbook, "facts")]
    assert facts.index("first_notice") < facts.index("what_happened"), "the first notice goes out before the full facts"
    status = playbook.message("status-update")
    assert status is not None and status.phases == ("investigating", "identified", "monitoring", "resolved")
    assert {m.id for m in playbook.messages} == {
        "status-update", "customer-apology", "follow-up", "internal-note", "social-post",
    }
    assert playbook.message("social-post").channel == "social"
    assert "never give a time for the fix" in playbook.step("updates_posted").help


def test_email_blunder_asks_whether_a_correction_would_draw_more_attention_and_can_let_it_go():
    playbook = book("email-blunder")
    correction = playbook.step("correction")
    assert correction.stage == "facts" and correction.type == "choice"
    assert {c.value for c in correction.choices} == {"send", "let-go"}
    playbook, session = run("email-blunder", correction="let-go")
    assert offered(playbook, session) == {"internal-note"}
    assert not applies(playbook, session, "correction_sent")
    playbook, session = run("email-blunder")
    assert {"follow-up", "customer-apology"} <= offered(playbook, session)
    assert applies(playbook, session, "make_good"), "a real harm brings the make-up offer"


def test_order_mistake_settles_a_colleagues_part_in_private_and_confirms_the_customer_is_whole():
    playbook, session = run("order-mistake")
    assert applies(playbook, session, "private_talk")
    assert not applies(playbook, session, "partner_talk")
    assert applies(playbook, session, "repair_confirmed")
    assert playbook.step("private_talk").stage == "own" and playbook.step("private_talk").type == "action"
    playbook, session = run("order-mistake", others_involved=["nobody"])
    assert not applies(playbook, session, "private_talk")


def test_team_mistake_apologizes_to_customers_only_when_they_were_affected():
    playbook, session = run("team-mistake")
    assert offered(playbook, session) == {"internal-note"}
    for step_id in ("apology_sent", "repair", "prevention_summary"):
        assert not applies(playbook, session, step_id)
    assert applies(playbook, session, "private_talk")
    assert not applies(playbook, session, "write_up"), "no write-up for a first mistake"
    playbook, session = run("team-mistake", history="pattern", write_up="coach")
    assert applies(playbook, session, "write_up")


def test_wrong_recipient_contains_first_marks_private_details_and_leaves_legal_duties_to_a_person():
    playbook = book("wrong-recipient")
    facts = stage_steps(playbook, "facts")
    assert facts[1].id == "contain_request" and facts[1].type == "action"
    for step_id in ("wrong_recipient", "what_was_sent", "duty_notes"):
        assert playbook.step(step_id).sensitive, step_id
    duty = playbook.step("duty_check")
    assert duty.type == "action" and duty.required and not duty.when
    assert "drafts no legal statements" in duty.help
    assert "does not do" in playbook.intro


def test_missed_deadline_asks_for_a_new_date_only_while_it_is_outstanding():
    playbook, session = run("missed-deadline")
    assert not applies(playbook, session, "new_date")
    playbook, session = run(
        "missed-deadline", still_happening=True, new_date="2026-12-02", new_date_confirmed={"state": "done"}
    )
    assert applies(playbook, session, "new_date")


# --- the example answers ------------------------------------------------------------------


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_example_answers_fit_their_playbook(playbook_id):
    raw = answers_mod.load_file(ANSWERS / f"{playbook_id}.yaml")
    answers_mod.check_all(book(playbook_id), raw, source=f"{playbook_id}.yaml")


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_example_answers_complete_the_playbook_without_input_and_answer_only_what_applies(playbook_id):
    playbook, session = run(playbook_id)
    assert session.status == "completed"
    plan = sm.plan(playbook, session)
    extra = [step_id for step_id in example(playbook_id) if not plan.step(step_id).applicable]
    assert extra == [], f"answers for steps that do not apply: {extra}"


@pytest.mark.parametrize("playbook_id", sorted(set(BUILTINS) - NO_CUSTOMER_APOLOGY))
def test_example_incident_harmed_customers_so_the_apology_is_offered(playbook_id):
    playbook, session = run(playbook_id)
    assert session.severity in ("minor", "major")
    assert {"customer-apology", "follow-up", "internal-note"} <= offered(playbook, session)


def test_examples_describe_a_different_business_each():
    names = [example(playbook_id)["organization"] for playbook_id in BUILTINS]
    assert len(set(names)) == len(BUILTINS)


@pytest.mark.parametrize("playbook_id", sorted(set(BUILTINS) - NO_CUSTOMER_APOLOGY))
def test_example_customer_facing_answers_avoid_non_apology_phrasing(playbook_id):
    answers = example(playbook_id)
    for step_id in CUSTOMER_FACING:
        text = answers[step_id]
        for phrase in NON_APOLOGY:
            assert not re.search(phrase, text, re.I), f"{playbook_id}.{step_id}: {phrase}"
        assert not filters.is_blaming(text), f"{playbook_id}.{step_id} blames a person"
    assert re.search(r"\d", answers["repair"]), "a concrete repair names an amount or a date"
    dated = re.search(r"\b\d{1,2} (?:November|December|January)\b", answers["prevention_summary"])
    assert dated, "concrete prevention names a date"


@pytest.mark.parametrize("playbook_id", sorted(set(BUILTINS) - NO_CUSTOMER_APOLOGY))
def test_example_customer_apology_drafts_score_at_least_80_without_warnings(playbook_id):
    messages = pytest.importorskip("mea_culpa.messages.drafting")
    engine = pytest.importorskip("mea_culpa.apology.engine")
    playbook, session = run(playbook_id)
    draft = messages.render(playbook, session, "customer-apology", tone="warm")
    result = engine.check_text(draft.text, "customer")
    loud = [(f.rule, f.match) for f in result.findings if f.level in ("warning", "error")]
    assert result.score >= 80 and not loud, (result.score, loud, draft.text)


# --- the terse answers -------------------------------------------------------------------

TERSE = ANSWERS / "terse"
# The steps whose answers the built-in messages quote: their help says from whose point of
# view to write, whether a sentence or a phrase is wanted, and gives an example.
QUOTED = (
    "what_happened", "who_affected", "impact", "explanation", "responsibility", "repair", "make_good",
    "prevention_summary", "fix_done", "workaround", "what_is_affected", "trigger",
)


@cache
def _terse(playbook_id: str) -> tuple[tuple[str, Any], ...]:
    raw = answers_mod.load_file(TERSE / f"{playbook_id}.yaml")
    return tuple(answers_mod.check_all(book(playbook_id), raw, source=f"terse/{playbook_id}.yaml").items())


def test_each_builtin_has_a_terse_answers_file():
    assert sorted(p.stem for p in TERSE.glob("*.yaml")) == sorted(BUILTINS)


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_terse_answers_complete_the_playbook_and_answer_only_what_applies(playbook_id):
    playbook = book(playbook_id)
    values = dict(_terse(playbook_id))
    session, _ = sm.new_session(playbook, session_id=f"2026-11-22-{playbook_id}", title=playbook_id, now="2026-11-22T10:00:00Z")
    session = Runner(playbook, session, Unsaved(), NoInputAsker(), prefilled={k: (v, "file") for k, v in values.items()}).run()
    assert session.status == "completed"
    plan = sm.plan(playbook, session)
    assert [step_id for step_id in values if not plan.step(step_id).applicable] == []
    assert "customer-apology" in offered(playbook, session), "a terse file is a case that reached customers"


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_terse_answers_are_typed_the_way_a_stressed_person_types(playbook_id):
    """Short, mostly lowercase, without final stops: otherwise they test nothing."""
    texts = [v for k, v in _terse(playbook_id) if k in QUOTED and isinstance(v, str)]
    assert sum(1 for t in texts if t[:1].islower()) >= len(texts) - 1
    assert not any(t.rstrip().endswith(".") for t in texts)
    assert max(len(t) for t in texts) <= 120


@pytest.mark.parametrize("playbook_id", BUILTINS)
def test_the_help_of_each_quoted_step_says_whose_voice_and_what_form_with_an_example(playbook_id):
    for step in book(playbook_id).steps:
        if step.id not in QUOTED:
            continue
        help_ = step.help or ""
        assert re.search(r"\b(?:sentences?|phrase)\b", help_), f"{playbook_id}.{step.id}: a sentence or a phrase?"
        assert re.search(r'"[^"]+"', help_), f"{playbook_id}.{step.id}: an example in quotes"
        if step.id in ("what_happened", "impact", "responsibility", "repair", "prevention_summary", "explanation"):
            assert re.search(r'"(?:we|I|you)"|\b(?:first person|as "you")', help_), f"{playbook_id}.{step.id}: whose voice?"


# --- the documentation's worked example -------------------------------------------------


def test_the_worked_example_in_the_format_reference_validates(tmp_path):
    text = (REPO / "docs" / "playbooks.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- worked-example -->\s*```yaml\n(.*?)```", text, re.S)
    assert match, "docs/playbooks.md marks its worked example with <!-- worked-example -->"
    path = tmp_path / "double-booking.yaml"
    path.write_text(match.group(1), encoding="utf-8")
    playbook = load(path)
    assert playbook.id == "double-booking"


def test_wrong_recipient_drafts_the_containment_request_without_the_private_details():
    """Contain first: the request to the wrong recipient asks them to delete and confirm,
    and repeats nothing of what was sent nor who it was about."""
    messages = pytest.importorskip("mea_culpa.messages.drafting")
    playbook, session = run("wrong-recipient")
    assert playbook.messages[0].id == "containment-request"
    for tone in ("warm", "formal"):
        text = messages.render(playbook, session, "containment-request", tone=tone).text
        assert "delete" in text and "confirm" in text
        for step_id in ("what_was_sent", "wrong_recipient", "recipient_name"):
            value = session.steps[step_id].value if step_id in session.steps else None
            if isinstance(value, str) and value.strip():
                assert value not in text, step_id
