"""Where the journal is and how to talk to it: the store a URL, a path or the environment
names; the SQLAlchemy engine for it (SQLite's modes, PostgreSQL's timeouts); and what a
failure of either means to the user, as one line.

Unset, the journal is `journal.sqlite3` in the mea-culpa home. MEA_CULPA_DATABASE_URL (or
`--database URL`) names another: `postgresql://user@host/db` (psycopg 3 is used whatever
driver the URL names, so SQLAlchemy's `postgresql+psycopg://` works the same), or
`sqlite:///path/to/file`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mea_culpa.errors import StorageError, UsageError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

DATABASE_ENV = "MEA_CULPA_DATABASE_URL"
BUSY_TIMEOUT_MS = 10_000  # how long a SQLite writer waits for another one
CONNECT_TIMEOUT_S = 10  # how long a server may take to answer before it counts as gone
WRITE = "mea_culpa_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
POSTGRES_DRIVERS = ("postgresql", "postgres", "postgresql+psycopg")
NO_SERVER_HINT = f"check that the database server is running and reachable, or unset {DATABASE_ENV} to use your own journal"


@dataclass(frozen=True, slots=True)
class Location:
    """One store: what SQLAlchemy connects to, and how messages name it."""

    url: str  # for create_engine (the password, if any, included)
    kind: str  # "sqlite" | "postgresql"
    shown: str  # the file's path, or the URL with its password masked
    path: Path | None = None  # the SQLite file (None: in memory, or a server)

    @property
    def is_server(self) -> bool:
        return self.kind == "postgresql"


class ServerGone(StorageError):
    """The database server cannot be reached (never answered, or went away mid-run)."""


def locate(target: Path | str | None = None) -> Location:
    """The store `target` names (a path is a SQLite file, a text a URL or a path), else
    the one MEA_CULPA_DATABASE_URL names, else the SQLite file in the home."""
    if isinstance(target, Path):
        return _file(target)
    text = (target if target is not None else os.environ.get(DATABASE_ENV, "")).strip()
    if not text:
        from mea_culpa import paths

        return _file(paths.journal_path())
    if "://" not in text:
        return _file(Path(text).expanduser())
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    source = "--database" if target is not None else DATABASE_ENV
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        raise UsageError(f"{source}: {_masked(text)!r} is not a database URL", hint="write it like postgresql://user@host/dbname") from None
    if url.drivername in POSTGRES_DRIVERS:
        url = url.set(drivername="postgresql+psycopg")
        from urllib.parse import unquote

        shown = unquote(make_url(text).render_as_string(hide_password=True))  # host=/run/postgresql, not %2F
        return Location(url.render_as_string(hide_password=False), "postgresql", shown)
    if url.drivername == "sqlite":
        if not url.database or url.database == ":memory:":
            return Location("sqlite://", "sqlite", "an in-memory journal")
        return _file(Path(url.database).expanduser())
    raise UsageError(
        f"{source}: {url.drivername!r} databases are not supported",
        hint="use postgresql://user@host/dbname for a team journal, or leave it unset for your own",
    )


def _file(path: Path) -> Location:
    return Location(f"sqlite:///{path}", "sqlite", str(path), path)


def _masked(text: str) -> str:
    """A URL as it may be shown: any password replaced, even in one that does not parse."""
    head, at, tail = text.rpartition("@")
    if not at or "://" not in head:
        return text
    scheme, _, credentials = head.partition("://")
    user, colon, _ = credentials.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{tail}"


def create(location: Location, *, alone: bool = False) -> Engine:
    """An engine for the store. SQLite connections are put into the journal's modes
    (foreign keys, a busy timeout) and begin their own transactions, a writing one with
    BEGIN IMMEDIATE so that two writers queue instead of failing half-way.

    `alone` (SQLite): only read, holding the file for this process alone. A reader of a
    WAL journal shares an index with the others in a `-shm` file, which SQLite must
    create and fill; on a full disk it cannot, and every read fails with "disk I/O error".
    Alone, the index is kept in this process's memory and nothing is written (see
    `disk_trouble`)."""
    from sqlalchemy import create_engine, event

    if location.is_server:
        try:
            import psycopg  # noqa: F401  (a clear line instead of SQLAlchemy's when it is missing)
        except ImportError:
            raise StorageError(
                f"the journal at {location.shown} is a PostgreSQL database, and psycopg is not installed",
                hint="install it with: pip install 'mea-culpa[postgres]'",
            ) from None
        return create_engine(
            location.url,
            pool_pre_ping=True,  # a server restarted since the last use: reconnect instead of failing
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "mea-culpa"},
        )
    if location.path is None:
        from sqlalchemy.pool import StaticPool

        engine = create_engine("sqlite://", poolclass=StaticPool)  # one connection: the memory is the journal
    else:
        engine = create_engine(location.url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def settle(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # transactions are begun below, not by the driver
        if alone:  # before the first read, or SQLite reaches for the shared index
            dbapi_connection.execute("PRAGMA locking_mode = EXCLUSIVE")
            dbapi_connection.execute("PRAGMA query_only = ON")
        settled(dbapi_connection, in_memory=location.path is None)

    @event.listens_for(engine, "begin")
    def begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("isolation_level") != "AUTOCOMMIT":
            conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE) else "BEGIN")

    return engine


def settled(dbapi_connection: Any, *, in_memory: bool = False) -> None:
    """Put a new SQLite connection in the journal's modes: a busy timeout, foreign keys,
    and what is deleted overwritten. None of them writes to the file: a journal is only
    changed once it is known to be one this mea-culpa may write (`write_ahead`, after
    migrate.read), so that a file refused (a newer journal, another program's database)
    is left byte for byte as it was.

    Opening a journal just as another process closes it (and folds its log back) can make
    SQLite answer "locked" at once instead of waiting for busy_timeout, so these steps are
    tried again for as long as busy_timeout would have waited."""
    _patiently(dbapi_connection, (
        f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}",
        *(() if in_memory else ("PRAGMA synchronous = NORMAL",)),
        "PRAGMA foreign_keys = ON",
        # what is deleted (a changed answer, a forgotten session) is overwritten, not just unlinked
        "PRAGMA secure_delete = ON",
    ))


def write_ahead(engine: Engine) -> None:
    """Switch a SQLite journal file into WAL mode (kept in the file: once is enough), so that
    readers never wait for a writer. Two first runs at the same moment can make SQLite
    answer "locked" at once; the switch is tried again as `settled` does."""
    connection = engine.raw_connection()
    try:
        _patiently(connection.driver_connection, ("PRAGMA journal_mode = WAL",))
    finally:
        connection.close()


def _patiently(dbapi_connection: Any, statements: tuple[str, ...]) -> None:
    import sqlite3

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            for statement in statements:
                dbapi_connection.execute(statement)
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# --- what a failure means -------------------------------------------------------------------


def disk_trouble(exc: BaseException) -> bool:
    """A SQLite failure that a full disk causes ("disk I/O error" when the shared index of a
    WAL journal cannot be made, "database or disk is full")."""
    text = str(getattr(exc, "orig", None) or exc)
    return "disk I/O error" in text or "disk is full" in text



def storage_error(exc: BaseException, location: Location) -> StorageError:
    """One line (and a hint) for a failure of the store."""
    if location.is_server:
        return _server_error(exc, location)
    text = str(getattr(exc, "orig", None) or exc)
    where = f"the journal {location.shown}" if location.path else "the journal"
    if "locked" in text or "busy" in text:
        return StorageError(f"{where} is busy (another mea-culpa is writing); try again in a moment")
    if "malformed" in text or "not a database" in text or "file is encrypted" in text:
        return StorageError(f"{where} is damaged ({text})", hint="move it aside (it is kept as it is) and run again to start a fresh journal")
    if "readonly" in text or "read-only" in text:
        return StorageError(f"cannot write {where}: it is read-only", hint="set MEA_CULPA_HOME to a folder you can write, or use --no-save")
    if "database or disk is full" in text or ("disk" in text and "full" in text):
        return StorageError(f"cannot write {where}: the disk is full", hint="free some space; nothing saved before this answer is lost")
    if "disk I/O error" in text:
        return StorageError(f"cannot use {where}: disk I/O error", hint="the disk may be full: free some space (history, actions, stats and export still read the journal)")
    if "unable to open" in text:
        return StorageError(f"cannot open {where}: {text}", hint="set MEA_CULPA_HOME to a folder you can write, or use --no-save")
    return StorageError(f"{where} failed: {text}")


def _server_error(exc: BaseException, location: Location) -> StorageError:
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or ""
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    first = first.removeprefix("connection failed: ")
    where = f"the journal at {location.shown}"
    if state.startswith(("28",)):
        return StorageError(f"cannot log in to {where}: {first}", hint="check the user and password in the URL")
    if state == "3D000":
        return StorageError(f"{where}: {first}", hint="create the database first (see docs/journal.md)")
    if state == "42P01":
        return StorageError(f"{where} holds no journal yet ({first})", hint="create it with: mea-culpa journal upgrade")
    if state == "42501":
        return StorageError(f"{where} refused: {first}", hint="ask whoever runs the database for read and write rights on the journal's tables")
    if not state or state.startswith(("08", "57P")):
        return ServerGone(f"cannot reach {where}: {first}", hint=NO_SERVER_HINT)
    return StorageError(f"{where} failed: {first}")


def retryable(exc: BaseException) -> bool:
    """A PostgreSQL transaction that lost a race and is worth running again: a deadlock, a
    serialization failure, or an id another writer claimed first."""
    state = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return state in ("40P01", "40001", "23505")
