"""Reading YAML as plain data, keeping the line and column of every value.

PyYAML's `safe_load` forgets where values came from and silently keeps the last of two
duplicate keys. Playbooks and answers files are the users' own writing, so every problem
must point at its line: this module composes the node tree (safe semantics only, the C
parser when present), refuses anything that is not plain data, and records marks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mea_culpa.errors import Diagnostic

Key = tuple[object, ...]  # a path into the data: mapping keys and sequence indexes

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_NODES = 200_000
# Characters of text (keys and values) once aliases are expanded: an alias repeats its
# text in full for whoever reads the data (a check, a template, `list` printing a title),
# so a small file could otherwise stand for gigabytes.
MAX_CHARS = 2_000_000

_TEXT_TAGS = {"tag:yaml.org,2002:value", "tag:yaml.org,2002:merge"}
_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}

try:  # libyaml is several times faster; fall back to the pure-Python parser
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


@dataclass
class Document:
    """Plain data read from a YAML file, with the place of every value and key."""

    path: str
    data: Any
    marks: dict[Key, tuple[int, int]] = field(default_factory=dict)
    key_marks: dict[Key, tuple[int, int]] = field(default_factory=dict)

    def where(self, key: Key, *, of_key: bool = False) -> tuple[int, int]:
        """Line and column (1-based) of a value, or of its key; the nearest parent if unknown."""
        table = self.key_marks if of_key else self.marks
        probe = key
        while True:
            if probe in table:
                return table[probe]
            if probe in self.marks:
                return self.marks[probe]
            if not probe:
                return (1, 1)
            probe = probe[:-1]

    def diagnostic(self, key: Key, message: str, *, of_key: bool = False) -> Diagnostic:
        line, col = self.where(key, of_key=of_key)
        return Diagnostic(self.path, line, col, dotted(key), message)


def dotted(key: Key) -> str:
    """`("stages", 2, "steps", 0, "when")` -> `stages[2].steps[0].when`. A key that is not
    plain printable text is shown escaped and shortened, so that a message stays one line
    and a key cannot send control sequences to the terminal."""
    out = ""
    for part in key:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + printable(str(part))
    return out


def printable(text: str, limit: int = 80) -> str:
    """`text` for a one-line message: control and other invisible characters escaped
    (as repr does), shortened to about `limit` characters."""
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"


class YamlProblems(Exception):
    """The file could not be read as plain YAML data; carries every problem found."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(str(diagnostics[0]))
        self.diagnostics = diagnostics


def read_text(path: Path, *, display: str | None = None, max_bytes: int = MAX_BYTES) -> str:
    """The file's text as UTF-8 (a BOM is accepted, CRLF becomes LF), within a size limit.
    Only a regular file is read (files.read_file): a FIFO or a device is refused at once."""
    from mea_culpa.files import NotReadable, read_file

    shown = display or str(path)
    try:
        raw = read_file(path, max_bytes=max_bytes)
    except NotReadable as exc:
        raise YamlProblems([Diagnostic(shown, 0, 0, "", str(exc))]) from None
    return decode(raw, shown)


def decode(raw: bytes, shown: str) -> str:
    """UTF-8 text (with or without BOM), newlines normalised; bad bytes point at their line."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise YamlProblems(
            [Diagnostic(shown, line, col, "", f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")]
        ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse(text: str, path: str) -> Document:
    """Compose `text` into plain data with marks, or raise YamlProblems with every problem."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate, e.g. from a command-line argument that was not UTF-8
        raise YamlProblems([_from_reader_error(yaml.reader.ReaderError("", exc.start, ord(text[exc.start]), "", ""), text, path)]) from None
    _check_depth(text, path)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise YamlProblems([_from_yaml_error(exc, path)]) from None
    except yaml.reader.ReaderError as exc:
        raise YamlProblems([_from_reader_error(exc, text, path)]) from None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        raise YamlProblems([Diagnostic(path, 0, 0, "", f"not valid YAML: {_first_line(exc)}")]) from None
    doc = Document(path, None)
    if node is None:
        return doc
    builder = _Builder(doc)
    doc.data = builder.build(node, ())
    if builder.problems:
        raise YamlProblems(builder.problems)
    return doc


def load(path: Path, *, display: str | None = None, max_bytes: int = MAX_BYTES) -> Document:
    """Read and compose a YAML file (see `parse`)."""
    shown = display or str(path)
    return parse(read_text(path, display=shown, max_bytes=max_bytes), shown)


def _check_depth(text: str, path: str) -> None:
    # The composer recurses once per nesting level (in C with libyaml, where running out
    # of stack would crash the process), so measure the depth on the flat event stream first.
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    mark = event.start_mark
                    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
                    raise YamlProblems([Diagnostic(path, line, col, "", f"nested more than {MAX_DEPTH} levels deep; flatten the structure")])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        raise YamlProblems([_from_yaml_error(exc, path)]) from None
    except yaml.reader.ReaderError as exc:
        raise YamlProblems([_from_reader_error(exc, text, path)]) from None


def _from_reader_error(exc: yaml.reader.ReaderError, text: str, path: str) -> Diagnostic:
    # A character YAML does not accept in a stream at all (a raw control character, a
    # lone surrogate): the reader gives an offset, not a mark.
    position = max(0, min(int(exc.position), len(text)))
    line = text.count("\n", 0, position) + 1
    col = position - (text.rfind("\n", 0, position) + 1) + 1
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return Diagnostic(
        path, line, col, "", f"the character U+{ord(char):04X} is not allowed in YAML; remove it, or write it as an escape in double quotes"
    )


def too_long_number(exc: BaseException) -> str | None:
    """Python's refusal of a number with thousands of digits, in words that do not depend
    on the Python version (3.10 and 3.11 word it differently) or point at its internals."""
    import sys

    if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
        return f"a whole number with more than {sys.get_int_max_str_digits():,} digits; no answer needs one that long"
    return None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return printable(lines[0] if lines else type(exc).__name__, 200)


def _from_yaml_error(exc: yaml.MarkedYAMLError, path: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    problem = (exc.problem or exc.context or "not valid YAML").strip()
    if "maximum nesting depth" in problem:
        # libyaml (PyYAML >= 6.0.3) stops at its own depth limit while scanning ahead,
        # before _check_depth sees the events of the 65th level: the same advice, at its mark
        return Diagnostic(path, line, col, "", f"nested more than {MAX_DEPTH} levels deep; flatten the structure")
    if "tab character" in problem or "'\\t'" in problem:
        problem = "a tab character: YAML indents with spaces only; replace the tab with spaces"
    else:
        problem = f"not valid YAML: {problem}"
        if exc.context and exc.problem:
            problem += f" ({exc.context.strip()})"
    return Diagnostic(path, line, col, "", printable(" ".join(problem.split()), 300))


class _Builder:
    """Turns a composed node tree into plain Python data, refusing anything else."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[Diagnostic] = []
        self.count = 0
        self.chars = 0
        self.stopped = False  # a size limit was passed: nothing more is built
        self.open: set[int] = set()  # the collections being built, to catch an alias to itself
        self.too_deep = False
        self.constructor = yaml.constructor.SafeConstructor()

    def _mark(self, node: yaml.Node) -> tuple[int, int]:
        return (node.start_mark.line + 1, node.start_mark.column + 1)

    def _problem(self, node: yaml.Node, key: Key, message: str) -> None:
        line, col = self._mark(node)
        self.problems.append(Diagnostic(self.doc.path, line, col, dotted(key), message))

    def _text(self, node: yaml.Node, key: Key, size: int) -> bool:
        """Count `size` characters of text; False (and one problem) past MAX_CHARS."""
        self.chars += size
        if self.chars > MAX_CHARS and not self.stopped:
            self.stopped = True
            self._problem(node, key, f"expands to more than {MAX_CHARS:,} characters of text (repeated aliases?); write the data out plainly")
        return not self.stopped

    def build(self, node: yaml.Node, key: Key) -> Any:
        if self.stopped:
            return None
        self.count += 1
        if self.count > MAX_NODES:
            self.stopped = True
            self._problem(node, key, f"expands to more than {MAX_NODES:,} values (repeated aliases?); write the data out plainly")
            return None
        self.doc.marks.setdefault(key, self._mark(node))
        if len(key) > MAX_DEPTH:  # aliases can nest deeper than the text itself
            if not self.too_deep:
                self._problem(node, key, f"nested more than {MAX_DEPTH} levels deep (through aliases); flatten the structure")
            self.too_deep = True
            return None
        if isinstance(node, yaml.ScalarNode) and not self._text(node, key, len(node.value)):
            return None
        if node.tag in _TEXT_TAGS:  # a plain `=` or `<<` as a value is just text
            return str(node.value)
        if node.tag not in _PLAIN_TAGS:
            self._problem(node, key, f"the YAML tag {printable(node.tag)!r} is not allowed: playbooks and answers are plain data")
            return None
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if id(node) in self.open:
                self._problem(node, key, "an alias refers to the list or mapping that contains it; write the data out plainly")
                return None
            self.open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, key)
                return [self.build(child, key + (i,)) for i, child in enumerate(node.value)]
            finally:
                self.open.discard(id(node))
        try:
            value = self.constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            if node.tag == "tag:yaml.org,2002:timestamp":
                # `2026-02-30` looks like a date but is none: keep the text, so that the
                # step it answers says what is wrong with it (and how to write a date)
                return str(node.value)
            self._problem(node, key, f"cannot read this value: {too_long_number(exc) or _first_line(exc)}")
            return None
        return value

    def _mapping(self, node: yaml.MappingNode, key: Key) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        seen: dict[Any, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                self._problem(key_node, key, "keys must be plain words (YAML merge keys and complex keys are not supported)")
                continue
            # A key is its text: `1:`, `yes:` and `2026-13-45:` are names, not values to convert.
            name = key_node.value
            if name in seen:
                first = seen[name].start_mark.line + 1
                self._problem(key_node, key + (name,), f"duplicate key {printable(name)!r} (first given on line {first}); keep one")
                continue
            seen[name] = key_node
            if not self._text(key_node, key + (name,), len(name)):
                break
            self.doc.key_marks[key + (name,)] = self._mark(key_node)
            out[name] = self.build(value_node, key + (name,))
        return out


def walk_strings(data: Any, key: Key = ()) -> Iterator[tuple[Key, str]]:
    """Every string in a data tree with its path (used to scan user text)."""
    if isinstance(data, str):
        yield key, data
    elif isinstance(data, dict):
        for k, v in data.items():
            yield from walk_strings(v, key + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from walk_strings(v, key + (i,))


# For readers that need the data without marks (listing playbooks): the same loader, the
# same depth bound and the same one-line problems as `parse`.
PlainLoader = _Loader
check_depth = _check_depth
diagnostic_from = _from_yaml_error
