"""`mea-culpa check`: the apology check on any text, as a report or as JSON."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from mea_culpa.apology import CheckResult, Finding

FORMATS = ("text", "json")
# Characters of the line shown on each side of a finding.
_CONTEXT = 30


def check(
    files: list[str] = typer.Argument(..., metavar="FILE", help="Files to check, or - for standard input."),
    audience: str = typer.Option("customer", "--audience", "-a", metavar="WHO", help="Who reads it: customer, internal or personal."),
    min_score: int = typer.Option(60, "--min-score", min=0, max=100, metavar="N", help="Exit 1 when a score is below this."),
    format: str = typer.Option("text", "--format", "-f", metavar="FORMAT", help="text (a report) or json (one object per input)."),
    rules: list[Path] | None = typer.Option(
        None, "--rules", metavar="DIR", help="A folder of extra rule files, *.yaml (repeatable)."
    ),
    disable: list[str] | None = typer.Option(
        None, "--disable", metavar="ID", help="Switch off a rule by id, or a whole category (repeatable)."
    ),
) -> None:
    """Check an apology before you send it: a score from 0 to 100, the parts it has and
    lacks, and the phrases that undo it ("sorry if…", "any inconvenience", "human error").

    Exit 0 when every text passes, 1 when a score is below --min-score or a finding is an
    error, 2 when an input cannot be read. Rules in a rules/ folder beside your playbook
    folders are used too.

    Examples:

      mea-culpa check apology.txt

      pbpaste | mea-culpa check -

      mea-culpa check --audience internal --format json incident-note.md
    """
    from mea_culpa.apology import check_text, load_rules, validate_audience
    from mea_culpa.errors import UsageError

    if format not in FORMATS:
        raise UsageError(f"unknown format {format!r}; choose text or json")
    audience = validate_audience(audience)
    texts = [(name, _read(name)) for name in _unique_stdin(files)]
    ruleset = load_rules(extra_dirs=_rule_dirs(rules or []), disabled=disable or [])
    results = [(name, check_text(text, audience, ruleset), text) for name, text in texts]

    if format == "json":
        import json

        from mea_culpa.cli.output import data
        from mea_culpa.text.terminal import json_for_terminal

        objects = [result.to_dict() for _, result, _ in results]
        data(json_for_terminal(json.dumps(objects[0] if len(objects) == 1 else objects, indent=2, ensure_ascii=False)) + "\n")
    else:
        from mea_culpa.cli.output import data_console

        console = data_console(highlight=False, soft_wrap=True)
        for index, (name, result, text) in enumerate(results):
            if index:
                console.print()
            _report(console, name, result, text, min_score)

    if not all(result.passes(min_score) for _, result, _ in results):
        raise typer.Exit(1)


def _unique_stdin(files: list[str]) -> list[str]:
    from mea_culpa.errors import UsageError

    if files.count("-") > 1:
        raise UsageError("standard input (-) can be read only once; give it once")
    return files


# The most text `check` reads from one input: an apology is a page, not a book, and a
# device or an endless pipe must not be read until memory runs out.
MAX_TEXT_BYTES = 1_000_000


def _read(name: str) -> str:
    """The text of one input, or a one-line error that says how to give a readable one."""
    from mea_culpa.errors import NotFound, UsageError
    from mea_culpa.files import NotReadable, read_file

    if name == "-":
        try:
            stream = sys.stdin.buffer if hasattr(sys.stdin, "buffer") else None
            data = stream.read(MAX_TEXT_BYTES + 1) if stream is not None else sys.stdin.read(MAX_TEXT_BYTES + 1).encode()
        except OSError as err:
            raise UsageError(f"cannot read standard input: {err.strerror or err}") from None
        if len(data) > MAX_TEXT_BYTES:
            raise UsageError(f"standard input holds more than {MAX_TEXT_BYTES:,} bytes; check a shorter text")
        return _decode(data, "standard input")
    fix = "give a file path or - for standard input"
    try:
        data = read_file(Path(name), max_bytes=MAX_TEXT_BYTES)
    except NotReadable as exc:
        why = str(exc)
        if why == "no such file":
            raise NotFound(f"cannot read '{name}': no such file; {fix}") from None
        if why.startswith("is a folder"):
            raise UsageError(f"cannot read '{name}': it is a folder; {fix}") from None
        if why.startswith("is "):  # a FIFO, a device, a socket
            raise UsageError(f"cannot read '{name}': it {why}; {fix}") from None
        if why.startswith("file is too large"):
            raise UsageError(f"cannot read '{name}': {why.removeprefix('file ')}; check a shorter text") from None
        raise UsageError(f"cannot read '{name}': {why.removeprefix('cannot read: ').lower()}") from None
    return _decode(data, f"'{name}'")


def _decode(data: bytes, what: str) -> str:
    from mea_culpa.errors import UsageError

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"cannot read {what}: it is not UTF-8 text; save it as UTF-8 and try again") from None
    # Windows line ends would otherwise count as characters in every column.
    return text.replace("\r\n", "\n")


def _rule_dirs(given: list[Path]) -> list[Path]:
    """User rule folders, lowest priority first: beside the playbook folders, then --rules."""
    from mea_culpa.paths import playbook_search_path

    found: list[Path] = []
    seen: set[Path] = set()
    # The search path lists the most important folder first; a later rule replaces an
    # earlier one with the same id, so the folders are read in reverse.
    for source in reversed(playbook_search_path()):
        folder = source.path.parent / "rules"
        try:
            key = folder.resolve()
            usable = folder.is_dir() and key not in seen
        except OSError:  # a folder we may not look into has no rules for us
            continue
        if usable:
            seen.add(key)
            found.append(folder)
    return found + [Path(p).expanduser() for p in given]


def _report(console: Console, name: str, result: CheckResult, text: str, min_score: int) -> None:
    from rich.text import Text

    from mea_culpa.apology import WEIGHTS
    from mea_culpa.text.terminal import safe_for_terminal

    title = "standard input" if name == "-" else safe_for_terminal(name)
    verdict = _verdict(result, min_score)
    head = Text()
    head.append(title, style="bold")
    head.append(f"  score {result.score}/100  ({result.audience})  ")
    head.append(verdict, style="green" if verdict == "passes" else "red")
    console.print(head)

    weights = WEIGHTS[result.audience]
    present = [name for name, shown in result.components.items() if shown and weights[name]]
    console.print(Text("  has: " + (", ".join(present) if present else "none of the parts")))
    for tip in result.tips:
        console.print(Text(f"  missing {tip}"))

    if not result.findings:
        console.print(Text("  no phrases to fix"))
        return
    lines = text.split("\n")
    # Without colour (a pipe, NO_COLOR) the match is marked with brackets instead.
    plain = console.color_system is None or console.no_color
    for finding in result.findings:
        console.print(_finding_line(finding, lines, plain))
        console.print(Text(safe_for_terminal(f"      {finding.message}")))
        if finding.suggestion:
            console.print(Text(safe_for_terminal(f"      try: {finding.suggestion}"), style="dim"))


def _verdict(result: CheckResult, min_score: int) -> str:
    reasons = []
    if result.score < min_score:
        reasons.append(f"below {min_score}")
    if result.has_errors:
        reasons.append("an error-level finding")
    return "fails: " + " and ".join(reasons) if reasons else "passes"


_LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "suggestion": "cyan"}


def _finding_line(finding: Finding, lines: list[str], plain: bool) -> Text:
    """`line:col level rule  …context [match] context…`, the match highlighted."""
    from rich.text import Text

    out = Text(f"  {finding.line}:{finding.column}  ")
    out.append(finding.level, style=_LEVEL_STYLE.get(finding.level, ""))
    out.append(f"  {finding.rule}  ")
    line = lines[finding.line - 1] if finding.line - 1 < len(lines) else ""
    start = finding.column - 1
    # A match may run over several lines; show its first line only.
    end = min(len(line), start + len(finding.match))
    left = max(0, start - _CONTEXT)
    right = min(len(line), end + _CONTEXT)
    # The text checked may be anyone's: show its words, never its escape sequences.
    from mea_culpa.text.terminal import safe_for_terminal as safe

    out.append(("…" if left else "") + safe(line[left:start]))
    out.append(f"[{safe(line[start:end])}]" if plain else safe(line[start:end]), style="bold reverse")
    out.append(safe(line[end:right]) + ("…" if right < len(line) else ""))
    return out
