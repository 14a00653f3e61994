"""The quiet line after an interactive command when something is overdue: shown at a
terminal (a real pseudo-terminal), never into a pipe or with --json."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mea_culpa.journal import open_journal
from terminal_helpers import plain, run_env, spawn
from test_journal import item, record

pytestmark = pytest.mark.pty
LINE = "1 item is overdue; see it with: mea-culpa actions --overdue"


@pytest.fixture
def overdue_home(isolated_home: Path) -> Path:
    with open_journal() as journal:
        record(journal, "2026-03-02-checkout-down", actions=[item("Add a canary", due="2001-01-01"), item("Later", due="2999-01-01")])
    return isolated_home


def at_terminal(home: Path, tmp_path: Path, *args: str) -> str:
    child = spawn(list(args), run_env(home, MEA_CULPA_USER="Test Person"), tmp_path)
    out = child.read()
    child.close()
    assert child.exitstatus == 0, out
    return plain(out)


@pytest.mark.parametrize("command", [["history"], ["actions"]])
def test_an_interactive_command_ends_with_one_quiet_line_when_something_is_overdue(overdue_home, tmp_path, command):
    screen = at_terminal(overdue_home, tmp_path, *command)
    assert screen.count(LINE) == 1 and screen.rstrip().endswith(LINE)


@pytest.mark.parametrize("command", [["history", "--json"], ["actions", "--json"], ["actions", "--overdue"]])
def test_no_line_with_json_or_when_the_overdue_items_are_the_listing(overdue_home, tmp_path, command):
    assert "overdue; see" not in at_terminal(overdue_home, tmp_path, *command)


def test_no_line_into_a_pipe(overdue_home, tmp_path):
    done = subprocess.run([sys.executable, "-m", "mea_culpa", "history"], env=run_env(overdue_home), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "overdue" not in done.stdout + done.stderr


def test_no_line_when_nothing_is_overdue(isolated_home, tmp_path):
    with open_journal() as journal:
        record(journal, "2026-03-02-checkout-down", actions=[item("Later", due="2999-01-01")])
    assert "overdue" not in at_terminal(isolated_home, tmp_path, "history")
