"""The pattern language of the apology rules, and how a set of patterns meets one text.

A rule pattern is a regular expression in a subset of Python's syntax (listed in
docs/apology-check.md) with two kinds of macro (`{gap:N}`, `{sorry}`). This module reads a
pattern into a small tree without compiling it; the tree says whether the pattern is
safe (no repetition of a repetition, nothing that matches empty text) and which literals
each of its alternatives needs.

Compiling every pattern of the check costs about 250 ms a process, and a 1 KB apology
can meet only a small part of them. So a `PatternSet` is compiled for each text, from
only what can match that text: an alternative that needs a literal the text does not
contain cannot match anywhere in it, so leaving it out changes no match of the others,
and a pattern that cannot match at all is not compiled. What is compiled for a text
finds exactly what the whole set would find in it.

Python's own regex parser is private (`re._parser`), so the subset is read here. A
construct outside it is refused with a message, never guessed at.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

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
_MAX_COUNT = 65535  # a larger repeat count is surely a typo

_PLAIN = r"[^\\\[()|*+?.^${]"
# The tokens of the subset, in the order they are tried. A group of plain alternatives
# such as (?:sent|mailed|posted), most of the rules' text, is one token, and so is a run
# of plain characters. "{" that does not open a repeat count is a plain character, as in
# Python.
_TOKENS = re.compile(
    rf"""
    \((?:\?:)?(?:{_PLAIN}*\|)+{_PLAIN}*\)           # a group of plain words
  | {_PLAIN}+                                      # plain characters
  | \((?:\?(?:<[=!]|P<|[^<P)])?)?                  # a group opens
  | [)|.^$]
  | (?:[*+?]|\{{(?:\d+(?:,\d*)?|,\d*)\}})\??       # a repeat
  | \\(?:N\{{[^}}]*\}}|x[0-9a-fA-F]{{2}}|u[0-9a-fA-F]{{4}}|U[0-9a-fA-F]{{8}}|.)
  | \[\^?\]?(?:\\.|[^\]\\])*\]                     # a set of characters
  | [{{\[\\]                                       # left over: plain, or an error
    """,
    re.VERBOSE | re.DOTALL,
)

# Tree nodes are tuples whose first item is their kind. A tree, like each alternative of
# a group, is a tuple of nodes matched one after the other.
Node = tuple[Any, ...]
Tree = tuple[Node, ...]
LITERAL = 0  # (LITERAL, text, source): exactly these characters
WORDS = 1  # (WORDS, opener, words, plain): literal alternatives (maybe ""); `plain` is their
#            set when they are letters and digits only, else None
GROUP = 2  # (GROUP, opener, alternatives)
REPEAT = 3  # (REPEAT, body, low, high or None, source)
CHAR = 4  # (CHAR, source, always_word): one character of a set, an escape or "."
ZERO = 5  # (ZERO, source): an anchor, which matches no character

_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")
_NEGATIVE_LOOKAROUND = ("(?!", "(?<!")
_OPENERS = ("(", "(?:", *_LOOKAROUND)
_CLASS_ESCAPES = {"w": True, "d": True, "W": False, "D": False, "s": False, "S": False}
_ANCHOR_ESCAPES = "bBAZ"
_OTHER_CHAR_ESCAPES = "afnrtvNxuU"
_CODE_ESCAPES = {"x": 4, "u": 6, "U": 10}  # the length of a complete escape
_WORD_CHAR = re.compile(r"\w")
_SET_OPERATION = re.compile(r"(?<!\\)\[|--|&&|~~|\|\|")
_SET_MEMBER = re.compile(r"\\.|[^\\]-[^\\\]]|.", re.DOTALL)
_REPEAT_COUNT = {"*": (0, None), "+": (1, None), "?": (0, 1)}
_META = frozenset("()|*+?{\\[.^$")

NESTED = (
    "the pattern repeats a repetition, like (a+)+, which can take exponential time; "
    "write a bounded gap such as {gap:3} or a literal alternation instead"
)
EMPTY = "the pattern can match empty text"


class PatternProblem(ValueError):
    """A rule pattern that cannot be used; the message says why."""


def expand_macros(pattern: str) -> str:
    """A rule pattern with `{gap:N}` and the named macros replaced by their expressions."""
    for name, expression in MACROS.items():
        pattern = pattern.replace(name, expression)
    return _GAP.sub(lambda m: rf"(?:{_SEPARATOR}{_WORD}){{0,{int(m.group(1))}}}?{_SEPARATOR}", pattern)


_ESCAPE_OR_LETTER = re.compile(r"\\N\{[^}]*\}|\\.|\(\?P|[^\\(]+|\(", re.DOTALL)


def fold_pattern(pattern: str) -> str:
    """A pattern in lower case, leaving escapes (\\W, \\N{...}) and (?P as they are.

    Folded patterns run on folded text, instead of with re.IGNORECASE, so that the engine
    can skip an alternative on its first literal character, and a literal can be looked
    for in the text as it stands.
    """
    if "\\" not in pattern and "(?P" not in pattern:
        return pattern.lower()
    return "".join(
        piece if piece.startswith("\\") or piece == "(?P" else piece.lower()
        for piece in _ESCAPE_OR_LETTER.findall(pattern)
    )


# --- reading a pattern -------------------------------------------------------------------


def parse(pattern: str) -> Tree:
    """The tree of a pattern whose macros are expanded.

    Raises PatternProblem for a pattern that is not valid or not in the subset, that
    repeats a repetition without a small bound, or that can match empty text.
    """
    if "{gap:" in pattern:
        raise PatternProblem(f"a gap is written {{gap:N}} with N from 0 to {MAX_GAP}")
    # Each open group: its opener, the alternatives read before it, the sequence it is in.
    stack: list[tuple[str, list[Tree], list[Node]]] = []
    alternatives: list[Node] = []
    sequence: list[Node] = []
    at = 0
    escaped = False  # whether an escaped mark may stand beside another literal
    for token in _TOKENS.findall(pattern):
        first = token[0]
        if first not in _META:
            sequence.append((LITERAL, token, token))
        elif first == "(":
            if "|" in token:  # a group of plain words
                words = tuple((token[3:-1] if token[1] == "?" else token[1:-1]).split("|"))
                # Words of letters and digits only can be looked up among the text's words.
                plain = frozenset(words) if "".join(words).isalnum() else None
                sequence.append((WORDS, "(?:" if token[1] == "?" else "(", words, plain))
            elif token in _OPENERS:
                stack.append((token, alternatives, sequence))
                alternatives, sequence = [], []
            elif token == "(?P<":
                raise PatternProblem("named groups are not allowed; use (?:...) instead")
            else:
                raise PatternProblem(
                    f"{token!r} at position {at} is not supported in a rule pattern; "
                    "use (...), (?:...) or a look-around"
                )
        elif first == "|":
            alternatives.append(_joined(sequence) if escaped else tuple(sequence))
            sequence = []
        elif first == ")":
            if not stack:
                raise PatternProblem(f"not a valid regular expression: unbalanced parenthesis at position {at}")
            alternatives.append(_joined(sequence) if escaped else tuple(sequence))
            opener, outer_alternatives, outer_sequence = stack.pop()
            if opener in ("(?<=", "(?<!") and not _fixed_width(alternatives):
                raise PatternProblem("not a valid regular expression: look-behind requires fixed-width pattern")
            outer_sequence.append((GROUP, opener, tuple(alternatives)))
            alternatives, sequence = outer_alternatives, outer_sequence
        elif first in "*+?" or (first == "{" and len(token) > 1):
            _repeat(sequence, token, at)
        elif first == "\\":
            node = _escape(token, at)
            escaped = escaped or node[0] == LITERAL
            sequence.append(node)
        elif first == "[":
            if token in ("[", "[]", "[^]"):
                raise PatternProblem(f"not a valid regular expression: unterminated character set at position {at}")
            sequence.append((CHAR, token, _set_is_word(token, at)))
        elif first == ".":
            sequence.append((CHAR, token, False))
        elif first in "^$":
            sequence.append((ZERO, token))
        else:  # a "{" that opens no repeat count
            sequence.append((LITERAL, token, token))
            escaped = True
        at += len(token)
    if stack:
        raise PatternProblem("not a valid regular expression: missing ), unterminated subpattern")
    alternatives.append(_joined(sequence) if escaped else tuple(sequence))
    tree = alternatives[0] if len(alternatives) == 1 else ((GROUP, "(?:", tuple(alternatives)),)
    if _can_be_empty(tree):
        raise PatternProblem(EMPTY)
    return tree


def _joined(sequence: list[Node]) -> Tree:
    """A finished sequence, with neighbouring literals made one (a longer literal says
    more about the text it needs)."""
    joined: list[Node] = []
    for node in sequence:
        if node[0] == LITERAL and joined and joined[-1][0] == LITERAL:
            _, text, source = joined.pop()
            node = (LITERAL, text + node[1], source + node[2])
        joined.append(node)
    return tuple(joined)


def _escape(token: str, at: int) -> Node:
    if len(token) == 1:
        raise PatternProblem("not a valid regular expression: bad escape (end of pattern)")
    letter = token[1]
    if letter in _CLASS_ESCAPES:
        return (CHAR, token, _CLASS_ESCAPES[letter])
    if letter in _ANCHOR_ESCAPES:
        return (ZERO, token)
    if letter in _OTHER_CHAR_ESCAPES:
        if letter in _CODE_ESCAPES and len(token) != _CODE_ESCAPES[letter]:
            raise PatternProblem(f"not a valid regular expression: incomplete escape {token} at position {at}")
        if letter == "N":
            try:
                unicodedata.lookup(token[3:-1])
            except KeyError:
                raise PatternProblem(f"not a valid regular expression: undefined character name {token}") from None
        return (CHAR, token, False)
    if letter.isdigit():
        raise PatternProblem(f"back-references ({token}) are not supported in a rule pattern")
    if letter.isascii() and letter.isalnum():
        raise PatternProblem(f"not a valid regular expression: bad escape {token} at position {at}")
    return (LITERAL, letter, token)  # an escaped punctuation mark is that mark


def _repeat(sequence: list[Node], token: str, at: int) -> None:
    last = sequence[-1] if sequence else (ZERO, "")
    if last[0] in (ZERO, REPEAT) or (last[0] == GROUP and last[1] in _LOOKAROUND):
        what = "multiple repeat" if last[0] == REPEAT else "nothing to repeat"
        raise PatternProblem(f"not a valid regular expression: {what} at position {at}")
    body = sequence.pop()
    if body[0] == LITERAL and len(body[1]) > 1:
        # A repeat applies to the last character only: "abc?" is "ab" then "c?". Only a
        # run of plain characters, whose source is its text, is longer than one.
        sequence.append((LITERAL, body[1][:-1], body[1][:-1]))
        body = (LITERAL, body[1][-1], body[1][-1])
    count = token[:-1] if len(token) > 1 and token[-1] == "?" else token
    if count in _REPEAT_COUNT:
        low, high = _REPEAT_COUNT[count]
    else:
        first, comma, second = count[1:-1].partition(",")
        low = int(first) if first else 0
        high = low if not comma else int(second) if second else None
        if max(low, high or 0) > _MAX_COUNT:
            raise PatternProblem(f"not a valid regular expression: the repetition number is too large at position {at}")
        if high is not None and high < low:
            raise PatternProblem(f"not a valid regular expression: min repeat greater than max repeat at position {at}")
    if (high is None or high > _NESTING_LIMIT) and _repeats_within(body):
        raise PatternProblem(NESTED)
    sequence.append((REPEAT, body, low, high, token))


def _set_is_word(token: str, at: int) -> bool:
    """Whether every character of a [...] set is a word character (False if unsure)."""
    body = token[1:-1]
    if _SET_OPERATION.search(body):
        # Python reads these as literal characters today and warns that it will not.
        raise PatternProblem(f"write [, --, &&, ~~ and || inside a set escaped (\\[, \\-) at position {at}")
    if "\\" in token:
        _check_set(token)
    if body.startswith("^"):
        return False
    always_word = True
    for member in _SET_MEMBER.findall(body):
        if len(member) == 3:
            if member[2] < member[0]:
                raise PatternProblem(f"not a valid regular expression: bad character range {member} at position {at}")
            always_word = always_word and member[0].isalnum() and member[2].isalnum() and member[2] <= "z"
        elif member[0] == "\\":
            always_word = always_word and _CLASS_ESCAPES.get(member[1], False)
        else:
            always_word = always_word and _WORD_CHAR.match(member) is not None
    return always_word


@lru_cache(maxsize=256)
def _check_set(token: str) -> None:
    """Refuse a set with an escape Python does not take (`[\\q]`, `[\\x10-\\x01]`); the few
    sets with escapes are compiled once to be sure."""
    try:
        re.compile(token)
    except re.error as err:
        raise PatternProblem(f"not a valid regular expression: {err}") from None


# --- what a tree says --------------------------------------------------------------------


def _can_be_empty(sequence: Sequence[Node]) -> bool:
    """Whether a sequence can match no character at all."""
    return all(_node_can_be_empty(node) for node in sequence)


def _node_can_be_empty(node: Node) -> bool:
    kind = node[0]
    if kind in (LITERAL, CHAR):
        return False
    if kind == WORDS:
        return "" in node[2]
    if kind == GROUP:
        return node[1] in _LOOKAROUND or any(_can_be_empty(alternative) for alternative in node[2])
    if kind == REPEAT:
        return node[2] == 0 or _node_can_be_empty(node[1])
    return True  # an anchor


def _repeats_within(node: Node) -> bool:
    """Whether a node holds a repetition of more than once (an unbounded repetition of
    such a node can take exponential time on a crafted text)."""
    kind = node[0]
    if kind == REPEAT:
        return node[3] is None or node[3] > 1 or _repeats_within(node[1])
    if kind == GROUP:
        return any(_repeats_within(inner) for alternative in node[2] for inner in alternative)
    return False


def _fixed_width(alternatives: Sequence[Tree]) -> bool:
    """Whether every alternative matches the same number of characters (as a look-behind
    must)."""
    widths = {_width(alternative) for alternative in alternatives}
    return len(widths) == 1 and None not in widths


def _width(sequence: Sequence[Node]) -> int | None:
    """How many characters a sequence matches, or None if that varies."""
    total = 0
    for node in sequence:
        kind = node[0]
        if kind == LITERAL:
            total += len(node[1])
        elif kind == WORDS:
            if len(set(map(len, node[2]))) != 1:
                return None
            total += len(node[2][0])
        elif kind == GROUP:
            if node[1] not in _LOOKAROUND:
                widths = {_width(alternative) for alternative in node[2]}
                if len(widths) != 1 or None in widths:
                    return None
                total += widths.pop() or 0
        elif kind == REPEAT:
            inner = _width((node[1],))
            if inner is None or node[2] != node[3]:
                return None
            total += inner * node[2]
        elif kind == CHAR:
            total += 1
    return total


def starts_word(tree: Sequence[Node]) -> bool:
    """Whether every match of a tree begins with a word character (False if unsure)."""
    for node in tree:
        kind = node[0]
        if kind == ZERO or (kind == GROUP and node[1] in _LOOKAROUND):
            continue  # zero-width: the next node decides
        if kind == LITERAL:
            return _WORD_CHAR.match(node[1]) is not None
        if kind == WORDS:
            return all(_WORD_CHAR.match(word) is not None for word in node[2])
        if kind == CHAR:
            return bool(node[2])
        if kind == GROUP:
            return all(starts_word(alternative) for alternative in node[2])
        return node[2] > 0 and starts_word((node[1],))
    return False


class Text(Protocol):
    """What pruning asks of a text (see `Document.contains`)."""

    def contains(self, literal: str) -> bool: ...

    def contains_words(self, words: frozenset[str]) -> frozenset[str]: ...


def prune(tree: Sequence[Node], text: Text, spellings: dict[int, tuple[str, ...] | None] | None = None) -> str | None:
    """The source of what of a tree can match a text, or None if nothing can.

    An alternative that needs a literal the text does not contain cannot match anywhere
    in it, so it is left out; a repeat whose body cannot match keeps only its zero-times
    case, and a negative look-around whose body cannot match always holds. `spellings`
    keeps what `_options` works out for the groups of the tree, which do not change.
    """
    return _Pruner(text, {} if spellings is None else spellings).sequence(tree)


# How many spellings of neighbouring nodes are tried together: "(?:i|we) (?:never) have"
# is three nodes and two spellings, "i never have" and "we never have".
_SPELLINGS = 32


class _Pruner:
    __slots__ = ("text", "spellings")

    def __init__(self, text: Text, spellings: dict[int, tuple[str, ...] | None]) -> None:
        self.text = text
        self.spellings = spellings  # by id() of a group node of trees that outlive it

    def sequence(self, tree: Sequence[Node]) -> str | None:
        contains = self.text.contains
        for node in tree:  # the cheap test first: a literal the sequence needs is absent
            if node[0] == LITERAL and not contains(node[1]):
                return None
        if not self.spelled_out(tree):
            return None
        parts = []
        for node in tree:
            kind = node[0]
            if kind == LITERAL:
                parts.append(node[2])
            elif kind == WORDS:
                if node[3] is not None:
                    found = self.text.contains_words(node[3])
                    kept = [word for word in node[2] if word in found] if found else []
                else:
                    kept = [word for word in node[2] if contains(word)]
                if kept:
                    parts.append(node[1] + "|".join(kept) + ")")
                elif node[1] not in _NEGATIVE_LOOKAROUND:
                    return None
            elif kind == GROUP:
                kept = [source for source in (self.sequence(a) for a in node[2]) if source is not None]
                if kept:
                    parts.append(node[1] + "|".join(kept) + ")")
                elif node[1] not in _NEGATIVE_LOOKAROUND:
                    return None
            elif kind == REPEAT:
                body = self.sequence((node[1],))
                if body is None:
                    if node[2]:
                        return None
                elif body:
                    parts.append(body + node[4])
            else:
                parts.append(node[1])
        return "".join(parts)

    def spelled_out(self, tree: Sequence[Node]) -> bool:
        """Whether, for every run of neighbouring nodes with few spellings, the text
        contains one of the run's spellings (False: the tree cannot match the text). A run
        of one node is left to the rest of the pruning, which tests it anyway."""
        spellings: set[str] = {""}
        joined = 0  # how many nodes the spellings join
        for node in tree:
            options = self.options(node)
            if options is None or len(spellings) * len(options) > _SPELLINGS:
                if joined > 1 and not self.any_contained(spellings):
                    return False
                spellings, joined = ({""}, 0) if options is None else (set(options), 1)
            elif options != ("",):
                spellings = {before + after for before in spellings for after in options}
                joined += 1
        return joined < 2 or self.any_contained(spellings)

    def any_contained(self, spellings: set[str]) -> bool:
        contains = self.text.contains
        return "" in spellings or any(contains(spelling) for spelling in spellings)

    def options(self, node: Node) -> tuple[str, ...] | None:
        """Every text a node can match, when they are few ("" alone for an anchor or a
        look-around), or None."""
        kind = node[0]
        if kind == LITERAL:
            return (node[1],)
        if kind == WORDS:
            return node[2] if len(node[2]) <= _SPELLINGS else None
        if kind == ZERO or (kind == GROUP and node[1] in _LOOKAROUND):
            return ("",)
        if kind == GROUP:
            key = id(node)
            if key not in self.spellings:
                self.spellings[key] = self.group_options(node)
            return self.spellings[key]
        if kind == REPEAT and node[2] == 0 and node[3] == 1:
            options = self.options(node[1])
            if options is None or len(options) >= _SPELLINGS:
                return None
            return (*options, "")
        return None

    def group_options(self, node: Node) -> tuple[str, ...] | None:
        if len(node[2]) > _SPELLINGS:
            return None
        found: set[str] = set()
        for alternative in node[2]:
            spellings = {""}
            for inner in alternative:
                options = self.options(inner)
                if options is None or len(spellings) * len(options) > _SPELLINGS:
                    return None
                spellings = {before + after for before in spellings for after in options}
            found |= spellings
            if len(found) > _SPELLINGS:
                return None
        return tuple(found)


# --- a set of patterns -------------------------------------------------------------------


class PatternSet:
    """Patterns matched as one word-bounded alternation, compiled for each text with only
    what can match it.

    Case-insensitive patterns are folded and run on the folded text; case-sensitive ones
    on the text as it stands (see `Document.matcher`). Patterns given without their trees
    are read when first matched.
    """

    __slots__ = ("sources", "case_sensitive", "_trees", "_gate", "_spellings")

    def __init__(
        self, sources: Sequence[str], case_sensitive: bool = False, trees: Sequence[Tree] | None = None
    ) -> None:
        self.sources = tuple(sources)  # macros expanded, case as written
        self.case_sensitive = case_sensitive
        self._trees = None if trees is None else tuple(trees)
        self._gate: str | None = None
        self._spellings: dict[int, tuple[str, ...] | None] = {}  # see prune()

    def __repr__(self) -> str:
        return f"PatternSet({len(self.sources)} patterns)"

    @property
    def trees(self) -> tuple[Tree, ...]:
        """The tree of each pattern (PatternProblem if one is unfit)."""
        if self._trees is None:
            self._trees = tuple(parse(source) for source in self.matched_sources())
        return self._trees

    def matched_sources(self) -> list[str]:
        """The patterns as they run: folded unless case-sensitive."""
        return [s if self.case_sensitive else fold_pattern(s) for s in self.sources]

    @property
    def gate(self) -> str:
        # When every match starts with a letter or digit, the (?=\w) lets the engine leave each
        # space and punctuation mark after one cheap test instead of trying every alternative.
        if self._gate is None:
            self._gate = r"(?=\w)" if all(starts_word(tree) for tree in self.trees) else ""
        return self._gate

    def pattern_for(self, text: Text) -> re.Pattern[str] | None:
        """The compiled alternation of what can match a text, or None when nothing can."""
        pruner = _Pruner(text, self._spellings)
        kept = [source for source in (pruner.sequence(tree) for tree in self.trees) if source is not None]
        return _compiled(self.gate, tuple(kept)) if kept else None

    def compiled(self) -> re.Pattern[str]:
        """The alternation of every pattern, as it would run on any text (for tools and
        tests; a check compiles `pattern_for` its text)."""
        return _compiled(self.gate, tuple(self.matched_sources()))


@lru_cache(maxsize=1024)
def _compiled(gate: str, sources: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + gate + "(?:" + "|".join(f"(?:{s})" for s in sources) + r")(?!\w)")


def compile_patterns(
    patterns: Sequence[str], case_sensitive: bool = False
) -> tuple[PatternSet | None, list[tuple[int, str]]]:
    """The set of some rule patterns, or the problems found, each with its pattern's index."""
    expanded = [expand_macros(pattern) for pattern in patterns]
    trees = []
    problems = []
    for index, source in enumerate(expanded):
        try:
            trees.append(parse(source if case_sensitive else fold_pattern(source)))
        except PatternProblem as unfit:
            problems.append((index, str(unfit)))
    if problems:
        return None, problems
    return PatternSet(expanded, case_sensitive, trees), []


def pattern_problem(expanded: str, case_sensitive: bool = False) -> str | None:
    """Why a pattern (macros expanded) is unfit for a rule, or None when it is fine.

    Refuses patterns that are not valid or not in the subset, that can match empty text
    (endless findings), and those that repeat a repetition without a small bound, like
    `(a+)+`, which can take exponential time on a crafted text.
    """
    try:
        parse(expanded if case_sensitive else fold_pattern(expanded))
    except PatternProblem as unfit:
        return str(unfit)
    return None
