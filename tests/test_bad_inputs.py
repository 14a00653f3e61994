"""Every bad input of docs/bad-inputs.md: one clear line, its exit code, no traceback, and
the journal untouched. One parametrized case per row of the table; the ids are the table's.

Most rows drive the real entry point in-process (`mea_culpa.cli.app.main`); the rows about the
environment run the CLI in a subprocess or a pseudo-terminal, as a user would meet them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

TESTS = Path(__file__).parent
BAD = TESTS / "data" / "bad"
MINI = TESTS / "data" / "playbooks" / "mini.yaml"
DOC = TESTS.parent / "docs" / "bad-inputs.md"

# --- running the CLI ------------------------------------------------------------------


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def first_error(self) -> str:
        return self.err.splitlines()[0] if self.err else ""


@pytest.fixture
def cli(cli: Callable[..., tuple[int, str, str]]) -> Callable[..., Result]:
    """conftest's `cli`, with the result by name."""

    def run(*args: str) -> Result:
        return Result(*cli(*args))

    return run


def run_process(*args: str, home: Path, cwd: Path, stdin: int | None = subprocess.DEVNULL, **env: str) -> Result:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MEA_CULPA_")}
    environ.update(MEA_CULPA_HOME=str(home), MEA_CULPA_CONFIG=str(cwd / "config"), NO_COLOR="1", **env)
    proc = subprocess.run(
        [sys.executable, "-m", "mea_culpa", *args], cwd=cwd, env=environ, stdin=stdin,
        capture_output=True, text=True, timeout=60,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_clean_failure(result: Result, line: str, code: int) -> None:
    """The user sees `line` first, then at most a hint; the exit code; no traceback."""
    assert "Traceback" not in result.err + result.out
    assert result.code == code, result.err
    assert result.first_error == line, result.err


# --- the journal, before and after ---------------------------------------------------


@pytest.fixture(scope="module")
def baseline_journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A journal holding one completed session, checkpointed so that its bytes settle."""
    home = tmp_path_factory.mktemp("baseline")
    result = run_process(
        "start", str(BAD / "base.yaml"), "--answers", str(BAD / "answers.yaml"), "--no-input", home=home, cwd=home
    )
    assert result.code == 0, result.err
    path = home / "journal.sqlite3"
    settle(path)
    return path


def install_journal(baseline: Path, home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    target = home / "journal.sqlite3"
    shutil.copy2(baseline, target)
    return target


def settle(journal: Path) -> None:
    """Move what the write-ahead log holds into the file, so that its bytes can be compared."""
    conn = sqlite3.connect(journal)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def snapshot(journal: Path) -> tuple[str, int, int]:
    """What "untouched" means: the same bytes, the same mtime, no write-ahead log content."""
    wal = journal.with_name(journal.name + "-wal")
    digest = hashlib.sha256(journal.read_bytes()).hexdigest() if journal.exists() else ""
    return digest, journal.stat().st_mtime_ns if journal.exists() else 0, wal.stat().st_size if wal.exists() else 0


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of tests/data/bad as the current folder, so that lines show short paths."""
    folder = tmp_path / "bad"
    shutil.copytree(BAD, folder)
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def journal(baseline_journal: Path, isolated_home: Path) -> Path:
    return install_journal(baseline_journal, isolated_home)


# --- playbooks and sandbox escapes: refused when the playbook is read ------------------


def _ten_megabytes(folder: Path) -> str:
    path = folder / "ten-megabytes.yaml"
    base = (BAD / "base.yaml").read_bytes()
    line = b"# " + b"x" * 1021 + b"\n"  # 1 KiB
    filler = line * ((10 * 1024 * 1024 - len(base)) // len(line))
    path.write_bytes(base + filler + b"#" * (10 * 1024 * 1024 - len(base) - len(filler)))
    return path.name


def _deep_flow(folder: Path) -> str:
    path = folder / "deep-flow.yaml"
    path.write_text("id: " + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    return path.name


def _symlinked_template(folder: Path) -> str:
    outside = folder.parent / "outside"
    outside.mkdir()
    (outside / "secret.j2").write_text("top secret\n", encoding="utf-8")
    (folder / "link.j2").symlink_to(outside / "secret.j2")
    text = (BAD / "base.yaml").read_text(encoding="utf-8").replace("template: note.j2", "template: link.j2")
    (folder / "template-symlink.yaml").write_text(text, encoding="utf-8")
    return "template-symlink.yaml"


def _symlinked_include(folder: Path) -> str:
    outside = folder.parent / "elsewhere"
    outside.mkdir()
    (outside / "secret.j2").write_text("top secret\n", encoding="utf-8")
    (folder / "partials").mkdir()
    (folder / "partials" / "footer.j2").symlink_to(outside / "secret.j2")
    (folder / "include-link.j2").write_text('{% include "partials/footer.j2" %}\n', encoding="utf-8")
    text = (BAD / "base.yaml").read_text(encoding="utf-8").replace("template: note.j2", "template: include-link.j2")
    (folder / "include-symlink.yaml").write_text(text, encoding="utf-8")
    return "include-symlink.yaml"


def _alias_text_bomb(folder: Path) -> str:
    """481 kB: one 36,000-character string, aliased 111,000 times (4 GB of text)."""
    anchored = "summary: &s \"" + "x" * 36_000 + "\"\ntags: [" + ", ".join(["*s"] * 111_000) + "]"
    text = (BAD / "base.yaml").read_text(encoding="utf-8").replace("summary: A playbook to break, one mistake at a time.", anchored)
    (folder / "alias-text-bomb.yaml").write_text(text, encoding="utf-8")
    return "alias-text-bomb.yaml"


def _include_chain(folder: Path) -> str:
    """A message template that includes another, which includes another… 120 deep; the
    last includes a 150 kB template (as well it might a 2 GB one)."""
    for i in range(120):
        (folder / f"chain-{i}.j2").write_text(f'{{{{ what_happened }}}}\n{{% include "chain-{i + 1}.j2" %}}\n', encoding="utf-8")
    (folder / "chain-120.j2").write_text("x" * 150_000, encoding="utf-8")
    text = (BAD / "base.yaml").read_text(encoding="utf-8").replace("template: note.j2", "template: chain-0.j2")
    (folder / "include-chain-too-long.yaml").write_text(text, encoding="utf-8")
    return "include-chain-too-long.yaml"


def _long_template_name(folder: Path) -> str:
    text = (BAD / "base.yaml").read_text(encoding="utf-8").replace("template: note.j2", f"template: {'n' * 5000}.j2")
    (folder / "template-name-too-long.yaml").write_text(text, encoding="utf-8")
    return "template-name-too-long.yaml"


@dataclass(frozen=True)
class PlaybookRow:
    id: str
    file: str | Callable[[Path], str]  # a file in tests/data/bad, or a function that makes one
    line: str  # the exact line; {file} is the file's name
    code: int = 2

    def make(self, folder: Path) -> str:
        return self.file if isinstance(self.file, str) else self.file(folder)


_INTERNAL = "is internal to Python; names starting with _ are not available in playbooks"
_KEY_WHEN = "stages[1].steps[0].when"
_KEY_DEFAULT = "stages[1].steps[0].default"
_KEY_TEMPLATE = "messages[0].template"

PLAYBOOK_ROWS = [
    PlaybookRow("empty-file", "empty.yaml", "{file}: the file is empty; start from `mea-culpa new NAME`"),
    PlaybookRow("not-a-mapping", "not-a-mapping.yaml", "{file}:2:1: expected a mapping (key: value lines), found a list"),
    PlaybookRow("tabs", "tabs.yaml", "{file}:4:1: a tab character: YAML indents with spaces only; replace the tab with spaces"),
    PlaybookRow("duplicate-key", "duplicate-key.yaml", "{file}:4:1: title: duplicate key 'title' (first given on line 3); keep one"),
    PlaybookRow(
        "unknown-key", "unknown-key.yaml",
        "{file}:8:5: stages[0].guidence: unknown key 'guidence' in stage; did you mean 'guidance'?",
    ),
    PlaybookRow("wrong-type", "wrong-type.yaml", "{file}:17:19: stages[0].steps[1].required: expected true or false, found text"),
    PlaybookRow(
        "yaml-python-tag", "python-tag.yaml",
        "{file}:3:8: title: the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed: "
        "playbooks and answers are plain data",
    ),
    PlaybookRow(
        "alias-bomb", "alias-bomb.yaml",
        "{file}:2:7: lol6[0][6][8][8][8][7]: expands to more than 200,000 values (repeated aliases?); write the data out plainly",
    ),
    PlaybookRow(
        "alias-text-bomb", _alias_text_bomb,
        "{file}:4:10: tags[54]: expands to more than 2,000,000 characters of text (repeated aliases?); write the data out plainly",
    ),
    PlaybookRow(
        "alias-to-itself", "alias-to-itself.yaml",
        "{file}:6:7: tags[0]: an alias refers to the list or mapping that contains it; write the data out plainly",
    ),
    PlaybookRow("ten-megabytes", _ten_megabytes, "{file}: file is too large (10,485,760 bytes; the limit is 1,000,000)"),
    PlaybookRow("invalid-utf8", "invalid-utf8.yaml", "{file}:3:12: not valid UTF-8 (byte 0xe9); save the file as UTF-8"),
    # A BOM and CRLF line ends are read as if absent: the mistake in each file is found at its true place.
    PlaybookRow(
        "bom", "bom.yaml", "{file}:8:5: stages[0].guidence: unknown key 'guidence' in stage; did you mean 'guidance'?"
    ),
    PlaybookRow(
        "crlf", "crlf.yaml", "{file}:8:5: stages[0].guidence: unknown key 'guidence' in stage; did you mean 'guidance'?"
    ),
    PlaybookRow("deep-nesting", "deep-nesting.yaml", "{file}:66:129: nested more than 64 levels deep; flatten the structure"),
    # libyaml stops at its own flow-depth limit (1,000) while scanning ahead; same advice, at its mark
    PlaybookRow("deep-flow-nesting", _deep_flow, "{file}:1:1004: nested more than 64 levels deep; flatten the structure"),
    PlaybookRow(
        "when-does-not-parse", "when-does-not-parse.yaml",
        f"{{file}}:24:15: {_KEY_WHEN}: the expression 'severity ==' does not parse: unexpected 'end of template'",
    ),
    PlaybookRow(
        "when-unknown-answer", "when-unknown-answer.yaml",
        f"{{file}}:24:15: {_KEY_WHEN}: when uses 'sevrity', but no step has that id; did you mean 'severity'?",
    ),
    PlaybookRow(
        "when-nested-too-deep", "when-nested-too-deep.yaml",
        f"{{file}}:24:15: {_KEY_WHEN}: the expression \"{'(' * 59}…\" does not parse: nested too deeply to read; simplify it",
    ),
    PlaybookRow(
        "template-missing", "template-missing.yaml",
        f"{{file}}:28:15: {_KEY_TEMPLATE}: no template 'thank-you-card.j2' beside the playbook or among the built-ins",
    ),
    PlaybookRow(
        "template-climbs-out", "template-climbs-out.yaml",
        f"{{file}}:28:15: {_KEY_TEMPLATE}: '../../etc/passwd' climbs out with '..'; name a file inside the playbook's folder",
    ),
    PlaybookRow(
        "template-absolute", "template-absolute.yaml",
        f"{{file}}:28:15: {_KEY_TEMPLATE}: '/etc/passwd' is an absolute path; name a file inside the playbook's folder",
    ),
    PlaybookRow(
        "template-symlink", _symlinked_template,
        f"{{file}}:28:15: {_KEY_TEMPLATE}: 'link.j2' is a link that leads outside its folder; copy the file in instead",
    ),
    PlaybookRow(
        "template-not-j2", "template-not-j2.yaml",
        f"{{file}}:28:15: {_KEY_TEMPLATE}: 'secret.txt' is not a template: only .j2 files are (e.g. note.j2)",
    ),
    PlaybookRow(
        "template-name-too-long", _long_template_name,
        f"{{file}}:28:15: {_KEY_TEMPLATE}: is 5003 characters long; the limit is 200",
    ),
    PlaybookRow(
        "include-climbs-out", "include-climbs-out.yaml",
        f"{{file}}:28:15: {_KEY_TEMPLATE}: template include-parent.j2: refused: the include '../secret.j2' climbs out "
        "with '..'; name a file inside the playbook's folder",
    ),
    PlaybookRow(
        "include-symlink", _symlinked_include,
        f"{{file}}:28:15: {_KEY_TEMPLATE}: template include-link.j2: refused: the include 'partials/footer.j2' is a link "
        "that leads outside its folder; copy the file in instead",
    ),
    PlaybookRow(
        "include-chain-too-long", _include_chain,
        f"{{file}}:28:15: {_KEY_TEMPLATE}: template chain-50.j2: refused: a message may use at most 50 templates with "
        "everything they include; combine some",
    ),
    PlaybookRow(
        "include-other-file", "include-other-file.yaml",
        f"{{file}}:28:15: {_KEY_TEMPLATE}: template include-txt.j2: refused: the include 'secret.txt' is not a .j2 "
        "template; only templates can be included",
    ),
    PlaybookRow(
        "include-computed", "include-computed.yaml",
        f"{{file}}:28:15: {_KEY_TEMPLATE}: template include-computed.j2: refused: it includes a template chosen by an "
        "expression; name the file",
    ),
    PlaybookRow(
        "control-character", "control-character.yaml",
        "{file}:12:17: stages[0].steps[0].prompt: contains the control character U+001B; playbooks are plain text "
        "(a control character could rewrite the terminal)",
    ),
    # sandbox escapes: found by reading the playbook, refused before anything runs
    PlaybookRow("sandbox-class", "sandbox-class.yaml", f"{{file}}:24:15: {_KEY_WHEN}: refused: `__class__` {_INTERNAL}"),
    PlaybookRow(
        "sandbox-subclasses", "sandbox-subclasses.yaml", f"{{file}}:23:18: {_KEY_DEFAULT}: refused: `__subclasses__` {_INTERNAL}"
    ),
    PlaybookRow("sandbox-globals", "sandbox-globals.yaml", f"{{file}}:24:15: {_KEY_WHEN}: refused: `__globals__` {_INTERNAL}"),
    PlaybookRow(
        "sandbox-format", "sandbox-format.yaml", f"{{file}}:23:18: {_KEY_DEFAULT}: refused: `.format` is not available in playbooks"
    ),
    PlaybookRow(
        "sandbox-attr-filter", "sandbox-attr.yaml",
        f"{{file}}:24:15: {_KEY_WHEN}: refused: the `attr` filter is not available in playbooks (it reaches attributes by name)",
    ),
    PlaybookRow(
        "sandbox-in-template", "sandbox-template.yaml",
        f"{{file}}:28:15: {_KEY_TEMPLATE}: template dunder.j2: refused: `__subclasses__` {_INTERNAL}",
    ),
    PlaybookRow(
        "sandbox-macro-in-default", "sandbox-macro-in-default.yaml",
        f"{{file}}:23:18: {_KEY_DEFAULT}: refused: a default is a short template: {{{{ }}}}, {{% if %}}, {{% for %}} and "
        "filters; no macros, includes or blocks",
    ),
]


@pytest.mark.parametrize("row", PLAYBOOK_ROWS, ids=[r.id for r in PLAYBOOK_ROWS])
def test_a_bad_playbook_gets_one_line_exit_2_and_leaves_the_journal_alone(row: PlaybookRow, cli, workdir: Path, journal: Path):
    name = row.make(workdir)
    line = row.line.replace("{file}", name)
    before = snapshot(journal)

    checked = cli("validate", name)
    assert checked.code == row.code
    assert checked.out.splitlines()[0] == line
    assert all(len(x.splitlines()) == 1 for x in checked.out.splitlines())  # every problem is one line

    started = cli("start", name, "--answers", "answers.yaml", "--no-input")
    assert_clean_failure(started, line, row.code)
    assert snapshot(journal) == before
    assert not (workdir / "PWNED").exists()  # the python tag was read as text, never run


# --- sandbox limits: the playbook validates; what it asks for is refused when it runs ---


@dataclass(frozen=True)
class RuntimeRow:
    id: str
    file: str
    line: str
    code: int = 2


RUNTIME_ROWS = [
    RuntimeRow(
        "sandbox-range", "sandbox-range.yaml",
        "error: sandbox-range.yaml: step responsibility: when: refused: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).",
    ),
    RuntimeRow(
        "sandbox-repeat", "sandbox-repeat.yaml",
        "error: sandbox-repeat.yaml: step responsibility: when: refused by the sandbox: repeating a value 100000000 times builds more than 10,000 items",
    ),
    RuntimeRow(
        "sandbox-repeat-nested", "sandbox-repeat-nested.yaml",
        "error: sandbox-repeat-nested.yaml: step responsibility: when: refused by the sandbox: repeating a value 10000 "
        "times builds more than 200,000 characters or items",
    ),
    RuntimeRow(
        "sandbox-padding", "sandbox-padding.yaml",
        "error: sandbox-padding.yaml: step responsibility: when: refused by the sandbox: a format width of 999999999 is larger than 1,000",
    ),
    RuntimeRow(
        "sandbox-time-limit", "sandbox-forever.yaml",
        "error: sandbox-forever.yaml: step responsibility: when: refused by the sandbox: took longer than 2 s",
    ),
]


@pytest.mark.parametrize("row", RUNTIME_ROWS, ids=[r.id for r in RUNTIME_ROWS])
def test_a_sandbox_limit_is_refused_when_it_runs_and_nothing_is_saved(row: RuntimeRow, cli, workdir: Path, journal: Path):
    before = snapshot(journal)
    assert cli("validate", row.file).code == 0  # nothing static to see: the limit holds at run time
    started = cli("start", row.file, "--answers", "answers.yaml", "--no-input")
    assert_clean_failure(started, row.line, row.code)
    assert snapshot(journal) == before


def test_sandbox_recursion_in_a_message_template_is_refused_when_drafted(cli, workdir: Path, journal: Path):
    """Row sandbox-recursion: a macro that calls itself for ever."""
    started = cli("start", "sandbox-recursion.yaml", "--answers", "answers.yaml", "--no-input")
    assert started.code == 0, started.err
    session_id = started.out.strip()
    settle(journal)
    before = snapshot(journal)
    drafted = cli("draft", session_id, "-m", "note")
    assert_clean_failure(drafted, "error: template recursive.j2: refused: recursion too deep", 2)
    assert snapshot(journal)[0] == before[0]


# A draft reads the playbook's templates again, without analysing them: a template changed
# after the run (or one that names its include from an answer) meets the render-time walls.
DRAFT_ROWS = [
    (
        "draft-include-other-file", '{% include "secret.txt" %}\n',
        "error: template note.j2: refused by the sandbox: 'secret.txt' is not a .j2 template; only templates can be included",
    ),
    (
        "draft-include-from-an-answer", "{% include what_happened %}\n",
        "error: template note.j2: refused by the sandbox: 'The invoice went to the wrong client.' is not a .j2 template; "
        "only templates can be included",
    ),
    (
        "draft-sandbox-escape", "{{ what_happened.__class__.__mro__[1].__subclasses__() }}\n",
        "error: template note.j2: refused by the sandbox: access to attribute '__class__' of 'str' object is unsafe.",
    ),
]


@pytest.mark.parametrize("row", DRAFT_ROWS, ids=[r[0] for r in DRAFT_ROWS])
def test_a_template_changed_after_the_run_meets_the_render_time_walls(row, cli, workdir: Path, journal: Path):
    _, template, line = row
    started = cli("start", "base.yaml", "--answers", "answers.yaml", "--no-input")
    assert started.code == 0, started.err
    (workdir / "note.j2").write_text(template, encoding="utf-8")
    settle(journal)
    before = snapshot(journal)
    drafted = cli("draft", started.out.strip(), "-m", "note")
    assert_clean_failure(drafted, line, 2)
    assert "top secret" not in drafted.out + drafted.err
    assert snapshot(journal)[0] == before[0]


# --- answers files: every value held to the rules a typed one is ------------------------

MINI_ANSWERS = {
    "severity": "major",
    "what_happened": "The nightly export sent every customer's invoice to the wrong address.",
    "affected_count": 120,
    "noticed_at": "2026-11-20 09:30",
    "contributing_factors": "The address table was migrated without a check of the mapping.",
    "responsibility": "I ran the migration and did not check the mapping. That was my mistake.",
    "channels": ["email"],
    "apology_sent": {"state": "done"},
    "fixed": True,
    "prevention_actions": [{"what": "Add a mapping check to migrations", "owner": "Sam", "due": "2026-12-01"}],
    "lesson": "Check a data migration on a sample before it runs for real.",
}


def _answers(**changes: object) -> str:
    data = dict(MINI_ANSWERS)
    data.update(changes)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@dataclass(frozen=True)
class AnswersRow:
    id: str
    text: str | bytes  # the answers file
    line: str  # {file} is its name
    suffix: str = ".yaml"
    code: int = 2


ANSWERS_ROWS = [
    AnswersRow("answers-wrong-type", _answers(affected_count=[1, 2]), "{file}: affected_count: expected a number"),
    AnswersRow(
        "answers-json-surrogate", '{"lesson": "\\udcff"}',
        "{file}: lesson: contains U+DCFF, half of a UTF-16 pair and not a character; write the text as UTF-8", suffix=".json",
    ),
    AnswersRow(
        "answers-unknown-id", "sevrity: major\n",
        "{file}: sevrity: no step with this id in playbook 'mini' (did you mean 'severity'?)",
    ),
    AnswersRow(
        "answers-bad-choice", _answers(severity="huge"), "{file}: severity: 'huge' is not one of none, minor, major, critical"
    ),
    AnswersRow(
        "answers-invalid-date", _answers(noticed_at="2026-02-30 10:00"),
        "{file}: noticed_at: '2026-02-30 10:00' is not a date and time; write it like 2026-03-31 14:30, or now, 14:30, "
        "yesterday 09:00, last friday 14:30",
    ),
    AnswersRow(
        "answers-invalid-date-in-a-list",
        _answers(prevention_actions=[{"what": "Check", "owner": "Sam", "due": "2026-13-01"}]),
        "{file}: prevention_actions: item 1: due: '2026-13-01' is not a date; write it like 2026-03-31, or today, "
        "friday, next friday, in 2 weeks, end of month",
    ),
    AnswersRow("answers-list-for-text", _answers(what_happened=["a", "b"]), "{file}: what_happened: expected text, found a list"),
    AnswersRow(
        "answers-huge-text", _answers(lesson="x" * 20_001), "{file}: lesson: is 20,001 characters long; the limit is 20,000"
    ),
    AnswersRow(
        "answers-huge-choice", _answers(severity="x" * 100_000),
        "{file}: severity: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…' is not one of none, minor, major, critical",
    ),
    AnswersRow(
        "answers-too-many-items",
        _answers(prevention_actions=[{"what": f"Step {n}", "owner": "Sam", "due": "2026-12-01"} for n in range(201)]),
        "{file}: prevention_actions: has 201 items; the limit is 200",
    ),
    AnswersRow(
        "answers-huge-number", "affected_count: 1" + "0" * 5000 + "\n",
        "{file}:1:17: affected_count: cannot read this value: a whole number with more than 4,300 digits; no answer needs one that long",
    ),
    AnswersRow(
        "answers-json-huge-number", '{"affected_count": 1' + "0" * 5000 + "}",
        "{file}: not valid JSON: a whole number with more than 4,300 digits; no answer needs one that long",
        suffix=".json",
    ),
    AnswersRow(
        "answers-json-too-deep", '{"lesson": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "{file}: not valid JSON: nested too deeply", suffix=".json",
    ),
    AnswersRow("answers-not-a-mapping", "- severity: major\n", "{file}: expected a mapping of step id to answer"),
    AnswersRow(
        "answers-python-tag", "lesson: !!python/object/apply:os.system ['touch PWNED']\n",
        "{file}:1:9: lesson: the YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed: "
        "playbooks and answers are plain data",
    ),
    AnswersRow(
        "answers-id-with-control-characters", '"sev\\nerity\\e[2J": major\n',
        "{file}: 'sev\\nerity\\x1b[2J': no step with this id in playbook 'mini' (did you mean 'severity'?)",
    ),
]


@pytest.mark.parametrize("row", ANSWERS_ROWS, ids=[r.id for r in ANSWERS_ROWS])
def test_a_bad_answers_file_gets_one_line_naming_the_id_and_saves_nothing(row: AnswersRow, cli, tmp_path, monkeypatch, journal):
    monkeypatch.chdir(tmp_path)
    name = f"answers{row.suffix}"
    path = tmp_path / name
    if isinstance(row.text, bytes):
        path.write_bytes(row.text)
    else:
        path.write_text(row.text, encoding="utf-8")
    before = snapshot(journal)
    result = cli("start", str(MINI), "--answers", name, "--no-input")
    assert_clean_failure(result, row.line.format(file=name), row.code)
    assert all(len(line) < 400 for line in result.err.splitlines())  # a huge value never floods the screen
    assert snapshot(journal) == before
    assert not (tmp_path / "PWNED").exists()


# --- the environment ------------------------------------------------------------------


def _truncate(journal: Path) -> None:
    data = journal.read_bytes()
    journal.write_bytes(data[: len(data) // 4])


def _corrupt(journal: Path) -> None:
    journal.write_bytes(bytes(range(256)) * 64)


def _newer(journal: Path) -> None:
    with sqlite3.connect(journal) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()


@dataclass(frozen=True)
class JournalRow:
    id: str
    damage: Callable[[Path], None]
    line: str  # {journal} is the journal's path
    hint: str = ""
    code: int = 1


def _schema() -> int:
    from mea_culpa.journal import SCHEMA_VERSION

    return SCHEMA_VERSION


JOURNAL_ROWS = [
    JournalRow(
        "journal-truncated", _truncate, "error: the journal {journal} is damaged (database disk image is malformed)",
        "move it aside (it is kept as it is) and run again to start a fresh journal",
    ),
    JournalRow(
        "journal-corrupted", _corrupt, "error: the journal {journal} is damaged (file is not a database)",
        "move it aside (it is kept as it is) and run again to start a fresh journal",
    ),
    JournalRow(
        "journal-newer-schema", _newer,
        "error: the journal {journal} was written by a newer mea-culpa (schema 99; this one reads up to {schema})",
        "upgrade mea-culpa; the journal was left untouched",
    ),
]


@pytest.mark.parametrize("row", JOURNAL_ROWS, ids=[r.id for r in JOURNAL_ROWS])
def test_a_damaged_or_newer_journal_is_refused_and_left_as_it_is(row: JournalRow, baseline_journal: Path, tmp_path: Path):
    home = tmp_path / "home"
    journal = install_journal(baseline_journal, home)
    row.damage(journal)
    before = snapshot(journal)
    for args in (
        ("start", str(BAD / "base.yaml"), "--answers", str(BAD / "answers.yaml"), "--no-input"),
        ("resume", "--no-input"),
    ):
        result = run_process(*args, home=home, cwd=tmp_path)
        assert_clean_failure(result, row.line.format(journal=journal, schema=_schema()), row.code)
        assert result.err.splitlines()[1] == row.hint
        assert snapshot(journal) == before


def test_home_not_writable_says_where_and_what_to_do(tmp_path: Path):
    """Row home-not-writable. Tests run as root here, where chmod cannot deny a write; a home
    whose parent is a regular file cannot be created by anyone, root included."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    home = blocker / "home"
    result = run_process(
        "start", str(BAD / "base.yaml"), "--answers", str(BAD / "answers.yaml"), "--no-input", home=home, cwd=tmp_path
    )
    assert_clean_failure(result, f"error: cannot create {home}: Not a directory", 1)
    assert result.err.splitlines()[1] == "set MEA_CULPA_HOME to a folder you can write, or use --no-save"
    assert blocker.read_text(encoding="utf-8") == "not a folder\n"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes through chmod; see home-not-writable")
def test_home_read_only_by_permissions_is_refused_with_the_same_hint(baseline_journal: Path, tmp_path: Path):
    """Row home-read-only (when not root)."""
    home = tmp_path / "home"
    journal = install_journal(baseline_journal, home)
    before = snapshot(journal)
    journal.chmod(0o444)
    home.chmod(0o555)
    try:
        result = run_process(
            "start", str(BAD / "base.yaml"), "--answers", str(BAD / "answers.yaml"), "--no-input", home=home, cwd=tmp_path
        )
    finally:
        home.chmod(0o755)
        journal.chmod(0o644)
    assert "Traceback" not in result.err
    assert result.code == 1
    assert result.first_error.startswith("error: cannot ") or "read-only" in result.first_error
    assert snapshot(journal)[0] == before[0]


def test_disk_full_while_saving_is_one_line_and_the_journal_keeps_what_it_had(
    cli, journal: Path, monkeypatch: pytest.MonkeyPatch
):
    """Row disk-full-saving, simulated for real: SQLite is told the file may not grow, so it
    fails with SQLITE_FULL ("database or disk is full") as on a full disk."""
    from sqlite3 import dbapi2  # the module SQLAlchemy's SQLite dialect connects through

    real_connect = dbapi2.connect

    def connect_on_a_full_disk(database, *args, **kwargs):
        conn = real_connect(database, *args, **kwargs)
        if str(database) != ":memory:":  # the scratch journal of a --no-input run lives in memory
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    with sqlite3.connect(journal) as conn:
        conn.execute("VACUUM")  # no free pages left inside the file: a new session must grow it
    conn.close()
    monkeypatch.setattr(dbapi2, "connect", connect_on_a_full_disk)
    before = snapshot(journal)
    with sqlite3.connect(journal) as conn:
        sessions_before = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
    conn.close()
    long_answers = dict(MINI_ANSWERS, what_happened="x" * 20_000)  # more than the free room in the file's pages
    result = cli("start", str(MINI), "--answers", _write_answers(journal.parent.parent, long_answers), "--no-input")
    monkeypatch.undo()
    assert_clean_failure(result, f"error: cannot write the journal {journal}: the disk is full", 1)
    assert result.err.splitlines()[1] == "free some space; nothing saved before this answer is lost"
    with sqlite3.connect(journal) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == sessions_before
    conn.close()
    assert snapshot(journal)[0] == before[0]


def _write_answers(folder: Path, answers: dict) -> str:
    path = folder / "mini-answers.yaml"
    path.write_text(yaml.safe_dump(answers, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


def test_disk_full_while_exporting_leaves_no_half_file(cli, journal: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Row disk-full-exporting: the write fails at its flush (ENOSPC); nothing appears under
    the target name and no temporary file is left behind."""
    pytest.importorskip("mea_culpa.files")
    monkeypatch.chdir(tmp_path)
    session_id = "2026-11-22-bad-example"
    with sqlite3.connect(journal) as conn:
        session_id = conn.execute("SELECT id FROM sessions").fetchone()[0]
    conn.close()

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    result = cli("export", session_id, "--format", "md", "-o", "report.md")
    monkeypatch.undo()
    assert_clean_failure(result, "error: cannot write report.md: No space left on device", 1)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "bad") == []


def test_stdin_not_a_terminal_runs_as_no_input_and_names_what_is_missing(baseline_journal: Path, tmp_path: Path):
    """Row stdin-not-a-terminal."""
    home = tmp_path / "home"
    journal = install_journal(baseline_journal, home)
    before = snapshot(journal)
    result = run_process("start", str(MINI), home=home, cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert_clean_failure(result, "(no terminal to ask questions: running as with --no-input)", 2)
    assert result.err.splitlines()[1] == "missing answer: severity: an answer is needed (How bad?)"
    assert result.err.splitlines()[-1].startswith("give them with --answers FILE or --set ID=VALUE")
    assert snapshot(journal) == before


# --- a real terminal: narrow, colourless, dumb ------------------------------------------

SGR_COLOUR = re.compile(r"\x1b\[[0-9;]*(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")


@dataclass(frozen=True)
class TerminalRow:
    id: str
    env: dict[str, str] = field(default_factory=dict)
    columns: int = 80


TERMINAL_ROWS = [
    TerminalRow("terminal-20-columns", {"TERM": "xterm-256color"}, columns=20),
    TerminalRow("no-color", {"TERM": "xterm-256color", "NO_COLOR": "1"}),
    TerminalRow("term-dumb", {"TERM": "dumb", "NO_COLOR": "1"}, columns=20),
]


@pytest.mark.pty
@pytest.mark.parametrize("row", TERMINAL_ROWS, ids=[r.id for r in TERMINAL_ROWS])
def test_the_run_works_in_an_odd_terminal_and_ctrl_c_keeps_the_answers(row: TerminalRow, tmp_path: Path):
    pexpect = pytest.importorskip("pexpect")
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEA_CULPA_") and k not in ("NO_COLOR", "TERM")}
    # pexpect does not answer prompt_toolkit's cursor-position request; without this it waits for one
    env.update(MEA_CULPA_HOME=str(home), MEA_CULPA_CONFIG=str(tmp_path / "config"), PROMPT_TOOLKIT_NO_CPR="1", **row.env)
    child = pexpect.spawn(
        sys.executable, ["-m", "mea_culpa", "start", str(MINI), "--title", "odd terminal"],
        env=env, cwd=str(tmp_path), dimensions=(24, row.columns), encoding="utf-8", timeout=20,
    )
    seen = []
    try:
        child.expect("How bad")
        seen.append(child.before + child.after)
        child.send("\x1b[B\r")  # Down, Enter: "minor"
        child.expect("What happened")
        seen.append(child.before + child.after)
        child.send("A typo in the price list\r\r")
        child.expect("How many")
        seen.append(child.before + child.after)
        child.sendcontrol("c")
        child.expect(pexpect.EOF)
        seen.append(child.before)
    finally:
        child.close(force=True)
    screen = "".join(seen)
    assert child.exitstatus == 130, screen
    assert "Traceback" not in screen
    assert "resume with: mea-culpa resume" in screen
    if "NO_COLOR" in row.env:
        assert not SGR_COLOUR.search(screen), repr(SGR_COLOUR.search(screen))
    from mea_culpa.journal import open_journal

    with open_journal(home / "journal.sqlite3", create=False) as journal:
        session = journal.load(journal.resolve(None, status="in-progress"))
    assert session.steps["severity"].value == "minor"
    assert session.steps["what_happened"].value == "A typo in the price list"


# --- files, streams and arguments -------------------------------------------------------
# What the command line can name that is not a plain file, text that is not UTF-8, and the
# reader of a pipe that leaves early.


def test_check_refuses_a_device_at_once(cli):
    """Row check-a-device: it used to read /dev/zero until memory ran out."""
    result = cli("check", "/dev/zero")
    assert_clean_failure(
        result, "error: cannot read '/dev/zero': it is a character device, not a regular file; give a file path or - for standard input", 2
    )


def test_check_refuses_a_fifo_without_waiting(cli, tmp_path: Path, monkeypatch):
    """Row check-a-fifo: nobody writes to it; it used to wait for ever."""
    monkeypatch.chdir(tmp_path)
    os.mkfifo("pipe.txt")
    result = cli("check", "pipe.txt")
    assert_clean_failure(
        result, "error: cannot read 'pipe.txt': it is a FIFO (named pipe), not a regular file; give a file path or - for standard input", 2
    )


def test_check_reads_at_most_its_limit_from_standard_input(tmp_path: Path):
    """Row check-endless-stdin: `check - < /dev/zero` used to read until memory ran out."""
    with open("/dev/zero", "rb") as zero:
        result = run_process("check", "-", home=tmp_path / "home", cwd=tmp_path, stdin=zero.fileno())
    assert_clean_failure(result, "error: standard input holds more than 1,000,000 bytes; check a shorter text", 2)


def test_validate_and_start_refuse_a_device_or_a_fifo_at_once(cli, tmp_path: Path, monkeypatch, journal: Path):
    """Rows validate-a-device and playbook-fifo: they used to read /dev/zero until memory ran
    out, and to wait for ever on a FIFO."""
    monkeypatch.chdir(tmp_path)
    os.mkfifo("pipe.yaml")
    for name, line in (
        ("/dev/zero", "/dev/zero: is a character device, not a regular file"),
        ("pipe.yaml", "pipe.yaml: is a FIFO (named pipe), not a regular file"),
    ):
        checked = cli("validate", name)
        assert (checked.code, checked.out) == (2, line + "\n")
        assert_clean_failure(cli("start", name, "--answers", str(BAD / "answers.yaml"), "--no-input"), line, 2)


@pytest.mark.parametrize(
    "args",
    [
        ["export", "-f", "md"], ["export", "-f", "json"], ["draft", "-m", "note"], ["list"], ["show", "general"], ["schema"],
        ["validate", str(BAD / "base.yaml")], ["check", str(BAD / "note.j2")],
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_a_reader_that_leaves_early_is_no_error(args: list[str], baseline_journal: Path, tmp_path: Path):
    """Row broken-pipe: `mea-culpa export | head -0` used to exit 1."""
    home = tmp_path / "home"
    install_journal(baseline_journal, home)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MEA_CULPA_")}
    environ.update(MEA_CULPA_HOME=str(home), MEA_CULPA_CONFIG=str(tmp_path / "config"), NO_COLOR="1")
    reader, writer = os.pipe()
    os.close(reader)  # the reader has left before anything is written
    try:
        proc = subprocess.run([sys.executable, "-m", "mea_culpa", *args], stdout=writer, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, env=environ, cwd=BAD, text=True, timeout=60)
    finally:
        os.close(writer)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and not any(line.startswith("error") for line in proc.stderr.splitlines())


def test_output_through_a_link_to_a_device_or_into_a_fifo_is_written_not_replaced(cli, journal: Path, tmp_path: Path, monkeypatch):
    """Row output-device: `export -o /dev/stdout --force` (as root) used to replace /dev/stdout,
    a link, with a regular file. Here the link is the test's own, to /dev/null."""
    monkeypatch.chdir(tmp_path)
    Path("stdout").symlink_to("/dev/null")
    result = cli("export", "-o", "stdout", "--force")
    assert result.code == 0, result.err
    assert Path("stdout").is_symlink() and os.readlink("stdout") == "/dev/null"
    assert cli("export", "-o", "stdout").code == 0  # nothing is replaced: no --force needed

    import threading

    os.mkfifo("pipe")
    got: list[bytes] = []
    reading = threading.Thread(target=lambda: got.append(Path("pipe").read_bytes()))
    reading.start()
    try:
        for _ in range(200):  # wait until the reader has the FIFO open
            result = cli("export", "-o", "pipe", "-f", "json")
            if result.code == 0:
                break
            assert result.first_error == "error: cannot write pipe: nobody is reading from it"
            time.sleep(0.01)
    finally:
        reading.join(timeout=10)
    assert result.code == 0, result.err
    assert json.loads(got[0])["schema_version"] == 2
    assert Path("pipe").is_fifo()


def test_output_to_a_fifo_nobody_reads_is_refused_without_waiting(cli, journal: Path, tmp_path: Path, monkeypatch):
    """Row output-fifo-nobody-reading."""
    monkeypatch.chdir(tmp_path)
    os.mkfifo("pipe")
    assert_clean_failure(cli("export", "-o", "pipe"), "error: cannot write pipe: nobody is reading from it", 1)


def test_output_to_a_socket_is_refused(cli, journal: Path, tmp_path: Path, monkeypatch):
    """Row output-not-a-file."""
    import socket

    monkeypatch.chdir(tmp_path)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("sock")
        assert_clean_failure(cli("export", "-o", "sock", "--force"), "error: sock is a socket; name a regular file to write", 2)


def test_an_output_name_too_long_for_the_system_is_one_line(cli, journal: Path, tmp_path: Path, monkeypatch):
    """Row output-name-too-long: it used to end in "internal problem (OSError…)"."""
    monkeypatch.chdir(tmp_path)
    name = "a" * 300 + ".md"
    for command in ("export", "draft"):
        args = [command, "-o", name] + (["-m", "note"] if command == "draft" else [])
        assert_clean_failure(
            cli(*args), f"error: cannot write {name[:79]}…: the name is too long for this system; choose a shorter one", 2
        )


def test_a_playbook_name_too_long_for_the_system_is_one_line(cli, journal: Path):
    """Row playbook-name-too-long: `start` and `show` ended in "internal problem (OSError…)"."""
    name = "a" * 300 + ".yaml"
    line = f"{name}: the name is too long for this system"
    assert_clean_failure(cli("start", name, "--no-input"), line, 2)
    assert_clean_failure(cli("show", name), line, 2)
    checked = cli("validate", name)
    assert (checked.code, checked.out) == (2, line + "\n")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--title", "inv\udcffoice"], "error: --title: not valid UTF-8 (byte 0xff); give it as UTF-8 text"),
        (["--tag", "\udcff"], "error: --tag: not valid UTF-8 (byte 0xff); give it as UTF-8 text"),
        (["--set", "lesson=\udcff"], "error: --set: not valid UTF-8 (byte 0xff); give it as UTF-8 text"),
    ],
    ids=["title", "tag", "set"],
)
def test_an_argument_that_is_not_utf8_is_one_line(args: list[str], line: str, cli, journal: Path):
    """Row argument-not-utf8: Python keeps the byte 0xff of an argument as U+DCFF, which
    the journal cannot store; it used to end in "internal problem (UnicodeEncodeError…)"."""
    before = snapshot(journal)
    result = cli("start", str(MINI), "--answers", str(BAD / "answers.yaml"), "--no-input", *args)
    assert_clean_failure(result, line, 2)
    assert snapshot(journal) == before


def test_a_session_id_that_is_not_utf8_is_one_line(cli, journal: Path):
    for command in ("export", "draft", "resume"):
        assert_clean_failure(cli(command, "\udcff"), "error: SESSION: not valid UTF-8 (byte 0xff); give it as UTF-8 text", 2)


def test_a_page_number_too_large_for_the_journal_is_one_line(cli, journal: Path):
    """Row history-page-huge: it ends in "internal problem (OverflowError…)"."""
    result = cli("history", "--page", "99999999999999999999")
    assert result.code == 2 and "internal problem" not in result.err


def test_draft_edit_stopped_by_a_signal_leaves_no_temporary_file(baseline_journal: Path, tmp_path: Path):
    """Rows edit-sigterm: the editor's temporary folder used to stay behind on SIGTERM
    and SIGHUP."""
    import signal

    for sig in (signal.SIGTERM, signal.SIGHUP):
        home = tmp_path / sig.name / "home"
        install_journal(baseline_journal, home)
        seen = tmp_path / sig.name / "editing"
        editor = tmp_path / sig.name / "editor.py"
        editor.write_text(f"import sys, time\nopen({str(seen)!r}, 'w').write(sys.argv[1])\ntime.sleep(60)\n", encoding="utf-8")
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("MEA_CULPA_", "VISUAL", "EDITOR"))}
        environ.update(MEA_CULPA_HOME=str(home), MEA_CULPA_CONFIG=str(tmp_path / "config"), NO_COLOR="1",
                       EDITOR=f"{sys.executable} {editor}")
        proc = subprocess.Popen([sys.executable, "-m", "mea_culpa", "draft", "-m", "note", "--edit"], cwd=BAD, env=environ,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        try:
            for _ in range(1000):
                if seen.exists() and seen.read_text():
                    break
                time.sleep(0.01)
            draft_file = Path(seen.read_text())
            assert draft_file.exists()
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert proc.returncode == 130, err
        assert err.strip().splitlines()[-1].startswith("Stopped. The draft as rendered is kept in session ")
        assert not draft_file.parent.exists(), f"{draft_file.parent} was left behind"


@pytest.mark.parametrize("command", ["start", "check", "list"])
def test_the_home_is_created_private_by_whichever_command_makes_it(command: str, tmp_path: Path):
    """Row home-created-private: `check` on a fresh home used to create it 0755 (the
    apology check's caches were written first). Now only what writes the journal makes
    the home, 0700; `check` and `list` write nothing there and make none."""
    home = tmp_path / "new" / "home"
    (tmp_path / "apology.txt").write_text("I'm sorry.\n", encoding="utf-8")
    args = {
        "start": ["start", str(BAD / "base.yaml"), "--answers", str(BAD / "answers.yaml"), "--no-input"],
        "check": ["check", str(tmp_path / "apology.txt")],
        "list": ["list"],
    }[command]
    result = run_process(*args, home=home, cwd=tmp_path)
    assert result.code in (0, 1), result.err  # check: 1 when the apology falls short
    if command == "start":
        assert stat.S_IMODE(home.stat().st_mode) == 0o700
    else:
        assert not home.exists()


# --- the journal's own file -----------------------------------------------------------


def _copies_started_at(journal: Path, *starts: str) -> None:
    """Copies of the journal's session whose start times are `starts`, as another
    program (or a hand) could write them."""
    conn = sqlite3.connect(journal, isolation_level=None)
    try:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(sessions)")]
        (first,) = conn.execute("SELECT id FROM sessions ORDER BY rowid LIMIT 1").fetchone()
        for n, start in enumerate(starts):
            values = ", ".join({"id": "?", "uid": "NULL", "created_at": "?"}.get(c, c) for c in columns)
            conn.execute(f"INSERT INTO sessions ({', '.join(columns)}) SELECT {values} FROM sessions WHERE id = ?",
                         (f"{first}-{n}", start, first))
    finally:
        conn.close()
    settle(journal)


def test_stats_counts_a_start_time_that_is_no_date_in_no_month(baseline_journal: Path, tmp_path: Path):
    """Row stats-start-not-iso: `stats` counted months from the first start time to the
    last as text, and "yesterday" is never reached (it looped for ever); "March 2, 2026"
    ended in "internal problem"."""
    home = tmp_path / "home"
    journal = install_journal(baseline_journal, home)
    with sqlite3.connect(journal) as conn:
        (month,) = conn.execute("SELECT substr(created_at, 1, 7) FROM sessions").fetchone()
    conn.close()
    _copies_started_at(journal, "yesterday", "March 2, 2026")
    before = snapshot(journal)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MEA_CULPA_")}
    for args in (["stats"], ["stats", "--json"]):
        proc = subprocess.run([sys.executable, "-m", "mea_culpa", *args], cwd=tmp_path, capture_output=True, text=True,
                              env={**environ, "MEA_CULPA_HOME": str(home), "NO_COLOR": "1"}, timeout=30)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    assert (report["sessions"], report["per_month"]) == (3, {month: 1})
    assert snapshot(journal) == before


def _another_programs_database(journal: Path) -> None:
    journal.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(journal, isolation_level=None)
    try:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('the shopping list')")
    finally:
        conn.close()


def _from_a_newer_mea_culpa(journal: Path) -> None:
    """A journal at a revision this mea-culpa does not know, as a tool may leave it: in
    SQLite's rollback-journal mode."""
    conn = sqlite3.connect(journal, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("UPDATE alembic_version SET version_num = '0099_future'")
    finally:
        conn.close()


def _without_its_revision(journal: Path) -> None:
    conn = sqlite3.connect(journal, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("DROP TABLE alembic_version")
    finally:
        conn.close()


REFUSED_FILES = [
    ("journal-foreign-sqlite", _another_programs_database,
     "error: {journal} is not a mea-culpa journal: it is a SQLite database of another program (tables: notes)"),
    ("journal-refused-untouched", _from_a_newer_mea_culpa,
     "error: the journal {journal} was written by a newer mea-culpa (schema 0099_future; this one reads up to {head})"),
    ("journal-refused-untouched", _without_its_revision,
     "error: the journal {journal} is damaged (schema {schema} without its revision)"),
]


@pytest.mark.parametrize(("row", "damage", "line"), REFUSED_FILES, ids=["foreign", "newer", "no-revision"])
def test_a_file_refused_as_a_journal_is_left_byte_for_byte(row: str, damage, line: str, baseline_journal: Path, tmp_path: Path):
    """Rows journal-foreign-sqlite and journal-refused-untouched: another program's SQLite
    file at the journal's path was adopted (the journal's tables made in it, switched to
    WAL); a journal refused on opening had been switched to WAL first."""
    from mea_culpa.journal.tables import HEAD

    home = tmp_path / "home"
    journal = home / "journal.sqlite3"
    if row != "journal-foreign-sqlite":
        install_journal(baseline_journal, home)
    damage(journal)
    before = snapshot(journal)
    expected = line.format(journal=journal, head=HEAD, schema=_schema())
    for args in (
        ("history",), ("stats",), ("export",), ("journal", "info"),
        ("start", str(BAD / "base.yaml"), "--answers", str(BAD / "answers.yaml"), "--no-input"),
    ):
        result = run_process(*args, home=home, cwd=tmp_path)
        assert_clean_failure(result, expected, 1)
        assert snapshot(journal) == before, args
        assert sorted(p.name for p in home.iterdir()) == ["journal.sqlite3"], args
    if row == "journal-foreign-sqlite":
        with sqlite3.connect(journal) as conn:
            assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["notes"]
        conn.close()


def _on_a_full_disk() -> None:
    """In the child: no file may grow past 16 KiB. SQLite cannot then give the shared
    index of a WAL journal its 32 KiB, as on a disk with no room left."""
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the full disk is simulated with RLIMIT_FSIZE, as Linux applies it")
def test_on_a_full_disk_the_journal_is_still_read_and_exported(baseline_journal: Path, tmp_path: Path):
    """Row disk-full-reading: every command failed with "disk I/O error", even `export`."""
    home = tmp_path / "home"
    journal = install_journal(baseline_journal, home)
    before = snapshot(journal)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MEA_CULPA_")}
    environ.update(MEA_CULPA_HOME=str(home), MEA_CULPA_CONFIG=str(tmp_path / "config"), NO_COLOR="1")

    def run(*args: str) -> Result:
        proc = subprocess.run([sys.executable, "-m", "mea_culpa", *args], cwd=tmp_path, env=environ, capture_output=True,
                              text=True, timeout=60, preexec_fn=_on_a_full_disk)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    for args, seen in ((("history",), "Bad example"), (("actions", "--all"), "No action items"), (("stats",), "1 session"),
                       (("journal", "info"), "sessions: 1"), (("export", "-f", "json"), '"title"'), (("export",), "# ")):
        result = run(*args)
        assert (result.code, "Traceback" in result.err) == (0, False), (args, result.err)
        assert seen in result.out + result.err, args
        assert snapshot(journal)[:2] == before[:2], args
    result = run("start", str(BAD / "base.yaml"), "--answers", str(BAD / "answers.yaml"), "--no-input")
    assert_clean_failure(result, f"error: cannot use the journal {journal}: disk I/O error", 1)
    assert result.err.splitlines()[1].startswith("the disk may be full")
    assert snapshot(journal)[:2] == before[:2]


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["history", "--tag", "\udcff"], "--tag"),
        (["history", "--playbook", "\udcff"], "--playbook"),
        (["history", "--author", "\udcff"], "--author"),
        (["actions", "--owner", "\udcff"], "--owner"),
        (["actions", "--session", "\udcff"], "--session"),
        (["actions", "drop", "1", "--reason", "\udcff"], "--reason"),
        (["stats", "--author", "\udcff"], "--author"),
        (["forget", "\udcff", "--yes"], "SESSION"),
        (["history", "--database", "\udcff"], "--database"),
        (["journal", "copy", "--to", "\udcff"], "--to"),
    ],
    ids=lambda v: v if isinstance(v, str) else " ".join(a for a in v if a != "\udcff"),
)
def test_a_journal_command_argument_that_is_not_utf8_is_one_line(args: list[str], option: str, cli, journal: Path):
    """Row journal-argument-not-utf8: they ended in "internal problem (UnicodeEncodeError…)"."""
    before = snapshot(journal)
    assert_clean_failure(cli(*args), f"error: {option}: not valid UTF-8 (byte 0xff); give it as UTF-8 text", 2)
    assert snapshot(journal) == before


# --- user text: any unicode survives the journal and every export ----------------------

ODD_TEXT = (
    "Sorry 🙏🏽 — we failed you. שלום, عذرًا (right to left) ‮reversed‬ "
    "tab\there, a bell\x07, an escape \x1b[31mred\x1b[0m, zero\u200bwidth, <b>bold</b> & \"quotes\" 'too'"
)
# What a text export (Markdown, HTML) shows of it: every character but the bell, the
# escape sequence and the bidirectional override, which a terminal would act on.
ODD_TEXT_SHOWN = ODD_TEXT.replace("\x07", "").replace("\x1b[31m", "").replace("\x1b[0m", "").replace("\u202e", "").replace("\u202c", "")


def test_unicode_in_every_answer_survives_the_journal_and_every_export(cli, tmp_path: Path, monkeypatch, journal: Path):
    """Row unicode-answers: emoji, right-to-left text, control characters, HTML."""
    monkeypatch.chdir(tmp_path)
    answers = dict(MINI_ANSWERS)
    for key in ("what_happened", "contributing_factors", "responsibility", "lesson"):
        answers[key] = f"{key}: {ODD_TEXT}"
    answers["apology_sent"] = {"state": "skipped", "reason": ODD_TEXT}
    answers["prevention_actions"] = [{"what": ODD_TEXT, "owner": "Zoë ✓", "due": "2026-12-01"}]
    name = _write_answers(tmp_path, answers)
    started = cli("start", str(MINI), "--answers", name, "--no-input", "--title", "unicode")
    assert started.code == 0, started.err
    session_id = started.out.strip().splitlines()[-1]

    from mea_culpa.journal import open_journal

    with open_journal(journal, create=False) as opened:
        session = opened.load(session_id)
    for key in ("what_happened", "contributing_factors", "responsibility", "lesson"):
        assert session.steps[key].value == answers[key]
    assert session.steps["apology_sent"].reason == ODD_TEXT
    assert session.steps["prevention_actions"].value[0]["what"] == ODD_TEXT
    assert session.steps["prevention_actions"].value[0]["owner"] == "Zoë ✓"

    pytest.importorskip("mea_culpa.export.document")

    def export(fmt: str) -> str:
        result = cli("export", session_id, "--format", fmt, "-o", f"report.{fmt}")
        assert result.code == 0, result.err
        return (tmp_path / f"report.{fmt}").read_text(encoding="utf-8")

    blob = json.dumps(json.loads(export("json")), ensure_ascii=False)
    for key in ("what_happened", "lesson"):
        assert json.dumps(answers[key], ensure_ascii=False)[1:-1] in blob

    replay = yaml.safe_load(export("yaml"))["answers"]
    for key in ("what_happened", "contributing_factors", "responsibility", "lesson"):
        assert replay[key] == answers[key]
    assert replay["prevention_actions"][0]["what"] == ODD_TEXT

    import html

    as_html = export("html")
    assert html.escape(f"lesson: {ODD_TEXT_SHOWN}", quote=True) in as_html
    assert "<b>bold</b>" not in as_html  # user text never becomes markup

    # Markdown escapes `<`, and leaves out what would act on a terminal
    assert f"lesson: {ODD_TEXT_SHOWN}".replace("<", "\\<") in export("md")


def test_an_export_piped_to_stdout_keeps_the_text_but_not_its_escape_sequences(cli, tmp_path: Path, monkeypatch, journal: Path):
    monkeypatch.chdir(tmp_path)
    answers = dict(MINI_ANSWERS, lesson=ODD_TEXT)
    started = cli("start", str(MINI), "--answers", _write_answers(tmp_path, answers), "--no-input")
    assert started.code == 0, started.err
    exported = cli("export", started.out.strip().splitlines()[-1], "--format", "md")
    assert exported.code == 0
    assert ODD_TEXT_SHOWN.replace("<", "\\<") in exported.out
    assert "\x1b" not in exported.out and "\x07" not in exported.out


# --- the table and the tests agree ---------------------------------------------------

TESTED_ELSEWHERE = {
    "check-a-device": test_check_refuses_a_device_at_once,
    "check-a-fifo": test_check_refuses_a_fifo_without_waiting,
    "check-endless-stdin": test_check_reads_at_most_its_limit_from_standard_input,
    "validate-a-device": test_validate_and_start_refuse_a_device_or_a_fifo_at_once,
    "playbook-fifo": test_validate_and_start_refuse_a_device_or_a_fifo_at_once,
    "broken-pipe": test_a_reader_that_leaves_early_is_no_error,
    "output-device": test_output_through_a_link_to_a_device_or_into_a_fifo_is_written_not_replaced,
    "output-fifo-nobody-reading": test_output_to_a_fifo_nobody_reads_is_refused_without_waiting,
    "output-not-a-file": test_output_to_a_socket_is_refused,
    "output-name-too-long": test_an_output_name_too_long_for_the_system_is_one_line,
    "argument-not-utf8": test_an_argument_that_is_not_utf8_is_one_line,
    "playbook-name-too-long": test_a_playbook_name_too_long_for_the_system_is_one_line,
    "session-not-utf8": test_a_session_id_that_is_not_utf8_is_one_line,
    "history-page-huge": test_a_page_number_too_large_for_the_journal_is_one_line,
    "edit-sigterm": test_draft_edit_stopped_by_a_signal_leaves_no_temporary_file,
    "home-created-private": test_the_home_is_created_private_by_whichever_command_makes_it,
    "sandbox-recursion": test_sandbox_recursion_in_a_message_template_is_refused_when_drafted,
    "home-not-writable": test_home_not_writable_says_where_and_what_to_do,
    "home-read-only": test_home_read_only_by_permissions_is_refused_with_the_same_hint,
    "disk-full-saving": test_disk_full_while_saving_is_one_line_and_the_journal_keeps_what_it_had,
    "disk-full-exporting": test_disk_full_while_exporting_leaves_no_half_file,
    "stdin-not-a-terminal": test_stdin_not_a_terminal_runs_as_no_input_and_names_what_is_missing,
    "unicode-answers": test_unicode_in_every_answer_survives_the_journal_and_every_export,
    "stats-start-not-iso": test_stats_counts_a_start_time_that_is_no_date_in_no_month,
    "journal-foreign-sqlite": test_a_file_refused_as_a_journal_is_left_byte_for_byte,
    "journal-refused-untouched": test_a_file_refused_as_a_journal_is_left_byte_for_byte,
    "disk-full-reading": test_on_a_full_disk_the_journal_is_still_read_and_exported,
    "journal-argument-not-utf8": test_a_journal_command_argument_that_is_not_utf8_is_one_line,
}


def test_every_row_of_the_table_has_its_test_and_every_test_its_row():
    rows = re.findall(r"^\| `([a-z0-9-]+)` \|", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert len(rows) == len(set(rows)), "duplicate ids in docs/bad-inputs.md"
    tested = (
        [r.id for r in PLAYBOOK_ROWS] + [r.id for r in RUNTIME_ROWS] + [r.id for r in ANSWERS_ROWS]
        + [r.id for r in JOURNAL_ROWS] + [r.id for r in TERMINAL_ROWS] + [r[0] for r in DRAFT_ROWS] + list(TESTED_ELSEWHERE)
    )
    assert sorted(rows) == sorted(tested)


def test_a_bom_and_crlf_alone_are_not_mistakes(cli, workdir: Path, journal: Path):
    base = (BAD / "base.yaml").read_bytes()
    (workdir / "fine.yaml").write_bytes(b"\xef\xbb\xbf" + base.replace(b"\n", b"\r\n"))
    assert cli("validate", "fine.yaml").code == 0
    assert cli("start", "fine.yaml", "--answers", "answers.yaml", "--no-input").code == 0


def test_every_fixture_is_used_by_a_row():
    used = {r.file for r in PLAYBOOK_ROWS + RUNTIME_ROWS if isinstance(r.file, str)}
    support = {"base.yaml", "answers.yaml", "sandbox-recursion.yaml"}
    assert {p.name for p in BAD.glob("*.yaml")} == used | support


