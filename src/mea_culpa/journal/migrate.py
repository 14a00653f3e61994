"""The journal's schema revision: reading it cheaply on every open, and upgrading to the
newest with Alembic (imported only then: it costs more than half a second).

SQLite journals from before Alembic carry only `PRAGMA user_version` (1 or 2); they are
stamped with the revision they equal, then upgraded like any other. A SQLite journal is
upgraded on first use; a server database only by `mea-culpa journal upgrade`, so that one
person's new mea-culpa does not change the team's journal under everyone else's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mea_culpa.errors import StorageError
from mea_culpa.journal.tables import HEAD, REVISIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from mea_culpa.journal.engine import Location

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FIRST_WITH_FIGURES = "0002_stats"  # journals from before it get their derived figures computed
FIRST_WITH_TO_DOS = "0005_to_dos"  # journals from before it get their to-dos derived and their milestones recounted
FIRST_WITH_TALLIES = "0006_kept_counts"  # ...and their tallies counted, last (after the milestones)
LOCK_KEY = 0x6D65612D63  # PostgreSQL advisory lock held while a journal is upgraded ("mea-c")


@dataclass(frozen=True, slots=True)
class Revision:
    """Where a journal's schema stands."""

    revision: str | None  # None: no journal in it yet
    legacy: bool = False  # a SQLite journal from before Alembic (user_version only)

    @property
    def current(self) -> bool:
        return self.revision == HEAD


def read(conn: Connection, location: Location) -> Revision:
    """The stored revision. A journal written by a newer mea-culpa, and a SQLite file that
    is another program's database, are refused here, before anything is written to them."""
    from sqlalchemy import inspect, text

    sqlite = conn.dialect.name == "sqlite"
    version = int(conn.exec_driver_sql("PRAGMA user_version").scalar() or 0) if sqlite else 0
    if version > SCHEMA_VERSION:
        raise _newer(location, str(version), str(SCHEMA_VERSION))
    inspector = inspect(conn)
    if sqlite:
        tables = set(inspector.get_table_names())
        # every journal, from the first release on, has its sessions; an empty file is a new journal
        if tables and "sessions" not in tables:
            raise StorageError(
                f"{location.shown} is not a mea-culpa journal: it is a SQLite database of another program "
                f"(tables: {', '.join(sorted(tables)[:5])}{', …' if len(tables) > 5 else ''})",
                hint="it was left untouched; move it aside, or name the journal's file with --database or MEA_CULPA_DATABASE_URL",
            )
    if inspector.has_table("alembic_version"):
        found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        if found is not None and found not in REVISIONS:
            raise _newer(location, str(found), HEAD)
        return Revision(found)
    if version == SCHEMA_VERSION:  # the number this code writes, without the revision it writes with it
        raise StorageError(f"the journal {location.shown} is damaged (schema {version} without its revision)",
                           hint="move it aside (it is kept as it is) and run again to start a fresh journal")
    if version:
        return Revision(REVISIONS[version - 1], legacy=True)
    if inspector.has_table("sessions"):
        raise StorageError(
            f"the database {location.shown} holds a `sessions` table that is not a mea-culpa journal",
            hint="name an empty database for the journal",
        )
    return Revision(None)


def _newer(location: Location, found: str, ours: str) -> StorageError:
    where = location.shown if location.path else f"at {location.shown}"
    return StorageError(
        f"the journal {where} was written by a newer mea-culpa (schema {found}; this one reads up to {ours})",
        hint="upgrade mea-culpa; the journal was left untouched",
    )


def upgrade(conn: Connection, location: Location, *, author: str) -> tuple[str | None, str]:
    """Bring the journal to HEAD inside the caller's write transaction; returns (from, to).

    Checked again here, under the write lock (SQLite's BEGIN IMMEDIATE, an advisory lock
    on PostgreSQL): two first runs may both have found an empty journal, and only the
    first may migrate it. `author` becomes the author of the sessions already there."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy import text

        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    found = read(conn, location)
    if found.current:
        return HEAD, HEAD
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = conn
    config.attributes["author"] = author
    if found.legacy:
        assert found.revision is not None
        command.stamp(config, found.revision)
    command.upgrade(config, "head")
    if found.revision is not None:
        from mea_culpa.journal import upkeep

        before = REVISIONS.index(found.revision)
        if before < REVISIONS.index(FIRST_WITH_FIGURES):
            upkeep.refresh_all(conn)
        elif before < REVISIONS.index(FIRST_WITH_TO_DOS):
            upkeep.refresh_milestones(conn)  # only what happened counts now: a stage with a to-do put off is no milestone
        if before < REVISIONS.index(FIRST_WITH_TO_DOS):
            upkeep.refresh_to_dos(conn)
        if before < REVISIONS.index(FIRST_WITH_TALLIES):
            upkeep.count_tallies(conn)  # from the milestones and to-dos as they stand now
    return found.revision, HEAD
