"""The built-in apology rules, checked as data: each carries examples, and each example
behaves as labelled; every pattern is in the subset, safe from catastrophic backtracking,
and compiles."""

from __future__ import annotations

import re
import textwrap

import pytest

from mea_culpa.apology import CATEGORIES, LEVELS, load_rules, verify_examples
from mea_culpa.apology import components as comp
from mea_culpa.apology.patterns import (
    GROUP,
    LITERAL,
    WORDS,
    PatternSet,
    expand_macros,
    fold_pattern,
    parse,
    pattern_problem,
)

BUILTIN = load_rules()
SOURCES = ("Lazare", "Lewicki", "Halperin", "PagerDuty", "Roschk", "Carey", "Inc.", "research/apology.md")


def rule_ids() -> list[str]:
    return list(BUILTIN.ids)


def test_every_category_has_at_least_one_rule():
    assert {rule.category for rule in BUILTIN} == set(CATEGORIES)


def test_rule_ids_are_unique():
    assert len(set(BUILTIN.ids)) == len(BUILTIN)


@pytest.mark.parametrize("rule_id", rule_ids())
def test_rule_has_two_examples_each_way_and_its_reasons(rule_id):
    rule = BUILTIN.get(rule_id)
    assert rule is not None
    assert len(rule.examples_fail) >= 2, "at least two examples the rule must catch"
    assert len(rule.examples_pass) >= 2, "at least two examples the rule must let through"
    assert rule.level in LEVELS
    assert rule.message and rule.suggestion
    assert any(source in rule.rationale for source in SOURCES), f"rationale names no source: {rule.rationale!r}"


@pytest.mark.parametrize("rule_id", rule_ids())
def test_fail_examples_trigger_the_rule_and_pass_examples_do_not(rule_id):
    """Each example is checked with its rule alone, for the rule's first audience."""
    assert verify_examples([BUILTIN.get(rule_id)]) == []


def test_an_example_that_disagrees_with_its_rule_is_reported(tmp_path):
    (tmp_path / "wrong.yaml").write_text(
        textwrap.dedent(
            """\
            rules:
              - id: house-wrong
                category: padding
                level: warning
                patterns: ['synergy']
                message: m
                examples:
                  fail: ['Our teams work well together.']
                  pass: ['Great synergy here.']
            """
        ),
        encoding="utf-8",
    )
    problems = verify_examples([load_rules(extra_dirs=[tmp_path]).get("house-wrong")])
    assert len(problems) == 2
    assert "fail example not caught: 'Our teams work well together.'" in problems[0]
    assert "pass example flagged at 'synergy'" in problems[1]
    assert problems[0].startswith(f"{tmp_path / 'wrong.yaml'}:2: house-wrong:")


DETECTORS = {name: value for name, value in vars(comp).items() if isinstance(value, PatternSet)}


def rule_pattern_sets(rule) -> list[PatternSet]:
    return [p for p in (rule.matcher, rule.exception_matcher, rule.unless.sentence, rule.unless.text) if p]


@pytest.mark.parametrize("rule_id", rule_ids())
def test_every_rule_pattern_is_in_the_subset_and_safe(rule_id):
    rule = BUILTIN.get(rule_id)
    for pattern in (*rule.patterns, *rule.exceptions):
        assert pattern_problem(expand_macros(pattern), rule.case_sensitive) is None, pattern


def test_every_component_detector_is_in_the_subset_and_safe():
    assert len(DETECTORS) > 10
    for name, patterns in DETECTORS.items():
        assert len(patterns.trees) == len(patterns.sources), name


@pytest.mark.parametrize("rule_id", rule_ids())
def test_every_rule_pattern_compiles_whole(rule_id):
    """A check compiles only what can match its text; the whole set must compile too."""
    for patterns in rule_pattern_sets(BUILTIN.get(rule_id)):
        assert isinstance(patterns.compiled(), re.Pattern)


def test_every_component_detector_compiles_whole():
    for patterns in DETECTORS.values():
        assert isinstance(patterns.compiled(), re.Pattern)


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+b", r"(?:\w+\s*)*x", r"(?:a|b+)*", r"(?:[\w']+ ){0,50}end", r"(x*)+"],
)
def test_the_nesting_guard_catches_the_classic_exponential_shapes(pattern):
    assert "repeats a repetition" in pattern_problem(pattern)


@pytest.mark.parametrize("pattern", [r"sorry{gap:4}if", r"(?:[\w']+ ){0,3}?wrong", r"a+b+", r"(?:ab){1,3}"])
def test_the_nesting_guard_allows_bounded_gaps(pattern):
    assert pattern_problem(expand_macros(pattern)) is None


def test_folding_a_pattern_keeps_escapes_and_lowers_letters():
    assert fold_pattern(r"\W+DNS\b[A-Z]\N{LATIN SMALL LETTER A}") == r"\W+dns\b[a-z]\N{LATIN SMALL LETTER A}"


def test_the_rule_file_example_in_the_docs_loads_and_its_examples_agree(tmp_path):
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "apology-check.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(version: 1\nrules:.*?)```", doc, re.S)
    assert block, "docs/apology-check.md shows a rule file starting with version: 1"
    (tmp_path / "house.yaml").write_text(block.group(1), encoding="utf-8")
    rules = load_rules(extra_dirs=[tmp_path])
    assert verify_examples([rules.get("house-circle-back")]) == []


def _alternatives_after_a_space(pattern: str) -> list[str]:
    """The first characters of the alternatives of every group that follows a space or
    starts the pattern: an alternative there must start a word."""
    firsts: list[str] = []
    opened: list[tuple[int, list[int] | None]] = [(-1, [0])]
    escaped = in_class = False
    for i, ch in enumerate(pattern):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            plain = not pattern.startswith("(?", i) or pattern.startswith("(?:", i)
            opened.append((i, [i + (3 if pattern.startswith("(?:", i) else 1)] if plain else None))
        elif ch == "|" and opened[-1][1] is not None:
            opened[-1][1].append(i + 1)
        elif ch == ")" and len(opened) > 1:
            start, starts = opened.pop()
            if starts is not None and (start == 0 or pattern[start - 1] in " |(:"):
                firsts += [pattern[s : s + 1] for s in starts]
    firsts += [pattern[s : s + 1] for s in opened[0][1] or []]
    return firsts


def test_no_alternative_that_must_start_a_word_starts_with_an_apostrophe():
    """`(?:I|we) (?:'ll|will)` never matches "we'll": the text has no space before 'll."""
    dead = []
    for rule in BUILTIN:
        for pattern in (*rule.patterns, *rule.exceptions):
            if "'" in _alternatives_after_a_space(expand_macros(pattern)):
                dead.append(f"{rule.id}: {pattern}")
    for name, patterns in DETECTORS.items():
        for source in patterns.matched_sources():
            if "'" in _alternatives_after_a_space(source):
                dead.append(name)
    assert dead == []


def test_the_apostrophe_check_catches_a_dead_alternative():
    assert "'" in _alternatives_after_a_space("we (?:'ll|will) fix")
    assert "'" not in _alternatives_after_a_space("we(?:'ll| will) fix")



def _dead_edges(pattern: str) -> bool:
    """Patterns are wrapped in (?<!\\w)…(?!\\w): an alternative that must start with a comma or
    end with a space matches only where no word stands before or after it, almost never."""
    branches = [parse(pattern)]
    # Unwrap (?:a|b|c) and a top-level a|b|c into their alternatives.
    while len(branches) == 1 and len(branches[0]) == 1 and branches[0][0][0] in (GROUP, WORDS):
        node = branches[0][0]
        if node[0] == WORDS:
            branches = [((LITERAL, word, word),) for word in node[2]]
        elif node[1] in ("(", "(?:"):
            branches = list(node[2])
        else:
            break
    for branch in branches:
        if not branch:
            continue
        first, last = branch[0], branch[-1]
        if first[0] == LITERAL and first[1][0] in ",;:":
            return True
        if last[0] == LITERAL and last[1][-1] == " ":
            return True
    return False


def test_no_pattern_starts_with_a_comma_or_ends_with_a_space():
    dead = []
    for rule in BUILTIN:
        for pattern in (*rule.patterns, *rule.exceptions):
            if _dead_edges(fold_pattern(expand_macros(pattern))):
                dead.append(f"{rule.id}: {pattern}")
    for name, patterns in DETECTORS.items():
        for source in patterns.matched_sources():
            if _dead_edges(source):
                dead.append(name)
    assert dead == []


def test_the_dead_edge_check_catches_a_leading_comma_and_a_trailing_space():
    assert _dead_edges(", and they aren't")
    assert _dead_edges("(?:sorry|reverted at )")
    assert not _dead_edges("(?<=, )guaranteed")
    assert not _dead_edges("(?:sorry|reverted at \\d)")
