"""The start-up path stays light: heavy modules are imported only by the commands that need them.

Each command runs in a fresh interpreter wrapped so that, at exit, it writes which of the
watched modules ended up in `sys.modules`. No timings here: those are in `benchmarks/run.py`;
this guard keeps the benchmark's start-up targets from regressing silently.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

# What the start-up must not pay for: prompts (questionary pulls in prompt_toolkit), Jinja,
# rich, pydantic (typer's coercion), YAML, SQLite and the calendar library.
WATCHED = (
    "questionary",
    "prompt_toolkit",
    "jinja2",
    "rich",
    "pydantic",
    "pydantic_core",
    "yaml",
    "sqlite3",
    "icalendar",
)
PROMPTS = {"questionary", "prompt_toolkit"}
PYDANTIC = {"pydantic", "pydantic_core"}  # see startup.keep_pydantic_lazy and docs/performance.md
NOT_ON_HELP = set(WATCHED)
# `list` reads the playbooks' YAML (see docs/performance.md for making that cheaper too)
NOT_ON_LIST = NOT_ON_HELP - {"yaml"}

# Run `python -m mea_culpa ARGS` (what the console script runs) and record the top-level
# packages imported. `main()` ends in SystemExit; atexit handlers still run after it.
WRAPPER = """
import atexit, json, runpy, sys
report = sys.argv[1]
def _write():
    with open(report, "w", encoding="utf-8") as f:
        json.dump(sorted(sys.modules), f)
atexit.register(_write)
sys.argv = ["mea-culpa", *sys.argv[2:]]
runpy.run_module("mea_culpa", run_name="__main__", alter_sys=True)
"""


def imported(tmp_path: Path, *args: str, ok_codes: tuple[int, ...] = (0,)) -> set[str]:
    """The watched packages that `mea-culpa ARGS` imported, in a fresh interpreter."""
    return {name.split(".")[0] for name in all_imported(tmp_path, *args, ok_codes=ok_codes)} & set(WATCHED)


def all_imported(tmp_path: Path, *args: str, ok_codes: tuple[int, ...] = (0,)) -> set[str]:
    """Every module `mea-culpa ARGS` imported, in a fresh interpreter (stderr is a pipe)."""
    report = tmp_path / "imported.json"
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(report), *args],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode in ok_codes, f"mea-culpa {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}"
    return set(json.loads(report.read_text(encoding="utf-8")))


def registered_commands() -> set[str]:
    import typer.main

    from mea_culpa.cli import app

    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"]], ids=["help", "version", "h"])
def test_help_and_version_import_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    """Every command module is imported to register its command: none may import more than typer."""
    assert imported(tmp_path, *args) & NOT_ON_HELP == set()


def test_list_imports_no_prompts_jinja_rich_or_pydantic(tmp_path: Path) -> None:
    assert imported(tmp_path, "list") & NOT_ON_LIST == set()


def test_command_help_imports_nothing_heavy(tmp_path: Path) -> None:
    assert imported(tmp_path, "start", "--help") & NOT_ON_HELP == set()


def test_check_imports_no_prompts(tmp_path: Path) -> None:
    if "check" not in registered_commands():
        pytest.skip("no `check` command in this build")
    text = tmp_path / "apology.txt"
    text.write_text("I am sorry I sent your order to the wrong address. I will fix it today.\n", encoding="utf-8")
    # exit 1 is the check's verdict on the text, not a failure of the command
    assert imported(tmp_path, "check", str(text), ok_codes=(0, 1)) & (PROMPTS | PYDANTIC) == set()


def test_a_run_without_input_imports_no_prompts(tmp_path: Path) -> None:
    answers = DATA / "answers" / "general.yaml"
    found = imported(tmp_path, "start", "general", "--answers", str(answers), "--no-input", "--tag", "bench")
    assert found & (PROMPTS | PYDANTIC) == set()


# What validating a playbook costs, which a stored one (playbook_cache.py) spares a run.
VALIDATOR = {"mea_culpa.playbook_format", "mea_culpa.schema"}


def test_a_repeated_run_without_input_uses_the_stored_playbook_and_no_rich(tmp_path: Path) -> None:
    """The second run of a playbook reads it from the store: no validator, no Jinja (its
    conditions are plain), and into a pipe its summary needs no rich. YAML stays: it reads
    the answers file."""
    answers = DATA / "answers" / "service-outage.yaml"
    args = ("start", "service-outage", "--answers", str(answers), "--no-input")
    first = all_imported(tmp_path, *args)
    assert VALIDATOR <= first  # the cold run validates (and so fills the store)
    again = all_imported(tmp_path, *args)
    assert again & VALIDATOR == set()
    # (hashlib is no longer watched: SQLAlchemy, which writes the journal, imports it)
    assert {name.split(".")[0] for name in again} & (PROMPTS | PYDANTIC | {"rich", "jinja2"}) == set()


def test_export_of_a_stored_playbook_reads_no_yaml_and_no_jinja(tmp_path: Path) -> None:
    answers = DATA / "answers" / "general.yaml"
    all_imported(tmp_path, "start", "general", "--answers", str(answers), "--no-input")
    found = all_imported(tmp_path, "export", "-f", "md")
    assert found & VALIDATOR == set()
    assert {name.split(".")[0] for name in found} & (PROMPTS | PYDANTIC | {"rich", "jinja2", "yaml"}) == set()


def test_a_draft_of_a_stored_playbook_reads_no_yaml(tmp_path: Path) -> None:
    """A draft renders with Jinja, but neither validates the playbook nor reads YAML
    (the apology rules are stored too)."""
    answers = DATA / "answers" / "general.yaml"
    all_imported(tmp_path, "start", "general", "--answers", str(answers), "--no-input")
    all_imported(tmp_path, "draft", "--message", "customer-apology")  # fills the rule store
    found = all_imported(tmp_path, "draft", "--message", "customer-apology")
    assert found & VALIDATOR == set()
    assert {name.split(".")[0] for name in found} & (PROMPTS | PYDANTIC | {"rich", "yaml"}) == set()


# --- startup.keep_pydantic_lazy: the stand-in coerces exactly as typer does -----------------


def _command():
    import typer
    import typer.main

    import mea_culpa.cli  # noqa: F401  (installs the stand-in)

    app = typer.Typer()

    @app.command()
    def sample(
        name: str | None = typer.Argument(None),
        count: int = typer.Option(20, min=1, max=100),
        clamped: int = typer.Option(5, min=1, max=10, clamp=True),
        path: Path | None = typer.Option(None),
        existing: Path | None = typer.Option(None, exists=True, dir_okay=False),
        many: list[Path] | None = typer.Option(None),
        words: list[str] | None = typer.Option(None),
        files: list[str] = typer.Argument(None),
    ) -> None:
        pass

    command = typer.main.get_command(app)
    return command, command.context_class(command)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("name", None),
        ("name", "2026-03-01-checkout-down"),
        ("name", ""),
        ("count", 20),
        ("count", 100),
        ("clamped", 5),
        ("path", None),
        ("path", "notes/today.md"),
        ("path", ""),
        ("path", "~/x"),
        ("existing", None),
        ("many", None),
        ("many", ()),
        ("many", ("a.yaml", "~/b", "")),
        ("words", ("customer", "", "x y")),
        ("files", ("-", "apology.txt")),
    ],
)
def test_the_pydantic_free_shortcut_gives_typers_own_values(tmp_path: Path, param: str, value: object) -> None:
    command, ctx = _command()
    p = next(x for x in command.params if x.name == param)
    fast = p.process_value(ctx, value)
    assert p._runtime_param is None  # the stand-in was used for the one call only
    slow = p.get_runtime_param().coerce(value, param=p, ctx=ctx)  # typer's pydantic adapter
    assert (type(fast), fast) == (type(slow), slow)


@pytest.mark.parametrize(
    ("param", "value"), [("count", 0), ("count", 101), ("clamped", 50), ("name", b"bytes"), ("words", "not-a-list")]
)
def test_values_the_shortcut_cannot_vouch_for_go_through_typer(param: str, value: object) -> None:
    import typer

    command, ctx = _command()
    p = next(x for x in command.params if x.name == param)
    try:
        fast: object = p.process_value(ctx, value)
    except typer.BadParameter as exc:
        fast = f"error: {exc.format_message()}"
    try:
        slow: object = p.get_runtime_param().coerce(value, param=p, ctx=ctx)
    except typer.BadParameter as exc:
        slow = f"error: {exc.format_message()}"
    assert fast == slow


def test_path_checks_stay_typers(tmp_path: Path) -> None:
    import typer

    command, ctx = _command()
    p = next(x for x in command.params if x.name == "existing")
    present = tmp_path / "answers.yaml"
    present.write_text("a: 1\n", encoding="utf-8")
    assert p.process_value(ctx, str(present)) == present
    for bad in (str(tmp_path / "missing.yaml"), str(tmp_path)):
        with pytest.raises(typer.BadParameter) as fast:
            p.process_value(ctx, bad)
        with pytest.raises(typer.BadParameter) as slow:
            p.get_runtime_param().coerce(bad, param=p, ctx=ctx)
        assert fast.value.format_message() == slow.value.format_message()


# --- startup.app_for: typer builds only what the arguments need, and says the same ----------


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["-h", "start"],
        ["--help", "--version"],
        ["--version"],
        ["--version", "--help"],
        ["start", "--help"],
        ["actions", "--help"],
        ["--debug", "list", "--help"],
        ["lst"],
        ["--bogus"],
        ["--debug"],
        ["show"],
    ],
    ids=lambda a: " ".join(a) or "no-args",
)
def test_building_only_the_command_asked_for_changes_no_output(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mea_culpa import cli

    def run() -> tuple[object, str, str]:
        with pytest.raises(SystemExit) as stop:
            cli.main(list(args))
            raise SystemExit(0)
        out, err = capsys.readouterr()
        return stop.value.code, out, err

    monkeypatch.setenv("COLUMNS", "100")
    lazy = run()
    monkeypatch.setattr(cli.startup, "app_for", lambda app, _args: app)
    assert lazy == run()
