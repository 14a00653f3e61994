"""What an answer may be: money and rough numbers kept as typed, dates in words, exclusive
choices, and the doubts an accepted answer can still raise (a time that has not come)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mea_culpa.errors import PlaybookError
from mea_culpa.playbook import answers as answers_mod
from mea_culpa.playbook import expressions
from mea_culpa.playbook.answers import AnswerProblem, coerce, doubt, parse_date, parse_datetime
from mea_culpa.playbook.loading import load
from mea_culpa.playbook.model import Stage, Step

REPO = Path(__file__).resolve().parent.parent


def step(type_: str, **kw) -> Step:
    data = {"id": kw.pop("id", "q"), "type": type_, "prompt": kw.pop("prompt", "A question?"), **kw}
    return Stage.model_validate({"stage": "facts", "steps": [data]}).steps[0]


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, stored", [
    ("1200", 1200), ("1,200", 1200), ("1 200", 1200), ("3.5", 3.5), (40, 40),
    ("£300", {"number": 300, "typed": "£300"}),
    ("~1200", {"number": 1200, "typed": "~1200"}),
    ("about 40", {"number": 40, "typed": "about 40"}),
    ("1.2k", {"number": 1200, "typed": "1.2k"}),
    ("300 EUR", {"number": 300, "typed": "300 EUR"}),
    ("12 people", {"number": 12, "typed": "12 people"}),
    ("  roughly   1,500 ", {"number": 1500, "typed": "roughly 1,500"}),
])
def test_a_number_is_kept_with_what_was_typed_when_it_says_more(typed, stored):
    assert coerce(step("number"), typed) == stored


@pytest.mark.parametrize("typed", ["lots", "40-50", "1,2", "£", "twelve"])
def test_what_is_not_a_number_is_refused_with_what_would_work(typed):
    with pytest.raises(AnswerProblem) as caught:
        coerce(step("number"), typed)
    assert str(caught.value).endswith("is not a number; write it like 1200, 1,200, ~1200, about 40 or £300")


def test_min_and_max_read_the_number_of_a_typed_amount():
    with pytest.raises(AnswerProblem, match="must be at least 0"):
        coerce(step("number", validate={"min": 0}), "about -3")
    assert coerce(step("number", validate={"max": 500}), "£300") == {"number": 300, "typed": "£300"}


def test_a_replayed_typed_number_reads_the_same():
    stored = coerce(step("number"), "~1200")
    assert coerce(step("number"), stored) == stored


def test_expressions_and_templates_read_a_typed_number_as_a_number_that_prints_as_typed():
    value = answers_mod.readable({"number": 1200, "typed": "~1200"})
    assert expressions.condition("affected_count > 1000", {"affected_count": value})
    assert expressions.render_string("{{ n }} people", {"n": value}) == "about 1200 people"
    assert expressions.render_string("{{ cost }}", {"cost": answers_mod.readable({"number": 300, "typed": "£300"})}) == "£300"
    assert answers_mod.number_of({"number": 300, "typed": "£300"}) == 300.0


# --- dates in words ---------------------------------------------------------------------------

WEDNESDAY = dt.date(2026, 3, 11)


@pytest.mark.parametrize("words, day", [
    ("friday", "2026-03-13"), ("this friday", "2026-03-13"), ("Fri", "2026-03-13"),
    ("next friday", "2026-03-20"), ("last friday", "2026-03-06"),
    ("wednesday", "2026-03-11"), ("next wednesday", "2026-03-18"),
    ("in 2 weeks", "2026-03-25"), ("end of month", "2026-03-31"), ("end of the month", "2026-03-31"),
    ("end of next month", "2026-04-30"),
])
def test_dates_in_words(words, day):
    assert parse_date(words, WEDNESDAY).isoformat() == day


def test_a_day_in_words_with_a_time():
    assert parse_datetime("last friday 14:30", dt.datetime(2026, 3, 11, 9, 0)) == dt.datetime(2026, 3, 6, 14, 30)


def test_end_of_month_in_december_and_in_a_leap_february():
    assert parse_date("end of next month", dt.date(2026, 12, 5)) == dt.date(2027, 1, 31)
    assert parse_date("end of month", dt.date(2028, 2, 5)) == dt.date(2028, 2, 29)


def test_a_word_that_is_not_a_day_is_refused_with_the_words_that_work():
    with pytest.raises(AnswerProblem, match="'fridge' is not a date; write it like 2026-03-31, or today, friday, next friday"):
        parse_date("fridge", WEDNESDAY)


# --- exclusive choices -------------------------------------------------------------------------

OTHERS = [{"value": "nobody", "label": "Nobody else", "exclusive": True}, {"value": "colleague", "label": "A colleague"},
          {"value": "partner", "label": "A partner"}]


def test_an_exclusive_choice_cannot_be_ticked_with_another():
    s = step("multi-choice", choices=OTHERS)
    with pytest.raises(AnswerProblem) as caught:
        coerce(s, ["nobody", "colleague"])
    assert str(caught.value) == "“Nobody else” goes on its own: untick “A colleague”"
    assert coerce(s, ["nobody"]) == ["nobody"]
    assert coerce(s, ["colleague", "partner"]) == ["colleague", "partner"]


def test_the_builtin_others_involved_says_nobody_else_alone():
    order = load(REPO / "playbooks" / "order-mistake.yaml")
    with pytest.raises(AnswerProblem) as caught:
        coerce(order.step("others_involved"), ["nobody", "colleague", "partner"])
    assert str(caught.value) == "“Nobody else; it was…” goes on its own: untick “A colleague” or “A supplier, courier or…”"


def test_exclusive_outside_a_multi_choice_step_is_a_playbook_mistake(write):
    path = write("p.yaml", """
        id: p
        title: P
        summary: s
        version: 1
        stages:
          - stage: facts
            steps:
              - id: one
                type: choice
                prompt: One?
                choices:
                  - {value: a, exclusive: true}
                  - b
        """)
    with pytest.raises(PlaybookError) as caught:
        load(path)
    assert "choices[0].exclusive: `exclusive` is for the choices of a multi-choice step (this one is choice)" in str(caught.value)


# --- doubts: accepted, but worth a second look --------------------------------------------------

NOW = dt.datetime(2026, 3, 14, 12, 30)
PROMPTS = {"happened_at": "When did it stop working?", "resolved_at": "When did it work normally again?"}


def test_working_again_before_it_stopped_raises_a_doubt():
    line = doubt(step("datetime", id="resolved_at"), "2026-03-14 11:00", {"happened_at": "2026-03-14T12:05"},
                 prompts=PROMPTS, now=NOW)
    assert line == "11:00 today is before your answer to “When did it stop working?” (12:05 today)."


def test_a_start_after_it_was_noticed_raises_a_doubt():
    line = doubt(step("datetime", id="happened_at"), "2026-03-14 12:10", {"noticed_at": "2026-03-14T12:00"}, now=NOW)
    assert line == "12:10 today is after your answer to “noticed_at” (12:00 today)."


def test_a_moment_still_to_come_raises_a_doubt():
    line = doubt(step("datetime", id="noticed_at"), "2026-03-14 15:00", {}, now=NOW)
    assert line == "15:00 today has not come yet (it is 12:30 now)."


def test_moments_in_order_and_other_steps_raise_none():
    assert doubt(step("datetime", id="resolved_at"), "2026-03-14 12:20", {"happened_at": "2026-03-14T12:05"}, now=NOW) is None
    assert doubt(step("datetime", id="rebooked_for"), "2026-04-01 10:00", {}, now=NOW) is None  # a future moment by nature
    assert doubt(step("datetime", id="noticed_at"), "not a time", {}, now=NOW) is None  # the check refuses it
