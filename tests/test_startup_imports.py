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
PYDANTIC = {"pydantic", "pydantic_core"}  # typer coerces parameters with it
NOT_ON_HELP = set(WATCHED)
# A command's parameters go through typer's coercion, which imports pydantic; the playbook
# format is pydantic models too. `list` reads the playbooks' YAML.
NOT_ON_COMMAND_HELP = NOT_ON_HELP - PYDANTIC
NOT_ON_LIST = NOT_ON_COMMAND_HELP - {"yaml"}

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

    from mea_culpa.cli.app import app

    return set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["-h"]], ids=["help", "version", "h"])
def test_help_and_version_import_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    """Every command module is imported to register its command: none may import more than typer."""
    assert imported(tmp_path, *args) & NOT_ON_HELP == set()


def test_list_imports_no_prompts_jinja_or_rich(tmp_path: Path) -> None:
    assert imported(tmp_path, "list") & NOT_ON_LIST == set()


def test_command_help_imports_nothing_heavy(tmp_path: Path) -> None:
    assert imported(tmp_path, "start", "--help") & NOT_ON_COMMAND_HELP == set()


def test_check_imports_no_prompts(tmp_path: Path) -> None:
    if "check" not in registered_commands():
        pytest.skip("no `check` command in this build")
    text = tmp_path / "apology.txt"
    text.write_text("I am sorry I sent your order to the wrong address. I will fix it today.\n", encoding="utf-8")
    # exit 1 is the check's verdict on the text, not a failure of the command
    assert imported(tmp_path, "check", str(text), ok_codes=(0, 1)) & (PROMPTS | {"jinja2"}) == set()


def test_a_run_without_input_imports_no_prompts(tmp_path: Path) -> None:
    answers = DATA / "answers" / "general.yaml"
    found = imported(tmp_path, "start", "general", "--answers", str(answers), "--no-input", "--tag", "bench")
    assert found & PROMPTS == set()


def test_export_imports_no_prompts_and_no_rich(tmp_path: Path) -> None:
    """Export writes text for a pipe: it needs neither the prompts nor the rich face."""
    answers = DATA / "answers" / "general.yaml"
    all_imported(tmp_path, "start", "general", "--answers", str(answers), "--no-input")
    found = all_imported(tmp_path, "export", "-f", "md")
    assert {name.split(".")[0] for name in found} & (PROMPTS | {"rich"}) == set()


def test_a_draft_imports_no_prompts(tmp_path: Path) -> None:
    answers = DATA / "answers" / "general.yaml"
    all_imported(tmp_path, "start", "general", "--answers", str(answers), "--no-input")
    found = all_imported(tmp_path, "draft", "--message", "customer-apology")
    assert {name.split(".")[0] for name in found} & PROMPTS == set()
