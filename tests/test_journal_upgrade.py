"""A journal of the release before the team journal upgrades in place and loses nothing;
the migrations build exactly the schema the code is written against; the wheel carries them.

tests/data/journal-v2/ holds a journal made by that release's own command line, and what
that release read from it (see its README.md).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from mea_culpa.journal import open_journal, spool
from mea_culpa.journal.tables import HEAD, REVISIONS, SCHEMA_VERSION, metadata

LEGACY = Path(__file__).parent / "data" / "journal-v2"


@pytest.fixture
def upgraded_home(isolated_home: Path) -> Path:
    shutil.copy2(LEGACY / "journal.sqlite3", isolated_home / "journal.sqlite3")
    return isolated_home


def _expected(name: str):
    return json.loads((LEGACY / name).read_text(encoding="utf-8"))


def test_every_session_reads_back_as_the_old_release_read_it(upgraded_home):
    before = _expected("sessions.json")
    with open_journal() as journal:
        ids = [r.id for r in journal.history(limit=100)]
        assert sorted(ids) == sorted(before)
        for sid in ids:
            now = spool.session_data(journal.load(sid))
            assert now.pop("author") == "Test Person"  # the person upgrading their own journal
            assert now.pop("sent") == []  # nothing was sent from mea-culpa before 0004_sent
            assert now == before[sid], sid


def test_history_actions_and_stats_read_the_same_after_the_upgrade(cli, upgraded_home):
    code, out, _ = cli("history", "--json", "-n", "100")
    assert code == 0
    rows = json.loads(out)
    # what this release adds to a row: the author, and what was posted (nothing, before 0004_sent)
    assert [{k: v for k, v in r.items() if k not in ("author", "posted", "last_posted")} for r in rows] == _expected("history.json")
    assert {(r["posted"], r["last_posted"]) for r in rows} == {(0, None)}
    assert {r["author"] for r in rows} == {"Test Person"}

    def stable(items):  # `overdue` depends on the day the test runs
        return [{k: v for k, v in a.items() if k != "overdue"} for a in items]

    items = json.loads(cli("actions", "--all", "--json")[1])
    # what this release adds to an item: a to-do's state and note (none: every to-do of these sessions was done)
    assert {(a.pop("step_state"), a.pop("note")) for a in items} == {(None, "")}
    assert stable(items) == stable(_expected("actions.json"))

    stats = json.loads(cli("stats", "--json")[1])
    old = _expected("stats.json")
    for key in ("sessions", "by_playbook", "by_severity", "by_tag", "by_status", "per_month", "time_from_noticed",
                "time_from_noticed_by_severity", "recurring_factors"):
        assert stats[key] == old[key], key
    assert {k: v for k, v in stats["prevention_actions"].items() if k != "overdue"} == {
        k: v for k, v in old["prevention_actions"].items() if k != "overdue"
    }


def test_the_upgraded_file_is_sound_and_refused_by_the_old_release(upgraded_home):
    with open_journal() as journal:
        journal.history()
    conn = sqlite3.connect(upgraded_home / "journal.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # the old release reads up to user_version 2 and refuses anything newer
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == HEAD
        assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] == 0
        uids = [r[0] for r in conn.execute("SELECT uid FROM sessions")]
    finally:
        conn.close()
    assert len(set(uids)) == len(uids) == 8 and all(uids)


def test_the_upgraded_journal_keeps_its_counts_as_it_is_written_again(upgraded_home):
    """Schema 2 kept the factor counts with triggers; from here the journal's own writes do."""
    with open_journal() as journal:
        again = journal.load("2026-12-04-legacy-general")
        journal.save(again)
        whole = {(p.key, p.sessions, p.learned) for p in journal.stats().patterns}
        recount = {(p.key, p.sessions, p.learned) for p in journal.stats(since="1970-01-01").patterns}
    assert whole == recount and len(whole) == 3


# --- the migrations and the tables --------------------------------------------------------------


def test_the_revisions_the_code_knows_are_the_migrations_in_order():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from mea_culpa.journal.migrate import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    walked = [r.revision for r in script.walk_revisions()]
    assert tuple(reversed(walked)) == REVISIONS
    assert script.get_current_head() == HEAD


def _differences(url: str) -> list:
    """What Alembic finds different, and the indexes on expressions (lower(author)) that
    tables.py declares and the database lacks: Alembic cannot reflect those on SQLite and
    says so, so they are looked up by name."""
    import warnings

    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlalchemy import Column, create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*expression-based index", category=Warning)
            found = [d for d in compare_metadata(MigrationContext.configure(conn), metadata) if d[0] != "remove_table"]
            names = "SELECT name FROM sqlite_master WHERE type = 'index'" if conn.dialect.name == "sqlite" else (
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
            present = {r[0] for r in conn.execute(text(names))}
    finally:
        engine.dispose()
    expressions = [i.name for table in metadata.tables.values() for i in table.indexes
                   if any(not isinstance(e, Column) for e in i.expressions)]
    assert expressions, "tables.py declares an index on an expression: this check must see it"
    return found + [("missing expression index", name) for name in expressions if name not in present]


def test_the_migrations_build_the_schema_the_code_is_written_against(store_url, tmp_path):
    """A fresh journal (built by the migrations) and tables.py agree on every table,
    column and index. (alembic_version is the migrations' own table.)"""
    with open_journal(store_url):
        pass
    url = store_url if "://" in store_url else f"sqlite:///{store_url}"
    assert _differences(url) == []


def test_an_upgraded_legacy_journal_has_the_same_tables_columns_and_indexes_as_a_new_one(upgraded_home):
    """What schema 2 declared its own way stays (SQLite reads `TEXT PRIMARY KEY` as
    nullable, REAL as a float of its own); no table, column or index differs."""
    with open_journal():
        pass
    found = [d[0] if isinstance(d, list) else d for d in _differences(f"sqlite:///{upgraded_home / 'journal.sqlite3'}")]
    assert [d for d in found if d[0] not in ("modify_nullable", "modify_type", "remove_fk", "add_fk")] == []


def test_the_wheel_carries_the_migrations(tmp_path):
    """`pip install .` must bring them: a journal is upgraded from the installed package."""
    import subprocess
    import sys
    import zipfile

    repo = Path(__file__).parent.parent
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(tmp_path), str(repo)],
        capture_output=True, text=True, timeout=300,
    )
    if built.returncode != 0 and "hatchling" in built.stderr:
        pytest.skip("hatchling is not installed here to build the wheel offline")
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("mea_culpa-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for revision in REVISIONS:
        assert f"mea_culpa/journal/migrations/versions/{revision}.py" in names
    assert "mea_culpa/journal/migrations/env.py" in names


def test_a_journal_from_before_0005_gets_the_to_dos_its_sessions_left_open_and_milestones_that_happened(cli, isolated_home, tmp_path):
    """An upgrade derives the open to-dos of the sessions already kept (from their
    playbooks) and counts again the milestones of sessions whose to-dos were put off."""
    from test_session import TWO_LATER_ONE_BLOCKED, book, write_answers

    code, out, err = cli("start", "general", "--answers", str(write_answers(tmp_path, "general", TWO_LATER_ONE_BLOCKED)), "--no-input")
    assert code == 0, err
    session_id = out.strip()
    path = isolated_home / "journal.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    try:  # the journal as 0004_sent kept it: no to-dos, and an apology counted when the stage was completed
        conn.execute("DELETE FROM actions WHERE kind = 'to-do'")
        conn.execute("ALTER TABLE actions DROP COLUMN step_state")
        conn.execute("ALTER TABLE actions DROP COLUMN note")
        conn.execute("UPDATE alembic_version SET version_num = '0004_sent'")
        conn.execute("UPDATE sessions SET apologized_s = 600, fixed_s = 900")
        _without_kept_counts(conn)
    finally:
        conn.close()
    items = json.loads(cli("actions", "--json")[1])
    general = book("general")
    assert sorted((a["what"], a["step_state"], a["note"]) for a in items if a["kind"] == "to-do") == sorted([
        (general.step("stop_the_damage").prompt, "later", "today 15:00, after the walk"),
        (general.step("apology_sent").prompt, "later", "call Grace first"),
        (general.step("fix_status").prompt, "blocked", "the locksmith comes on Monday"),
    ])
    assert {a["session"] for a in items} == {session_id}
    stats = json.loads(cli("stats", "--json")[1])
    medians = stats["time_from_noticed"]
    assert (medians["apologized"]["sessions"], medians["fixed"]["sessions"]) == (0, 0)
    # the tallies are counted after the milestones and the to-dos: what a recount finds
    recount = json.loads(cli("stats", "--json", "--since", "1970-01-01")[1])
    assert {k: v for k, v in stats.items() if k != "since"} == {k: v for k, v in recount.items() if k != "since"}


def _without_kept_counts(conn: sqlite3.Connection) -> None:
    """Take from a journal what 0006_kept_counts adds (the tallies and their indexes), so
    that it is as a journal of an earlier revision was."""
    for statement in (
        "DROP TABLE tallies", "DROP TABLE durations", "DROP INDEX actions_due", "DROP INDEX actions_session_status",
        "DROP INDEX sessions_author_lower", "CREATE INDEX sessions_author ON sessions (author, created_at)",
    ):
        conn.execute(statement)
