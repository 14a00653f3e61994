"""Text geometry for the apology check: normalising, lines, sentences, and safe patterns.

Everything here works in one pass over the text, so that a check stays linear in its size.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_right
from collections.abc import Sequence
from typing import Any

from mea_culpa import regex_cache

if sys.version_info >= (3, 11):
    import re._parser as _sre_parse
    from re._constants import MAXREPEAT as _MAXREPEAT
else:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse
    from sre_constants import MAXREPEAT as _MAXREPEAT

# Curly quotes and exotic spaces become their plain forms so that one pattern ("don't")
# matches every keyboard. Each replacement is one character for one, so offsets into the
# normalised text are offsets into the original text too.
_NORMALISE = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2011": "-",
    }
)

# A sentence ends at terminal punctuation followed by space, at a blank line, or before a
# list item. Abbreviations ("p.m.") split too early; that only narrows sentence scopes.
_SENTENCE_END = re.compile(r"[.!?]{1,20}[\"')\]]{0,3}(?=\s)|\n[ \t]*\n|\n(?=[ \t]*(?:[-*\u2022]|\d{1,3}[.)])\s)")

# Macros that rule patterns may use, so that rule authors need not write gap expressions
# by hand. A gap never crosses a sentence end, and its word and separator classes are
# disjoint, so it cannot backtrack more than N words.
_WORD = r"[\w']+"
_SEPARATOR = r"[^\w'.!?]+"
_GAP = re.compile(r"\{gap:(10|\d)\}")
MAX_GAP = 10
MACROS = {
    "{sorry}": r"(?:sorry|apologi[sz]e[sd]?|apologi[sz]ing|apologies|apology|regret(?:s|ted)?)",
}

# Above this repeat bound, a quantifier over another quantifier counts as unbounded.
_NESTING_LIMIT = 10


def normalise(text: str) -> str:
    """The text with curly quotes and unusual spaces made plain, offsets unchanged."""
    return text.translate(_NORMALISE)


def fold_case(text: str) -> str:
    """The text in lower case, one character for one so that offsets still agree.

    Matching folded patterns against folded text, instead of using re.IGNORECASE, lets the
    regex engine skip an alternative on its first literal character, which makes the
    large alternations of the rules several times faster.
    """
    folded = text.lower()
    if len(folded) == len(text):
        return folded
    # A few characters ("İ") lower to two; those keep their case.
    return "".join(ch.lower() if len(ch.lower()) == 1 else ch for ch in text)


_ESCAPE_OR_LETTER = re.compile(r"\\N\{[^}]*\}|\\.|\(\?P|[^\\(]+|\(", re.DOTALL)


def fold_pattern(pattern: str) -> str:
    """A pattern in lower case, leaving escapes (\\W, \\N{...}) and (?P as they are."""
    return "".join(
        piece if piece.startswith("\\") or piece == "(?P" else piece.lower()
        for piece in _ESCAPE_OR_LETTER.findall(pattern)
    )


# Judging and compiling every pattern of the check costs about 250 ms a process; a warm
# cache, a few milliseconds.
_VERDICTS = regex_cache.PatternCache("apology-patterns.marshal")


def compile_pattern(expanded: str, case_sensitive: bool = False) -> re.Pattern[str]:
    """Compile an expanded pattern, word-bounded, for matching against a Document.

    Case-insensitive patterns are folded and must run on `Document.folded`; case-sensitive
    ones on `Document.text`. Raises PatternProblem when the pattern is unfit for a rule.
    The verdict depends only on the two arguments, so it is kept between runs.
    """
    key = ("s:" if case_sensitive else "i:") + expanded
    verdict = _VERDICTS.verdict(key, lambda compile: _judge(expanded, case_sensitive, compile))
    if isinstance(verdict, str):
        raise PatternProblem(verdict)
    return verdict


def _judge(expanded: str, case_sensitive: bool, compile: regex_cache.Compile) -> re.Pattern[str] | str:
    """The compiled pattern, or why it is unfit for a rule: the work a warm cache skips."""
    source = expanded if case_sensitive else fold_pattern(expanded)
    problem = _gap_problem(source)
    if problem:
        return problem
    try:
        parsed = list(_sre_parse.parse(source).data)
    except re.error as err:
        return f"not a valid regular expression: {err}"
    if _nested(parsed, outer_unbounded=False):
        return (
            "the pattern repeats a repetition, like (a+)+, which can take exponential time; "
            "write a bounded gap such as {gap:3} or a literal alternation instead"
        )
    # When every match starts with a letter or digit, the (?=\w) lets the engine leave each
    # space and punctuation mark after one cheap test instead of trying every alternative.
    gate = r"(?=\w)" if _starts_word(parsed) else ""
    compiled = compile(rf"(?<!\w){gate}(?:{source})(?!\w)")
    if compiled.groupindex:
        return "named groups are not allowed; use (?:...) instead"
    if compiled.search("") is not None or compiled.search(" ") is not None:
        return "the pattern can match empty text"
    return compiled


class PatternProblem(ValueError):
    """A rule pattern that cannot be used; the message says why."""


def compile_alternation(
    patterns: Sequence[str], case_sensitive: bool = False
) -> tuple[re.Pattern[str] | None, list[tuple[int, str]]]:
    """One compiled alternation of rule patterns (macros expanded), or the problems found.

    The patterns are checked together, which costs one parse; only when that fails is each
    checked alone, so that a problem can name the pattern it is in.
    """
    expanded = [expand_macros(pattern) for pattern in patterns]
    try:
        return compile_pattern("|".join(f"(?:{p})" for p in expanded), case_sensitive), []
    except (PatternProblem, re.error) as joined:
        problems = []
        for index, pattern in enumerate(expanded):
            problem = pattern_problem(pattern, case_sensitive)
            if problem:
                problems.append((index, problem))
        return None, problems or [(-1, str(joined))]


def _gap_problem(source: str) -> str | None:
    if "{gap:" in source:
        return f"a gap is written {{gap:N}} with N from 0 to {MAX_GAP}"
    return None


def _starts_word(items: Sequence[tuple[object, Any]]) -> bool:
    """Whether every match of a parsed pattern begins with a word character (False if unsure)."""
    for op, av in items:
        name = str(op)
        if name in ("ASSERT", "ASSERT_NOT", "AT"):
            continue  # zero-width: the next item decides
        if name == "LITERAL":
            return _WORD_CHAR.match(chr(av)) is not None
        if name == "IN":
            return all(_set_item_is_word(item) for item in av)
        if name == "SUBPATTERN":
            return _starts_word(list(av[-1]))
        if name == "BRANCH":
            return all(_starts_word(list(branch)) for branch in av[1])
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _, body = av
            return bool(low) and _starts_word(list(body))
        return False
    return False


_WORD_CHAR = re.compile(r"\w")


def _set_item_is_word(item: tuple[object, Any]) -> bool:
    op, av = item
    name = str(op)
    if name == "LITERAL":
        return _WORD_CHAR.match(chr(av)) is not None
    if name == "RANGE":
        low, high = av
        return high - low < 2000 and all(_WORD_CHAR.match(chr(code)) is not None for code in range(low, high + 1))
    if name == "CATEGORY":
        return str(av) in ("CATEGORY_DIGIT", "CATEGORY_WORD", "CATEGORY_UNI_DIGIT", "CATEGORY_UNI_WORD")
    return False


def expand_macros(pattern: str) -> str:
    """A rule pattern with `{gap:N}` and the named macros replaced by their expressions."""
    for name, expression in MACROS.items():
        pattern = pattern.replace(name, expression)
    return _GAP.sub(lambda m: rf"(?:{_SEPARATOR}{_WORD}){{0,{int(m.group(1))}}}?{_SEPARATOR}", pattern)


def pattern_problem(expanded: str, case_sensitive: bool = False) -> str | None:
    """Why an expanded pattern is unfit for a rule, or None when it is fine.

    Rejects patterns that do not compile, that match empty text (endless findings), and
    patterns with a quantifier nested inside an unbounded one, like `(a+)+`: those can
    take exponential time on a crafted text.
    """
    try:
        compile_pattern(expanded, case_sensitive)
    except PatternProblem as problem:
        return str(problem)
    return None


def nested_quantifier(pattern: str) -> bool:
    """Whether a pattern has a repetition inside a repetition without a small bound."""
    try:
        parsed = _sre_parse.parse(pattern)
    except re.error:
        return False
    return _nested(list(parsed.data), outer_unbounded=False)


def _nested(items: Sequence[tuple[object, Any]], outer_unbounded: bool) -> bool:
    for op, av in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, body = av
            if outer_unbounded and high > 1:
                return True
            unbounded = high == _MAXREPEAT or high > _NESTING_LIMIT
            if _nested(list(body), outer_unbounded or unbounded):
                return True
        else:
            for child in _children(name, av):
                if _nested(child, outer_unbounded):
                    return True
    return False


def _children(name: str, av: Any) -> list[list[tuple[object, Any]]]:
    if name == "SUBPATTERN":
        return [list(av[-1])]
    if name == "BRANCH":
        return [list(branch) for branch in av[1]]
    if name in ("ASSERT", "ASSERT_NOT"):
        return [list(av[1])]
    if name == "ATOMIC_GROUP":
        return [list(av)]
    if name == "GROUPREF_EXISTS":
        return [list(part) for part in av[1:] if part is not None]
    return []


class Document:
    """A text to check, with its lines and sentences located once."""

    def __init__(self, text: str) -> None:
        self.original = text
        self.text = normalise(text)
        self.folded = fold_case(self.text)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        self.sentence_starts = [0] + [m.end() for m in _SENTENCE_END.finditer(self.text)]
        self._sentences_with: dict[re.Pattern[str], frozenset[int]] = {}

    def position(self, offset: int) -> tuple[int, int]:
        """The 1-based line and column of a character offset."""
        index = bisect_right(self.line_starts, offset) - 1
        return index + 1, offset - self.line_starts[index] + 1

    def sentence_of(self, offset: int) -> int:
        """The index of the sentence that holds a character offset."""
        return bisect_right(self.sentence_starts, offset) - 1

    def sentence_span(self, index: int) -> tuple[int, int]:
        """Start and end offsets of one sentence."""
        starts = self.sentence_starts
        end = starts[index + 1] if index + 1 < len(starts) else len(self.text)
        return starts[index], end

    def haystack(self, case_sensitive: bool) -> str:
        """The text a compiled pattern runs on: folded unless it is case-sensitive."""
        return self.text if case_sensitive else self.folded

    def sentences_with(self, pattern: re.Pattern[str], case_sensitive: bool = False) -> frozenset[int]:
        """The indices of the sentences where a pattern matches; one scan per pattern."""
        found = self._sentences_with.get(pattern)
        if found is None:
            haystack = self.haystack(case_sensitive)
            found = frozenset(self.sentence_of(m.start()) for m in pattern.finditer(haystack))
            self._sentences_with[pattern] = found
        return found
