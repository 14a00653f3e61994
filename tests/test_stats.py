"""The pure side of `stats`: factor normal forms, the milestone clock, medians, the report."""

from __future__ import annotations

import pytest

from mea_culpa.journal import stats
from mea_culpa.run.session import Event


@pytest.mark.parametrize(
    "a, b",
    [
        ("No review step before sending.", "missing review steps before send"),
        ("Deploy on a Friday evening", "Deploys on Friday evenings!"),
        ("Manual copy-paste of the address", "manual copy & paste of addresses"),
        ("Unclear ownership of the release", "the release ownership was unclear"),
        ("Tests were skipped", "skipping the tests"),
    ],
)
def test_the_same_factor_written_differently_has_one_normal_form(a, b):
    assert stats.normalise_factor(a) == stats.normalise_factor(b) != ""


def test_different_factors_keep_different_normal_forms():
    assert stats.normalise_factor("No review step") != stats.normalise_factor("No alert on errors")


def test_a_factor_of_stop_words_only_has_no_normal_form():
    assert stats.normalise_factor("It was not there, and nobody was.") == ""


def test_factors_are_split_by_line_bullet_and_sentence():
    text = "- Deploy on Friday evening. No canary\n* nobody reviewed the list; tired\n1. rushed\n\n"
    assert stats.split_factors(text) == ["Deploy on Friday evening", "No canary", "nobody reviewed the list", "tired", "rushed"]


def test_a_factor_written_twice_in_one_answer_counts_once():
    found = stats.factor_keys("No review step before sending.\n- no review steps before send\nTired")
    assert len(found) == 2
    assert found[stats.normalise_factor("review step send")] == "No review step before sending"


def test_factor_keys_of_no_answer_is_empty():
    assert stats.factor_keys(None) == {} == stats.factor_keys("")


@pytest.mark.parametrize(
    "values, expected",
    [([], None), ([5], 5.0), ([3, 1, 2], 2.0), ([4, 1, 3, 2], 2.5), ([1.5, 1.5], 1.5)],
)
def test_median_is_the_middle_or_the_mean_of_the_two_middles(values, expected):
    assert stats.median(values) == expected


def _events(*completed: tuple[str, str]) -> list[Event]:
    return [Event("2026-03-01T10:00:00Z", "session-started")] + [
        Event(at, "stage-completed", stage) for stage, at in completed
    ]


def test_milestones_count_from_noticed_when_known():
    events = _events(("own", "2026-03-01T10:20:00Z"), ("apologize", "2026-03-01T11:00:00Z"), ("fix", "2026-03-02T10:00:00Z"))
    got = stats.milestone_seconds("2026-03-01T09:30:00Z", "2026-03-01T10:00:00Z", events)
    assert got == {"owned": 50 * 60, "apologized": 90 * 60, "fixed": 24.5 * 3600}


def test_milestones_count_from_the_session_start_without_noticed():
    got = stats.milestone_seconds(None, "2026-03-01T10:00:00Z", _events(("own", "2026-03-01T10:05:00Z")))
    assert got == {"owned": 300, "apologized": None, "fixed": None}


def test_the_first_completion_of_a_stage_is_the_milestone():
    events = _events(("own", "2026-03-01T10:40:00Z"), ("own", "2026-03-01T10:10:00Z"))
    assert stats.milestone_seconds(None, "2026-03-01T10:00:00Z", events)["owned"] == 600


def test_a_stage_whose_to_dos_were_put_off_has_not_happened():
    """Issue 19: "to apologize 3 h 35 min" when both apologies were marked later. Only done
    to-dos count as having happened; one done after the stage was completed moves the
    milestone to that moment."""
    from mea_culpa.run.session import StepRecord

    events = _events(("apologize", "2026-03-01T10:30:00Z"), ("own", "2026-03-01T10:05:00Z"))
    later = [StepRecord("later", at="2026-03-01T10:20:00Z", stage="apologize"),
             StepRecord("later", reason="after the call", at="2026-03-01T10:25:00Z", stage="apologize")]
    got = stats.milestone_seconds(None, "2026-03-01T10:00:00Z", events, later)
    assert (got["owned"], got["apologized"]) == (300, None)
    one_done = [StepRecord("done", at="2026-03-01T12:00:00Z", stage="apologize"), later[1]]
    assert stats.milestone_seconds(None, "2026-03-01T10:00:00Z", events, one_done)["apologized"] is None
    both_done = [one_done[0], StepRecord("done", at="2026-03-01T11:00:00Z", stage="apologize")]
    assert stats.milestone_seconds(None, "2026-03-01T10:00:00Z", events, both_done)["apologized"] == 2 * 3600
    blocked_fix = [*both_done, StepRecord("blocked", reason="the locksmith", at="2026-03-01T10:40:00Z", stage="fix")]
    assert stats.milestone_seconds(None, "2026-03-01T10:00:00Z", events + _events(("fix", "2026-03-01T11:00:00Z")),
                                   blocked_fix)["fixed"] is None


def test_a_milestone_before_the_start_is_unknown_not_negative():
    got = stats.milestone_seconds("2026-03-01T12:00:00Z", "2026-03-01T10:00:00Z", _events(("own", "2026-03-01T10:10:00Z")))
    assert got["owned"] is None


@pytest.mark.parametrize(
    "seconds, text",
    [(None, "\u2014"), (59, "1 min"), (3600, "1 h"), (3900, "1 h 5 min"), (86400, "1 d"), (90000, "1 d 1 h")],
)
def test_durations_read_as_a_person_would_say_them(seconds, text):
    assert stats.human_duration(seconds) == text


def test_months_without_sessions_are_filled_with_zero_across_a_year_end():
    assert stats.fill_months({"2025-11": 2, "2026-02": 1}) == [("2025-11", 2), ("2025-12", 0), ("2026-01", 0), ("2026-02", 1)]
    assert stats.fill_months({}) == []


def test_completion_rate_counts_done_out_of_every_prevention_action():
    assert stats.ActionCounts(open=1, overdue=1, done=2, dropped=1).completion_rate == 0.5
    assert stats.ActionCounts().completion_rate is None


def test_a_pattern_is_without_learning_when_no_session_shows_learning():
    assert stats.Pattern("k", "f", sessions=3, learned=0, first="a", last="b").without_learning
    assert not stats.Pattern("k", "f", sessions=3, learned=1, first="a", last="b").without_learning


def test_the_report_separates_overall_medians_from_those_by_severity_and_reads_as_json():
    report = stats.build_report(
        since=None, sessions=3, by_playbook=[("general", 3)], by_severity=[("minor", 2), (None, 1)], by_tag=[("x", 1)],
        by_status=[("completed", 3)], per_month={"2026-01": 1, "2026-03": 2},
        medians=[(None, "owned", 60.0, 3), ("minor", "owned", 30.0, 2), ("unset", "fixed", 10.0, 1)],
        actions=stats.ActionCounts(done=1, open=1), patterns=[stats.Pattern("k", "No review", 2, 0, "a", "b")],
    )
    assert [(m.milestone, m.seconds, m.sessions) for m in report.medians] == [("owned", 60.0, 3), ("apologized", None, 0), ("fixed", None, 0)]
    assert report.medians_by_severity["minor"][0].seconds == 30.0
    assert report.by_severity == (("minor", 2), ("unset", 1))
    data = stats.to_json(report)
    assert data["per_month"] == {"2026-01": 1, "2026-02": 0, "2026-03": 2}
    assert data["time_from_noticed"]["owned"] == {"median_seconds": 60.0, "sessions": 3}
    assert data["prevention_actions"]["completion_rate"] == 0.5
    assert data["recurring_factors"][0]["without_learning"] is True
