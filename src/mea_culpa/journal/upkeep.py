"""What the journal keeps up to date on every write, so that reading stays cheap: the
rows of a session (its answers, stages, events, drafts, what was sent, action items),
the to-dos it leaves open and the follow-ups its messages imply (both as the run layer
defines them: `run.session.open_items` and `follow_ups`), its contributing factors in
their normal form, whether it shows learning, the per-factor counts `stats` reads, and
the tallies (sessions by status, playbook, severity, author, month and tag; items by kind
and status; durations in buckets) that `history`, `actions` and `stats` read instead of
counting.

Which to-dos a session leaves open depends on its playbook (which steps apply, which are
required, what they ask), which the journal does not keep: a write that knows the
playbook (the runner's, a whole save at the end of a run) derives them, and the rows stay
as they were through writes that do not (a draft, a copy between journals).

One code path for SQLite and PostgreSQL. Every function works inside the caller's write
transaction (`Writes`); `Writes.settle` runs last, before the commit: it recomputes
`learned` for the sessions touched, recounts the factors whose counts may have changed,
and adds to the tallies what the sessions touched add now less what they added before.
On PostgreSQL two writers may touch the same factor at once, so a count is recomputed
only while its row is locked (`SELECT … FOR UPDATE`, in key order so that two writers
cannot wait on each other), and each statement then sees what the other committed; a
tally is only ever added to (`n = n + change`), also in key order.

Many new sessions at once (`write_new`) go in a few hundred at a time, one insert per
table: their follow-ups and to-dos are derived from the sessions alone (there are none
yet to keep), their learning a few queries per few hundred sessions.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, not_, select, update

from mea_culpa.journal import derived
from mea_culpa.journal.tables import (
    actions,
    drafts,
    durations,
    events,
    factor_counts,
    factors,
    sent,
    session_tags,
    sessions,
    stages,
    steps,
    tallies,
)

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement, Table
    from sqlalchemy.engine import Connection

    from mea_culpa.playbook.model import Playbook
    from mea_culpa.run.session import Draft, Event, FollowUp, OpenItem, Sent, Session, StageRecord, StepRecord

# Conventional step ids the journal reads (see playbook.VOCABULARY).
FACTORS_STEP = "contributing_factors"
LESSON_STEP = "lesson"
STATUS_UPDATE = "status-update"
POSTED = ("slack", "webhook")  # ways of sending that deliver (run.session.POSTED)
# The kinds of rows in `actions`: an item of an action-items list, a message a session's
# other messages make due, and a to-do (an action step) the session leaves open.
ACTION, FOLLOW_UP, TO_DO = "action", "follow-up", "to-do"
# The columns of `actions` that an item of one kind or another leaves empty: every row of
# a multi-row insert names them all.
ITEM_DEFAULTS: dict[str, Any] = {"owner": None, "due": None, "effort": None, "commitment": None, "step_state": None, "note": ""}
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

    def __init__(self, conn: Connection, *, counting: bool = True) -> None:
        self.conn = conn
        # False: the tallies are counted afresh once the writing is done (`count_tallies`, as
        # an upgrade does), so no share is read before a change
        self.counting = counting
        self.sessions: set[str] = set()  # sessions whose `learned` may have changed
        self.keys: set[str] = set()  # factors whose counts may have changed
        self.counted: set[str] = set()  # sessions whose share of the tallies may change
        self.shares = Shares()  # their shares before this transaction changed them

    def before(self, session_ids: Iterable[str]) -> None:
        """Note the sessions' shares of the tallies as they are now, before a change
        (once per transaction: the first call is the state before it)."""
        if not self.counting:
            return
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
    milestones = derived.milestone_seconds(s.noticed_at, s.created_at, s.events, s.steps.values())
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


def write_sent(w: Writes, session_id: str, s: Sent) -> None:
    w.conn.execute(insert(sent), [sent_row(session_id, s)])


def sent_row(session_id: str, s: Sent) -> dict[str, Any]:
    return {
        "session_id": session_id, "message_id": s.message_id, "phase": s.phase, "how": s.how, "destination": s.where,
        "text": s.text, "sent_at": s.at, "draft_created_at": s.draft_created_at,
    }


def write_whole(w: Writes, s: Session, *, author: str, uid: str | None = None, new: bool = False,
                playbook: Playbook | None = None) -> None:
    """Every row of a session, replacing an earlier copy. The action items, to-dos and
    follow-ups are synced in place rather than replaced: their ids and statuses (done,
    dropped) survive. The to-dos are derived only with the `playbook`. A `new` session
    (its id must be free) is written by `write_new`."""
    if new:
        write_new(w, [s], author=author, uids=[uid], playbook=playbook)
        return
    w.before([s.id])
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


def write_new(w: Writes, batch: Sequence[Session], *, author: str, uids: Sequence[str | None] = (),
              playbook: Playbook | None = None) -> None:
    """Sessions the journal does not hold yet, every row of each, one multi-row insert per
    table for the whole batch (importing a journal, filling the benchmark's): the rows
    `write_whole` would write, without the replacing and without asking what is there
    (nothing: their follow-ups and to-dos are all new). With the `playbook` (of every
    session in the batch) their to-dos are derived. Fails if an id is taken."""
    import uuid

    if not batch:
        return
    w.before(s.id for s in batch)  # nothing yet: they are counted when the transaction settles
    uids = list(uids) + [None] * (len(batch) - len(uids))
    conn = w.conn
    rows: dict[Table, list[dict[str, Any]]] = {
        t: [] for t in (sessions, session_tags, steps, stages, events, drafts, sent, actions, factors)
    }
    for s, uid in zip(batch, uids, strict=True):
        rows[sessions].append({**session_row(s, author=author), "uid": uid or str(uuid.uuid4())})
        rows[session_tags] += [{"session_id": s.id, "tag": t} for t in dict.fromkeys(s.tags)]
        for step_id, record in s.steps.items():
            rows[steps].append(step_row(s.id, step_id, record))
            if is_action_list(record.value):
                rows[actions] += [
                    {**ITEM_DEFAULTS, **action_fields(item, position), "session_id": s.id, "step_id": step_id, "kind": ACTION,
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
        rows[sent] += [sent_row(s.id, item) for item in s.sent]
        # in the order write_whole gives them ids: the action items, the follow-ups, the to-dos
        rows[actions] += new_follow_ups(s)
        if playbook is not None:
            rows[actions] += new_to_dos(s, playbook)
    for table, written in rows.items():  # parents first: `sessions` leads
        if written:
            conn.execute(insert(table), written)
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
        .where(actions.c.session_id == session_id, actions.c.step_id == step_id, actions.c.kind == ACTION)
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
    w.before([s.id])
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
                conn.execute(insert(actions), [follow_up_row(s, f)])
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


def new_follow_ups(s: Session) -> list[dict[str, Any]]:
    """The rows `sync_follow_ups` inserts for a session that has no follow-ups yet."""
    from mea_culpa.run.session import follow_ups

    owed = {f.message_id: f for f in follow_ups(s)}
    return [follow_up_row(s, f) for f in owed.values() if f.state != "dropped"]


def follow_up_row(s: Session, f: FollowUp) -> dict[str, Any]:
    return {
        **ITEM_DEFAULTS, "session_id": s.id, "step_id": f.message_id, "position": 0, "kind": FOLLOW_UP, "what": f.what,
        "due": f.due, "status": f.state, "reason": f.reason, "updated_at": s.updated_at,
    }


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
    conn = w.conn
    if not _kept(conn, s.id):
        return
    w.before([s.id])
    a = actions.c
    existing = {
        (r.step_id, r.what): r
        for r in conn.execute(
            select(a.id, a.step_id, a.what, a.position, a.due, a.step_state, a.note, a.status)
            .where(a.session_id == s.id, a.kind == TO_DO)
        )
    }
    abandoned = s.status == "abandoned"
    for position, item in enumerate(left_open(playbook, s)):
        fields = to_do_fields(position, item)
        row = existing.pop((item.step_id, item.what), None)
        if row is None:
            if not abandoned:
                conn.execute(insert(actions), [to_do_row(s, position, item)])
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


def left_open(playbook: Playbook, s: Session) -> list[OpenItem]:
    """The to-dos (not the action items) `run.session.open_items` finds in the session."""
    from mea_culpa.run.session import open_items

    return [item for item in open_items(playbook, s) if item.kind == TO_DO]


def new_to_dos(s: Session, playbook: Playbook) -> list[dict[str, Any]]:
    """The rows `sync_to_dos` inserts for a session that has no to-dos yet."""
    if s.status == "abandoned":
        return []
    return [to_do_row(s, position, item) for position, item in enumerate(left_open(playbook, s))]


def to_do_fields(position: int, item: OpenItem) -> dict[str, Any]:
    """What of a to-do's row follows the run (its place, due date, state and note)."""
    return {"position": position, "due": to_do_due(item), "step_state": item.state, "note": item.note}


def to_do_row(s: Session, position: int, item: OpenItem) -> dict[str, Any]:
    return {
        **ITEM_DEFAULTS, "session_id": s.id, "step_id": item.step_id, "kind": TO_DO, "what": item.what, "status": "open",
        "reason": "", "updated_at": item.since or s.updated_at, **to_do_fields(position, item),
    }


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


def refresh_learned(w: Writes, session_ids: Sequence[str]) -> None:
    """Recompute the sessions' learning flags, a few hundred sessions a statement; the
    factors of a session whose flag changed follow it."""
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
    by an older rule, or never). The durations it changes are counted afterwards
    (`count_tallies`, migrate.upgrade)."""
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
    to-do put off. Returns how many sessions were derived. The tallies are not kept:
    `count_tallies` counts them afterwards (migrate.upgrade)."""
    from mea_culpa.errors import MeaCulpaError
    from mea_culpa.playbook import catalog

    s = sessions.c
    put_off = select(steps.c.session_id).where(steps.c.state.in_(derived.PUT_OFF))
    ids = [r[0] for r in conn.execute(
        select(s.id).where(s.lessons_only == 0, (s.status == "in-progress") | s.id.in_(put_off)).order_by(s.id)
    )]
    w = Writes(conn, counting=False)
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
    factors, learning, follow-ups and the factor counts. For a journal whose derived figures
    were never computed (one from before schema 2); `count_tallies` counts the tallies
    afterwards (migrate.upgrade)."""
    w = Writes(conn, counting=False)
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
            ))
            month = derived.start_month(r.created_at)
            if month is not None:
                out.figures[("month", month)] += 1
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
