"""The built-in apology rules, checked as data: each carries examples, and each example
behaves as labelled; every pattern is safe from catastrophic backtracking."""

from __future__ import annotations

import re
import textwrap

import pytest

from mea_culpa.apology import CATEGORIES, LEVELS, load_rules, verify_examples
from mea_culpa.apology import components as comp
from mea_culpa.apology.text import expand_macros, fold_pattern, nested_quantifier

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


@pytest.mark.parametrize("rule_id", rule_ids())
def test_no_rule_pattern_nests_a_quantifier_inside_an_unbounded_one(rule_id):
    rule = BUILTIN.get(rule_id)
    for pattern in (*rule.patterns, *rule.exceptions):
        assert not nested_quantifier(expand_macros(pattern)), pattern


def test_no_component_detector_nests_a_quantifier_inside_an_unbounded_one():
    detectors = {name: value for name, value in vars(comp).items() if isinstance(value, re.Pattern)}
    assert len(detectors) > 10
    for name, regex in detectors.items():
        assert not nested_quantifier(regex.pattern), name


@pytest.mark.parametrize(
    "pattern",
    [r"(a+)+b", r"(?:\w+\s*)*x", r"(?:a|b+)*", r"(?:[\w']+ ){0,50}end", r"(x*)+"],
)
def test_the_nesting_guard_catches_the_classic_exponential_shapes(pattern):
    assert nested_quantifier(pattern)


@pytest.mark.parametrize("pattern", [r"sorry{gap:4}if", r"(?:[\w']+ ){0,3}?wrong", r"a+b+", r"(?:ab){1,3}"])
def test_the_nesting_guard_allows_bounded_gaps(pattern):
    assert not nested_quantifier(expand_macros(pattern))


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
    for name, value in vars(comp).items():
        if isinstance(value, re.Pattern):
            source = value.pattern.removeprefix(r"(?<!\w)").removeprefix(r"(?=\w)")
            if "'" in _alternatives_after_a_space(source):
                dead.append(name)
    assert dead == []


def test_the_apostrophe_check_catches_a_dead_alternative():
    assert "'" in _alternatives_after_a_space("we (?:'ll|will) fix")
    assert "'" not in _alternatives_after_a_space("we(?:'ll| will) fix")



def _dead_edges(pattern: str) -> bool:
    """Patterns are wrapped in (?<!\\w)…(?!\\w): an alternative that must start with a comma or
    end with a space matches only where no word stands before or after it, almost never."""
    from mea_culpa.apology.text import _sre_parse

    parsed = list(_sre_parse.parse(pattern))
    branches = [parsed]
    # Unwrap (?:a|b|c) and a top-level a|b|c into their alternatives.
    while len(branches) == 1 and len(branches[0]) == 1 and str(branches[0][0][0]) in ("BRANCH", "SUBPATTERN"):
        op, av = branches[0][0]
        branches = [list(b) for b in av[1]] if str(op) == "BRANCH" else [list(av[-1])]
    if len(branches) == 1 and branches[0] and str(branches[0][0][0]) == "BRANCH":
        branches = [list(b) for b in branches[0][0][1][1]]
    for branch in branches:
        if not branch:
            continue
        (op_first, av_first), (op_last, av_last) = branch[0], branch[-1]
        if str(op_first) == "LITERAL" and chr(av_first) in ",;:":
            return True
        if str(op_last) == "LITERAL" and chr(av_last) == " ":
            return True
    return False


def test_no_pattern_starts_with_a_comma_or_ends_with_a_space():
    dead = []
    for rule in BUILTIN:
        for pattern in (*rule.patterns, *rule.exceptions):
            if _dead_edges(fold_pattern(expand_macros(pattern))):
                dead.append(f"{rule.id}: {pattern}")
    for name, value in vars(comp).items():
        if isinstance(value, re.Pattern):
            source = value.pattern.removeprefix(r"(?<!\w)").removeprefix(r"(?=\w)").removesuffix(r"(?!\w)")
            if _dead_edges(source):
                dead.append(name)
    assert dead == []


def test_the_dead_edge_check_catches_a_leading_comma_and_a_trailing_space():
    assert _dead_edges(", and they aren't")
    assert _dead_edges("(?:sorry|reverted at )")
    assert not _dead_edges("(?<=, )guaranteed")
    assert not _dead_edges("(?:sorry|reverted at \\d)")
