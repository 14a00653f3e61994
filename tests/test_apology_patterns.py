"""The rule pattern language (apology/patterns.py): what it accepts and refuses, and that a
pattern set compiled for one text, from only what can match it, finds exactly what the
whole set finds."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from mea_culpa.apology import components, load_rules
from mea_culpa.apology.patterns import PatternProblem, PatternSet, parse, pattern_problem
from mea_culpa.apology.text import Document

DATA = Path(__file__).parent / "data" / "apology"


@lru_cache(maxsize=1)
def builtin_sets() -> list[tuple[str, PatternSet]]:
    sets = []
    for rule in load_rules():
        for name, patterns in (
            ("patterns", rule.matcher),
            ("exceptions", rule.exception_matcher),
            ("unless.sentence", rule.unless.sentence),
            ("unless.text", rule.unless.text),
        ):
            if patterns is not None:
                sets.append((f"{rule.id} {name}", patterns))
    sets += [(name, value) for name, value in vars(components).items() if isinstance(value, PatternSet)]
    return sets


def spans(pattern: re.Pattern[str] | None, text: str) -> list[tuple[int, int]]:
    return [] if pattern is None else [m.span() for m in pattern.finditer(text)]


# --- what is compiled for a text ---------------------------------------------------------


def test_every_built_in_set_finds_the_same_in_a_text_as_when_compiled_whole():
    """Over the labelled corpus and the fresh round: leaving out what cannot match a text
    changes no match, for every rule and every part detector."""
    texts = [item["text"] for name in ("corpus.yaml", "fresh.yaml") for item in yaml.safe_load((DATA / name).read_text())["items"]]
    differ = []
    for text in texts[::3]:
        document = Document(text)
        for name, patterns in builtin_sets():
            haystack = document.haystack(patterns.case_sensitive)
            if spans(document.matcher(patterns), haystack) != spans(patterns.compiled(), haystack):
                differ.append((name, text[:60]))
    assert differ == []


def test_a_set_whose_words_are_absent_from_a_text_is_not_compiled_for_it():
    document = Document("Thanks for lunch on Friday; the soup was lovely.")
    vendor = load_rules().get("blame-vendor")
    assert vendor is not None and document.matcher(vendor.matcher) is None
    compiled = [name for name, patterns in builtin_sets() if document.matcher(patterns) is not None]
    assert len(compiled) < len(builtin_sets()) // 3, compiled


def test_only_the_alternatives_a_text_can_match_are_compiled():
    patterns = PatternSet([r"(?:we|I) (?:sent|mailed|posted) (?:it|them)", r"refund(?:ed)?"])
    compiled = Document("We posted them on Monday.").matcher(patterns)
    assert compiled is not None
    assert "posted" in compiled.pattern and "mailed" not in compiled.pattern and "refund" not in compiled.pattern


def test_a_negative_look_around_that_cannot_match_is_dropped_and_a_positive_one_cannot_be():
    negative = PatternSet([r"sorry(?! (?:for nothing|about that))"])
    compiled = Document("I am sorry for the delay.").matcher(negative)
    assert compiled is not None and "nothing" not in compiled.pattern and "(?! " not in compiled.pattern
    positive = PatternSet([r"sorry(?= for nothing)"])
    assert Document("I am sorry for the delay.").matcher(positive) is None


# --- the subset ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        (r"(a)\1", "back-references"),
        (r"(?P<name>sorry)", "named groups are not allowed"),
        (r"(?i)sorry", "not supported in a rule pattern"),
        (r"(?>sorry)", "not supported in a rule pattern"),
        (r"sorry*+", "multiple repeat"),
        (r"\qsorry", "bad escape"),
        (r"(sorry", "missing )"),
        (r"sorry)", "unbalanced parenthesis"),
        (r"*sorry", "nothing to repeat"),
        (r"\b+sorry", "nothing to repeat"),
        (r"(?<=sorry|oops)x", "look-behind requires fixed-width"),
        (r"[z-a]x", "bad character range"),
        (r"x{3,1}", "min repeat greater than max repeat"),
        (r"[abc", "unterminated character set"),
        (r"(?:a|b)?", "can match empty text"),
        (r"(?=sorry)", "can match empty text"),
        (r"(?:\w+ ){0,20}end", "repeats a repetition"),
        (r"sorry{gap:11}if", "a gap is written"),
        (r"x[\q]", "bad escape"),
        (r"\xg", "incomplete escape"),
        (r"\N{NO SUCH CHARACTER}", "undefined character name"),
        (r"x[]", "unterminated character set"),
        (r"x[[a]", "inside a set escaped"),
        (r"x{99999}", "too large"),
        (r"(?)x", "not supported in a rule pattern"),
    ],
)
def test_a_pattern_outside_the_subset_is_refused_with_a_reason(pattern, words):
    problem = pattern_problem(pattern)
    assert problem is not None and words in problem


@pytest.mark.parametrize(
    "pattern",
    [
        r"sorry",
        r"(?<!\w)apologi[sz]e[sd]?",
        r"(?:[\w']+ ){0,3}?wrong",
        r"\d{1,2}(?:[:.]\d{2})?\s?(?:am|pm)",
        r"(?<=, )so (?:the|we)",
        r"£\s?\d+",
        r"it(?:'s| is) (?:on|down to) (?:me|us)\b",
        r"\N{EN DASH} and\x20more",
        r"a{,3}b",
        r"{literal brace}",
    ],
)
def test_patterns_in_the_subset_are_read_and_compile(pattern):
    assert pattern_problem(pattern) is None
    assert PatternSet([pattern]).compiled().pattern


def test_a_parse_is_a_tuple_tree_that_keeps_the_source_of_every_literal():
    tree = parse(r"we\.(?:sent|mailed)s?")
    assert tree[0][1:] == ("we.", r"we\.")
    with pytest.raises(PatternProblem):
        parse(r"(a+)+")


PIECES = [*"ab ()|?*+{}[]^$.\\-,:=!<>PdwsbxN0#&~", "(?:", "(?=", "(?!", "(?<=", "(?<!", "(?#", "(?P=", "(?i)"]
PIECES += [r"\1", "{2}", "{,3}", "{3,1}", "[^]", "[[", "--", r"\x41", r"\N{EN DASH}", r"\N{NOPE}", r"[\q]", "*?", "??"]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=8))
def test_a_pattern_the_subset_accepts_always_compiles(pieces):
    """A rule is compiled only when a text needs it, so what loads must compile."""
    pattern = "".join(pieces)
    if pattern_problem(pattern) is None:
        assert PatternSet([pattern]).compiled().pattern


# --- the same matches as the whole pattern, on generated patterns and texts ---------------

WORDS = ["we", "sent", "sent it", "it", "the", "wrong", "i", "sorry", "x"]
TEXT_WORDS = ["we", "sent", "it", "the", "wrong", "i", "sorry", "We", "sorry.", "it,", "x", "xx"]


def _pattern(depth: int = 0) -> st.SearchStrategy[str]:
    literal = st.sampled_from(WORDS).map(re.escape)
    atom = st.one_of(
        literal,
        st.sampled_from([r"\w+", r"[a-z]{1,3}", r"\d", r"[sz]", r" "]),
    )
    if depth < 2:
        inner = st.deferred(lambda: _pattern(depth + 1))
        atom = st.one_of(
            atom,
            st.lists(inner, min_size=1, max_size=3).map(lambda alts: "(?:" + "|".join(alts) + ")"),
            st.lists(st.sampled_from(WORDS), min_size=2, max_size=4).map(lambda ws: "(?:" + "|".join(ws) + ")"),
            inner.map(lambda p: f"(?!{p})"),
            literal.map(lambda p: f"(?<!{p} )"),
        )
    piece = st.tuples(atom, st.sampled_from(["", "", "?", "{0,2}", "{1,2}?"])).map(lambda t: t[0] + t[1])
    return st.lists(piece, min_size=1, max_size=4).map(lambda ps: " ".join(ps))


@settings(max_examples=300, deadline=None)
@given(st.lists(_pattern(), min_size=1, max_size=3), st.lists(st.sampled_from(TEXT_WORDS), max_size=12))
def test_a_set_compiled_for_a_text_finds_what_the_whole_set_finds(patterns, words):
    usable = [p for p in patterns if pattern_problem(p) is None]
    if not usable:
        return
    patterns_set = PatternSet(usable)
    text = " ".join(words)
    document = Document(text)
    assert spans(document.matcher(patterns_set), document.folded) == spans(patterns_set.compiled(), document.folded)
