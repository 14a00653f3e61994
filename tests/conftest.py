"""Shared fixtures: every test runs with its own home, config and empty search path."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import conftest_hypothesis  # noqa: F401  (registers the hypothesis profiles before pytest reads --hypothesis-profile)

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point all state at a fresh folder, so no test reads or writes the real journal."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("MEA_CULPA_HOME", str(home))
    monkeypatch.setenv("MEA_CULPA_CONFIG", str(home / "config"))
    monkeypatch.delenv("MEA_CULPA_PATH", raising=False)
    monkeypatch.delenv("MEA_CULPA_DEBUG", raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture
def write(tmp_path: Path):
    """Write dedented text to a file under tmp_path and return its path."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def mini_playbook_path() -> Path:
    return DATA / "playbooks" / "mini.yaml"


@pytest.fixture
def cli(capsys):
    """Run the real entry point in-process: `code, out, err = cli("list", "--json")`."""
    from mea_culpa.cli.app import main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return run
