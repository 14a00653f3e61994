"""Text geometry for the apology check: normalising, lines, sentences, and safe patterns.

Everything here works in one pass over the text, so that a check stays linear in its size.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

try:  # Python 3.11+
    import re._parser as _sre_parse  # type: ignore[import-not-found]
    from re._constants import MAXREPEAT as _MAXREPEAT  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]
    from sre_constants import MAXREPEAT as _MAXREPEAT  # type: ignore[no-redef]

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
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)|\n[ \t]*\n|\n(?=[ \t]*(?:[-*\u2022]|\d{1,3}[.)])\s)")

# Macros that rule patterns may use, so that rule authors need not write gap expressions
# by hand. A gap never crosses a sentence end, and its word and separator classes are
# disjoint, so it cannot backtrack more than N words.
_WORD = r"[\w']+"
_SEPARATOR = r"[^\w'.!?;]+"
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


def expand_macros(pattern: str) -> str:
    """A rule pattern with `{gap:N}` and the named macros replaced by their expressions."""
    for name, expression in MACROS.items():
        pattern = pattern.replace(name, expression)
    return _GAP.sub(
        lambda m: rf"(?:{_SEPARATOR}{_WORD}){{0,{int(m.group(1))}}}?{_SEPARATOR}", pattern
    )


def bounded(pattern: str) -> str:
    """Wrap an expanded pattern so that it only matches whole words."""
    return rf"(?<!\w)(?:{pattern})(?!\w)"


def pattern_problem(expanded: str, flags: int = 0) -> str | None:
    """Why an expanded pattern is unfit for a rule, or None when it is fine.

    Rejects patterns that do not compile, that match empty text (endless findings), and
    patterns with a quantifier nested inside an unbounded one, like `(a+)+`: those can
    take exponential time on a crafted text.
    """
    if "{gap:" in expanded:
        return f"a gap is written {{gap:N}} with N from 0 to {MAX_GAP}"
    try:
        compiled = re.compile(bounded(expanded), flags)
    except re.error as err:
        return f"not a valid regular expression: {err}"
    if compiled.groupindex:
        return "named groups are not allowed; use (?:...) instead"
    if compiled.search("") is not None or compiled.search(" ") is not None:
        return "the pattern can match empty text"
    if nested_quantifier(expanded):
        return (
            "the pattern repeats a repetition, like (a+)+, which can take exponential time; "
            "write a bounded gap such as {gap:3} or a literal alternation instead"
        )
    return None


def nested_quantifier(pattern: str) -> bool:
    """Whether a pattern has a repetition inside a repetition without a small bound."""
    try:
        parsed = _sre_parse.parse(pattern)
    except re.error:
        return False
    return _nested(list(parsed), outer_unbounded=False)


def _nested(items: Sequence[tuple[object, object]], outer_unbounded: bool) -> bool:
    for op, av in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, body = av  # type: ignore[misc]
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


def _children(name: str, av: object) -> list[list[tuple[object, object]]]:
    if name == "SUBPATTERN":
        return [list(av[-1])]  # type: ignore[index]
    if name == "BRANCH":
        return [list(branch) for branch in av[1]]  # type: ignore[index]
    if name in ("ASSERT", "ASSERT_NOT"):
        return [list(av[1])]  # type: ignore[index]
    if name == "ATOMIC_GROUP":
        return [list(av)]  # type: ignore[call-overload]
    if name == "GROUPREF_EXISTS":
        return [list(part) for part in av[1:] if part is not None]  # type: ignore[index]
    return []


class Document:
    """A text to check, with its lines and sentences located once."""

    def __init__(self, text: str) -> None:
        self.original = text
        self.text = normalise(text)
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

    def sentences_with(self, pattern: re.Pattern[str]) -> frozenset[int]:
        """The indices of the sentences where a pattern matches; one scan per pattern."""
        found = self._sentences_with.get(pattern)
        if found is None:
            found = frozenset(self.sentence_of(m.start()) for m in pattern.finditer(self.text))
            self._sentences_with[pattern] = found
        return found
