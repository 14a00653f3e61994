"""Text geometry for the apology check: normalising, lines, sentences, and where the
patterns of a `PatternSet` meet one text.

Everything here works in one pass over the text, so that a check stays linear in its size.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator

from mea_culpa.apology.patterns import PatternSet

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
_SENTENCE_END = re.compile(r"[.!?]{1,20}[\"')\]]{0,3}(?=\s)|\n[ \t]*\n|\n(?=[ \t]*(?:[-*]|\u2022|\d{1,3}[.)])\s)")


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


# Words up to this long are indexed by every piece of them; a longer one (a hostile text's
# 100,000 "a"s) is searched instead.
_INDEXED_WORD = 24
_WORDS = re.compile(r"\w+")


class Haystack:
    """Which literals a text contains, each looked up once: the text a pattern set is
    pruned for (patterns.py)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._seen: dict[str, bool] = {}
        words = set(_WORDS.findall(text))
        long_words = {word for word in words if len(word) > _INDEXED_WORD}
        # Every piece of every word: a literal of letters and digits is in the text exactly
        # when it is a piece of one of its words.
        self._pieces = {word[i:j] for word in words - long_words for i in range(len(word)) for j in range(i + 1, len(word) + 1)}
        self._pieces.add("")
        self._complete = not long_words

    def contains(self, literal: str) -> bool:
        found = self._seen.get(literal)
        if found is None:
            # A literal of letters and digits is in the text when it is a piece of a word.
            indexed = self._complete and literal.isalnum()
            found = self._seen[literal] = literal in self._pieces if indexed else literal in self.text
        return found

    def contains_words(self, words: frozenset[str]) -> frozenset[str]:
        """Those of some words (letters and digits only) that the text contains."""
        if self._complete:
            return words & self._pieces
        return frozenset(word for word in words if self.contains(word))


class Document:
    """A text to check, with its lines and sentences located once."""

    def __init__(self, text: str) -> None:
        self.original = text
        self.text = normalise(text)
        self.folded = fold_case(self.text)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        self.sentence_starts = [0] + [m.end() for m in _SENTENCE_END.finditer(self.text)]
        self._sentences_with: dict[PatternSet, frozenset[int]] = {}
        self._matchers: dict[PatternSet, re.Pattern[str] | None] = {}
        self._searched: dict[bool, Haystack] = {}

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

    def matcher(self, patterns: PatternSet) -> re.Pattern[str] | None:
        """What of a pattern set can match this text, compiled (once per text); None when
        nothing can."""
        if patterns in self._matchers:
            return self._matchers[patterns]
        case_sensitive = patterns.case_sensitive
        if case_sensitive not in self._searched:
            self._searched[case_sensitive] = Haystack(self.haystack(case_sensitive))
        compiled = self._matchers[patterns] = patterns.pattern_for(self._searched[case_sensitive])
        return compiled

    def finditer(self, patterns: PatternSet) -> Iterator[re.Match[str]]:
        """The matches of a pattern set in this text, in order."""
        compiled = self.matcher(patterns)
        return iter(()) if compiled is None else compiled.finditer(self.haystack(patterns.case_sensitive))

    def search(self, patterns: PatternSet) -> bool:
        """Whether a pattern set matches anywhere in this text."""
        compiled = self.matcher(patterns)
        return compiled is not None and compiled.search(self.haystack(patterns.case_sensitive)) is not None

    def sentences_with(self, patterns: PatternSet) -> frozenset[int]:
        """The indices of the sentences where a pattern set matches; one scan per set."""
        found = self._sentences_with.get(patterns)
        if found is None:
            found = frozenset(self.sentence_of(m.start()) for m in self.finditer(patterns))
            self._sentences_with[patterns] = found
        return found
