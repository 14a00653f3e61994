"""What the journal keeps up to date on every write, so that reading stays cheap: the
rows of a session (its answers, stages, events, drafts, action items), the to-dos it
leaves open and the follow-ups its messages imply (both as the run layer defines them:
`run.session.open_items` and `follow_ups`), its contributing factors in their normal form,
whether it shows learning, and the per-factor counts `stats` reads.

Which to-dos a session leaves open depends on its playbook (which steps apply, which are
required, what they ask), which the journal does not keep: a write that knows the
playbook (the runner's, a whole save at the end of a run) derives them, and the rows stay
as they were through writes that do not (a draft, a copy between journals).

One code path for SQLite and PostgreSQL. Every function works inside the caller's write
transaction (`Writes`); `Writes.settle` runs last, before the commit: it recomputes
`learned` for the sessions touched and recounts the factors whose counts may have
changed. On PostgreSQL two writers may touch the same factor at once, so a count is
recomputed only while its row is locked (`SELECT … FOR UPDATE`, in key order so that two
writers cannot wait on each other), and each statement then sees what the other
committed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, literal, not_, select, update

from mea_culpa.journal import derived
from mea_culpa.journal.tables import (
    actions,
    drafts,
    events,
    factor_counts,
    factors,
    sent,
    session_tags,
    sessions,
    stages,
    steps,
)

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.engine import Connection

    from mea_culpa.playbook.model import Playbook
    from mea_culpa.run.session import Draft, Event, OpenItem, Sent, Session

# Conventional step ids the journal reads (see playbook.VOCABULARY).
FACTORS_STEP = "contributing_factors"
LESSON_STEP = "lesson"
STATUS_UPDATE = "status-update"
POSTED = ("slack", "webhook")  # ways of sending that deliver (run.session.POSTED)
# The kinds of rows in `actions`: an item of an action-items list, a message a session's
# other messages make due, and a to-do (an action step) the session leaves open.
ACTION, FOLLOW_UP, TO_DO = "action", "follow-up", "to-do"


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], *,
           keep: Sequence[str] = ()) -> None:
    """Insert rows, or update the ones whose `keys` exist already (every other column but
    `keep`). INSERT … ON CONFLICT, which SQLite and PostgreSQL spell the same way."""
    if not rows:
        return
    statement = _dialect_insert(conn, table)
    columns = [c for c in rows[0] if c not in keys and c not in keep]
    statement = statement.on_conflict_do_update(index_elements=list(keys), set_={c: statement.excluded[c] for c in columns})
    conn.execute(statement, list(rows))


def insert_missing(conn: Connection, table: Table, row: Mapping[str, Any], keys: Sequence[str]) -> None:
    """Insert a row unless one with the same `keys` exists (INSERT … ON CONFLICT DO NOTHING)."""
    conn.execute(_dialect_insert(conn, table).values(**row).on_conflict_do_nothing(index_elements=list(keys)))


def _dialect_insert(conn: Connection, table: Table) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


class Writes:
    """One write transaction: its connection, and what must be settled before it commits."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sessions: set[str] = set()  # sessions whose `learned` may have changed
        self.keys: set[str] = set()  # factors whose counts may have changed

    def settle(self) -> None:
        for session_id in sorted(self.sessions):
            refresh_learned(self, session_id)
        recount(self.conn, self.keys)
        self.sessions.clear()
        self.keys.clear()


# --- a session's rows ------------------------------------------------------------------------


def session_row(s: Session, *, author: str) -> dict[str, Any]:
    milestones = derived.milestone_seconds(s.noticed_at, s.created_at, s.events, s.steps.values())
    return {
        "id": s.id, "title": s.title, "playbook_id": s.playbook_id, "playbook_title": s.playbook_title,
        "playbook_version": s.playbook_version, "playbook_hash": s.playbook_hash, "playbook_path": s.playbook_path,
        "status": s.status, "severity": s.severity, "stage_reached": s.stage_reached, "tags": as_json(list(s.tags)),
        "created_at": s.created_at, "updated_at": s.updated_at,
        "completed_at": s.updated_at if s.status == "completed" else None,
        "happened_at": s.happened_at, "noticed_at": s.noticed_at,
        "owned_s": milestones["owned"], "apologized_s": milestones["apologized"], "fixed_s": milestones["fixed"],
        "author": s.author or author,
    }


def write_session_row(w: Writes, s: Session, *, author: str, uid: str | None = None, new: bool = False) -> None:
    """The session's own row and its tags. An existing row keeps its stable id, author,
    lease, learning flag and `lessons_only`; `new` inserts and fails if the id is taken (so
    that two people starting the same title at once cannot share one session)."""
    import uuid

    row = session_row(s, author=author)
    if new:
        w.conn.execute(insert(sessions).values(**row, uid=uid or str(uuid.uuid4())))
    else:
        upsert(w.conn, sessions, [{**row, "uid": uid or str(uuid.uuid4())}], ["id"], keep=("uid", "author"))
    w.conn.execute(delete(session_tags).where(session_tags.c.session_id == s.id))
    if s.tags:
        w.conn.execute(insert(session_tags), [{"session_id": s.id, "tag": t} for t in dict.fromkeys(s.tags)])


def touch_session(w: Writes, s: Session) -> None:
    """Only the session's last change (a draft added by anyone: nothing of the answers)."""
    w.conn.execute(update(sessions).where(sessions.c.id == s.id).values(updated_at=s.updated_at))


def write_step(w: Writes, s: Session, step_id: str) -> None:
    record = s.steps.get(step_id)
    if step_id == FACTORS_STEP:
        sync_factors(w, s.id, record.value if record and record.state == "answered" else None)
    if step_id == LESSON_STEP:
        w.sessions.add(s.id)
    if record is None:
        w.conn.execute(delete(steps).where(steps.c.session_id == s.id, steps.c.step_id == step_id))
        w.conn.execute(delete(actions).where(actions.c.session_id == s.id, actions.c.step_id == step_id, actions.c.kind == "action"))
        w.sessions.add(s.id)
        return
    upsert(w.conn, steps, [{
        "session_id": s.id, "step_id": step_id, "stage": record.stage, "state": record.state,
        "value": as_json(record.value), "reason": record.reason, "at": record.at, "source": record.source,
    }], ["session_id", "step_id"])
    if isinstance(record.value, list) and all(isinstance(i, dict) and "what" in i for i in record.value):
        sync_actions(w, s.id, step_id, record.value, record.at)


def write_stage(w: Writes, s: Session, kind: str) -> None:
    r = s.stages[kind]
    upsert(w.conn, stages, [{
        "session_id": s.id, "stage": kind, "state": r.state, "reason": r.reason,
        "entered_at": r.entered_at, "completed_at": r.completed_at,
    }], ["session_id", "stage"])


def write_events(w: Writes, session_id: str, items: Iterable[Event]) -> None:
    rows = [{"session_id": session_id, "at": e.at, "kind": e.kind, "stage": e.stage, "step": e.step, "detail": e.detail} for e in items]
    if rows:
        w.conn.execute(insert(events), rows)


def write_draft(w: Writes, session_id: str, d: Draft) -> None:
    w.conn.execute(insert(drafts).values(
        session_id=session_id, message_id=d.message_id, tone=d.tone, phase=d.phase, text=d.text, created_at=d.created_at,
        edited=int(d.edited), score=d.score, findings=as_json([dict(f) for f in d.findings]),
    ))


def write_sent(w: Writes, session_id: str, s: Sent) -> None:
    w.conn.execute(insert(sent).values(
        session_id=session_id, message_id=s.message_id, phase=s.phase, how=s.how, destination=s.where, text=s.text,
        sent_at=s.at, draft_created_at=s.draft_created_at,
    ))


def write_whole(w: Writes, s: Session, *, author: str, uid: str | None = None, new: bool = False,
                playbook: Playbook | None = None) -> None:
    """Every row of a session, replacing an earlier copy. The action items, to-dos and
    follow-ups are synced in place rather than replaced: their ids and statuses (done,
    dropped) survive. The to-dos are derived only with the `playbook`."""
    for table in (steps, stages, events, drafts, sent):
        w.conn.execute(delete(table).where(table.c.session_id == s.id))
    old_keys = [r[0] for r in w.conn.execute(select(factors.c.key).where(factors.c.session_id == s.id))]
    w.keys.update(old_keys)
    w.conn.execute(delete(factors).where(factors.c.session_id == s.id))
    write_session_row(w, s, author=author, uid=uid, new=new)
    for step_id in s.steps:
        write_step(w, s, step_id)
    w.conn.execute(delete(actions).where(
        actions.c.session_id == s.id, actions.c.kind == "action",
        actions.c.step_id.not_in(select(steps.c.step_id).where(steps.c.session_id == s.id)),
    ))
    for kind in s.stages:
        write_stage(w, s, kind)
    write_events(w, s.id, s.events)
    for d in s.drafts:
        write_draft(w, s.id, d)
    for item in s.sent:
        write_sent(w, s.id, item)
    sync_follow_ups(w, s)
    if playbook is not None:
        sync_to_dos(w, s, playbook)
    w.sessions.add(s.id)


# --- action items --------------------------------------------------------------------------


def commitment(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return 0 if value.strip().lower() in ("idea", "no", "false", "maybe", "n") else 1
    return int(bool(value))


def sync_actions(w: Writes, session_id: str, step_id: str, items: list[dict[str, Any]], at: str) -> None:
    """Items that survive an edit (matched by their text) keep their row, id and status,
    so an action marked done is not reopened and `actions done 12` still means it."""
    conn = w.conn
    old: dict[str, list[tuple[int, tuple[Any, ...]]]] = {}
    rows = conn.execute(
        select(actions.c.id, actions.c.what, actions.c.position, actions.c.owner, actions.c.due, actions.c.effort, actions.c.commitment)
        .where(actions.c.session_id == session_id, actions.c.step_id == step_id, actions.c.kind == ACTION)
        .order_by(actions.c.position, actions.c.id)
    )
    for r in rows:
        old.setdefault(r.what, []).append((r.id, (r.position, r.owner, r.due, r.effort, r.commitment)))
    for position, item in enumerate(items):
        what = str(item.get("what") or "")
        fields = (position, item.get("owner"), item.get("due"), item.get("effort"), commitment(item.get("commitment")))
        values = dict(zip(("position", "owner", "due", "effort", "commitment"), fields, strict=True))
        matches = old.get(what)
        if matches:
            action_id, before = matches.pop(0)
            if before != fields:
                conn.execute(update(actions).where(actions.c.id == action_id).values(**values, updated_at=at))
        else:
            conn.execute(insert(actions).values(
                session_id=session_id, step_id=step_id, kind=ACTION, what=what, status="open", reason="", updated_at=at, **values,
            ))
    gone = [action_id for matches in old.values() for action_id, _ in matches]
    if gone:
        conn.execute(delete(actions).where(actions.c.id.in_(gone)))
    w.sessions.add(session_id)


def _kept(conn: Connection, session_id: str) -> bool:
    """Whether the session is kept whole (not only its lessons, after `forget --keep-lessons`)."""
    row = conn.execute(select(sessions.c.lessons_only).where(sessions.c.id == session_id)).first()
    return row is not None and not row.lessons_only


def sync_follow_ups(w: Writes, s: Session) -> None:
    """The follow-ups the session's messages imply (kind "follow-up"), as
    `run.session.follow_ups` says: the next status update, and the follow-up message
    after the fix. Each is done only when the person said it went out (a draft marked
    sent, or posted) or marked the to-do that says so; drafting settles nothing. A newer
    status update moves the next one's due time and reopens it even if it was marked
    done; `actions done/drop` work on them like on any item; an abandoned session drops
    the open ones."""
    from mea_culpa.run.session import follow_ups

    conn = w.conn
    if not _kept(conn, s.id):
        return
    existing = {
        r.step_id: r
        for r in conn.execute(
            select(actions.c.id, actions.c.step_id, actions.c.what, actions.c.due, actions.c.status)
            .where(actions.c.session_id == s.id, actions.c.kind == FOLLOW_UP)
        )
    }
    owed = {f.message_id: f for f in follow_ups(s)}
    for message_id, f in owed.items():
        row = existing.get(message_id)
        if row is None:
            if f.state != "dropped":
                conn.execute(insert(actions).values(
                    session_id=s.id, step_id=message_id, position=0, kind=FOLLOW_UP, what=f.what, due=f.due,
                    status=f.state, reason=f.reason, updated_at=s.updated_at,
                ))
        elif f.state != "open":
            if row.status == "open":
                conn.execute(update(actions).where(actions.c.id == row.id).values(status=f.state, reason=f.reason, updated_at=s.updated_at))
        elif (row.due, row.what) != (f.due, f.what):
            # a new status update brings a new next one: open again, even if the last was marked done
            values: dict[str, Any] = {"what": f.what, "due": f.due, "updated_at": s.updated_at}
            if message_id == STATUS_UPDATE or row.status == "open":
                values.update(status="open", reason="")
            conn.execute(update(actions).where(actions.c.id == row.id).values(**values))
    gone = [row.id for message_id, row in existing.items() if message_id not in owed and row.status == "open"]
    if gone:
        conn.execute(delete(actions).where(actions.c.id.in_(gone)))


def to_do_due(item: OpenItem) -> str | None:
    """A to-do's due date (YYYY-MM-DD, local, as typed) or time (UTC), as `actions` keeps
    due dates: the note's "today 15:00" is a local time, kept in UTC like a status update's."""
    from mea_culpa.run.session import local_to_utc

    if item.due is None or len(item.due) == 10:
        return item.due
    return local_to_utc(item.due)


def sync_to_dos(w: Writes, s: Session, playbook: Playbook) -> None:
    """The to-dos the session leaves open (kind "to-do"), as `run.session.open_items`
    says: each applicable action step answered later or blocked, with its note and the
    date or time the note starts with, and each required one not marked yet while the
    session runs. A to-do that stays open keeps its row, id and status (`actions done 12`
    is not undone by the next answer); one marked done, skipped or no longer applicable
    in the run leaves `actions`. An abandoned session drops the open ones."""
    from mea_culpa.run.session import open_items

    conn = w.conn
    if not _kept(conn, s.id):
        return
    a = actions.c
    existing = {
        (r.step_id, r.what): r
        for r in conn.execute(
            select(a.id, a.step_id, a.what, a.position, a.due, a.step_state, a.note, a.status)
            .where(a.session_id == s.id, a.kind == TO_DO)
        )
    }
    abandoned = s.status == "abandoned"
    to_dos = [item for item in open_items(playbook, s) if item.kind == TO_DO]
    for position, item in enumerate(to_dos):
        fields = {"position": position, "due": to_do_due(item), "step_state": item.state, "note": item.note}
        row = existing.pop((item.step_id, item.what), None)
        if row is None:
            if not abandoned:
                conn.execute(insert(actions).values(
                    session_id=s.id, step_id=item.step_id, kind=TO_DO, what=item.what, status="open", reason="",
                    updated_at=item.since or s.updated_at, **fields,
                ))
            continue
        values: dict[str, Any] = {}
        if (row.position, row.due, row.step_state, row.note) != tuple(fields.values()):
            values.update(fields, updated_at=s.updated_at)
        if abandoned and row.status == "open":
            values.update(status="dropped", reason="session abandoned", updated_at=s.updated_at)
        if values:
            conn.execute(update(actions).where(a.id == row.id).values(**values))
    if existing:
        conn.execute(delete(actions).where(a.id.in_([row.id for row in existing.values()])))


# --- contributing factors, learning, counts ------------------------------------------------


def factor_text(value: Any) -> str:
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


def sync_factors(w: Writes, session_id: str, value: Any) -> None:
    """The session's factors in their normal form, replacing the earlier ones."""
    conn = w.conn
    w.keys.update(r[0] for r in conn.execute(select(factors.c.key).where(factors.c.session_id == session_id)))
    conn.execute(delete(factors).where(factors.c.session_id == session_id))
    found = derived.factor_keys(factor_text(value))
    if not found:
        return
    row = conn.execute(select(sessions.c.created_at, sessions.c.learned).where(sessions.c.id == session_id)).first()
    if row is None:
        return
    conn.execute(insert(factors), [
        {"key": key, "session_id": session_id, "text": text, "created_at": row.created_at, "learned": row.learned}
        for key, text in found.items()
    ])
    w.keys.update(found)


def learned(session_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """SQL: does the session show learning? A lesson, at least one prevention action, all done."""
    lesson = exists().where(
        steps.c.session_id == session_id, steps.c.step_id == LESSON_STEP, steps.c.state == "answered",
        steps.c.value.is_not(None), steps.c.value.not_in(["null", '""']),
    )
    any_action = exists().where(actions.c.session_id == session_id, actions.c.kind == ACTION)
    open_action = exists().where(actions.c.session_id == session_id, actions.c.kind == ACTION, actions.c.status != "done")
    return case((and_(lesson, any_action, not_(open_action)), 1), else_=0)


def refresh_learned(w: Writes, session_id: str) -> None:
    """Recompute the session's learning flag; when it changes, its factors follow."""
    conn = w.conn
    row = conn.execute(
        select(sessions.c.learned, learned(literal(session_id)).label("now")).where(sessions.c.id == session_id)
    ).first()
    if row is None or row.learned == row.now:
        return
    conn.execute(update(sessions).where(sessions.c.id == session_id).values(learned=row.now))
    conn.execute(update(factors).where(factors.c.session_id == session_id).values(learned=row.now))
    w.keys.update(r[0] for r in conn.execute(select(factors.c.key).where(factors.c.session_id == session_id)))


def recount(conn: Connection, keys: Iterable[str]) -> None:
    """Bring the counts of these factors in line with the factors table."""
    for key in sorted(set(keys)):
        insert_missing(conn, factor_counts, {"key": key, "sessions": 0, "learned": 0, "first": "", "last": ""}, ["key"])
        conn.execute(select(factor_counts.c.key).where(factor_counts.c.key == key).with_for_update())
        n, learned_n, first, last = conn.execute(
            select(func.count(), func.coalesce(func.sum(factors.c.learned), 0), func.min(factors.c.created_at), func.max(factors.c.created_at))
            .where(factors.c.key == key)
        ).one()
        if n:
            conn.execute(update(factor_counts).where(factor_counts.c.key == key).values(sessions=n, learned=learned_n, first=first, last=last))
        else:
            conn.execute(delete(factor_counts).where(factor_counts.c.key == key))


def read_session(conn: Connection, session_id: str) -> Session | None:
    """The whole session as stored, or None when there is none."""
    from types import MappingProxyType

    from mea_culpa.run.session import Draft, Event, Sent, Session, StageRecord, StepRecord

    row = conn.execute(select(sessions).where(sessions.c.id == session_id)).first()
    if row is None:
        return None
    step_rows = conn.execute(select(steps).where(steps.c.session_id == session_id)).all()
    stage_rows = conn.execute(select(stages).where(stages.c.session_id == session_id)).all()
    event_rows = conn.execute(select(events).where(events.c.session_id == session_id).order_by(events.c.id)).all()
    draft_rows = conn.execute(select(drafts).where(drafts.c.session_id == session_id).order_by(drafts.c.id)).all()
    sent_rows = conn.execute(select(sent).where(sent.c.session_id == session_id).order_by(sent.c.id)).all()
    return Session(
        id=row.id, title=row.title, playbook_id=row.playbook_id, playbook_title=row.playbook_title,
        playbook_version=row.playbook_version, playbook_hash=row.playbook_hash, playbook_path=row.playbook_path,
        status=row.status, created_at=row.created_at, updated_at=row.updated_at, tags=tuple(json.loads(row.tags)),
        happened_at=row.happened_at, noticed_at=row.noticed_at, author=row.author,
        steps=MappingProxyType({
            r.step_id: StepRecord(r.state, json.loads(r.value) if r.value is not None else None, r.reason, r.at, r.source, r.stage)
            for r in step_rows
        }),
        stages=MappingProxyType({r.stage: StageRecord(r.state, r.reason, r.entered_at, r.completed_at) for r in stage_rows}),
        events=tuple(Event(r.at, r.kind, r.stage, r.step, r.detail) for r in event_rows),
        drafts=tuple(
            Draft(r.message_id, r.tone, r.text, r.created_at, r.phase, bool(r.edited), r.score, tuple(json.loads(r.findings)))
            for r in draft_rows
        ),
        sent=tuple(Sent(r.message_id, r.how, r.destination, r.text, r.sent_at, r.draft_created_at, r.phase) for r in sent_rows),
    )


def refresh_milestones(conn: Connection) -> None:
    """Recompute every session's milestone seconds from its stored stage completions and
    to-dos, in three passes over the tables (for a journal whose figures were computed
    by an older rule, or never)."""
    kinds = [stage for _, stage in derived.MILESTONES]
    completed: dict[str, list[Any]] = {}
    for event in conn.execute(select(events.c.session_id, events.c.at, events.c.kind, events.c.stage)
                              .where(events.c.kind == "stage-completed", events.c.stage.in_(kinds))):
        completed.setdefault(event.session_id, []).append(event)
    to_dos: dict[str, list[Any]] = {}
    for step in conn.execute(select(steps.c.session_id, steps.c.stage, steps.c.state, steps.c.at)
                             .where(steps.c.stage.in_(kinds), steps.c.state.in_(("done", *derived.PUT_OFF)))):
        to_dos.setdefault(step.session_id, []).append(step)
    s = sessions.c
    changed = []
    for r in conn.execute(select(s.id, s.noticed_at, s.created_at, s.owned_s, s.apologized_s, s.fixed_s)).all():
        m = derived.milestone_seconds(r.noticed_at, r.created_at, completed.get(r.id, ()), to_dos.get(r.id, ()))
        if (m["owned"], m["apologized"], m["fixed"]) != (r.owned_s, r.apologized_s, r.fixed_s):
            changed.append({"sid": r.id, "owned": m["owned"], "apologized": m["apologized"], "fixed": m["fixed"]})
    if changed:
        conn.execute(
            update(sessions).where(s.id == bindparam("sid"))
            .values(owned_s=bindparam("owned"), apologized_s=bindparam("apologized"), fixed_s=bindparam("fixed")),
            changed,
        )


def refresh_to_dos(conn: Connection) -> int:
    """Derive the open to-dos of the sessions already in the journal from their playbooks
    (found as `draft` and `export` find them: the file the session was started from, else
    its id on the search path). A session whose playbook is gone or no longer loads gets
    none. Only sessions that can have one are read: those in progress, and those with a
    to-do put off. Returns how many sessions were derived."""
    from mea_culpa.errors import MeaCulpaError
    from mea_culpa.playbook import catalog

    s = sessions.c
    put_off = select(steps.c.session_id).where(steps.c.state.in_(derived.PUT_OFF))
    ids = [r[0] for r in conn.execute(
        select(s.id).where(s.lessons_only == 0, (s.status == "in-progress") | s.id.in_(put_off)).order_by(s.id)
    )]
    w = Writes(conn)
    books: dict[tuple[str, str], Playbook | None] = {}
    derived_n = 0
    for session_id in ids:
        session = read_session(conn, session_id)
        if session is None:
            continue
        key = (session.playbook_path, session.playbook_id)
        if key not in books:
            try:
                books[key] = catalog.playbook_for_session(session)[0]
            except MeaCulpaError:
                books[key] = None
        book = books[key]
        if book is not None:
            sync_to_dos(w, session, book)
            derived_n += 1
    return derived_n


def refresh_all(conn: Connection) -> None:
    """Recompute everything derived, for every session, from what is stored: milestones,
    factors, learning, follow-ups and the counts. For a journal whose derived figures were
    never computed (one from before schema 2)."""
    w = Writes(conn)
    refresh_milestones(conn)
    for (session_id,) in conn.execute(select(sessions.c.id)).all():
        session = read_session(conn, session_id)
        if session is None:
            continue
        record = session.steps.get(FACTORS_STEP)
        sync_factors(w, session_id, record.value if record is not None and record.state == "answered" else None)
        sync_follow_ups(w, session)
        w.sessions.add(session_id)
    w.keys.update(r[0] for r in conn.execute(select(factor_counts.c.key)))
    w.settle()
