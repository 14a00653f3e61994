"""The journal: sessions, answers, events, actions and drafts in an embedded SQLite file.

Small on purpose: `open_journal`, `Journal.apply` (one transition, one transaction),
`save` (a whole session), `load`, and queries (`history`, `actions`, `stats`) that aggregate
in SQL so they stay fast on a journal of thousands of sessions; `forget` deletes for real
(VACUUM). Everything else in the code talks to this interface, so a shared journal on a
database server could later stand in its place. What is stored: docs/journal.md.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from mea_culpa import derived
from mea_culpa.errors import NotFound, StorageError, UsageError
from mea_culpa.records import frozen

if TYPE_CHECKING:  # imported where used: `history` and `stats` need no session model
    from mea_culpa import stats
    from mea_culpa.run.session import Change, Draft, Event, Session

SCHEMA_VERSION = 2
BUSY_TIMEOUT_MS = 10_000
SCRUB_WAIT_MS = 2_000  # how long `forget` waits for other readers before it gives up compacting


def _stats() -> Any:
    """The report classes, imported only by `stats`: writing a session needs only the
    facts it derives (derived.py)."""
    from mea_culpa import stats

    return stats

def _learned(sid: str) -> str:
    """SQL: does session `sid` show learning? A lesson, at least one prevention action, all done."""
    return (
        f"(EXISTS (SELECT 1 FROM steps WHERE session_id = {sid} AND step_id = 'lesson' AND state = 'answered'"
        f" AND value IS NOT NULL AND value NOT IN ('null', '\"\"'))"
        f" AND EXISTS (SELECT 1 FROM actions WHERE session_id = {sid} AND kind = 'action')"
        f" AND NOT EXISTS (SELECT 1 FROM actions WHERE session_id = {sid} AND kind = 'action' AND status <> 'done'))"
    )


def _set_learned(sid: str) -> str:
    return f"UPDATE sessions SET learned = {_learned(sid)} WHERE id = {sid};"


_V2 = f"""
    ALTER TABLE sessions ADD COLUMN owned_s REAL;
    ALTER TABLE sessions ADD COLUMN apologized_s REAL;
    ALTER TABLE sessions ADD COLUMN fixed_s REAL;
    ALTER TABLE sessions ADD COLUMN learned INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX sessions_severity ON sessions(severity, created_at);
    CREATE INDEX sessions_owned ON sessions(owned_s, created_at) WHERE owned_s IS NOT NULL;
    CREATE INDEX sessions_apologized ON sessions(apologized_s, created_at) WHERE apologized_s IS NOT NULL;
    CREATE INDEX sessions_fixed ON sessions(fixed_s, created_at) WHERE fixed_s IS NOT NULL;
    CREATE INDEX sessions_severity_owned ON sessions(severity, owned_s, created_at) WHERE owned_s IS NOT NULL;
    CREATE INDEX sessions_severity_apologized ON sessions(severity, apologized_s, created_at)
        WHERE apologized_s IS NOT NULL;
    CREATE INDEX sessions_severity_fixed ON sessions(severity, fixed_s, created_at) WHERE fixed_s IS NOT NULL;
    DROP INDEX actions_status_due;
    CREATE INDEX actions_status ON actions(status, kind, due, session_id);
    CREATE TABLE factors (
        key TEXT NOT NULL,
        session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        learned INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (key, session_id)
    ) WITHOUT ROWID;
    CREATE INDEX factors_session ON factors(session_id);
    CREATE INDEX factors_stats ON factors(key, created_at, learned);
    CREATE TRIGGER learned_action_insert AFTER INSERT ON actions WHEN NEW.kind = 'action'
    BEGIN {_set_learned("NEW.session_id")} END;
    CREATE TRIGGER learned_action_update AFTER UPDATE OF status, kind, session_id ON actions
    WHEN NEW.kind = 'action' OR OLD.kind = 'action'
    BEGIN {_set_learned("NEW.session_id")} {_set_learned("OLD.session_id")} END;
    CREATE TRIGGER learned_action_delete AFTER DELETE ON actions WHEN OLD.kind = 'action'
    BEGIN {_set_learned("OLD.session_id")} END;
    CREATE TRIGGER learned_lesson_insert AFTER INSERT ON steps WHEN NEW.step_id = 'lesson'
    BEGIN {_set_learned("NEW.session_id")} END;
    CREATE TRIGGER learned_lesson_update AFTER UPDATE OF state, value ON steps WHEN NEW.step_id = 'lesson'
    BEGIN {_set_learned("NEW.session_id")} END;
    CREATE TRIGGER learned_lesson_delete AFTER DELETE ON steps WHEN OLD.step_id = 'lesson'
    BEGIN {_set_learned("OLD.session_id")} END;
    CREATE TRIGGER learned_to_factors AFTER UPDATE OF learned ON sessions
    BEGIN UPDATE factors SET learned = NEW.learned WHERE session_id = NEW.id; END;
    CREATE TABLE factor_counts (
        key TEXT PRIMARY KEY,
        sessions INTEGER NOT NULL,
        learned INTEGER NOT NULL,
        first TEXT NOT NULL,
        last TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX factor_counts_rank ON factor_counts(sessions, key);
    CREATE INDEX factor_counts_unlearned ON factor_counts(learned, sessions, key);
    CREATE TRIGGER factor_counts_insert AFTER INSERT ON factors
    BEGIN
        INSERT OR IGNORE INTO factor_counts (key, sessions, learned, first, last)
            VALUES (NEW.key, 0, 0, NEW.created_at, NEW.created_at);
        UPDATE factor_counts SET sessions = sessions + 1, learned = learned + NEW.learned,
            first = MIN(first, NEW.created_at), last = MAX(last, NEW.created_at)
            WHERE key = NEW.key;
    END;
    CREATE TRIGGER factor_counts_delete AFTER DELETE ON factors
    BEGIN
        UPDATE factor_counts SET sessions = sessions - 1, learned = learned - OLD.learned,
            first = COALESCE((SELECT MIN(created_at) FROM factors WHERE key = OLD.key), first),
            last = COALESCE((SELECT MAX(created_at) FROM factors WHERE key = OLD.key), last)
            WHERE key = OLD.key;
        DELETE FROM factor_counts WHERE key = OLD.key AND sessions <= 0;
    END;
    CREATE TRIGGER factor_counts_learned AFTER UPDATE OF learned ON factors
    BEGIN
        UPDATE factor_counts SET learned = learned - OLD.learned + NEW.learned WHERE key = NEW.key;
    END;
"""

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
    # 2: what `stats` needs to stay fast on thousands of sessions, kept up to date on write:
    # per session, the seconds from noticed to owned / apologized / fixed (computed from the
    # events by stats.milestone_seconds) and whether it shows learning (a trigger-kept flag:
    # a lesson, and prevention actions that are all done); contributing factors in their
    # normal form; and indexes that every count and median is read from (a median is one
    # LIMIT/OFFSET step into an index). Existing journals are filled in by `_backfill_v2`.
    2: _V2,
}

# Conventional step ids the journal reads (see playbook.VOCABULARY).
FACTORS_STEP = "contributing_factors"
LESSON_STEP = "lesson"
NEXT_UPDATE_STEP = "next_update_minutes"
RESOLVED_NOTICE_STEP = "resolved_notice"  # an action step: the resolved update was posted
FOLLOW_UP_SENT_STEP = "follow_up_sent"  # an action step: the follow-up was sent
# Message ids that tell the affected people something; after the fix they are owed a follow-up.
TOLD_MESSAGES = ("customer-apology", "status-update", "personal-note", "social-post")
STATUS_UPDATE = "status-update"
FOLLOW_UP = "follow-up"
DEFAULT_UPDATE_MINUTES = 30
ACTION_STATUSES = ("open", "done", "dropped")
FORGOTTEN_TITLE = "(facts forgotten)"


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@frozen
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
    tags: tuple[str, ...] = ()
    lessons_only: bool = False  # `forget --keep-lessons` removed its facts


@frozen
class ActionRow:
    """One line of `actions`: a prevention action item, or a follow-up a message implies."""

    id: int
    session_id: str
    session_title: str
    kind: str  # "action" (from a list step with action_items) | "follow-up" (derived from drafts)
    step_id: str  # the list step; for a follow-up, the message it asks for
    what: str
    owner: str | None
    due: str | None  # a date (YYYY-MM-DD) or, for a status update, a UTC time (…Z)
    effort: str | None
    commitment: bool | None
    status: str  # open | done | dropped
    reason: str
    updated_at: str
    overdue: bool

    @property
    def is_follow_up(self) -> bool:
        return self.kind == "follow-up"

    @property
    def uid(self) -> str:
        """Stable across edits of the list (ids are not): session, kind, step and text."""
        import hashlib

        basis = self.what if self.kind == "action" else ""
        digest = hashlib.sha1(f"{self.session_id}\0{self.kind}\0{self.step_id}\0{basis}".encode()).hexdigest()[:16]
        return f"{digest}@mea-culpa"


@frozen
class Forgotten:
    """What `forget` did."""

    deleted: tuple[str, ...]  # sessions removed entirely
    kept: tuple[tuple[str, str], ...]  # (old id, new id): sessions kept with only the lesson and actions
    scrubbed: bool  # the file was vacuumed and its write-ahead log emptied


def _today(now: dt.datetime | None) -> tuple[str, str]:
    """(local date, UTC time) as stored text, for comparing with due dates and times."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.astimezone()
    return now.astimezone().date().isoformat(), now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Overdue: open, and due before today (a date) or before now (a time). Dates are local
# (what the user typed); times are UTC.
_OVERDUE = (
    "(a.status = 'open' AND a.due IS NOT NULL AND"
    " ((length(a.due) = 10 AND a.due < :today) OR (length(a.due) > 10 AND a.due < :now)))"
)


def _commitment(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return 0 if value.strip().lower() in ("idea", "no", "false", "maybe", "n") else 1
    return int(bool(value))


def _factor_text(value: Any) -> str:
    """A contributing-factors answer as text (a list answer becomes one item per line)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, str):
                lines.append(item)
            elif isinstance(item, dict):
                lines.extend(str(v) for v in item.values() if isinstance(v, str) and v)
        return "\n".join(lines)
    return ""


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
                self._sync_follow_ups(conn, session.id, session.updated_at)
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None

    def save(self, session: Session) -> None:
        """Write a whole session at once (replacing any earlier copy). The status of its
        action items (done, dropped) survives the rewrite."""
        self.save_many([session])

    def save_many(self, sessions: Iterable[Session]) -> int:
        """Write many whole sessions in one transaction (imports, the benchmark journal).
        Returns how many were written."""
        count = 0
        try:
            with self.transaction() as conn:
                for session in sessions:
                    self._write_whole(conn, session)
                    count += 1
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None
        return count

    def _write_whole(self, conn: sqlite3.Connection, session: Session) -> None:
        # Replace the children rather than the session row, and sync the action items in
        # place: their ids and statuses (done, dropped) survive a rewrite.
        for table in ("steps", "stages", "events", "drafts", "factors"):
            conn.execute(f"DELETE FROM {table} WHERE session_id = ?", (session.id,))
        self._write_session_row(conn, session)
        for step_id in session.steps:
            self._write_step(conn, session, step_id)
        conn.execute(
            """DELETE FROM actions WHERE session_id = ? AND kind = 'action'
                   AND step_id NOT IN (SELECT step_id FROM steps WHERE session_id = ?)""",
            (session.id, session.id),
        )
        for kind in session.stages:
            self._write_stage(conn, session, kind)
        conn.executemany(
            "INSERT INTO events (session_id, at, kind, stage, step, detail) VALUES (?,?,?,?,?,?)",
            [(session.id, e.at, e.kind, e.stage, e.step, e.detail) for e in session.events],
        )
        for draft in session.drafts:
            self._write_draft(conn, session.id, draft)
        self._sync_follow_ups(conn, session.id, session.updated_at)

    def _write_session_row(self, conn: sqlite3.Connection, s: Session) -> None:
        milestones = derived.milestone_seconds(s.noticed_at, s.created_at, s.events)
        conn.execute(
            """INSERT INTO sessions (id, title, playbook_id, playbook_title, playbook_version,
                   playbook_hash, playbook_path, status, severity, stage_reached, tags, created_at,
                   updated_at, completed_at, happened_at, noticed_at, owned_s, apologized_s, fixed_s)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)
               ON CONFLICT(id) DO UPDATE SET title=excluded.title,
                   playbook_title=excluded.playbook_title, playbook_version=excluded.playbook_version,
                   playbook_hash=excluded.playbook_hash, playbook_path=excluded.playbook_path,
                   status=excluded.status, severity=excluded.severity,
                   stage_reached=excluded.stage_reached, tags=excluded.tags,
                   updated_at=excluded.updated_at, completed_at=excluded.completed_at,
                   happened_at=excluded.happened_at, noticed_at=excluded.noticed_at,
                   owned_s=excluded.owned_s, apologized_s=excluded.apologized_s,
                   fixed_s=excluded.fixed_s""",
            (
                s.id, s.title, s.playbook_id, s.playbook_title, s.playbook_version,
                s.playbook_hash, s.playbook_path, s.status, s.severity, s.stage_reached,
                _json(list(s.tags)), s.created_at, s.updated_at,
                s.updated_at if s.status == "completed" else None, s.happened_at, s.noticed_at,
                milestones["owned"], milestones["apologized"], milestones["fixed"],
            ),
        )
        conn.execute("DELETE FROM session_tags WHERE session_id = ?", (s.id,))
        conn.executemany(
            "INSERT INTO session_tags (session_id, tag) VALUES (?, ?)", [(s.id, t) for t in s.tags]
        )

    def _write_step(self, conn: sqlite3.Connection, s: Session, step_id: str) -> None:
        record = s.steps.get(step_id)
        if step_id == FACTORS_STEP:
            self._sync_factors(conn, s.id, record.value if record and record.state == "answered" else None)
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
        if isinstance(record.value, list) and all(isinstance(i, dict) and "what" in i for i in record.value):
            self._sync_actions(conn, s.id, step_id, record.value, record.at)

    def _sync_factors(self, conn: sqlite3.Connection, session_id: str, value: Any) -> None:
        conn.execute("DELETE FROM factors WHERE session_id = ?", (session_id,))
        found = derived.factor_keys(_factor_text(value))
        conn.executemany(
            """INSERT INTO factors (key, session_id, text, created_at, learned)
               SELECT ?, id, ?, created_at, learned FROM sessions WHERE id = ?""",
            [(key, text, session_id) for key, text in found.items()],
        )

    def _sync_actions(self, conn: sqlite3.Connection, session_id: str, step_id: str, items: list[dict[str, Any]], at: str) -> None:
        # Items that survive an edit (matched by their text) keep their row, id and status,
        # so an action marked done is not reopened and `actions done 12` still means it.
        old: dict[str, list[int]] = {}
        for row in conn.execute(
            "SELECT id, what FROM actions WHERE session_id = ? AND step_id = ? AND kind = 'action' ORDER BY position, id",
            (session_id, step_id),
        ):
            old.setdefault(row["what"], []).append(row["id"])
        for position, item in enumerate(items):
            what = str(item.get("what") or "")
            fields = (position, item.get("owner"), item.get("due"), item.get("effort"), _commitment(item.get("commitment")))
            ids = old.get(what)
            if ids:
                conn.execute(
                    """UPDATE actions SET position = ?, owner = ?, due = ?, effort = ?, commitment = ?,
                           updated_at = CASE WHEN position IS ? AND owner IS ? AND due IS ? AND effort IS ? AND commitment IS ?
                                             THEN updated_at ELSE ? END
                       WHERE id = ?""",
                    (*fields, *fields, at, ids.pop(0)),
                )
            else:
                conn.execute(
                    """INSERT INTO actions (session_id, step_id, position, kind, what, owner, due, effort, commitment, status, reason, updated_at)
                       VALUES (?,?,?,'action',?,?,?,?,?,'open','',?)""",
                    (session_id, step_id, position, what, *fields[1:], at),
                )
        gone = [i for ids in old.values() for i in ids]
        conn.executemany("DELETE FROM actions WHERE id = ?", [(i,) for i in gone])

    def _sync_follow_ups(self, conn: sqlite3.Connection, session_id: str, at: str) -> None:
        """Derive the follow-ups that the session's messages imply (kind "follow-up"):

        - the next status update: the latest `status-update` draft is not phase `resolved`
          → due at that draft's time + `next_update_minutes` (default 30); a newer update
          moves the due time (and reopens it); a resolved update, or the action step
          `resolved_notice` marked done, marks it done.
        - the follow-up message: the fix stage is completed and the affected people were
          told something (an apology, a status update, a personal note or a post) →
          due the day after the fix; a `follow-up` draft, or the action step
          `follow_up_sent` marked done, marks it done.
        An abandoned session drops its open follow-ups. `actions done/drop` work on them
        like on any item; a later draft that changes the due time reopens one.
        """
        session = conn.execute("SELECT status, lessons_only FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if session is None or session["lessons_only"]:
            return
        abandoned = session["status"] == "abandoned"
        existing = {
            r["step_id"]: r
            for r in conn.execute("SELECT id, step_id, due, status FROM actions WHERE session_id = ? AND kind = 'follow-up'", (session_id,))
        }

        def put(step_id: str, what: str, due: str, *, reopen: bool) -> None:
            row = existing.get(step_id)
            if row is None:
                conn.execute(
                    """INSERT INTO actions (session_id, step_id, position, kind, what, due, status, reason, updated_at)
                       VALUES (?,?,0,'follow-up',?,?,'open','',?)""",
                    (session_id, step_id, what, due, at),
                )
            elif row["due"] != due and (reopen or row["status"] == "open"):
                conn.execute(
                    "UPDATE actions SET what = ?, due = ?, status = 'open', reason = '', updated_at = ? WHERE id = ?",
                    (what, due, at, row["id"]),
                )

        def close(step_id: str, status: str, reason: str) -> None:
            row = existing.get(step_id)
            if row is not None and row["status"] == "open":
                conn.execute("UPDATE actions SET status = ?, reason = ?, updated_at = ? WHERE id = ?", (status, reason, at, row["id"]))

        def step_done(step_id: str) -> bool:
            row = conn.execute(
                "SELECT 1 FROM steps WHERE session_id = ? AND step_id = ? AND state = 'done'", (session_id, step_id)
            ).fetchone()
            return row is not None

        latest = conn.execute(
            "SELECT phase, created_at FROM drafts WHERE session_id = ? AND message_id = ? ORDER BY id DESC LIMIT 1",
            (session_id, STATUS_UPDATE),
        ).fetchone()
        if latest is not None:
            if abandoned:
                close(STATUS_UPDATE, "dropped", "session abandoned")
            elif latest["phase"] == "resolved":
                close(STATUS_UPDATE, "done", "resolved update drafted")
            elif step_done(RESOLVED_NOTICE_STEP):
                close(STATUS_UPDATE, "done", "resolved notice posted")
            else:
                minutes = self._number_answer(conn, session_id, NEXT_UPDATE_STEP) or DEFAULT_UPDATE_MINUTES
                drafted = derived.parse_utc(latest["created_at"]) or dt.datetime.now(dt.timezone.utc)
                due = (drafted + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
                phase = latest["phase"] or "no phase"
                # a new update brings a new next one: reopen it even if the last was marked done
                put(STATUS_UPDATE, f"Post the next status update (last: {phase})", due, reopen=True)

        followed = conn.execute(
            "SELECT 1 FROM drafts WHERE session_id = ? AND message_id = ? LIMIT 1", (session_id, FOLLOW_UP)
        ).fetchone()
        fixed = conn.execute(
            "SELECT completed_at FROM stages WHERE session_id = ? AND stage = 'fix' AND state = 'completed'", (session_id,)
        ).fetchone()
        told = conn.execute(
            f"SELECT 1 FROM drafts WHERE session_id = ? AND message_id IN ({','.join('?' * len(TOLD_MESSAGES))}) LIMIT 1",
            (session_id, *TOLD_MESSAGES),
        ).fetchone()
        if followed or step_done(FOLLOW_UP_SENT_STEP):
            close(FOLLOW_UP, "done", "follow-up drafted" if followed else "follow-up sent")
        elif abandoned:
            close(FOLLOW_UP, "dropped", "session abandoned")
        elif fixed and told:
            fixed_at = derived.parse_utc(fixed["completed_at"]) or dt.datetime.now(dt.timezone.utc)
            due = (fixed_at.astimezone().date() + dt.timedelta(days=1)).isoformat()
            put(FOLLOW_UP, "Send the follow-up message: what was fixed, what changes", due, reopen=False)
        elif FOLLOW_UP in existing and existing[FOLLOW_UP]["status"] == "open":
            conn.execute("DELETE FROM actions WHERE id = ?", (existing[FOLLOW_UP]["id"],))

    @staticmethod
    def _number_answer(conn: sqlite3.Connection, session_id: str, step_id: str) -> float | None:
        row = conn.execute(
            "SELECT value FROM steps WHERE session_id = ? AND step_id = ? AND state = 'answered'", (session_id, step_id)
        ).fetchone()
        if row is None or row["value"] is None:
            return None
        try:
            value = json.loads(row["value"])
        except ValueError:
            return None
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None

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
        from mea_culpa.run.session import Draft, Event, Session, StageRecord, StepRecord

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
            return str(rows[0])
        if rows:
            raise NotFound(f"{session_id!r} matches several sessions: {', '.join(rows[:5])}", hint="type more of the id")
        raise NotFound(f"no session {session_id!r} in the journal", hint="see the sessions with: mea-culpa history")

    def new_id(self, date: str, slug: str) -> str:
        """A short, unique, human-readable id: `2026-11-22-checkout-down`, then `-2`, `-3`…
        (free now; `save_as_new` claims one for good)."""
        base = f"{date}-{slug}"
        if not self.exists(base):
            return base
        n = 2
        while self.exists(f"{base}-{n}"):
            n += 1
        return f"{base}-{n}"

    def save_as_new(self, session: Session, date: str, slug: str) -> Session:
        """Write a new session under the first free id from `date` and `slug`, chosen inside
        the writing transaction, so that two runs with the same title at the same moment
        get two ids instead of one overwriting the other. Returns the session as saved."""
        import dataclasses

        try:
            with self.transaction() as conn:
                saved = dataclasses.replace(session, id=self.new_id(date, slug))
                self._write_whole(conn, saved)
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None
        return saved

    @staticmethod
    def _session_filters(
        playbook: str | None, tag: str | None, status: str | None, severity: str | None, since: str | None, before: str | None
    ) -> tuple[str, list[Any]]:
        conditions = (
            ("s.playbook_id = ?", playbook),
            ("s.status = ?", status),
            ("s.severity = ?", severity),
            ("s.created_at >= ?", since),
            ("s.created_at < ?", before),
            ("s.id IN (SELECT session_id FROM session_tags WHERE tag = ?)", tag),
        )
        given = [(sql, value) for sql, value in conditions if value]
        where = " WHERE " + " AND ".join(sql for sql, _ in given) if given else ""
        return where, [value for _, value in given]

    def history(
        self,
        *,
        playbook: str | None = None,
        tag: str | None = None,
        status: str | None = None,
        since: str | None = None,
        limit: int = 20,
        offset: int = 0,
        severity: str | None = None,
        before: str | None = None,
    ) -> list[SessionRow]:
        """Sessions newest first, filtered in SQL, one page at a time. `since` and `before`
        compare with the UTC start time as text, so a date (2026-03-01) works."""
        where, args = self._session_filters(playbook, tag, status, severity, since, before)
        sql = (
            "SELECT s.id, s.title, s.playbook_id, s.status, s.severity, s.stage_reached, s.created_at, s.updated_at,"
            " (SELECT COUNT(*) FROM actions a WHERE a.session_id = s.id AND +a.status = 'open') AS open_actions,"
            " s.tags, s.lessons_only"
            " FROM sessions s" + where + " ORDER BY s.created_at DESC, s.rowid DESC LIMIT ? OFFSET ?"
        )
        try:
            rows = self.conn.execute(sql, (*args, limit, offset)).fetchall()
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None
        return [
            SessionRow(
                r["id"], r["title"], r["playbook_id"], r["status"], r["severity"], r["stage_reached"], r["created_at"],
                r["updated_at"], r["open_actions"], tuple(json.loads(r["tags"] or "[]")), bool(r["lessons_only"]),
            )
            for r in rows
        ]

    def count_sessions(
        self,
        *,
        playbook: str | None = None,
        tag: str | None = None,
        status: str | None = None,
        since: str | None = None,
        severity: str | None = None,
        before: str | None = None,
    ) -> int:
        """How many sessions `history` would page through with these filters."""
        where, args = self._session_filters(playbook, tag, status, severity, since, before)
        try:
            return int(self.conn.execute("SELECT COUNT(*) FROM sessions s" + where, args).fetchone()[0])
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None

    # --- action items ----------------------------------------------------------------

    def _action_filters(
        self, include_closed: bool, overdue: bool, owner: str | None, session: str | None, now: dt.datetime | None
    ) -> tuple[str, dict[str, Any]]:
        today, now_text = _today(now)
        where = ["1"]
        params: dict[str, Any] = {"today": today, "now": now_text}
        if not include_closed:
            where.append("a.status = 'open'")
        if overdue:
            where.append(_OVERDUE)
        if owner:
            where.append("a.owner = :owner COLLATE NOCASE")
            params["owner"] = owner.strip()
        if session:
            where.append("a.session_id = :session")
            params["session"] = session
        return " AND ".join(where), params

    def actions(
        self,
        *,
        include_closed: bool = False,
        overdue: bool = False,
        owner: str | None = None,
        session: str | None = None,
        limit: int | None = None,
        now: dt.datetime | None = None,
    ) -> list[ActionRow]:
        """Action items and follow-ups across sessions: open ones (all with `include_closed`),
        soonest due first, those without a due date last. `owner` ignores case."""
        where, params = self._action_filters(include_closed, overdue, owner, session, now)
        params["limit"] = -1 if limit is None else limit
        # Order and cut the actions first, then fetch the session titles for that page only.
        sql = (
            "SELECT a.id, a.session_id, s.title AS session_title, a.kind, a.step_id, a.what, a.owner, a.due, a.effort,"
            f" a.commitment, a.status, a.reason, a.updated_at, {_OVERDUE} AS overdue"
            " FROM (SELECT * FROM actions a"
            f"       WHERE {where}"
            "       ORDER BY a.status <> 'open', a.due IS NULL, a.due, a.session_id, a.position, a.id"
            "       LIMIT :limit) a"
            " JOIN sessions s ON s.id = a.session_id"
            " ORDER BY a.status <> 'open', a.due IS NULL, a.due, a.session_id, a.position, a.id"
        )
        try:
            rows = self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None
        return [_action_row(r) for r in rows]

    def count_actions(self, *, include_closed: bool = False, overdue: bool = False, owner: str | None = None,
                      session: str | None = None, now: dt.datetime | None = None) -> int:
        """How many rows `actions` would return without a limit."""
        where, params = self._action_filters(include_closed, overdue, owner, session, now)
        try:
            return int(self.conn.execute(f"SELECT COUNT(*) FROM actions a WHERE {where}", params).fetchone()[0])
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None

    def action(self, action_id: int, *, now: dt.datetime | None = None) -> ActionRow:
        """One action item by id; NotFound when there is none."""
        today, now_text = _today(now)
        row = self.conn.execute(
            "SELECT a.id, a.session_id, s.title AS session_title, a.kind, a.step_id, a.what, a.owner, a.due, a.effort,"
            f" a.commitment, a.status, a.reason, a.updated_at, {_OVERDUE} AS overdue"
            " FROM actions a JOIN sessions s ON s.id = a.session_id WHERE a.id = :id",
            {"id": action_id, "today": today, "now": now_text},
        ).fetchone()
        if row is None:
            raise NotFound(f"no action item {action_id}", hint="see the ids with: mea-culpa actions --all")
        return _action_row(row)

    def set_action_status(self, action_id: int, status: str, *, reason: str = "", now: dt.datetime | None = None) -> ActionRow:
        """Mark an action item done, dropped (a reason is required) or open again."""
        if status not in ACTION_STATUSES:
            raise UsageError(f"{status!r} is not an action status; use one of {', '.join(ACTION_STATUSES)}")
        reason = reason.strip()
        if status == "dropped" and not reason:
            raise UsageError("dropping an action needs a reason", hint="say why with --reason TEXT")
        at = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.action(action_id)
        try:
            with self.transaction() as conn:
                conn.execute(
                    "UPDATE actions SET status = ?, reason = ?, updated_at = ? WHERE id = ?",
                    (status, reason if status == "dropped" else "", at, action_id),
                )
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None
        return self.action(action_id, now=now)

    # --- stats -----------------------------------------------------------------------

    def stats(
        self, *, since: str | None = None, patterns: int = 25, now: dt.datetime | None = None
    ) -> stats.Report:
        """Aggregates over the sessions started since `since` (all when None), computed in
        SQL from columns kept up to date on write: counts, milestone medians, action
        follow-through, recurring contributing factors. Nothing loads every session into
        Python, and every figure is read from an index (see `_V2`)."""
        low = since or ""
        today, _ = _today(now)
        args: dict[str, Any] = {"low": low, "today": today}
        # Tables that hold a session id are narrowed to the picked sessions only with `since`.
        picked = "" if not since else " AND {col} IN (SELECT id FROM sessions WHERE created_at >= :low)"
        q = self.conn.execute
        try:
            counts = {
                column: [
                    (r[0], r[1])
                    for r in q(
                        f"SELECT {column}, COUNT(*) FROM sessions WHERE created_at >= :low"
                        f" GROUP BY {column} ORDER BY 2 DESC, 1",
                        args,
                    )
                ]
                for column in ("status", "playbook_id", "severity")
            }
            by_tag = [
                (r[0], r[1])
                for r in q(
                    "SELECT tag, COUNT(*) FROM session_tags WHERE 1"
                    + picked.format(col="session_id")
                    + " GROUP BY tag ORDER BY 2 DESC, 1",
                    args,
                )
            ]
            per_month = self._per_month(low)
            severities = [sev for sev, _ in counts["severity"]]
            medians = self._medians(severities, since)
            by_status = {
                r[0]: r[1]
                for r in q(
                    "SELECT status, COUNT(*) FROM actions WHERE kind = 'action'"
                    + picked.format(col="session_id")
                    + " GROUP BY status",
                    args,
                )
            }
            overdue = q(
                """SELECT COUNT(*) FROM actions WHERE status = 'open' AND kind = 'action'
                   AND due < :today AND length(due) = 10""" + picked.format(col="session_id"),
                args,
            ).fetchone()[0]
            # The most frequent patterns, and those without learning (however rare), up to a
            # limit each: over all sessions from the trigger-kept factor_counts, else counted.
            source = (
                """SELECT key, sessions, learned, first, last FROM factor_counts
                   WHERE sessions >= :min {extra} ORDER BY sessions DESC, key LIMIT :limit"""
                if not since
                else """SELECT key, COUNT(*) AS sessions, SUM(learned) AS learned, MIN(created_at), MAX(created_at)
                   FROM factors WHERE created_at >= :low GROUP BY key
                   HAVING COUNT(*) >= :min {extra} ORDER BY sessions DESC, key LIMIT :limit"""
            )
            ranked = {"low": low, "min": _stats().PATTERN_MIN_SESSIONS, "limit": patterns}
            top = [_stats().Pattern(r[0], "", r[1], r[2], r[3], r[4]) for r in q(source.format(extra=""), ranked)]
            unlearned = [
                _stats().Pattern(r[0], "", r[1], r[2], r[3], r[4])
                for r in q(source.format(extra="AND learned = 0"), {**ranked, "limit": 2 * patterns})
            ]
            seen = {p.key for p in top}
            keep = top + [p for p in unlearned if p.key not in seen][:patterns]
            found = [
                replace(p, label=q(
                    "SELECT text FROM factors WHERE key = ? AND created_at >= ? ORDER BY created_at DESC LIMIT 1",
                    (p.key, low),
                ).fetchone()[0])
                for p in keep
            ]
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None
        report: stats.Report = _stats().build_report(
            since=since,
            sessions=sum(n for _, n in counts["status"]),
            by_playbook=counts["playbook_id"],
            by_severity=counts["severity"],
            by_tag=by_tag,
            by_status=counts["status"],
            per_month=per_month,
            medians=medians,
            actions=_stats().ActionCounts(
                open=by_status.get("open", 0), overdue=overdue,
                done=by_status.get("done", 0), dropped=by_status.get("dropped", 0),
            ),
            patterns=found,
        )
        return report

    def _per_month(self, low: str) -> dict[str, int]:
        """Sessions per calendar month (UTC), one index range count per month."""
        # Two queries: SQLite answers a lone MIN or MAX from the index at once, both together by a scan.
        first = self.conn.execute("SELECT MIN(created_at) FROM sessions WHERE created_at >= ?", (low,)).fetchone()[0]
        last = self.conn.execute("SELECT MAX(created_at) FROM sessions").fetchone()[0]
        if not first:
            return {}
        out = {}
        year, month = int(first[:4]), int(first[5:7])
        while f"{year:04d}-{month:02d}" <= last[:7]:
            start = f"{year:04d}-{month:02d}"
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            end = f"{year:04d}-{month:02d}"
            n = self.conn.execute(
                "SELECT COUNT(*) FROM sessions WHERE created_at >= ? AND created_at < ?",
                (max(start, low), end),
            ).fetchone()[0]
            if n:
                out[start] = n
        return out

    def _medians(self, severities: list[str | None], since: str | None) -> list[tuple[str | None, str, float | None, int]]:
        """Medians overall and per severity: a count, then one LIMIT/OFFSET step along the
        milestone's index (ordered by duration) to the middle value(s). `since` is checked
        inside the same index, which also holds the start time."""
        out: list[tuple[str | None, str, float | None, int]] = []
        window = " AND created_at >= ?" if since else ""
        for name, _ in derived.MILESTONES:
            col = f"{name}_s"
            groups: list[tuple[str | None, str, tuple[Any, ...]]] = [(None, "", ())]
            groups += [(sev or "unset", " AND severity IS ?", (sev,)) for sev in severities]
            for label, where, params in groups:
                params = params + ((since,) if since else ())
                n = self.conn.execute(
                    f"SELECT COUNT(*) FROM sessions WHERE {col} IS NOT NULL{where}{window}", params
                ).fetchone()[0]
                if not n:
                    continue
                middle = self.conn.execute(
                    f"""SELECT AVG(v) FROM (SELECT {col} AS v FROM sessions WHERE {col} IS NOT NULL{where}{window}
                        ORDER BY {col} LIMIT ? OFFSET ?)""",
                    (*params, 2 - n % 2, (n - 1) // 2),
                ).fetchone()[0]
                out.append((label, name, middle, n))
        return out

    # --- forgetting ------------------------------------------------------------------

    def session_ids(self, *, before: str | None = None, since: str | None = None) -> list[str]:
        """Every session id started in the range (for `forget --before`), oldest first."""
        where, args = self._session_filters(None, None, None, None, since, before)
        return [r[0] for r in self.conn.execute("SELECT s.id FROM sessions s" + where + " ORDER BY s.created_at, s.rowid", args)]

    def forget(self, session_ids: Iterable[str], *, keep_lessons: bool = False) -> Forgotten:
        """Delete sessions for good, or (`keep_lessons`) keep only the lesson and the action
        items: every other answer, the drafts, the event and skip reasons, the factors and the
        title go, and the id (made from the title) becomes `<date>-facts-forgotten`. Then the
        file is vacuumed and its write-ahead log emptied, so the bytes are gone too."""
        ids = list(dict.fromkeys(session_ids))
        deleted: list[str] = []
        kept: list[tuple[str, str]] = []
        try:
            self.conn.execute("PRAGMA secure_delete = ON")
            with self.transaction() as conn:
                for sid in ids:
                    row = conn.execute("SELECT id, created_at, lessons_only FROM sessions WHERE id = ?", (sid,)).fetchone()
                    if row is None:
                        raise NotFound(f"no session {sid!r} in the journal", hint="see the sessions with: mea-culpa history")
                    if not keep_lessons:
                        conn.execute("DELETE FROM sessions WHERE id = ?", (sid,))
                        deleted.append(sid)
                    elif row["lessons_only"]:
                        kept.append((sid, sid))
                    else:
                        kept.append((sid, self._strip_facts(conn, sid, row["created_at"][:10])))
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from None
        return Forgotten(tuple(deleted), tuple(kept), self.scrub())

    def _strip_facts(self, conn: sqlite3.Connection, sid: str, date: str) -> str:
        keep_steps = [LESSON_STEP] + [
            r[0] for r in conn.execute("SELECT DISTINCT step_id FROM actions WHERE session_id = ? AND kind = 'action'", (sid,))
        ]
        marks = ",".join("?" * len(keep_steps))
        conn.execute(f"DELETE FROM steps WHERE session_id = ? AND step_id NOT IN ({marks})", (sid, *keep_steps))
        conn.execute("UPDATE steps SET reason = '', source = 'kept' WHERE session_id = ?", (sid,))
        for table in ("drafts", "factors"):
            conn.execute(f"DELETE FROM {table} WHERE session_id = ?", (sid,))
        conn.execute("DELETE FROM actions WHERE session_id = ? AND kind = 'follow-up'", (sid,))
        conn.execute("UPDATE events SET detail = '' WHERE session_id = ?", (sid,))
        conn.execute("UPDATE stages SET reason = '' WHERE session_id = ?", (sid,))
        new = self.new_id(date, "facts-forgotten") if not sid.endswith("facts-forgotten") else sid
        # The id is the title's slug (a fact): move every row to the new id. The
        # references are checked at commit, once they all point at it again.
        conn.execute("PRAGMA defer_foreign_keys = ON")
        conn.execute(
            """UPDATE sessions SET id = ?, title = ?, playbook_path = '', lessons_only = 1 WHERE id = ?""",
            (new, FORGOTTEN_TITLE, sid),
        )
        for table in ("session_tags", "steps", "stages", "events", "actions"):
            conn.execute(f"UPDATE {table} SET session_id = ? WHERE session_id = ?", (new, sid))
        return new

    def scrub(self) -> bool:
        """VACUUM and empty the write-ahead log, so deleted rows leave the file. False when
        another connection holds the journal open and the log could not be emptied (after
        waiting SCRUB_WAIT_MS for it, not the full busy timeout: the deletion is already
        committed, and `forget --vacuum` can finish later)."""
        try:
            self.conn.execute(f"PRAGMA busy_timeout = {SCRUB_WAIT_MS}")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self.conn.execute("VACUUM")
            busy = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.OperationalError:
            return False
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return bool(busy == 0)


def _action_row(r: sqlite3.Row) -> ActionRow:
    return ActionRow(
        id=r["id"], session_id=r["session_id"], session_title=r["session_title"], kind=r["kind"], step_id=r["step_id"],
        what=r["what"], owner=r["owner"], due=r["due"], effort=r["effort"],
        commitment=None if r["commitment"] is None else bool(r["commitment"]), status=r["status"], reason=r["reason"],
        updated_at=r["updated_at"], overdue=bool(r["overdue"]),
    )


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
        # The journal holds people's mistakes: only its owner may read it.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)  # SQLite gives the -wal and -shm files the same mode
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
        version = _settled(conn)
        if version > SCHEMA_VERSION:
            conn.close()
            raise StorageError(
                f"the journal {path} was written by a newer mea-culpa (schema {version}; this one reads up to {SCHEMA_VERSION})",
                hint="upgrade mea-culpa; the journal was left untouched",
            )
        if version < SCHEMA_VERSION:
            _migrate(journal, version)
    except sqlite3.Error as exc:
        conn.close()
        raise _storage_error(exc, path) from None
    # Closed when the journal is no longer used, and at the latest when the process ends,
    # even when the command line leaves without tearing the interpreter down (cli.entry):
    # closing is when SQLite folds its write-ahead log back into the file.
    weakref.finalize(journal, conn.close)
    return journal


def _settled(conn: sqlite3.Connection) -> int:
    """Put a new connection in the journal's modes; returns the schema version found.

    Switching a journal into WAL mode, or opening one just as another process closes it
    (and folds its log back), can make SQLite answer "locked" at once instead of waiting
    for busy_timeout; two first runs at the same moment meet exactly that. So those steps
    are tried again for as long as busy_timeout would have waited."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version <= SCHEMA_VERSION:  # a newer mea-culpa's journal is left as it is
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute("PRAGMA synchronous = NORMAL")
            return int(version)
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _migrate(journal: Journal, version: int) -> None:
    for target in range(version + 1, SCHEMA_VERSION + 1):
        for attempt in range(50):  # two first runs may race to create the schema
            try:
                with journal.transaction() as conn:
                    current = conn.execute("PRAGMA user_version").fetchone()[0]
                    if current >= target:
                        break
                    # executescript would commit on its own; run the statements one by one
                    for statement in _statements(_MIGRATIONS[target]):
                        conn.execute(statement)
                    if target in _BACKFILLS:
                        _BACKFILLS[target](journal, conn)
                    conn.execute(f"PRAGMA user_version = {target}")
                break
            except StorageError:
                if attempt == 49:
                    raise
                time.sleep(0.1)


def _statements(script: str) -> Iterator[str]:
    """The statements of a script, one by one (a trigger's body holds semicolons)."""
    buffer = ""
    for part in script.split(";"):
        buffer += part + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                yield buffer
            buffer = ""


def _backfill_v2(journal: Journal, conn: sqlite3.Connection) -> None:
    """Fill the new columns, the factors and the derived follow-ups from what version 1 stored."""
    from mea_culpa.run.session import Event

    sessions = conn.execute("SELECT id, noticed_at, created_at, updated_at FROM sessions").fetchall()
    for row in sessions:
        events = [
            Event(e["at"], e["kind"], e["stage"])
            for e in conn.execute(
                "SELECT at, kind, stage FROM events WHERE session_id = ? AND kind = 'stage-completed'",
                (row["id"],),
            )
        ]
        m = derived.milestone_seconds(row["noticed_at"], row["created_at"], sorted(events, key=lambda e: e.at))
        conn.execute(
            "UPDATE sessions SET owned_s = ?, apologized_s = ?, fixed_s = ?, learned = "
            + _learned("sessions.id") + " WHERE id = ?",
            (m["owned"], m["apologized"], m["fixed"], row["id"]),
        )
    answers = conn.execute(
        "SELECT session_id, value FROM steps WHERE step_id = ? AND state = 'answered'", (FACTORS_STEP,)
    ).fetchall()
    for row in answers:
        journal._sync_factors(conn, row[0], json.loads(row[1]) if row[1] else None)
    for row in sessions:
        journal._sync_follow_ups(conn, row["id"], row["updated_at"])


_BACKFILLS: dict[int, Callable[[Journal, sqlite3.Connection], None]] = {2: _backfill_v2}


def memory_journal() -> Journal:
    """A journal that lives only in memory (`--no-save`, and tests)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")  # as in a file journal: deleting a session deletes its rows
    journal = Journal(conn, None)
    try:
        _migrate(journal, 0)
    except sqlite3.Error as exc:
        raise _storage_error(exc, None) from None
    return journal
