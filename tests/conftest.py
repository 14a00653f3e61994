"""Shared fixtures: every test runs with its own home, config and empty search path."""

from __future__ import annotations

import contextlib
import inspect
import itertools
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import conftest_hypothesis  # noqa: F401  (registers the hypothesis profiles before pytest reads --hypothesis-profile)
import postgres_server

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
    # never the developer's team journal, and always the same author
    monkeypatch.delenv("MEA_CULPA_DATABASE_URL", raising=False)
    monkeypatch.setenv("MEA_CULPA_USER", "Test Person")
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


# --- PostgreSQL ----------------------------------------------------------------------------

_database_names = itertools.count(1)
SKIP_REASON = "PostgreSQL tests skipped: "
_skip_line = 0  # where the skip is raised, so that every skipped test reports the same place


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Every PostgreSQL test skipped for want of a server reports the same place, so `-ra`
    folds them into one line (pytest would name each test's own line)."""
    report = yield
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and SKIP_REASON in str(longrepr[2]):
        report.longrepr = (__file__, _skip_line, longrepr[2])
    return report


@pytest.fixture(scope="session")
def postgres() -> Iterator[postgres_server.PostgresServer]:
    """One throwaway PostgreSQL server for the whole run (tests/postgres_server.py). Without
    server binaries every test that needs it is skipped, under one reason; with
    MEA_CULPA_REQUIRE_POSTGRES=1 (CI) that is a failure instead."""
    try:
        server = postgres_server.start()
    except postgres_server.Unavailable as exc:
        if os.environ.get(postgres_server.REQUIRE_ENV) == "1":
            pytest.fail(f"{postgres_server.REQUIRE_ENV}=1, but {exc}", pytrace=False)
        global _skip_line
        frame = inspect.currentframe()
        _skip_line = frame.f_lineno + 1 if frame else 0
        pytest.skip(f"{SKIP_REASON}{exc}")
    try:
        yield server
    finally:
        with contextlib.suppress(postgres_server.Unavailable, OSError):
            if server.is_running():
                server.stop()
        server.remove()


@pytest.fixture
def postgres_database(postgres: postgres_server.PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database on the test server, dropped after the test."""
    name = f"empty_{os.getpid()}_{next(_database_names)}"
    url = postgres.create_database(name)
    yield url
    if postgres.is_running():
        postgres.drop_database(name)


@pytest.fixture(scope="session")
def postgres_template(postgres: postgres_server.PostgresServer) -> str:
    """A database holding an empty journal at the newest schema, made once; every test's
    journal database is a copy of it (CREATE DATABASE … TEMPLATE: tens of milliseconds,
    where running the migrations again would take a second)."""
    from mea_culpa.journal import upgrade_journal

    name = f"journal_template_{os.getpid()}"
    upgrade_journal(postgres.create_database(name))
    return name


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The journal a test works on, once per engine: the SQLite file in the test's home, and
    a fresh database on the test PostgreSQL server (set as MEA_CULPA_DATABASE_URL, so that
    the command line uses it too)."""
    if request.param == "sqlite":
        yield str(isolated_home / "journal.sqlite3")
        return
    server: postgres_server.PostgresServer = request.getfixturevalue("postgres")
    template = request.getfixturevalue("postgres_template")
    name = f"journal_{os.getpid()}_{next(_database_names)}"
    url = server.create_database(name, template=template)
    monkeypatch.setenv("MEA_CULPA_DATABASE_URL", url)
    yield url
    if server.is_running():
        server.drop_database(name)
