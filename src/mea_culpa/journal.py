"""The journal: sessions, answers, events, actions and drafts in an embedded SQLite file.

Small on purpose: `open_journal`, `Journal.apply` (one transition, one transaction),
`save` (a whole session), `load`, and queries. Everything else in the code talks to this
interface, so a shared journal on a database server could later stand in its place.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mea_culpa.errors import NotFound, StorageError
from mea_culpa.session import Change, Draft, Event, Session, StageRecord, StepRecord

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        playbook_id TEXT NOT NULL,
        playbook_title TEXT NOT NULL,
        playbook_version TEXT NOT NULL,
        playbook_hash TEXT NOT NULL,
        playbook_path TEXT NOT NULL,
        status TEXT NOT NULL,
        severity TEXT,
        stage_reached TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        completed_at TEXT,
        happened_at TEXT,
        noticed_at TEXT,
        lessons_only INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_created ON sessions(created_at);
    CREATE INDEX sessions_playbook ON sessions(playbook_id, created_at);
    CREATE INDEX sessions_status ON sessions(status, created_at);
    CREATE TABLE session_tags (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (session_id, tag)
    );
    CREATE INDEX session_tags_tag ON session_tags(tag);
    CREATE TABLE steps (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        step_id TEXT NOT NULL,
        stage TEXT NOT NULL,
        state TEXT NOT NULL,
        value TEXT,
        reason TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'typed',
        PRIMARY KEY (session_id, step_id)
    );
    CREATE TABLE stages (
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        stage TEXT NOT NULL,
        state TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        entered_at TEXT,
        completed_at TEXT,
        PRIMARY KEY (session_id, stage)
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        stage TEXT,
        step TEXT,
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_session ON events(session_id, kind, stage);
    CREATE TABLE actions (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        step_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        kind TEXT NOT NULL DEFAULT 'action',
        what TEXT NOT NULL,
        owner TEXT,
        due TEXT,
        effort TEXT,
        commitment INTEGER,
        status TEXT NOT NULL DEFAULT 'open',
        reason TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL
    );
    CREATE INDEX actions_status_due ON actions(status, due);
    CREATE INDEX actions_session ON actions(session_id, step_id);
    CREATE TABLE drafts (
        id INTEGER PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        message_id TEXT NOT NULL,
        tone TEXT NOT NULL,
        phase TEXT,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        edited INTEGER NOT NULL DEFAULT 0,
        score INTEGER,
        findings TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX drafts_session ON drafts(session_id);
    """,
}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class SessionRow:
    """One line of `history`: what a list of sessions shows, without the answers."""

    id: str
    title: str
    playbook_id: str
    status: str
    severity: str | None
    stage_reached: str | None
    created_at: str
    updated_at: str
    open_actions: int


class Journal:
    """An open journal file. Use `open_journal`; close with `close()` or a `with` block."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        self.conn = conn
        self.path = path

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so that two runs writing
        the same journal wait for each other instead of failing half-way."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _storage_error(exc, self.path) from None
        try:
            yield self.conn
        except BaseException:
            self.conn.rollback()
            raise
        else:
            try:
                self.conn.commit()
            except sqlite3.Error as exc:
                self.conn.rollback()
                raise _storage_error(exc, self.path) from None

    # --- writing ---------------------------------------------------------------------

    def apply(self, session: Session, change: Change) -> None:
        """Persist one transition (the changed row and its event) in its own transaction."""
        try:
            with self.transaction() as conn:
                self._write_session_row(conn, session)
                if change.kind == "step" and change.key:
                    self._write_step(conn, session, change.key)
                elif change.kind == "stage" and change.key:
                    self._write_stage(conn, session, change.key)
                elif change.kind == "draft" and session.drafts:
                    self._write_draft(conn, session.id, session.drafts[-1])
                if change.event:
                    self._write_event(conn, session.id, change.event)
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None

    def save(self, session: Session) -> None:
        """Write a whole session at once (replacing any earlier copy)."""
        try:
            with self.transaction() as conn:
                conn.execute("DELETE FROM sessions WHERE id = ?", (session.id,))
                self._write_session_row(conn, session)
                for step_id in session.steps:
                    self._write_step(conn, session, step_id)
                for kind in session.stages:
                    self._write_stage(conn, session, kind)
                for event in session.events:
                    self._write_event(conn, session.id, event)
                for draft in session.drafts:
                    self._write_draft(conn, session.id, draft)
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None

    def _write_session_row(self, conn: sqlite3.Connection, s: Session) -> None:
        conn.execute(
            """INSERT INTO sessions (id, title, playbook_id, playbook_title, playbook_version, playbook_hash,
                   playbook_path, status, severity, stage_reached, tags, created_at, updated_at, completed_at,
                   happened_at, noticed_at)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT(id) DO UPDATE SET title=excluded.title, playbook_title=excluded.playbook_title,
                   playbook_version=excluded.playbook_version, playbook_hash=excluded.playbook_hash,
                   playbook_path=excluded.playbook_path, status=excluded.status, severity=excluded.severity,
                   stage_reached=excluded.stage_reached, tags=excluded.tags, updated_at=excluded.updated_at,
                   completed_at=excluded.completed_at, happened_at=excluded.happened_at, noticed_at=excluded.noticed_at""",
            (
                s.id, s.title, s.playbook_id, s.playbook_title, s.playbook_version, s.playbook_hash, s.playbook_path,
                s.status, s.severity, s.stage_reached, _json(list(s.tags)), s.created_at, s.updated_at,
                s.updated_at if s.status == "completed" else None, s.happened_at, s.noticed_at,
            ),
        )
        conn.execute("DELETE FROM session_tags WHERE session_id = ?", (s.id,))
        conn.executemany("INSERT INTO session_tags (session_id, tag) VALUES (?, ?)", [(s.id, t) for t in s.tags])

    def _write_step(self, conn: sqlite3.Connection, s: Session, step_id: str) -> None:
        record = s.steps.get(step_id)
        if record is None:
            conn.execute("DELETE FROM steps WHERE session_id = ? AND step_id = ?", (s.id, step_id))
            conn.execute("DELETE FROM actions WHERE session_id = ? AND step_id = ? AND kind = 'action'", (s.id, step_id))
            return
        conn.execute(
            """INSERT INTO steps (session_id, step_id, stage, state, value, reason, at, source) VALUES (?,?,?,?,?,?,?,?)
               ON CONFLICT(session_id, step_id) DO UPDATE SET stage=excluded.stage, state=excluded.state,
                   value=excluded.value, reason=excluded.reason, at=excluded.at, source=excluded.source""",
            (s.id, step_id, record.stage, record.state, _json(record.value), record.reason, record.at, record.source),
        )
        if isinstance(record.value, list) and record.value and all(isinstance(i, dict) and "what" in i for i in record.value):
            self._sync_actions(conn, s.id, step_id, record.value, record.at)

    def _sync_actions(self, conn: sqlite3.Connection, session_id: str, step_id: str, items: list[dict[str, Any]], at: str) -> None:
        # Keep the status of items that survive an edit (matched by their text), so that
        # an action marked done is not reopened when the list is corrected.
        old = {
            row["what"]: (row["status"], row["reason"])
            for row in conn.execute(
                "SELECT what, status, reason FROM actions WHERE session_id = ? AND step_id = ? AND kind = 'action'",
                (session_id, step_id),
            )
        }
        conn.execute("DELETE FROM actions WHERE session_id = ? AND step_id = ? AND kind = 'action'", (session_id, step_id))
        for position, item in enumerate(items):
            status, reason = old.get(item.get("what"), ("open", ""))
            commitment = item.get("commitment")
            conn.execute(
                """INSERT INTO actions (session_id, step_id, position, kind, what, owner, due, effort, commitment, status, reason, updated_at)
                   VALUES (?,?,?,'action',?,?,?,?,?,?,?,?)""",
                (
                    session_id, step_id, position, str(item.get("what") or ""), item.get("owner"), item.get("due"),
                    item.get("effort"), None if commitment is None else int(bool(commitment)), status, reason, at,
                ),
            )

    def _write_stage(self, conn: sqlite3.Connection, s: Session, kind: str) -> None:
        record = s.stages[kind]
        conn.execute(
            """INSERT INTO stages (session_id, stage, state, reason, entered_at, completed_at) VALUES (?,?,?,?,?,?)
               ON CONFLICT(session_id, stage) DO UPDATE SET state=excluded.state, reason=excluded.reason,
                   entered_at=excluded.entered_at, completed_at=excluded.completed_at""",
            (s.id, kind, record.state, record.reason, record.entered_at, record.completed_at),
        )

    def _write_event(self, conn: sqlite3.Connection, session_id: str, e: Event) -> None:
        conn.execute(
            "INSERT INTO events (session_id, at, kind, stage, step, detail) VALUES (?,?,?,?,?,?)",
            (session_id, e.at, e.kind, e.stage, e.step, e.detail),
        )

    def _write_draft(self, conn: sqlite3.Connection, session_id: str, d: Draft) -> None:
        conn.execute(
            "INSERT INTO drafts (session_id, message_id, tone, phase, text, created_at, edited, score, findings) VALUES (?,?,?,?,?,?,?,?,?)",
            (session_id, d.message_id, d.tone, d.phase, d.text, d.created_at, int(d.edited), d.score, _json([dict(f) for f in d.findings])),
        )

    # --- reading ---------------------------------------------------------------------

    def load(self, session_id: str) -> Session:
        """The whole session; NotFound (with the close ids) when there is none."""
        try:
            row = self.conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if row is None:
                raise NotFound(
                    f"no session {session_id!r} in the journal",
                    hint="see the sessions with: mea-culpa history",
                )
            sid = row["id"]
            steps = {
                r["step_id"]: StepRecord(r["state"], json.loads(r["value"]) if r["value"] is not None else None, r["reason"], r["at"], r["source"], r["stage"])
                for r in self.conn.execute("SELECT * FROM steps WHERE session_id = ?", (sid,))
            }
            stages = {
                r["stage"]: StageRecord(r["state"], r["reason"], r["entered_at"], r["completed_at"])
                for r in self.conn.execute("SELECT * FROM stages WHERE session_id = ?", (sid,))
            }
            events = tuple(
                Event(r["at"], r["kind"], r["stage"], r["step"], r["detail"])
                for r in self.conn.execute("SELECT * FROM events WHERE session_id = ? ORDER BY id", (sid,))
            )
            drafts = tuple(
                Draft(r["message_id"], r["tone"], r["text"], r["created_at"], r["phase"], bool(r["edited"]), r["score"], tuple(json.loads(r["findings"])))
                for r in self.conn.execute("SELECT * FROM drafts WHERE session_id = ? ORDER BY id", (sid,))
            )
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None
        return Session(
            id=sid,
            title=row["title"],
            playbook_id=row["playbook_id"],
            playbook_title=row["playbook_title"],
            playbook_version=row["playbook_version"],
            playbook_hash=row["playbook_hash"],
            playbook_path=row["playbook_path"],
            status=row["status"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            tags=tuple(json.loads(row["tags"])),
            happened_at=row["happened_at"],
            noticed_at=row["noticed_at"],
            steps=MappingProxyType(steps),
            stages=MappingProxyType(stages),
            events=events,
            drafts=drafts,
        )

    def exists(self, session_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is not None

    def latest(self, *, status: str | None = None) -> str | None:
        """The id of the newest session (optionally of one status)."""
        if status:
            row = self.conn.execute(
                "SELECT id FROM sessions WHERE status = ? ORDER BY updated_at DESC, rowid DESC LIMIT 1", (status,)
            ).fetchone()
        else:
            row = self.conn.execute("SELECT id FROM sessions ORDER BY updated_at DESC, rowid DESC LIMIT 1").fetchone()
        return row["id"] if row else None

    def resolve(self, session_id: str | None, *, status: str | None = None) -> str:
        """A session id from what the user typed: exact, a unique prefix, or the latest."""
        if session_id is None:
            found = self.latest(status=status)
            if found is None:
                what = "unfinished session" if status == "in-progress" else "session"
                raise NotFound(f"no {what} in the journal", hint="start one with: mea-culpa start")
            return found
        if self.exists(session_id):
            return session_id
        like = session_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = [r["id"] for r in self.conn.execute("SELECT id FROM sessions WHERE id LIKE ? ESCAPE '\\' LIMIT 6", (like,))]
        if len(rows) == 1:
            return rows[0]
        if rows:
            raise NotFound(f"{session_id!r} matches several sessions: {', '.join(rows[:5])}", hint="type more of the id")
        raise NotFound(f"no session {session_id!r} in the journal", hint="see the sessions with: mea-culpa history")

    def new_id(self, date: str, slug: str) -> str:
        """A short, unique, human-readable id: `2026-11-22-checkout-down`, then `-2`, `-3`…"""
        base = f"{date}-{slug}"
        if not self.exists(base):
            return base
        n = 2
        while self.exists(f"{base}-{n}"):
            n += 1
        return f"{base}-{n}"

    def history(
        self,
        *,
        playbook: str | None = None,
        tag: str | None = None,
        status: str | None = None,
        since: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> list[SessionRow]:
        """Sessions newest first, filtered in SQL, one page at a time."""
        where, args = [], []
        if playbook:
            where.append("s.playbook_id = ?")
            args.append(playbook)
        if status:
            where.append("s.status = ?")
            args.append(status)
        if since:
            where.append("s.created_at >= ?")
            args.append(since)
        if tag:
            where.append("s.id IN (SELECT session_id FROM session_tags WHERE tag = ?)")
            args.append(tag)
        sql = (
            "SELECT s.id, s.title, s.playbook_id, s.status, s.severity, s.stage_reached, s.created_at, s.updated_at,"
            " (SELECT COUNT(*) FROM actions a WHERE a.session_id = s.id AND a.status = 'open') AS open_actions"
            " FROM sessions s"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY s.created_at DESC, s.rowid DESC LIMIT ? OFFSET ?"
        )
        try:
            rows = self.conn.execute(sql, (*args, limit, offset)).fetchall()
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None
        return [SessionRow(*tuple(r)) for r in rows]


def _storage_error(exc: sqlite3.Error, path: Path | None) -> StorageError:
    text = str(exc)
    where = str(path) if path else "the journal"
    if "locked" in text or "busy" in text:
        return StorageError(f"the journal {where} is busy (another mea-culpa is writing); try again in a moment")
    if "malformed" in text or "not a database" in text or "file is encrypted" in text:
        return StorageError(
            f"the journal {where} is damaged ({text})",
            hint="move it aside (it is kept as it is) and run again to start a fresh journal",
        )
    if "readonly" in text or "read-only" in text:
        return StorageError(f"cannot write the journal {where}: it is read-only", hint="set MEA_CULPA_HOME to a folder you can write, or use --no-save")
    if "disk" in text and "full" in text or "database or disk is full" in text:
        return StorageError(f"cannot write the journal {where}: the disk is full", hint="free some space; nothing saved before this answer is lost")
    if "unable to open" in text:
        return StorageError(f"cannot open the journal {where}: {text}", hint="set MEA_CULPA_HOME to a folder you can write, or use --no-save")
    return StorageError(f"the journal {where} failed: {text}")


def open_journal(path: Path | None = None, *, create: bool = True) -> Journal:
    """Open (and create or migrate) the journal. A journal from a newer mea-culpa is
    refused and left untouched."""
    from mea_culpa import paths

    path = path or paths.journal_path()
    if not create and not path.exists():
        raise NotFound("the journal is empty", hint="start a session with: mea-culpa start")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {path.parent}: {exc.strerror or exc}", hint="set MEA_CULPA_HOME to a folder you can write, or use --no-save") from None
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise _storage_error(exc, path) from None
    conn.row_factory = sqlite3.Row
    journal = Journal(conn, path)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise StorageError(
                f"the journal {path} was written by a newer mea-culpa (schema {version}; this one reads up to {SCHEMA_VERSION})",
                hint="upgrade mea-culpa; the journal was left untouched",
            )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        if version < SCHEMA_VERSION:
            _migrate(journal, version)
    except sqlite3.Error as exc:
        conn.close()
        raise _storage_error(exc, path) from None
    return journal


def _migrate(journal: Journal, version: int) -> None:
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for attempt in range(50):  # two first runs may race to create the schema
            try:
                with journal.transaction() as conn:
                    current = conn.execute("PRAGMA user_version").fetchone()[0]
                    if current >= target:
                        break
                    # executescript would commit on its own; run the statements one by one
                    for statement in _MIGRATIONS[target].split(";"):
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(f"PRAGMA user_version = {target}")
                break
            except StorageError:
                if attempt == 49:
                    raise
                time.sleep(0.1)


def memory_journal() -> Journal:
    """A journal that lives only in memory (`--no-save`, and tests)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.row_factory = sqlite3.Row
    journal = Journal(conn, None)
    _migrate(journal, 0)
    return journal
