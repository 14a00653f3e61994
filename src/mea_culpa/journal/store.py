"""The journal's interface: `open_journal` and a `Journal`'s writes (`apply`, `save`),
reads (`load`, `history`, `actions`, `stats`), leases and forgetting.

One code path for every engine (SQLAlchemy Core; engine.py says which store and how to
reach it). Every write is one transaction, committed before the runner asks the next
question; what a write derives is kept by upkeep.py inside the same transaction. When a
database server goes away in the middle of a run, the session is kept in the local spool
(spool.py) and `resume` puts it back. What is stored: docs/journal.md.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import and_, case, delete, func, insert, literal, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from mea_culpa.errors import MeaCulpaError, NotFound, StorageError, UsageError
from mea_culpa.journal import engine as engines
from mea_culpa.journal import migrate, spool, upkeep, who
from mea_culpa.journal.derived import parse_utc
from mea_culpa.journal.engine import BUSY_TIMEOUT_MS, Location, ServerGone  # noqa: F401  (part of the interface)
from mea_culpa.journal.tables import (
    HEAD,
    SESSION_TABLES,
    actions,
    drafts,
    events,
    factors,
    metadata,
    sent,
    session_tags,
    sessions,
    stages,
    steps,
    tallies,
)
from mea_culpa.journal.tables import SCHEMA_VERSION as SCHEMA_VERSION  # part of the interface
from mea_culpa.journal.upkeep import FACTORS_STEP, LESSON_STEP  # noqa: F401  (part of the interface)

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.engine import Connection, Engine

    from mea_culpa.journal import stats
    from mea_culpa.playbook.model import Playbook
    from mea_culpa.run.session import Change, Session

T = TypeVar("T")
SCRUB_WAIT_MS = 2_000  # how long `forget` waits for other SQLite readers before it gives up compacting
RETRIES = 6  # how often a PostgreSQL transaction that lost a race is run again
ACTION_STATUSES = ("open", "done", "dropped")
FORGOTTEN_TITLE = "(facts forgotten)"


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(utc_text: str | None) -> str:
    at = parse_utc(utc_text)
    return at.astimezone().strftime("%Y-%m-%d %H:%M") if at else "an unknown time"


# --- what reads return --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
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
    author: str | None = None
    posted: int = 0  # drafts posted (to Slack or a webhook): known to have gone out
    last_posted: str | None = None  # when the latest of them was posted (UTC)


@dataclass(frozen=True, slots=True)
class ActionRow:
    """One line of `actions`: a prevention action item, a follow-up a message implies, or
    a to-do (an action step) the session leaves open."""

    id: int
    session_id: str
    session_title: str
    kind: str  # "action" (from a list step with action_items) | "follow-up" (derived from drafts) | "to-do"
    step_id: str  # the list step; for a follow-up, the message it asks for; for a to-do, the action step
    what: str  # for a to-do, the step's prompt
    owner: str | None  # the item's owner; without one, the author of its session
    due: str | None  # a date (YYYY-MM-DD) or, for a status update, a UTC time (…Z)
    effort: str | None
    commitment: bool | None
    status: str  # open | done | dropped
    reason: str
    updated_at: str
    overdue: bool
    step_state: str | None = None  # a to-do's state in its session: later, blocked, or pending (not marked yet)
    note: str = ""  # the note left with a to-do put off or blocked

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


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What `forget` did."""

    deleted: tuple[str, ...]  # sessions removed entirely
    kept: tuple[tuple[str, str], ...]  # (old id, new id): sessions kept with only the lesson and actions
    scrubbed: bool  # the storage was compacted (SQLite: vacuumed, log emptied; PostgreSQL: VACUUM ran)


@dataclass(frozen=True, slots=True)
class Resumed:
    """A session taken up again (see `Journal.begin_resume`)."""

    session: Session
    restored: Path | None  # the spool file whose answers were put back, if any


@dataclass(frozen=True, slots=True)
class Copied:
    """What `journal copy` did: (id in the source, id in the target) per session copied."""

    copied: tuple[tuple[str, str], ...]
    already: tuple[str, ...]  # sessions the target had from an earlier copy


@dataclass(frozen=True, slots=True)
class Info:
    """What `journal info` shows."""

    store: str  # the file, or the URL with any password masked
    kind: str
    server: str  # "SQLite 3.45.1", "PostgreSQL 15.18"
    revision: str | None
    head: str
    sessions: int | None = None  # None: the schema is not current, so nothing is counted
    by_status: tuple[tuple[str, int], ...] = ()
    authors: int = 0
    actions: tuple[tuple[str, int], ...] = ()
    drafts: int = 0

    @property
    def current(self) -> bool:
        return self.revision == HEAD


class SessionHeld(StorageError):
    """Someone else is working through the session now (another mea-culpa holds its lease)."""


# --- the journal --------------------------------------------------------------------------------


def _today(now: dt.datetime | None) -> tuple[str, str]:
    """(local date, UTC time) as stored text, for comparing with due dates and times."""
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        now = now.astimezone()
    return now.astimezone().date().isoformat(), now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _overdue(a: Any, today: str, now: str) -> ColumnElement[Any]:
    """SQL: open, and due before today (a date) or before now (a time). Dates are local
    (what the user typed); times are UTC."""
    from sqlalchemy import and_

    late = and_(
        a.status == "open", a.due.is_not(None),
        or_(and_(func.length(a.due) == 10, a.due < today), and_(func.length(a.due) > 10, a.due < now)),
    )
    return case((late, 1), else_=0)


class Journal:
    """An open journal. Use `open_journal`; close with `close()` or a `with` block."""

    def __init__(self, engine: Engine, location: Location) -> None:
        self.engine = engine
        self.location = location
        self._user: str | None = None
        self._leases: dict[str, str] = {}  # session id -> the token of the lease this journal holds

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    @property
    def path(self) -> Path | None:
        """The SQLite file (None for a server or an in-memory journal)."""
        return self.location.path

    @property
    def kind(self) -> str:
        return self.location.kind

    @property
    def user(self) -> str:
        """Who writes: the author of new sessions and the holder of leases."""
        if self._user is None:
            self._user = who.current_user()
        return self._user

    # --- transactions ---------------------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """One read transaction (a consistent view of the journal)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise engines.storage_error(exc, self.location) from None

    def _write(self, work: Callable[[upkeep.Writes], T]) -> T:
        """Run `work` in one write transaction, settle what it derives, commit. A
        PostgreSQL transaction that lost a race (a deadlock, an id claimed meanwhile) is
        run again from the start; SQLite writers queue (BEGIN IMMEDIATE) instead."""
        for attempt in range(RETRIES):
            try:
                with self.engine.connect() as conn:
                    conn.execution_options(**{engines.WRITE: True})
                    with conn.begin():
                        writes = upkeep.Writes(conn)
                        result = work(writes)
                        writes.settle()
                return result
            except SQLAlchemyError as exc:
                if self.location.is_server and attempt < RETRIES - 1 and engines.retryable(exc):
                    continue
                raise engines.storage_error(exc, self.location) from None
        raise AssertionError("unreachable: the last attempt returns or raises")

    # --- writing --------------------------------------------------------------------------

    def apply(self, session: Session, change: Change, *, playbook: Playbook | None = None) -> None:
        """Persist one transition (the changed row and its event) in its own transaction.
        A draft touches only the drafts (anyone may add one); every other change needs the
        session's lease, when someone holds it. With the session's `playbook`, the to-dos
        it leaves open are derived again (see upkeep.sync_to_dos). If the write cannot be
        made (the server is gone, or someone took the session over), the session is kept
        in the local spool and the error says where."""

        def work(w: upkeep.Writes) -> None:
            if change.kind == "draft":
                upkeep.touch_session(w, session)
                if session.drafts:
                    upkeep.write_draft(w, session.id, session.drafts[-1])
            elif change.kind == "sent":  # like a draft: anyone may send one, lease or not
                upkeep.touch_session(w, session)
                if session.sent:
                    upkeep.write_sent(w, session.id, session.sent[-1])
            else:
                self._check_lease(w, session.id)
                upkeep.write_session_row(w, session, author=self.user)
                if change.kind == "step" and change.key:
                    upkeep.write_step(w, session, change.key)
                elif change.kind == "stage" and change.key:
                    upkeep.write_stage(w, session, change.key)
            if change.event:
                upkeep.write_events(w, session.id, [change.event])
            upkeep.sync_follow_ups(w, session)
            if playbook is not None:
                upkeep.sync_to_dos(w, session, playbook)

        try:
            self._write(work)
        except (ServerGone, SessionHeld) as exc:
            raise self._kept(session, exc) from None

    def _kept(self, session: Session, exc: StorageError) -> StorageError:
        """Keep the session in the spool; the error to raise instead of `exc`."""
        path = spool.keep(self.location.shown, session, now=utc_now())
        again = f"mea-culpa resume {session.id}" + (" --take-over" if isinstance(exc, SessionHeld) else "")
        when = "once it is back" if isinstance(exc, ServerGone) else "to put them back"
        kind = type(exc)
        return kind(f"{exc.message}; your answers are kept in {path}: {again} {when}")

    def save(self, session: Session, *, playbook: Playbook | None = None) -> None:
        """Write a whole session at once (replacing any earlier copy). The status of its
        action items (done, dropped) survives the rewrite; with its `playbook`, the to-dos
        it leaves open are derived again."""

        def work(w: upkeep.Writes) -> None:
            self._check_lease(w, session.id)
            upkeep.write_whole(w, session, author=self.user, playbook=playbook)

        try:
            self._write(work)
        except (ServerGone, SessionHeld) as exc:
            raise self._kept(session, exc) from None

    def save_many(self, items: Iterable[Session]) -> int:
        """Write many whole sessions in one transaction (imports, the benchmark journal),
        each replacing any earlier copy, as `save` does. Those the journal does not hold
        yet go in a few hundred at a time, one insert per table (`upkeep.write_new`).
        Returns how many were written."""
        from itertools import islice

        def work(w: upkeep.Writes) -> int:
            count = 0
            iterator = iter(items)
            while chunk := list(islice(iterator, upkeep.CHUNK)):
                ids = [s.id for s in chunk]
                held = {r[0] for r in w.conn.execute(select(sessions.c.id).where(sessions.c.id.in_(ids)))}
                fresh: list[Session] = []
                for session in chunk:
                    if session.id in held:
                        # written in order: what came before it in this chunk goes in first
                        upkeep.write_new(w, fresh, author=self.user)
                        fresh = []
                        upkeep.write_whole(w, session, author=self.user)
                    else:
                        fresh.append(session)
                        held.add(session.id)  # a second copy later in the chunk replaces this one
                upkeep.write_new(w, fresh, author=self.user)
                count += len(chunk)
            return count

        return self._write(work)

    def save_as_new(self, session: Session, date: str, slug: str, *, hold: bool = False,
                    playbook: Playbook | None = None) -> Session:
        """Write a new session under the first free id from `date` and `slug`, chosen inside
        the writing transaction, so that two runs with the same title at the same moment
        get two ids instead of one overwriting the other. With `hold`, this journal takes
        the session's lease (an interactive run); with its `playbook`, the to-dos it leaves
        open are derived. Returns the session as saved, with its author."""

        def work(w: upkeep.Writes) -> Session:
            saved = replace(session, id=self._free_id(w.conn, date, slug), author=session.author or self.user)
            upkeep.write_whole(w, saved, author=self.user, new=True, playbook=playbook)
            if hold:
                self._leases[saved.id] = self._take(w.conn, saved.id)
            return saved

        return self._write(work)

    # --- leases: one person at a time works through a session -------------------------------

    def hold(self, session_id: str, *, take_over: bool = False) -> None:
        """Take the session's lease: from now on only this journal writes its answers.
        Refused (SessionHeld, one line naming who and since when) while another mea-culpa
        holds it, unless `take_over`, or unless that one was on this machine and has ended."""

        def work(w: upkeep.Writes) -> str:
            s = sessions.c
            row = w.conn.execute(
                select(s.lease_holder, s.lease_host, s.lease_pid, s.lease_token, s.lease_since)
                .where(s.id == session_id).with_for_update()
            ).first()
            if row is None:
                raise NotFound(f"no session {session_id!r} in the journal", hint="see the sessions with: mea-culpa history")
            held = row.lease_token and row.lease_token != self._leases.get(session_id)
            ended = row.lease_host == who.this_host() and row.lease_pid is not None and not who.is_running(row.lease_pid)
            if held and not take_over and not ended:
                raise SessionHeld(
                    f"{session_id} is open in another mea-culpa: {row.lease_holder} on {row.lease_host} since "
                    f"{_local(row.lease_since)}; to take it over: mea-culpa resume {session_id} --take-over"
                )
            return self._take(w.conn, session_id)

        self._leases[session_id] = self._write(work)

    def _take(self, conn: Connection, session_id: str) -> str:
        token = uuid.uuid4().hex
        conn.execute(update(sessions).where(sessions.c.id == session_id).values(
            lease_holder=self.user, lease_host=who.this_host(), lease_pid=os.getpid(), lease_token=token, lease_since=utc_now(),
        ))
        return token

    def release(self, session_id: str) -> None:
        """Give the lease back (when the run ends, however it ends). Best effort: a lease
        left behind (the server was gone) is taken over by the next resume on this
        machine, or with --take-over."""
        token = self._leases.pop(session_id, None)
        if token is None:
            return
        try:
            with self.engine.connect() as conn, conn.begin():
                conn.execute(update(sessions).where(sessions.c.id == session_id, sessions.c.lease_token == token).values(
                    lease_holder=None, lease_host=None, lease_pid=None, lease_token=None, lease_since=None,
                ))
        except SQLAlchemyError:
            pass

    def _check_lease(self, w: upkeep.Writes, session_id: str) -> None:
        """Refuse to write a session whose lease someone else holds."""
        s = sessions.c
        row = w.conn.execute(select(s.lease_holder, s.lease_host, s.lease_token, s.lease_since).where(s.id == session_id)).first()
        if row is None or not row.lease_token or row.lease_token == self._leases.get(session_id):
            return
        if session_id in self._leases:
            raise SessionHeld(f"{row.lease_holder} on {row.lease_host} took {session_id} over at {_local(row.lease_since)}")
        raise SessionHeld(
            f"{session_id} is open in another mea-culpa: {row.lease_holder} on {row.lease_host} since {_local(row.lease_since)}"
        )

    def begin_resume(self, session_id: str | None, *, take_over: bool = False) -> Resumed:
        """The session to resume, with its lease held: the one named (or the latest
        unfinished). Answers kept in the spool while the journal could not be reached are
        put back first, merged step by step with what the journal holds (the later answer
        wins), and the spool file is removed."""
        if session_id is None:
            kept = spool.find(self.location.shown)
            sid = kept.session.id if kept else self.resolve(None, status="in-progress")
        else:
            sid = self.resolve(session_id) if not spool.find(self.location.shown, session_id) else session_id
            kept = spool.find(self.location.shown, sid)
        if kept is not None and not self.exists(sid):
            self._write(lambda w: upkeep.write_whole(w, kept.session, author=self.user, new=True))
        self.hold(sid, take_over=take_over)
        if kept is not None:
            self.save(spool.merge(self.load(sid), kept.session))
            spool.discard(sid)
        return Resumed(self.load(sid), kept.path if kept else None)

    # --- reading ----------------------------------------------------------------------------

    def load(self, session_id: str) -> Session:
        """The whole session; NotFound when there is none."""
        with self._reading() as conn:
            found = upkeep.read_session(conn, session_id)
        if found is None:
            raise NotFound(f"no session {session_id!r} in the journal", hint="see the sessions with: mea-culpa history")
        return found

    def exists(self, session_id: str) -> bool:
        with self._reading() as conn:
            return _exists(conn, session_id)

    def latest(self, *, status: str | None = None) -> str | None:
        """The id of the newest session (optionally of one status)."""
        query = select(sessions.c.id).order_by(sessions.c.updated_at.desc(), sessions.c.id.desc()).limit(1)
        if status:
            query = query.where(sessions.c.status == status)
        with self._reading() as conn:
            found = conn.execute(query).scalar()
        return str(found) if found is not None else None

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
        with self._reading() as conn:
            rows = [r[0] for r in conn.execute(
                select(sessions.c.id).where(sessions.c.id.startswith(session_id, autoescape=True)).order_by(sessions.c.id).limit(6)
            )]
        if len(rows) == 1:
            return str(rows[0])
        if rows:
            raise NotFound(f"{session_id!r} matches several sessions: {', '.join(rows[:5])}", hint="type more of the id")
        raise NotFound(f"no session {session_id!r} in the journal", hint="see the sessions with: mea-culpa history")

    def new_id(self, date: str, slug: str) -> str:
        """A short, unique, human-readable id: `2026-11-22-checkout-down`, then `-2`, `-3`…
        (free now; `save_as_new` claims one for good)."""
        with self._reading() as conn:
            return self._free_id(conn, date, slug)

    @staticmethod
    def _free_id(conn: Connection, date: str, slug: str) -> str:
        base = f"{date}-{slug}"
        taken = {r[0] for r in conn.execute(select(sessions.c.id).where(sessions.c.id.startswith(base, autoescape=True)))}
        if base not in taken:
            return base
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    @staticmethod
    def _session_filters(playbook: str | None = None, tag: str | None = None, status: str | None = None,
                         severity: str | None = None, since: str | None = None, before: str | None = None,
                         author: str | None = None) -> list[ColumnElement[bool]]:
        s = sessions.c
        conditions: list[tuple[Any, Callable[[Any], ColumnElement[bool]]]] = [
            (playbook, lambda v: s.playbook_id == v),
            (status, lambda v: s.status == v),
            (severity, lambda v: s.severity == v),
            (since, lambda v: s.created_at >= v),
            (before, lambda v: s.created_at < v),
            (tag, lambda v: s.id.in_(select(session_tags.c.session_id).where(session_tags.c.tag == v))),
            (author, lambda v: func.lower(s.author) == v.strip().lower()),
        ]
        return [condition(value) for value, condition in conditions if value]

    def history(self, *, playbook: str | None = None, tag: str | None = None, status: str | None = None,
                since: str | None = None, limit: int = 20, offset: int = 0, severity: str | None = None,
                before: str | None = None, author: str | None = None) -> list[SessionRow]:
        """Sessions newest first, filtered in SQL, one page at a time. `since` and `before`
        compare with the UTC start time as text, so a date (2026-03-01) works. `author`
        ignores case."""
        s = sessions.c
        open_actions = (
            select(func.count()).where(actions.c.session_id == s.id, actions.c.status == "open").scalar_subquery()
        )
        is_post = (sent.c.session_id == s.id, sent.c.how.in_(upkeep.POSTED))
        posted = select(func.count()).where(*is_post).scalar_subquery()
        last_posted = select(func.max(sent.c.sent_at)).where(*is_post).scalar_subquery()
        query = (
            select(s.id, s.title, s.playbook_id, s.status, s.severity, s.stage_reached, s.created_at, s.updated_at,
                   open_actions.label("open_actions"), s.tags, s.lessons_only, s.author,
                   posted.label("posted"), last_posted.label("last_posted"))
            .where(*self._session_filters(playbook, tag, status, severity, since, before, author))
            .order_by(s.created_at.desc(), s.id.desc()).limit(limit).offset(offset)
        )
        with self._reading() as conn:
            rows = conn.execute(query).all()
        return [
            SessionRow(r.id, r.title, r.playbook_id, r.status, r.severity, r.stage_reached, r.created_at, r.updated_at,
                       int(r.open_actions), tuple(json.loads(r.tags or "[]")), bool(r.lessons_only), r.author,
                       int(r.posted or 0), r.last_posted)
            for r in rows
        ]

    def count_sessions(self, *, playbook: str | None = None, tag: str | None = None, status: str | None = None,
                       since: str | None = None, severity: str | None = None, before: str | None = None,
                       author: str | None = None) -> int:
        """How many sessions `history` would page through with these filters: from the kept
        tallies without filters (or with only a status), else counted."""
        filters = self._session_filters(playbook, tag, None, severity, since, before, author)
        if filters:
            query = select(func.count()).select_from(sessions).where(*filters, *self._session_filters(status=status))
        else:
            c = tallies.c
            query = select(func.coalesce(func.sum(c.n), 0)).where(c.figure == "status", *([c.value == status] if status else []))
        with self._reading() as conn:
            return int(conn.execute(query).scalar() or 0)

    # --- action items ---------------------------------------------------------------------

    @staticmethod
    def _action_filters(overdue: bool, owner: str | None, session: str | None, today: str, now: str) -> list[ColumnElement[Any]]:
        """The filters of `actions` beyond the status (on actions joined with sessions)."""
        a = actions.c
        where: list[ColumnElement[Any]] = []
        if overdue:
            # every overdue item is due before now (a date before today is too): the range
            # lets the index find them
            where += [a.due < now, _overdue(a, today, now) == 1]
        if owner:
            name = owner.strip().lower()
            unowned = or_(a.owner.is_(None), a.owner == "")
            where.append(or_(func.lower(a.owner) == name, and_(unowned, func.lower(sessions.c.author) == name)))
        if session:
            where.append(a.session_id == session)
        return where

    def actions(self, *, include_closed: bool = False, overdue: bool = False, owner: str | None = None,
                session: str | None = None, limit: int | None = None, now: dt.datetime | None = None) -> list[ActionRow]:
        """Action items and follow-ups across sessions: open ones (all with `include_closed`),
        soonest due first, those without a due date last. An item without an owner is its
        session author's; `owner` ignores case.

        Read in the order of the index `actions_due`, in parts (the open items with a due
        date, the open ones without, then the closed ones), each cut at what is still
        wanted: a page of `limit` items costs the same however many are open."""
        today, now_text = _today(now)
        a = actions.c
        parts: list[tuple[list[ColumnElement[Any]], tuple[Any, ...]]] = [
            ([a.status == "open", a.due.is_not(None)], (a.due, a.session_id, a.position, a.id)),
            ([a.status == "open", a.due.is_(None)], (a.session_id, a.position, a.id)),
        ]
        if include_closed:
            parts.append(([a.status != "open"], (a.due.is_(None), a.due, a.session_id, a.position, a.id)))
        filters = self._action_filters(overdue, owner, session, today, now_text)
        found: list[ActionRow] = []
        with self._reading() as conn:
            for where, order in parts:
                wanted = None if limit is None else limit - len(found)
                if wanted is not None and wanted <= 0:
                    break
                query = _items(today, now_text).where(*where, *filters).order_by(*order).limit(wanted)
                found += [_action_row(r) for r in conn.execute(query)]
        return found

    def count_actions(self, *, include_closed: bool = False, overdue: bool = False, owner: str | None = None,
                      session: str | None = None, now: dt.datetime | None = None) -> int:
        """How many rows `actions` would return without a limit: from the kept tallies
        when nothing but the status is asked for, else counted."""
        today, now_text = _today(now)
        with self._reading() as conn:
            if not (overdue or owner or session):
                c = tallies.c
                kept = select(func.coalesce(func.sum(c.n), 0)).where(c.figure == "item")
                if not include_closed:
                    kept = kept.where(c.value.in_([f"{kind} open" for kind in (upkeep.ACTION, upkeep.FOLLOW_UP, upkeep.TO_DO)]))
                return int(conn.execute(kept).scalar() or 0)
            query = (
                select(func.count()).select_from(actions).join(sessions, sessions.c.id == actions.c.session_id)
                .where(*([] if include_closed else [actions.c.status == "open"]), *self._action_filters(overdue, owner, session, today, now_text))
            )
            return int(conn.execute(query).scalar() or 0)

    def action(self, action_id: int, *, now: dt.datetime | None = None) -> ActionRow:
        """One action item by id; NotFound when there is none."""
        today, now_text = _today(now)
        with self._reading() as conn:
            row = conn.execute(_items(today, now_text).where(actions.c.id == action_id)).first()
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
        item = self.action(action_id)

        def work(w: upkeep.Writes) -> None:
            w.before([item.session_id])
            w.conn.execute(update(actions).where(actions.c.id == action_id).values(
                status=status, reason=reason if status == "dropped" else "", updated_at=at,
            ))
            w.sessions.add(item.session_id)

        self._write(work)
        return self.action(action_id, now=now)

    def set_action_statuses(self, changes: Iterable[tuple[int, str, str]]) -> int:
        """Set many items' (id, status, reason) in one transaction (imports, the benchmark
        journal); returns how many were changed."""
        at = utc_now()
        rows = [{"item": i, "status": st, "reason": r, "at": at} for i, st, r in changes]
        for row in rows:
            if row["status"] not in ACTION_STATUSES:
                raise UsageError(f"{row['status']!r} is not an action status; use one of {', '.join(ACTION_STATUSES)}")

        def work(w: upkeep.Writes) -> None:
            from sqlalchemy import bindparam

            ids = [r["item"] for r in rows]
            for start in range(0, len(ids), upkeep.CHUNK):
                chunk = ids[start:start + upkeep.CHUNK]
                touched = [r[0] for r in w.conn.execute(select(actions.c.session_id).distinct().where(actions.c.id.in_(chunk)))]
                w.before(touched)
                w.sessions.update(touched)
            w.conn.execute(
                update(actions).where(actions.c.id == bindparam("item"))
                .values(status=bindparam("status"), reason=bindparam("reason"), updated_at=bindparam("at")),
                rows,
            )

        if rows:
            self._write(work)
        return len(rows)

    # --- stats ----------------------------------------------------------------------------

    def stats(self, *, since: str | None = None, author: str | None = None, patterns: int = 25,
              now: dt.datetime | None = None) -> stats.Report:
        """Aggregates over the sessions started since `since` (all when None), by `author`
        (everyone's when None): counts, milestone medians, action follow-through, recurring
        contributing factors. See reports.py."""
        from mea_culpa.journal import reports

        today, _ = _today(now)
        with self._reading() as conn:
            return reports.report(conn, since=since, author=author, today=today, patterns=patterns)

    # --- forgetting -----------------------------------------------------------------------

    def session_ids(self, *, before: str | None = None, since: str | None = None) -> list[str]:
        """Every session id started in the range (for `forget --before`), oldest first."""
        query = select(sessions.c.id).where(*self._session_filters(since=since, before=before))
        with self._reading() as conn:
            return [r[0] for r in conn.execute(query.order_by(sessions.c.created_at, sessions.c.id))]

    def forget(self, session_ids: Iterable[str], *, keep_lessons: bool = False) -> Forgotten:
        """Delete sessions for good, or (`keep_lessons`) keep only the lesson and the action
        items: every other answer, the drafts, the follow-ups and to-dos, the event and skip
        reasons, the factors and the title go, and the id (made from the title) becomes `<date>-facts-forgotten`. Then the
        storage is compacted (`scrub`), and any copy in the local spool is removed."""
        ids = list(dict.fromkeys(session_ids))

        def work(w: upkeep.Writes) -> tuple[list[str], list[tuple[str, str]]]:
            deleted: list[str] = []
            kept: list[tuple[str, str]] = []
            for sid in ids:
                row = w.conn.execute(select(sessions.c.id, sessions.c.created_at, sessions.c.lessons_only).where(sessions.c.id == sid)).first()
                if row is None:
                    raise NotFound(f"no session {sid!r} in the journal", hint="see the sessions with: mea-culpa history")
                w.before([sid])
                w.keys.update(r[0] for r in w.conn.execute(select(factors.c.key).where(factors.c.session_id == sid)))
                if not keep_lessons:
                    for table in SESSION_TABLES:
                        w.conn.execute(delete(table).where(table.c.session_id == sid))
                    w.conn.execute(delete(sessions).where(sessions.c.id == sid))
                    deleted.append(sid)
                elif row.lessons_only:
                    kept.append((sid, sid))
                else:
                    kept.append((sid, self._strip_facts(w, sid, row.created_at[:10])))
            return deleted, kept

        deleted, kept = self._write(work)
        for sid in ids:
            spool.discard(sid)
        return Forgotten(tuple(deleted), tuple(kept), self.scrub())

    def _strip_facts(self, w: upkeep.Writes, sid: str, date: str) -> str:
        conn = w.conn
        keep_steps = [LESSON_STEP] + [
            r[0] for r in conn.execute(select(actions.c.step_id).distinct().where(actions.c.session_id == sid, actions.c.kind == "action"))
        ]
        conn.execute(delete(steps).where(steps.c.session_id == sid, steps.c.step_id.not_in(keep_steps)))
        conn.execute(update(steps).where(steps.c.session_id == sid).values(reason="", source="kept"))
        conn.execute(delete(drafts).where(drafts.c.session_id == sid))
        conn.execute(delete(sent).where(sent.c.session_id == sid))
        conn.execute(delete(factors).where(factors.c.session_id == sid))
        # follow-ups and to-dos left open go: a to-do's note is the person's text, no lesson
        conn.execute(delete(actions).where(actions.c.session_id == sid, actions.c.kind != upkeep.ACTION))
        conn.execute(update(events).where(events.c.session_id == sid).values(detail=""))
        conn.execute(update(stages).where(stages.c.session_id == sid).values(reason=""))
        new = self._free_id(conn, date, "facts-forgotten") if not sid.endswith("facts-forgotten") else sid
        conn.execute(update(sessions).where(sessions.c.id == sid).values(title=FORGOTTEN_TITLE, playbook_path="", lessons_only=1))
        if new != sid:
            # The id is the title's slug (a fact): the row moves to the new id, and every
            # row that points at it follows (a copy first, so no reference dangles).
            s = sessions.c
            w.before([sid, new])
            uid = conn.execute(select(s.uid).where(s.id == sid)).scalar()
            conn.execute(update(sessions).where(s.id == sid).values(uid=None))
            columns = [c for c in sessions.c if c.name not in ("id", "uid")]
            conn.execute(insert(sessions).from_select(
                ["id", "uid", *(c.name for c in columns)],
                select(literal(new), literal(uid), *columns).where(s.id == sid),
            ))
            for table in (session_tags, steps, stages, events, actions):
                conn.execute(update(table).where(table.c.session_id == sid).values(session_id=new))
            conn.execute(delete(sessions).where(s.id == sid))
        w.sessions.add(new)
        return new

    def scrub(self) -> bool:
        """Make what was deleted leave the storage. SQLite: VACUUM and empty the write-ahead
        log; False when another connection holds the journal open and the log could not be
        emptied (after waiting SCRUB_WAIT_MS, not the full busy timeout: the deletion is
        already committed, and `forget --vacuum` can finish later). PostgreSQL: VACUUM the
        journal's tables, so the server may reuse their space (see docs/journal.md)."""
        if self.location.is_server:
            try:
                with self.engine.connect() as conn:
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                    for table in metadata.sorted_tables:
                        conn.exec_driver_sql(f'VACUUM "{table.name}"')
            except SQLAlchemyError as exc:
                raise engines.storage_error(exc, self.location) from None
            return True
        if self.path is None:
            return True
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {SCRUB_WAIT_MS}")
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cursor.execute("VACUUM")
                busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            except sqlite3.OperationalError:
                return False
            finally:
                cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                cursor.close()
        finally:
            raw.close()
        return bool(busy == 0)

    # --- moving a journal ---------------------------------------------------------------------

    def copy_to(self, target: Journal) -> Copied:
        """Copy every session into `target`, each once: a session the target has already
        (the same stable id, from an earlier copy) is left alone; one whose readable id is
        taken there gets the next free one (`-2`). Action statuses come along."""
        s = sessions.c
        with self._reading() as conn:
            rows = conn.execute(select(s.id, s.uid, s.author, s.lessons_only).order_by(s.created_at, s.id)).all()
        with target._reading() as conn:
            there = {r[0] for r in conn.execute(select(sessions.c.uid).where(sessions.c.uid.is_not(None)))}
        copied: list[tuple[str, str]] = []
        already: list[str] = []
        for row in rows:
            if row.uid in there:
                already.append(row.id)
                continue
            session = self.load(row.id)
            with self._reading() as conn:
                items = conn.execute(select(actions).where(actions.c.session_id == row.id)).all()
            statuses = {(r.kind, r.step_id, r.what): (r.status, r.reason, r.updated_at) for r in items}
            # the to-dos were derived with the playbook, which a copy does not read: they come as they are
            to_dos = [{k: v for k, v in r._asdict().items() if k not in ("id", "session_id")} for r in items if r.kind == upkeep.TO_DO]
            new_id = target._copy_in(session, uid=row.uid, lessons_only=bool(row.lessons_only), statuses=statuses, to_dos=to_dos)
            if new_id is None:
                already.append(row.id)
            else:
                copied.append((row.id, new_id))
        return Copied(tuple(copied), tuple(already))

    def _copy_in(self, session: Session, *, uid: str, lessons_only: bool,
                 statuses: dict[tuple[str, str, str], tuple[str, str, str]], to_dos: list[dict[str, Any]]) -> str | None:
        def work(w: upkeep.Writes) -> str | None:
            if w.conn.execute(select(sessions.c.id).where(sessions.c.uid == uid)).first() is not None:
                return None
            sid = session.id
            if _exists(w.conn, sid):
                sid = self._free_id(w.conn, sid[:10], sid[11:] or "session")
            copy = replace(session, id=sid)
            upkeep.write_whole(w, copy, author=session.author or self.user, uid=uid, new=True)
            if lessons_only:
                w.conn.execute(update(sessions).where(sessions.c.id == sid).values(lessons_only=1))
            if to_dos:
                w.conn.execute(insert(actions), [{**item, "session_id": sid} for item in to_dos])
            for r in w.conn.execute(select(actions.c.id, actions.c.kind, actions.c.step_id, actions.c.what)
                                    .where(actions.c.session_id == sid)).all():
                found = statuses.get((r.kind, r.step_id, r.what))
                if found:
                    status, reason, updated_at = found
                    w.conn.execute(update(actions).where(actions.c.id == r.id).values(status=status, reason=reason, updated_at=updated_at))
            return sid

        return self._write(work)


def _exists(conn: Connection, session_id: str) -> bool:
    return conn.execute(select(literal(1)).where(sessions.c.id == session_id)).first() is not None


def _items(today: str, now: str) -> Any:
    """The columns of an ActionRow: the item, its session's title, its owner (else the
    session's author), whether it is overdue, and a to-do's state and note."""
    a = actions.c
    owner_or_author = case((or_(a.owner.is_(None), a.owner == ""), sessions.c.author), else_=a.owner)
    return (
        select(a.id, a.session_id, sessions.c.title.label("session_title"), a.kind, a.step_id, a.what,
               owner_or_author.label("owner"), a.due, a.effort, a.commitment, a.status, a.reason, a.updated_at,
               _overdue(a, today, now).label("overdue"), a.step_state, a.note)
        .join_from(actions, sessions, sessions.c.id == a.session_id)
    )


def _action_row(r: Any) -> ActionRow:
    return ActionRow(
        id=r.id, session_id=r.session_id, session_title=r.session_title, kind=r.kind, step_id=r.step_id,
        what=r.what, owner=r.owner, due=r.due, effort=r.effort,
        commitment=None if r.commitment is None else bool(r.commitment), status=r.status, reason=r.reason,
        updated_at=r.updated_at, overdue=bool(r.overdue), step_state=r.step_state, note=r.note or "",
    )


# --- opening ------------------------------------------------------------------------------------


def _prepare_file(location: Location, *, create: bool) -> None:
    path = location.path
    if path is None:
        return
    if not create and not path.exists():
        raise NotFound("the journal is empty", hint="start a session with: mea-culpa start")
    try:
        # The journal holds people's mistakes: only its owner may read it.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            path.touch(mode=0o600)  # SQLite gives the -wal and -shm files the same mode
    except OSError as exc:
        raise StorageError(f"cannot create {path.parent}: {exc.strerror or exc}", hint="set MEA_CULPA_HOME to a folder you can write, or use --no-save") from None


def _reader(location: Location) -> tuple[Engine, migrate.Revision]:
    """An engine to read the store with, and its revision. On a full disk a SQLite
    journal is read alone (engine.create), writing nothing, when sharing it cannot work."""
    engine = engines.create(location)
    try:
        with engine.connect() as conn:
            return engine, migrate.read(conn, location)
    except SQLAlchemyError as exc:
        engine.dispose()
        if location.path is None or not engines.disk_trouble(exc):
            raise engines.storage_error(exc, location) from None
    except MeaCulpaError:
        engine.dispose()
        raise
    engine = engines.create(location, alone=True)
    try:
        with engine.connect() as conn:
            return engine, migrate.read(conn, location)
    except (SQLAlchemyError, MeaCulpaError) as exc:
        engine.dispose()
        if isinstance(exc, MeaCulpaError):
            raise
        raise engines.storage_error(exc, location) from None


def open_journal(target: Path | str | None = None, *, create: bool = True, read_only: bool = False) -> Journal:
    """Open the journal `target` names (a SQLite file, a database URL), else the one
    MEA_CULPA_DATABASE_URL names, else the SQLite file in the home. A SQLite journal of an
    older schema is upgraded in place; a server's must be upgraded with `mea-culpa journal
    upgrade`. A journal from a newer mea-culpa, or a file that is none, is refused and left
    untouched. `read_only`: the caller only reads, and nothing but an upgrade is written,
    so that on a full disk the journal can still be read (and exported)."""
    location = engines.locate(target)
    _prepare_file(location, create=create)
    if read_only:
        engine, found = _reader(location)
    else:
        engine, found = engines.create(location), None
    journal = Journal(engine, location)
    try:
        if found is None:
            with engine.connect() as conn:
                found = migrate.read(conn, location)
        if not found.current:
            if location.is_server:
                raise _not_upgraded(location, found.revision)
            journal._write(lambda w: migrate.upgrade(w.conn, location, author=journal.user))
        if location.path is not None and not read_only:
            engines.write_ahead(engine)  # a journal of ours, as this mea-culpa writes it: only now is the file changed
    except SQLAlchemyError as exc:
        engine.dispose()
        raise engines.storage_error(exc, location) from None
    except MeaCulpaError:
        engine.dispose()
        raise
    # Closed when the journal is no longer used, and at the latest when the process ends,
    # even when the command line leaves without tearing the interpreter down (cli.entry):
    # closing is when SQLite folds its write-ahead log back into the file.
    weakref.finalize(journal, engine.dispose)
    return journal


def _not_upgraded(location: Location, revision: str | None) -> StorageError:
    if revision is None:
        return StorageError(f"the database at {location.shown} holds no journal yet", hint="create it with: mea-culpa journal upgrade")
    return StorageError(
        f"the journal at {location.shown} has schema {revision}; this mea-culpa needs {HEAD}",
        hint="upgrade it (once, for everyone) with: mea-culpa journal upgrade",
    )


def upgrade_journal(target: Path | str | None = None) -> tuple[str | None, str, str]:
    """Bring a journal's schema to the newest revision (creating it in an empty database);
    returns (revision before, revision now, the store as shown)."""
    location = engines.locate(target)
    _prepare_file(location, create=True)
    engine = engines.create(location)
    journal = Journal(engine, location)
    try:
        before, after = journal._write(lambda w: migrate.upgrade(w.conn, location, author=journal.user))
        if location.path is not None:
            engines.write_ahead(engine)
    except SQLAlchemyError as exc:
        raise engines.storage_error(exc, location) from None
    finally:
        engine.dispose()
    return before, after, location.shown


def describe(target: Path | str | None = None) -> Info:
    """Which store, its engine and schema revision and, when the schema is current, what
    it holds. Writes nothing, creates nothing (a missing SQLite file is NotFound)."""
    location = engines.locate(target)
    if location.path is not None and not location.path.exists():
        raise NotFound(f"there is no journal at {location.shown} yet", hint="start a session with: mea-culpa start")
    engine, found = _reader(location)
    try:
        with engine.connect() as conn:
            if location.is_server:
                server = "PostgreSQL " + str(conn.exec_driver_sql("SHOW server_version").scalar()).split()[0]
            else:
                server = "SQLite " + sqlite3.sqlite_version
            info = Info(location.shown, location.kind, server, found.revision, HEAD)
            if not found.current:
                return info
            s = sessions.c
            by_status = [(r[0], int(r[1])) for r in conn.execute(select(s.status, func.count()).group_by(s.status).order_by(s.status))]
            authors = conn.execute(select(func.count(func.distinct(s.author)))).scalar()
            items = [(r[0], int(r[1])) for r in conn.execute(
                select(actions.c.status, func.count()).where(actions.c.kind == "action").group_by(actions.c.status).order_by(actions.c.status)
            )]
            drafted = conn.execute(select(func.count()).select_from(drafts)).scalar()
        return replace(info, sessions=sum(n for _, n in by_status), by_status=tuple(by_status), authors=int(authors or 0),
                       actions=tuple(items), drafts=int(drafted or 0))
    except SQLAlchemyError as exc:
        raise engines.storage_error(exc, location) from None
    finally:
        engine.dispose()


def memory_journal() -> Journal:
    """A journal that lives only in memory (tests), with the newest schema."""
    location = Location("sqlite://", "sqlite", "an in-memory journal")
    engine = engines.create(location)
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
    except SQLAlchemyError as exc:
        raise engines.storage_error(exc, location) from None
    return Journal(engine, location)
