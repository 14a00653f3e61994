"""What the journal keeps up to date on every write, so that reading stays cheap: the
rows of a session (its answers, stages, events, drafts, action items), the follow-ups its
messages imply, its contributing factors in their normal form, whether it shows learning,
and the per-factor counts `stats` reads.

One code path for SQLite and PostgreSQL. Every function works inside the caller's write
transaction (`Writes`); `Writes.settle` runs last, before the commit: it recomputes
`learned` for the sessions touched and recounts the factors whose counts may have
changed. On PostgreSQL two writers may touch the same factor at once, so a count is
recomputed only while its row is locked (`SELECT … FOR UPDATE`, in key order so that two
writers cannot wait on each other), and each statement then sees what the other
committed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, delete, exists, func, insert, literal, not_, select, update

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

    from mea_culpa.run.session import Draft, Event, Sent, Session

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
POSTED = ("slack", "webhook")  # ways of sending that deliver (run.session.POSTED)


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
    milestones = derived.milestone_seconds(s.noticed_at, s.created_at, s.events)
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


def write_whole(w: Writes, s: Session, *, author: str, uid: str | None = None, new: bool = False) -> None:
    """Every row of a session, replacing an earlier copy. The action items are synced in
    place rather than replaced: their ids and statuses (done, dropped) survive."""
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
    sync_follow_ups(w, s.id, s.updated_at)
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
        .where(actions.c.session_id == session_id, actions.c.step_id == step_id, actions.c.kind == "action")
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
                session_id=session_id, step_id=step_id, kind="action", what=what, status="open", reason="", updated_at=at, **values,
            ))
    gone = [action_id for matches in old.values() for action_id, _ in matches]
    if gone:
        conn.execute(delete(actions).where(actions.c.id.in_(gone)))
    w.sessions.add(session_id)


def sync_follow_ups(w: Writes, session_id: str, at: str) -> None:
    """Derive the follow-ups that the session's messages imply (kind "follow-up"):

    - the next status update: the latest `status-update` draft is not phase `resolved`
      → due at that draft's time, or at the moment a status update was last posted if
      that is later, + `next_update_minutes` (default 30); a newer update moves the due
      time (and reopens it); a resolved update drafted or posted, or the action step
      `resolved_notice` marked done, marks it done.
    - the follow-up message: the fix stage is completed and the affected people were
      told something (an apology, a status update, a personal note or a post) →
      due the day after the fix; a `follow-up` drafted or posted, or the action step
      `follow_up_sent` marked done, marks it done.
    An abandoned session drops its open follow-ups. `actions done/drop` work on them
    like on any item; a later draft that changes the due time reopens one.
    """
    conn = w.conn
    session = conn.execute(select(sessions.c.status, sessions.c.lessons_only).where(sessions.c.id == session_id)).first()
    if session is None or session.lessons_only:
        return
    abandoned = session.status == "abandoned"
    existing = {
        r.step_id: r
        for r in conn.execute(
            select(actions.c.id, actions.c.step_id, actions.c.due, actions.c.status)
            .where(actions.c.session_id == session_id, actions.c.kind == "follow-up")
        )
    }

    def put(step_id: str, what: str, due: str, *, reopen: bool) -> None:
        row = existing.get(step_id)
        if row is None:
            conn.execute(insert(actions).values(
                session_id=session_id, step_id=step_id, position=0, kind="follow-up", what=what, due=due,
                status="open", reason="", updated_at=at,
            ))
        elif row.due != due and (reopen or row.status == "open"):
            conn.execute(update(actions).where(actions.c.id == row.id).values(what=what, due=due, status="open", reason="", updated_at=at))

    def close(step_id: str, status: str, reason: str) -> None:
        row = existing.get(step_id)
        if row is not None and row.status == "open":
            conn.execute(update(actions).where(actions.c.id == row.id).values(status=status, reason=reason, updated_at=at))

    def step_done(step_id: str) -> bool:
        found = select(literal(1)).where(steps.c.session_id == session_id, steps.c.step_id == step_id, steps.c.state == "done")
        return conn.execute(found).first() is not None

    def last_posted(message: str) -> Any:
        """The latest post of a message (its phase and time), or None."""
        return conn.execute(
            select(sent.c.phase, sent.c.sent_at)
            .where(sent.c.session_id == session_id, sent.c.message_id == message, sent.c.how.in_(POSTED))
            .order_by(sent.c.sent_at.desc(), sent.c.id.desc()).limit(1)
        ).first()

    latest = conn.execute(
        select(drafts.c.phase, drafts.c.created_at)
        .where(drafts.c.session_id == session_id, drafts.c.message_id == STATUS_UPDATE)
        .order_by(drafts.c.id.desc()).limit(1)
    ).first()
    if latest is not None:
        posted = last_posted(STATUS_UPDATE)
        if abandoned:
            close(STATUS_UPDATE, "dropped", "session abandoned")
        elif posted is not None and posted.phase == "resolved":
            close(STATUS_UPDATE, "done", "resolved update posted")
        elif latest.phase == "resolved":
            close(STATUS_UPDATE, "done", "resolved update drafted")
        elif step_done(RESOLVED_NOTICE_STEP):
            close(STATUS_UPDATE, "done", "resolved notice posted")
        else:
            minutes = number_answer(conn, session_id, NEXT_UPDATE_STEP) or DEFAULT_UPDATE_MINUTES
            # the clock runs from the last update people saw: posted, or else drafted
            since = max(latest.created_at, posted.sent_at) if posted is not None else latest.created_at
            drafted = derived.parse_utc(since) or dt.datetime.now(dt.timezone.utc)
            due = (drafted + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
            phase = latest.phase or "no phase"
            # a new update brings a new next one: reopen it even if the last was marked done
            put(STATUS_UPDATE, f"Post the next status update (last: {phase})", due, reopen=True)

    def any_draft(*messages: str) -> bool:
        found = select(literal(1)).where(drafts.c.session_id == session_id, drafts.c.message_id.in_(messages)).limit(1)
        return conn.execute(found).first() is not None

    followed = any_draft(FOLLOW_UP) or last_posted(FOLLOW_UP) is not None
    fixed = conn.execute(
        select(stages.c.completed_at).where(stages.c.session_id == session_id, stages.c.stage == "fix", stages.c.state == "completed")
    ).first()
    told = any_draft(*TOLD_MESSAGES)
    if followed or step_done(FOLLOW_UP_SENT_STEP):
        close(FOLLOW_UP, "done", "follow-up drafted" if followed else "follow-up sent")
    elif abandoned:
        close(FOLLOW_UP, "dropped", "session abandoned")
    elif fixed and told:
        fixed_at = derived.parse_utc(fixed.completed_at) or dt.datetime.now(dt.timezone.utc)
        due = (fixed_at.astimezone().date() + dt.timedelta(days=1)).isoformat()
        put(FOLLOW_UP, "Send the follow-up message: what was fixed, what changes", due, reopen=False)
    elif FOLLOW_UP in existing and existing[FOLLOW_UP].status == "open":
        conn.execute(delete(actions).where(actions.c.id == existing[FOLLOW_UP].id))


def number_answer(conn: Connection, session_id: str, step_id: str) -> float | None:
    value = conn.execute(
        select(steps.c.value).where(steps.c.session_id == session_id, steps.c.step_id == step_id, steps.c.state == "answered")
    ).scalar()
    if value is None:
        return None
    try:
        number = json.loads(value)
    except ValueError:
        return None
    return float(number) if isinstance(number, (int, float)) and not isinstance(number, bool) and number > 0 else None


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
    any_action = exists().where(actions.c.session_id == session_id, actions.c.kind == "action")
    open_action = exists().where(actions.c.session_id == session_id, actions.c.kind == "action", actions.c.status != "done")
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


def refresh_all(conn: Connection) -> None:
    """Recompute everything derived, for every session, from what is stored: milestones,
    factors, learning, follow-ups and the counts. For a journal whose derived figures were
    never computed (one from before schema 2)."""
    from mea_culpa.run.session import Event

    w = Writes(conn)
    rows = conn.execute(select(sessions.c.id, sessions.c.noticed_at, sessions.c.created_at, sessions.c.updated_at)).all()
    for row in rows:
        completed = [
            Event(e.at, e.kind, e.stage)
            for e in conn.execute(
                select(events.c.at, events.c.kind, events.c.stage)
                .where(events.c.session_id == row.id, events.c.kind == "stage-completed").order_by(events.c.at)
            )
        ]
        m = derived.milestone_seconds(row.noticed_at, row.created_at, completed)
        conn.execute(update(sessions).where(sessions.c.id == row.id).values(
            owned_s=m["owned"], apologized_s=m["apologized"], fixed_s=m["fixed"]
        ))
        answer = conn.execute(
            select(steps.c.value).where(steps.c.session_id == row.id, steps.c.step_id == FACTORS_STEP, steps.c.state == "answered")
        ).scalar()
        sync_factors(w, row.id, json.loads(answer) if answer else None)
        sync_follow_ups(w, row.id, row.updated_at)
        w.sessions.add(row.id)
    w.keys.update(r[0] for r in conn.execute(select(factor_counts.c.key)))
    w.settle()
