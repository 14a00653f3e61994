"""What the journal keeps up to date on every write, so that reading stays cheap: the
rows of a session (its answers, stages, events, drafts, action items), the follow-ups its
messages imply, its contributing factors in their normal form, whether it shows learning,
the per-factor counts `stats` reads, and the tallies (sessions by status, playbook,
severity, author, month and tag; items by kind and status; durations in buckets) that
`history`, `actions` and `stats` read instead of counting.

One code path for SQLite and PostgreSQL. Every function works inside the caller's write
transaction (`Writes`); `Writes.settle` runs last, before the commit: it recomputes
`learned` for the sessions touched, recounts the factors whose counts may have changed,
and adds to the tallies what the sessions touched add now less what they added before.
On PostgreSQL two writers may touch the same factor at once, so a count is recomputed
only while its row is locked (`SELECT … FOR UPDATE`, in key order so that two writers
cannot wait on each other), and each statement then sees what the other committed; a
tally is only ever added to (`n = n + change`), also in key order.

Many new sessions at once (`write_new`) go in a few hundred at a time, one insert per
table, with their follow-ups and learning derived a few queries per few hundred sessions.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, delete, exists, func, insert, not_, select, update

from mea_culpa.journal import derived
from mea_culpa.journal.tables import (
    actions,
    drafts,
    durations,
    events,
    factor_counts,
    factors,
    session_tags,
    sessions,
    stages,
    steps,
    tallies,
)

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.engine import Connection

    from mea_culpa.run.session import Draft, Event, Session, StageRecord, StepRecord

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
CHUNK = 500  # sessions named in one statement (SQLite allows some thousands of parameters)


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], *,
           keep: Sequence[str] = ()) -> None:
    """Insert rows, or update the ones whose `keys` exist already (every other column but
    `keep`). INSERT … ON CONFLICT, which SQLite and PostgreSQL spell the same way."""
    if not rows:
        return
    columns = tuple(c for c in rows[0] if c not in keys and c not in keep)
    conn.execute(_upsert_statement(conn.dialect.name, table, tuple(keys), columns), list(rows))


@functools.lru_cache(maxsize=64)
def _upsert_statement(dialect: str, table: Table, keys: tuple[str, ...], columns: tuple[str, ...]) -> Any:
    """One statement per shape, built once: building `excluded` costs more than running
    the statement (a run answers every question with two of them per answer)."""
    statement = _dialect_insert(dialect, table)
    return statement.on_conflict_do_update(index_elements=list(keys), set_={c: statement.excluded[c] for c in columns})


def insert_missing(conn: Connection, table: Table, row: Mapping[str, Any], keys: Sequence[str]) -> None:
    """Insert a row unless one with the same `keys` exists (INSERT … ON CONFLICT DO NOTHING)."""
    conn.execute(_dialect_insert(conn.dialect.name, table).values(**row).on_conflict_do_nothing(index_elements=list(keys)))


def _dialect_insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


class Writes:
    """One write transaction: its connection, and what must be settled before it commits.

    Whatever changes what a session adds to the kept tallies (tables.tallies, durations)
    first calls `before` with its id: the session's share is read then, before the change,
    and again when the transaction settles; the difference goes into the tallies."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sessions: set[str] = set()  # sessions whose `learned` may have changed
        self.keys: set[str] = set()  # factors whose counts may have changed
        self.counted: set[str] = set()  # sessions whose share of the tallies may change
        self.shares = Shares()  # their shares before this transaction changed them

    def before(self, session_ids: Iterable[str]) -> None:
        """Note the sessions' shares of the tallies as they are now, before a change
        (once per transaction: the first call is the state before it)."""
        new = sorted(set(session_ids) - self.counted)
        if new:
            self.shares.add(shares(self.conn, new))
            self.counted.update(new)

    def settle(self) -> None:
        refresh_learned(self, sorted(self.sessions))
        recount(self.conn, self.keys)
        if self.counted:
            change = shares(self.conn, sorted(self.counted))
            change.subtract(self.shares)
            add_to_tallies(self.conn, change)
        self.sessions.clear()
        self.keys.clear()
        self.counted.clear()
        self.shares = Shares()


# --- a session's rows ------------------------------------------------------------------------


def session_row(s: Session, *, author: str) -> dict[str, Any]:
    milestones = derived.milestone_seconds(s.noticed_at, s.created_at, s.events)
    return {
        "id": s.id, "title": s.title, "playbook_id": s.playbook_id, "playbook_title": s.playbook_title,
        "playbook_version": s.playbook_version, "playbook_hash": s.playbook_hash, "playbook_path": s.playbook_path,
        "status": s.status, "severity": s.severity or None, "stage_reached": s.stage_reached, "tags": as_json(list(s.tags)),
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

    w.before([s.id])
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
    w.before([s.id])  # its action items are counted
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
    upsert(w.conn, steps, [step_row(s.id, step_id, record)], ["session_id", "step_id"])
    if is_action_list(record.value):
        sync_actions(w, s.id, step_id, record.value, record.at)


def step_row(session_id: str, step_id: str, record: StepRecord) -> dict[str, Any]:
    return {
        "session_id": session_id, "step_id": step_id, "stage": record.stage, "state": record.state,
        "value": as_json(record.value), "reason": record.reason, "at": record.at, "source": record.source,
    }


def is_action_list(value: Any) -> bool:
    """An answer that is a list of action items (a list step with `action_items`)."""
    return isinstance(value, list) and all(isinstance(i, dict) and "what" in i for i in value)


def write_stage(w: Writes, s: Session, kind: str) -> None:
    upsert(w.conn, stages, [stage_row(s.id, kind, s.stages[kind])], ["session_id", "stage"])


def stage_row(session_id: str, kind: str, r: StageRecord) -> dict[str, Any]:
    return {
        "session_id": session_id, "stage": kind, "state": r.state, "reason": r.reason,
        "entered_at": r.entered_at, "completed_at": r.completed_at,
    }


def write_events(w: Writes, session_id: str, items: Iterable[Event]) -> None:
    rows = event_rows(session_id, items)
    if rows:
        w.conn.execute(insert(events), rows)


def event_rows(session_id: str, items: Iterable[Event]) -> list[dict[str, Any]]:
    return [{"session_id": session_id, "at": e.at, "kind": e.kind, "stage": e.stage, "step": e.step, "detail": e.detail} for e in items]


def write_draft(w: Writes, session_id: str, d: Draft) -> None:
    w.conn.execute(insert(drafts), [draft_row(session_id, d)])


def draft_row(session_id: str, d: Draft) -> dict[str, Any]:
    return {
        "session_id": session_id, "message_id": d.message_id, "tone": d.tone, "phase": d.phase, "text": d.text,
        "created_at": d.created_at, "edited": int(d.edited), "score": d.score, "findings": as_json([dict(f) for f in d.findings]),
    }


def write_whole(w: Writes, s: Session, *, author: str, uid: str | None = None, new: bool = False) -> None:
    """Every row of a session, replacing an earlier copy. The action items are synced in
    place rather than replaced: their ids and statuses (done, dropped) survive. A `new`
    session (its id must be free) is written by `write_new`."""
    if new:
        write_new(w, [s], author=author, uids=[uid])
        return
    w.before([s.id])
    for table in (steps, stages, events, drafts):
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
    sync_follow_ups(w, s.id, s.updated_at)
    w.sessions.add(s.id)


def write_new(w: Writes, batch: Sequence[Session], *, author: str, uids: Sequence[str | None] = ()) -> None:
    """Sessions the journal does not hold yet, every row of each, one multi-row insert per
    table for the whole batch (importing a journal, filling the benchmark's): the rows
    `write_whole` would write, without the replacing. Fails if an id is taken."""
    import uuid

    if not batch:
        return
    w.before(s.id for s in batch)  # nothing yet: they are counted when the transaction settles
    uids = list(uids) + [None] * (len(batch) - len(uids))
    conn = w.conn
    rows: dict[Table, list[dict[str, Any]]] = {t: [] for t in (sessions, session_tags, steps, stages, events, drafts, actions, factors)}
    for s, uid in zip(batch, uids, strict=True):
        rows[sessions].append({**session_row(s, author=author), "uid": uid or str(uuid.uuid4())})
        rows[session_tags] += [{"session_id": s.id, "tag": t} for t in dict.fromkeys(s.tags)]
        for step_id, record in s.steps.items():
            rows[steps].append(step_row(s.id, step_id, record))
            if is_action_list(record.value):
                rows[actions] += [
                    {**action_fields(item, position), "session_id": s.id, "step_id": step_id, "kind": "action",
                     "what": str(item.get("what") or ""), "status": "open", "reason": "", "updated_at": record.at}
                    for position, item in enumerate(record.value)
                ]
            if step_id == FACTORS_STEP and record.state == "answered":
                found = derived.factor_keys(factor_text(record.value))
                rows[factors] += [
                    {"key": key, "session_id": s.id, "text": text, "created_at": s.created_at, "learned": 0}
                    for key, text in found.items()
                ]
                w.keys.update(found)
        rows[stages] += [stage_row(s.id, kind, r) for kind, r in s.stages.items()]
        rows[events] += event_rows(s.id, s.events)
        rows[drafts] += [draft_row(s.id, d) for d in s.drafts]
    for table, written in rows.items():  # parents first: `sessions` leads
        if written:
            conn.execute(insert(table), written)
    sync_many_follow_ups(w, [(s.id, s.updated_at) for s in batch])
    w.sessions.update(s.id for s in batch)


# --- action items --------------------------------------------------------------------------


def commitment(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return 0 if value.strip().lower() in ("idea", "no", "false", "maybe", "n") else 1
    return int(bool(value))


def action_fields(item: Mapping[str, Any], position: int) -> dict[str, Any]:
    """An action item's own columns, as a list answer gives them."""
    return {
        "position": position, "owner": item.get("owner"), "due": item.get("due"), "effort": item.get("effort"),
        "commitment": commitment(item.get("commitment")),
    }


def sync_actions(w: Writes, session_id: str, step_id: str, items: list[dict[str, Any]], at: str) -> None:
    """Items that survive an edit (matched by their text) keep their row, id and status,
    so an action marked done is not reopened and `actions done 12` still means it."""
    w.before([session_id])
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
        values = action_fields(item, position)
        fields = tuple(values.values())
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
    sync_many_follow_ups(w, [(session_id, at)])


def sync_many_follow_ups(w: Writes, touched: Sequence[tuple[str, str]]) -> None:
    """`sync_follow_ups` for many (session id, time of the change) at once: what the rules
    read is fetched a few hundred sessions a query, then each session is decided alone."""
    w.before(session_id for session_id, _ in touched)
    for start in range(0, len(touched), CHUNK):
        chunk = dict(touched[start:start + CHUNK])
        facts = _follow_up_facts(w.conn, list(chunk))
        for session_id, at in chunk.items():
            if session_id in facts:
                _settle_follow_ups(w.conn, session_id, at, facts[session_id])


@dataclass(slots=True)
class _Facts:
    """What the follow-up rules read of one session."""

    abandoned: bool
    existing: dict[str, Any] = field(default_factory=dict)  # step id -> (id, step_id, due, status) of its follow-up
    latest_update: Any = None  # (id, phase, created_at) of the latest status update drafted
    drafted: set[str] = field(default_factory=set)  # the message ids drafted
    done_steps: set[str] = field(default_factory=set)
    update_minutes: float | None = None
    fixed: Any = None  # (completed_at,) when the fix stage is completed


def _follow_up_facts(conn: Connection, ids: list[str]) -> dict[str, _Facts]:
    """The facts of the sessions `ids` that have follow-ups (not those of which only the
    lessons are kept), seven queries for them all."""
    s, a, d, st = sessions.c, actions.c, drafts.c, steps.c
    facts = {
        r.id: _Facts(abandoned=r.status == "abandoned")
        for r in conn.execute(select(s.id, s.status).where(s.id.in_(ids), s.lessons_only == 0))
    }
    if not facts:
        return facts
    ids = list(facts)
    for item in conn.execute(select(a.session_id, a.id, a.step_id, a.due, a.status).where(a.session_id.in_(ids), a.kind == "follow-up")):
        facts[item.session_id].existing[item.step_id] = item
    for update_ in conn.execute(
        select(d.session_id, d.id, d.phase, d.created_at).where(d.session_id.in_(ids), d.message_id == STATUS_UPDATE)
    ):
        found = facts[update_.session_id]
        if found.latest_update is None or update_.id > found.latest_update.id:
            found.latest_update = update_
    for session_id, message_id in conn.execute(
        select(d.session_id, d.message_id).distinct().where(d.session_id.in_(ids), d.message_id.in_((FOLLOW_UP, *TOLD_MESSAGES)))
    ):
        facts[session_id].drafted.add(message_id)
    for session_id, step_id in conn.execute(
        select(st.session_id, st.step_id)
        .where(st.session_id.in_(ids), st.step_id.in_((RESOLVED_NOTICE_STEP, FOLLOW_UP_SENT_STEP)), st.state == "done")
    ):
        facts[session_id].done_steps.add(step_id)
    for session_id, value in conn.execute(
        select(st.session_id, st.value).where(st.session_id.in_(ids), st.step_id == NEXT_UPDATE_STEP, st.state == "answered")
    ):
        facts[session_id].update_minutes = positive_number(value)
    for fix in conn.execute(
        select(stages.c.session_id, stages.c.completed_at)
        .where(stages.c.session_id.in_(ids), stages.c.stage == "fix", stages.c.state == "completed")
    ):
        facts[fix.session_id].fixed = fix
    return facts


def _settle_follow_ups(conn: Connection, session_id: str, at: str, facts: _Facts) -> None:
    """Apply the rules of `sync_follow_ups` to one session's facts."""
    existing = facts.existing

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

    latest = facts.latest_update
    if latest is not None:
        if facts.abandoned:
            close(STATUS_UPDATE, "dropped", "session abandoned")
        elif latest.phase == "resolved":
            close(STATUS_UPDATE, "done", "resolved update drafted")
        elif RESOLVED_NOTICE_STEP in facts.done_steps:
            close(STATUS_UPDATE, "done", "resolved notice posted")
        else:
            minutes = facts.update_minutes or DEFAULT_UPDATE_MINUTES
            drafted = derived.parse_utc(latest.created_at) or dt.datetime.now(dt.timezone.utc)
            due = (drafted + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")
            phase = latest.phase or "no phase"
            # a new update brings a new next one: reopen it even if the last was marked done
            put(STATUS_UPDATE, f"Post the next status update (last: {phase})", due, reopen=True)

    followed = FOLLOW_UP in facts.drafted
    told = bool(facts.drafted.intersection(TOLD_MESSAGES))
    if followed or FOLLOW_UP_SENT_STEP in facts.done_steps:
        close(FOLLOW_UP, "done", "follow-up drafted" if followed else "follow-up sent")
    elif facts.abandoned:
        close(FOLLOW_UP, "dropped", "session abandoned")
    elif facts.fixed is not None and told:
        fixed_at = derived.parse_utc(facts.fixed.completed_at) or dt.datetime.now(dt.timezone.utc)
        due = (fixed_at.astimezone().date() + dt.timedelta(days=1)).isoformat()
        put(FOLLOW_UP, "Send the follow-up message: what was fixed, what changes", due, reopen=False)
    elif FOLLOW_UP in existing and existing[FOLLOW_UP].status == "open":
        conn.execute(delete(actions).where(actions.c.id == existing[FOLLOW_UP].id))


def positive_number(value: str | None) -> float | None:
    """A stored answer (JSON) that is a positive number, else None."""
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


def refresh_learned(w: Writes, session_ids: Sequence[str]) -> None:
    """Recompute the sessions' learning flags, a few hundred sessions a statement; the
    factors of a session whose flag changed follow it."""
    from sqlalchemy import bindparam

    conn = w.conn
    for start in range(0, len(session_ids), CHUNK):
        chunk = session_ids[start:start + CHUNK]
        rows = conn.execute(
            select(sessions.c.id, sessions.c.learned, learned(sessions.c.id).label("now")).where(sessions.c.id.in_(chunk))
        ).all()
        changed = [{"sid": r.id, "now": r.now} for r in sorted(rows) if r.learned != r.now]
        if not changed:
            continue
        conn.execute(update(sessions).where(sessions.c.id == bindparam("sid")).values(learned=bindparam("now")), changed)
        conn.execute(update(factors).where(factors.c.session_id == bindparam("sid")).values(learned=bindparam("now")), changed)
        ids = [c["sid"] for c in changed]
        w.keys.update(r[0] for r in conn.execute(select(factors.c.key).distinct().where(factors.c.session_id.in_(ids))))


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


# --- the kept tallies ----------------------------------------------------------------------


@dataclass(slots=True)
class Shares:
    """What some sessions add to the tallies: (figure, value) -> sessions or items, and
    (milestone, severity, bucket) -> sessions."""

    figures: Counter[tuple[str, str]] = field(default_factory=Counter)
    durations: Counter[tuple[str, str, int]] = field(default_factory=Counter)

    def add(self, other: Shares) -> None:
        self.figures.update(other.figures)
        self.durations.update(other.durations)

    def subtract(self, other: Shares) -> None:
        self.figures.subtract(other.figures)
        self.durations.subtract(other.durations)


def shares(conn: Connection, session_ids: Sequence[str]) -> Shares:
    """The sessions' shares of the tallies as the journal holds them now (a session not
    there adds nothing), three queries a few hundred sessions."""
    out = Shares()
    s = sessions.c
    milestones = [name for name, _ in derived.MILESTONES]
    for start in range(0, len(session_ids), CHUNK):
        chunk = session_ids[start:start + CHUNK]
        rows = conn.execute(
            select(s.status, s.playbook_id, s.severity, s.author, s.created_at, *(s[f"{m}_s"] for m in milestones))
            .where(s.id.in_(chunk))
        )
        for r in rows:
            severity = r.severity or ""
            out.figures.update((
                ("status", r.status), ("playbook", r.playbook_id), ("severity", severity), ("author", r.author or ""),
                ("month", r.created_at[:7]),
            ))
            for m in milestones:
                seconds = getattr(r, f"{m}_s")
                if seconds is not None:
                    out.durations[(m, severity, derived.duration_bucket(seconds))] += 1
        n = func.count()
        for tag, count in conn.execute(
            select(session_tags.c.tag, n).where(session_tags.c.session_id.in_(chunk)).group_by(session_tags.c.tag)
        ):
            out.figures[("tag", tag)] += count
        a = actions.c
        for kind, status, due, count in conn.execute(
            select(a.kind, a.status, a.due, n).where(a.session_id.in_(chunk)).group_by(a.kind, a.status, a.due)
        ):
            out.figures[("item", f"{kind} {status}")] += count
            if kind == "action" and status == "open" and due and len(due) == 10:
                out.figures[("open action due", due)] += count  # how many fall overdue on each day
    return out


def add_to_tallies(conn: Connection, change: Shares) -> None:
    """Add a change (what some sessions add now less what they added before) to the kept
    tallies, in key order: two PostgreSQL writers then never wait on each other's rows in
    a circle. A count that falls to nothing keeps its row, at 0."""
    figures = [{"figure": f, "value": v, "n": n} for (f, v), n in sorted(change.figures.items()) if n]
    if figures:
        conn.execute(_adding_statement(conn.dialect.name, tallies, ("figure", "value")), figures)
    buckets = [{"milestone": m, "severity": s, "bucket": b, "n": n} for (m, s, b), n in sorted(change.durations.items()) if n]
    if buckets:
        conn.execute(_adding_statement(conn.dialect.name, durations, ("milestone", "severity", "bucket")), buckets)


@functools.lru_cache(maxsize=4)
def _adding_statement(dialect: str, table: Table, keys: tuple[str, ...]) -> Any:
    statement = _dialect_insert(dialect, table)
    return statement.on_conflict_do_update(index_elements=list(keys), set_={"n": table.c.n + statement.excluded.n})


def count_tallies(conn: Connection) -> None:
    """Count the tallies afresh from every session (a journal upgraded to them)."""
    conn.execute(delete(tallies))
    conn.execute(delete(durations))
    ids = [r[0] for r in conn.execute(select(sessions.c.id).order_by(sessions.c.id))]
    add_to_tallies(conn, shares(conn, ids))
