"""The apology check engine: components, scoring, findings and their positions, audiences,
user rules and their errors, and robustness on large or hostile input."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mea_culpa import errors
from mea_culpa.apology import (
    AUDIENCES,
    COMPONENTS,
    PENALTY,
    CheckResult,
    Finding,
    check_text,
    engine,
    load_rules,
)

SOLID = (
    "I'm sorry. On Tuesday we sent your order to the wrong address. That was our mistake, and it "
    "meant you waited three extra days for it. We have shipped the right order by express at no "
    "cost and refunded your shipping. To stop this happening again, we've added an address check "
    "to every order, owned by our warehouse lead, starting Monday. I hope you will give us another "
    "chance."
)

# The shape of the message the product's customer-apology template renders.
TEMPLATE_LIKE = (
    "I'm sorry. On Tuesday we sent your order to the wrong address. That was our mistake. "
    "It meant you waited two extra days for your parcel. We have sent a replacement by express "
    "delivery at no cost, and refunded your delivery charge of £4.95. To stop this happening "
    "again, we added a second address check before dispatch on 12 November."
)


def rules_in(path: Path, text: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "house.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def loud(result: CheckResult) -> list[tuple[str, str]]:
    return [(f.rule, f.match) for f in result.findings if f.level in ("warning", "error")]


# --- scoring -----------------------------------------------------------------------------


def test_a_solid_apology_scores_at_least_80_with_no_warning_or_error():
    result = check_text(SOLID)
    assert result.score >= 80
    assert loud(result) == []
    assert all(result.components.values())


def test_the_product_template_message_passes_clean():
    result = check_text(TEMPLATE_LIKE)
    assert result.score >= 80, result.to_dict()
    assert result.findings == ()


def test_the_classic_non_apology_scores_low_and_fails():
    result = check_text("We apologize for any inconvenience this may have caused. Mistakes were made.")
    assert result.score < 20
    assert not result.passes()
    assert {"conditional", "minimizing", "passive", "regret-only"} <= {f.category for f in result.findings}


def test_an_error_finding_fails_the_text_whatever_its_score():
    text = SOLID + " Our courier partner lost the first parcel."
    result = check_text(text)
    assert result.score >= 60
    assert result.has_errors and not result.passes()


def test_penalties_order_error_over_warning_over_suggestion():
    assert PENALTY["error"] > 2 * PENALTY["warning"] > 4 * PENALTY["suggestion"]


def test_a_repeated_phrase_costs_at_most_twice_and_the_total_penalty_is_capped():
    once = check_text(SOLID + " Thank you for your patience.").score
    many = check_text(SOLID + " Thank you for your patience." * 6).score
    assert check_text(SOLID).score - once == PENALTY["suggestion"]
    assert once - many == PENALTY["suggestion"]  # the second counts, the third and later do not
    worst = check_text(SOLID + " If anyone was offended, sorry if so. Our vendor failed. Human error. Tom forgot.")
    assert worst.score == 100 - engine.MAX_PENALTY


def test_score_stays_within_0_and_100():
    assert check_text("").score == 0
    assert check_text("sorry if anyone was offended, human error, never again " * 20).score == 0
    assert check_text(SOLID).score <= 100


# --- components ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "present", "absent"),
    [
        ("responsibility", "We charged you twice by mistake.", "Some customers were charged twice."),
        ("responsibility", "That one is on me.", "It was not our fault."),
        ("responsibility", "I forgot to send the contract.", "If we made a mistake, we will look into it."),
        ("repair", "We have refunded the £30 to your card.", "We are looking into what happened."),
        ("repair", "The corrected invoice is attached.", "We will keep you posted."),
        ("regret", "I apologise for the delay.", "Here is an update on your order."),
        ("explanation", "It happened because a script ran twice.", "We are on it."),
        ("explanation", "On Monday at 09:10 the site went down.", "The site went down."),
        ("impact", "You could not log in for three hours.", "There was a problem with logins."),
        ("impact", "This meant you missed your flight.", "There was a problem."),
        (
            "prevention",
            "To prevent a repeat, we've added a second review before every send.",
            "We will do better.",
        ),
        (
            "prevention",
            "Going forward, Dana will add an address check by 14 June.",
            "We are reviewing our processes to prevent this.",
        ),
        ("forgiveness", "I hope you can forgive me.", "I will call you tomorrow."),
    ],
)
def test_each_component_is_detected_and_its_absence_too(component, present, absent):
    assert check_text(present).components[component] is True
    assert check_text(absent).components[component] is False


def test_components_always_has_the_seven_keys_in_order():
    assert list(check_text("hello").components) == list(COMPONENTS)


def test_tips_name_each_missing_component_heaviest_first():
    result = check_text("I'm sorry.")
    names = [tip.split(":", 1)[0] for tip in result.tips]
    assert names[:2] == ["responsibility", "repair"]
    assert "regret" not in names


def test_weights_sum_to_100_for_every_audience():
    for audience, table in engine.components.WEIGHTS.items():
        assert sum(table.values()) == 100, audience


# --- false positives named in the issue ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("We take full responsibility for the mistake.", "padding"),
        ("I'm sorry. If you'd like a refund, reply to this email.", "conditional"),
        ("We will post the next update at 15:30.", "overpromise"),
        ("Only after your email did we notice the error; that was our mistake.", "minimizing"),
        ("We sent your order to your old address instead of the one you entered.", "blame"),
    ],
)
def test_ordinary_phrases_are_not_flagged(text, category):
    assert category not in {f.category for f in check_text(text).findings}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("We take your privacy very seriously.", "padding"),
        ("I'm sorry if the email upset you.", "conditional"),
        ("The outage lasted only a few hours.", "minimizing"),
        ("This will never happen again.", "overpromise"),
        ("The site will be fixed in 2 hours.", "overpromise"),
        ("Everything will be back up by 5pm.", "overpromise"),
        ("I'm sorry you feel that way.", "feelings"),
        ("Sorry for the delay, but we were very busy.", "justification"),
        ("The intern sent the wrong file.", "blame"),
        ("An error occurred while processing your payment.", "passive"),
        ("We regret that this occurred.", "regret-only"),
        ("A DNS change caused 5xx errors on the API.", "jargon"),
    ],
)
def test_anti_patterns_named_in_the_issue_are_flagged(text, category):
    assert category in {f.category for f in check_text(text).findings}


def test_regret_without_responsibility_is_one_finding_however_often_repeated():
    result = check_text("We're so sorry. Truly sorry. We apologise again.")
    assert [f.rule for f in result.findings if f.category == "regret-only"] == ["regret-only"]
    owned = check_text("We're so sorry: we sent you the wrong size.")
    assert "regret-only" not in {f.category for f in owned.findings}


# --- audiences ------------------------------------------------------------------------------

INTERNAL_NOTE = (
    "Team, on Friday at 16:05 our nightly job sent 1,200 invoices twice because we ran it with "
    "an old config. We reverted the job at 16:40 and support contacted every affected customer. "
    "Actions: add a duplicate-send check (Priya, by 14 June)."
)


def test_an_internal_note_needs_no_sorry_to_score_well():
    result = check_text(INTERNAL_NOTE, "internal")
    assert result.components["regret"] is False
    assert result.score >= 80
    assert not any(tip.startswith("regret") for tip in result.tips)
    assert check_text(INTERNAL_NOTE, "customer").score < result.score


def test_jargon_is_a_suggestion_for_customers_and_fine_internally():
    text = "We rolled back the deploy after the DNS change raised latency."
    customer = check_text(text, "customer")
    assert {f.category for f in customer.findings} >= {"jargon"}
    assert all(f.level == "suggestion" for f in customer.findings if f.category == "jargon")
    assert "jargon" not in {f.category for f in check_text(text, "internal").findings}


@pytest.mark.parametrize(
    "text",
    [
        "The outage was caused by human error.",
        "Tom accidentally deleted the production table.",
        "An engineer on our team forgot to renew the certificate.",
    ],
)
def test_blame_is_flagged_for_every_audience_internal_included(text):
    for audience in AUDIENCES:
        assert "blame" in {f.category for f in check_text(text, audience).findings}, audience


def test_an_unknown_audience_is_a_usage_error_listing_the_valid_ones():
    with pytest.raises(errors.UsageError) as caught:
        check_text("sorry", "board")
    message = str(caught.value)
    assert "\n" not in message
    assert all(name in message for name in AUDIENCES)


def test_audience_names_are_case_insensitive():
    assert check_text("x", "Internal").audience == "internal"


# --- positions ------------------------------------------------------------------------------


def test_line_and_column_point_at_the_match_in_multi_line_text():
    text = "Dear Ana,\n\nThanks for writing.\nWe apologise for any inconvenience.\n"
    result = check_text(text)
    finding = next(f for f in result.findings if f.rule == "minimizing-any-inconvenience")
    assert (finding.line, finding.column) == (4, 18)
    assert finding.match == "any inconvenience"
    assert text[finding.start : finding.end] == finding.match
    assert text.splitlines()[finding.line - 1][finding.column - 1 :].startswith(finding.match)


def test_positions_count_characters_not_bytes_and_keep_curly_quotes():
    text = "Chère cliente — désolé.\n“We’re sorry you feel that way.”"
    result = check_text(text)
    finding = next(f for f in result.findings if f.category == "feelings")
    assert finding.line == 2
    assert finding.match == "sorry you feel"
    assert text[finding.start : finding.end] == finding.match
    assert finding.column == text.splitlines()[1].index("sorry") + 1


def test_findings_come_in_text_order():
    result = check_text("Human error. Sorry if that hurt. Any inconvenience is regretted.")
    starts = [f.start for f in result.findings]
    assert starts == sorted(starts)


def test_result_and_finding_are_frozen_and_to_dict_has_exactly_the_json_shape():
    result = check_text("We apologize for any inconvenience.")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 100  # type: ignore[misc]
    data = result.to_dict()
    assert list(data) == ["score", "components", "findings"]
    assert list(data["components"]) == list(COMPONENTS)
    assert list(data["findings"][0]) == [
        "rule",
        "category",
        "level",
        "line",
        "column",
        "match",
        "message",
        "suggestion",
    ]
    assert isinstance(result.findings[0], Finding)


# --- rules: disabled, user folders, bad files ---------------------------------------------


def test_a_disabled_rule_no_longer_reports():
    text = "We take your security very seriously."
    assert "padding-take-seriously" in {f.rule for f in check_text(text).findings}
    rules = load_rules(disabled=["padding-take-seriously"])
    assert "padding-take-seriously" not in {f.rule for f in check_text(text, rules=rules).findings}


def test_a_whole_category_can_be_disabled_by_name():
    rules = load_rules(disabled=["jargon"])
    assert all(rule.category != "jargon" for rule in rules)
    assert not check_text("The DNS API had high latency.", rules=rules).findings


def test_an_unknown_rule_to_disable_is_a_usage_error_that_names_it_and_a_close_match():
    with pytest.raises(errors.UsageError) as caught:
        load_rules(disabled=["padding-take-seriosly"])
    assert "padding-take-seriosly" in str(caught.value)
    assert "padding-take-seriously" in str(caught.value)


def test_a_user_rule_folder_adds_rules(tmp_path):
    folder = rules_in(
        tmp_path / "rules",
        """
        rules:
          - id: house-circle-back
            category: jargon
            level: warning
            patterns: ['circle back']
            message: Say when you will reply.
        """,
    )
    rules = load_rules(extra_dirs=[folder])
    result = check_text("We will circle back soon.", rules=rules)
    assert [(f.rule, f.level) for f in result.findings if f.category == "jargon"] == [("house-circle-back", "warning")]
    assert len(rules) == len(load_rules()) + 1


def test_a_user_rule_with_a_built_in_id_replaces_it(tmp_path):
    folder = rules_in(
        tmp_path / "rules",
        """
        rules:
          - id: minimizing-inconvenience
            category: minimizing
            level: error
            patterns: ['inconvenience']
            message: Never write it.
        """,
    )
    rules = load_rules(extra_dirs=[folder])
    assert len(rules) == len(load_rules())
    found = [
        f
        for f in check_text("Sorry for the inconvenience.", rules=rules).findings
        if f.rule == "minimizing-inconvenience"
    ]
    assert found and found[0].level == "error" and found[0].message == "Never write it."


def test_a_missing_rule_folder_is_not_found(tmp_path):
    with pytest.raises(errors.NotFound) as caught:
        load_rules(extra_dirs=[tmp_path / "nowhere"])
    assert "nowhere" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "where", "words"),
    [
        ("rules:\n  - id: x\n    level: [\n", (4, 1), "not valid YAML"),
        (
            "rules:\n  - id: x\n    category: conditional\n    level: loud\n    patterns: [a]\n    message: m\n",
            (4, 12),
            "'loud' is not one of",
        ),
        (
            "rules:\n  - id: x\n    category: conditional\n    level: error\n    paterns: [a]\n    message: m\n",
            (5, 5),
            "unknown key 'paterns'",
        ),
        (
            "rules:\n  - id: x\n    category: conditional\n    level: error\n    patterns: ['(a+)+b']\n    message: m\n",
            (5, 16),
            "repeats a repetition",
        ),
        (
            "rules:\n  - id: x\n    category: conditional\n    level: error\n    patterns: ['a', '(?:b)?']\n    message: m\n",
            (5, 21),
            "empty text",
        ),
        (
            "rules:\n  - id: x\n    category: conditional\n    level: error\n    patterns: ['(unclosed']\n    message: m\n",
            (5, 16),
            "not a valid regular expression",
        ),
        (
            "rules:\n  - id: x\n    category: conditional\n    level: error\n    message: m\n",
            (2, 5),
            "missing required key 'patterns'",
        ),
        (
            "rules:\n  - id: Bad Id\n    category: conditional\n    level: error\n    patterns: [a]\n    message: m\n",
            (2, 9),
            "lower-case",
        ),
        (
            "rules:\n  - id: x\n    category: passive\n    level: error\n    patterns: [a]\n    message: m\n    unless: {component: [luck]}\n",
            (7, 26),
            "unknown component 'luck'",
        ),
        ("just: text\n", (1, 1), "a 'rules:' list"),
        ("rules:\n  - id: x\n    id: y\n", (3, 5), "duplicate key 'id'"),
        ("rules: !!python/object/apply:os.system ['echo hi']\n", (1, 8), "is not allowed"),
    ],
)
def test_a_bad_rule_file_reports_file_line_and_column(tmp_path, body, where, words):
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "bad.yaml").write_text(body, encoding="utf-8")
    with pytest.raises(errors.PlaybookError) as caught:
        load_rules(extra_dirs=[folder])
    first = caught.value.diagnostics[0]
    assert first.path.endswith("bad.yaml")
    line, column = where
    assert (first.line, first.column) == (line, column)
    assert words in first.message
    assert str(first).startswith(f"{folder / 'bad.yaml'}:{line}:")


def test_every_problem_in_a_rule_file_is_reported_at_once(tmp_path):
    folder = rules_in(
        tmp_path / "rules",
        """
        rules:
          - id: one
            category: nope
            level: error
            patterns: [a]
            message: m
          - id: two
            category: padding
            level: whisper
            patterns: [b]
            message: m
        """,
    )
    with pytest.raises(errors.PlaybookError) as caught:
        load_rules(extra_dirs=[folder])
    assert [(d.line, d.key) for d in caught.value.diagnostics] == [(3, "rules[0].category"), (9, "rules[1].level")]


def test_the_same_id_twice_in_one_folder_is_an_error(tmp_path):
    rule = "  - id: twin\n    category: padding\n    level: error\n    patterns: [x]\n    message: m\n"
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "a.yaml").write_text("rules:\n" + rule, encoding="utf-8")
    (folder / "b.yaml").write_text("rules:\n" + rule, encoding="utf-8")
    with pytest.raises(errors.PlaybookError, match="already defined"):
        load_rules(extra_dirs=[folder])


def test_the_gap_macro_and_unless_sentence_work_in_user_rules(tmp_path):
    folder = rules_in(
        tmp_path / "rules",
        """
        rules:
          - id: house-hope
            category: padding
            level: warning
            patterns: ['hope{gap:2}understand']
            unless:
              sentence: ['no excuse']
            message: m
        """,
    )
    rules = load_rules(extra_dirs=[folder])
    hits = lambda text: [f.match for f in check_text(text, rules=rules).findings if f.rule == "house-hope"]  # noqa: E731
    assert hits("We hope you will understand.") == ["hope you will understand"]
    assert hits("We hope. You will understand.") == []  # a gap never crosses a sentence end
    assert hits("We hope you understand; it is no excuse.") == []


def test_built_in_rules_are_loaded_once_and_shared():
    assert engine._builtin_ruleset() is engine._builtin_ruleset()
    assert check_text("x").findings == check_text("x", rules=load_rules()).findings


# --- robustness ------------------------------------------------------------------------------

HUNDRED_KB = 100_000


@pytest.mark.parametrize(
    "text",
    [
        "a " * (HUNDRED_KB // 2),
        "a" * HUNDRED_KB,
        "x." * (HUNDRED_KB // 2),
        "1," * (HUNDRED_KB // 2),
        "!" * HUNDRED_KB,
        "\n" * HUNDRED_KB,
        "a'" * (HUNDRED_KB // 2),
        "we " * (HUNDRED_KB // 3),
        "our team " * (HUNDRED_KB // 9),
        "Tom Tom " * (HUNDRED_KB // 8),
        "sorry" + "," * HUNDRED_KB,
    ],
    ids=[
        "words",
        "one-long-word",
        "dots",
        "digits",
        "bangs",
        "newlines",
        "apostrophes",
        "we",
        "our-team",
        "names",
        "commas",
    ],
)
def test_large_hostile_texts_finish_with_no_findings(text):
    result = check_text(text)
    assert all(f.category == "regret-only" for f in result.findings)
    assert result.score <= 10


def test_a_long_text_of_repeated_sorry_reports_regret_only_once():
    result = check_text("sorry " * (HUNDRED_KB // 6))
    assert [f.rule for f in result.findings] == ["regret-only"]
    assert (result.findings[0].line, result.findings[0].column) == (1, 1)


def test_a_long_text_without_newlines_reports_every_repeat_at_line_one():
    unit = "We apologize for any inconvenience. "
    text = unit * (HUNDRED_KB // len(unit))
    result = check_text(text)
    hits = [f for f in result.findings if f.rule == "minimizing-any-inconvenience"]
    assert len(hits) == HUNDRED_KB // len(unit)
    assert {f.line for f in hits} == {1}
    assert hits[-1].column == hits[-1].start + 1 == text.rindex("any inconvenience") + 1


def test_a_long_solid_text_still_scores_well():
    text = "\n\n".join([SOLID] * (HUNDRED_KB // len(SOLID)))
    result = check_text(text)
    assert result.score >= 80 and loud(result) == []


@settings(max_examples=200, deadline=None)
@given(st.text(), st.sampled_from(AUDIENCES))
def test_any_unicode_text_is_checked_without_raising(text, audience):
    result = check_text(text, audience)
    assert 0 <= result.score <= 100
    lines = text.split("\n")
    for finding in result.findings:
        assert text[finding.start : finding.end] == finding.match
        assert lines[finding.line - 1][finding.column - 1 :].startswith(finding.match.split("\n")[0])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["sorry", "if", "we", "sent", "wrong", "any", "only", "a few", ",", ".", "\n", " ", "’", "İ", "DNS"]
        ),
        max_size=60,
    )
)
def test_apology_shaped_word_salad_keeps_positions_consistent(words):
    text = " ".join(words)
    for finding in check_text(text).findings:
        assert text[finding.start : finding.end] == finding.match


# --- at_least: a habit counted over sentences ------------------------------------------------


def test_a_user_rule_with_at_least_reports_once_at_the_sentence_that_reaches_the_count(tmp_path):
    folder = rules_in(
        tmp_path / "rules",
        """
        rules:
          - id: house-basically
            category: padding
            level: suggestion
            at_least: 2
            patterns: ['basically']
            message: Say it once.
        """,
    )
    rules = load_rules(extra_dirs=[folder])
    hits = lambda text: [(f.line, f.column) for f in check_text(text, rules=rules).findings if f.rule == "house-basically"]  # noqa: E731
    assert hits("Basically, basically, basically the same sentence.") == []
    assert hits("Basically it broke.\nIt was basically our fault. Basically.") == [(2, 8)]


def test_at_least_must_be_a_small_whole_number(tmp_path):
    folder = rules_in(
        tmp_path / "rules",
        """
        rules:
          - id: house-x
            category: padding
            level: suggestion
            at_least: many
            patterns: ['x']
            message: m
        """,
    )
    with pytest.raises(errors.PlaybookError) as caught:
        load_rules(extra_dirs=[folder])
    first = caught.value.diagnostics[0]
    assert (first.line, first.column) == (5, 15) and "whole number" in first.message
