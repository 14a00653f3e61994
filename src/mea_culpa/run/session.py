"""A session: one run of a playbook, its answers and step states, and its pure transitions.

Every transition returns a new Session and the Change that a store must persist, so the
runner can commit each change before it asks the next question. Nothing here does I/O.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from mea_culpa.playbook.model import STAGE_KINDS, Playbook, Stage, Step

STATUSES = ("in-progress", "completed", "abandoned")
# What a step can be in a session. "pending" and "not-applicable" are never stored: they
# follow from the playbook and the answers (see `plan`).
STEP_STATES = ("answered", "done", "skipped", "blocked", "later", "pending", "not-applicable")


def utc_now() -> str:
    """Now, as the UTC ISO-8601 text every stored timestamp uses."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_to_utc(value: str | None) -> str | None:
    """A local ISO date-time (as the user typed it) as UTC ISO text."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # the machine's local zone: what the user meant
    return parsed.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class StepRecord:
    """A step's stored state: its answer, or an action's state with the reason."""

    state: str  # answered | done | skipped | blocked | later
    value: Any = None
    reason: str = ""
    at: str = ""
    source: str = "typed"  # typed | file | command-line | default | resumed
    stage: str = ""  # the stage kind the step belongs to, kept for queries over the journal


@dataclass(frozen=True, slots=True)
class StageRecord:
    """A stage's stored state: entered, completed or skipped (with the reason), and when."""

    state: str  # entered | completed | skipped
    reason: str = ""
    entered_at: str | None = None
    completed_at: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the session's log; `stats` computes its durations from these."""

    at: str
    kind: str  # session-started, stage-entered, stage-completed, stage-skipped, answer, answer-changed, session-completed, draft, resumed
    stage: str | None = None
    step: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Draft:
    """A rendered (and possibly edited) message, with its apology-check result."""

    message_id: str
    tone: str
    text: str
    created_at: str
    phase: str | None = None
    edited: bool = False
    score: int | None = None
    findings: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Sent:
    """A draft that left mea-culpa: what (the message, its phase and the text that went),
    how (posted to Slack or a webhook, opened in the mail program, copied to the
    clipboard), where (the destination with any secret part masked) and when. Only a post
    is known to have been delivered (`posted`); the mail program and the clipboard hand the
    draft to the person, who sends it."""

    message_id: str
    how: str  # slack | webhook | email | clipboard
    where: str  # e.g. https://hooks.slack.com/services/T…/B…/***, mailto:dana@example.com, clipboard
    text: str
    at: str  # UTC
    draft_created_at: str  # the draft it was (Draft.created_at)
    phase: str | None = None

    @property
    def posted(self) -> bool:
        return self.how in POSTED


# The ways of sending that deliver (the server said it took the message).
POSTED = ("slack", "webhook")


@dataclass(frozen=True, slots=True)
class Change:
    """What a store must write for one transition: the changed row and the event."""

    kind: str  # "session" | "step" | "stage" | "draft" | "sent"
    key: str | None
    event: Event | None


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class Session:
    """One person working through one mistake: the playbook it follows, every answer,
    stage and event so far, and the drafts made from it. Immutable: every change makes a
    new Session (see the transitions below)."""

    id: str
    title: str
    playbook_id: str
    playbook_title: str
    playbook_version: str
    playbook_hash: str
    playbook_path: str
    status: str
    created_at: str
    updated_at: str
    tags: tuple[str, ...] = ()
    happened_at: str | None = None  # UTC
    noticed_at: str | None = None  # UTC
    author: str | None = None  # who worked through it (the journal records it on first save)
    steps: Mapping[str, StepRecord] = field(default_factory=lambda: _frozen({}))
    stages: Mapping[str, StageRecord] = field(default_factory=lambda: _frozen({}))
    events: tuple[Event, ...] = ()
    drafts: tuple[Draft, ...] = ()
    sent: tuple[Sent, ...] = ()  # what went out, oldest first (see record_sent)

    @property
    def answers(self) -> dict[str, Any]:
        """Step id -> stored value, for every step with a record (actions as {state, reason})."""
        out = {}
        for step_id, record in self.steps.items():
            out[step_id] = {"state": record.state, "reason": record.reason} if record.state != "answered" else record.value
        return out

    @property
    def severity(self) -> str | None:
        record = self.steps.get("severity")
        return record.value if record and isinstance(record.value, str) else None

    @property
    def stage_reached(self) -> str | None:
        """The latest stage entered, completed or skipped."""
        reached = [kind for kind in STAGE_KINDS if kind in self.stages]
        return reached[-1] if reached else None


def slug(text: str, limit: int = 40) -> str:
    """ASCII kebab-case of a title, for human-readable session ids."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", plain.lower()).strip("-")
    return words[:limit].rstrip("-") or "session"


def new_session(playbook: Playbook, *, session_id: str, title: str, now: str, tags: tuple[str, ...] = ()) -> tuple[Session, Change]:
    session = Session(
        id=session_id,
        title=title,
        playbook_id=playbook.id,
        playbook_title=playbook.title,
        playbook_version=playbook.version,
        playbook_hash=playbook.content_hash,
        playbook_path=str(playbook.path or ""),
        status="in-progress",
        created_at=now,
        updated_at=now,
        tags=tuple(dict.fromkeys(playbook.tags + tags)),
    )
    event = Event(now, "session-started", detail=playbook.id)
    return replace(session, events=(event,)), Change("session", None, event)


def _with_event(session: Session, event: Event, **changes: Any) -> Session:
    return replace(session, updated_at=event.at, events=session.events + (event,), **changes)


def set_answer(session: Session, step: Step, value: Any, *, now: str, source: str = "typed") -> tuple[Session, Change]:
    """Record an already-checked answer (see answers.coerce)."""
    if step.type == "action" and isinstance(value, dict):
        record = StepRecord(value["state"], None, value.get("reason", ""), now, source, step.stage)
    else:
        record = StepRecord("answered", value, "", now, source, step.stage)
    previous = session.steps.get(step.id)
    kind = "answer-changed" if previous is not None else "answer"
    steps = dict(session.steps)
    steps[step.id] = record
    extra: dict[str, Any] = {}
    if step.id == "happened_at" and isinstance(value, str):
        extra["happened_at"] = local_to_utc(value)
    if step.id == "noticed_at" and isinstance(value, str):
        extra["noticed_at"] = local_to_utc(value)
    event = Event(now, kind, step.stage, step.id, record.state if step.type == "action" else "")
    return _with_event(session, event, steps=_frozen(steps), **extra), Change("step", step.id, event)


def keep_partial(session: Session, step: Step, partial: Mapping[str, Any], *, now: str) -> tuple[Session, Change]:
    """Keep a list answer while it is being given, field by field ({"items": [...],
    "item": {field: value}}), so that an interrupted item keeps what was typed. Kept as
    an event: the step itself stays unanswered until the list is done."""
    import json

    event = Event(now, "answer-partial", step.stage, step.id, json.dumps(dict(partial), ensure_ascii=False))
    return _with_event(session, event), Change("session", None, event)


def partial_answer(session: Session, step_id: str) -> dict[str, Any] | None:
    """The list answer kept field by field since the step was last answered or cleared
    ({"items": [...], "item": {...}}), or None."""
    import json

    for event in reversed(session.events):
        if event.step != step_id:
            continue
        if event.kind == "answer-partial":
            try:
                value = json.loads(event.detail)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
        if event.kind in ("answer", "answer-changed", "answer-cleared"):
            return None
    return None


def clear_answer(session: Session, step: Step, *, now: str) -> tuple[Session, Change]:
    """Forget a step's answer (the user chose to answer it again)."""
    steps = dict(session.steps)
    steps.pop(step.id, None)
    event = Event(now, "answer-cleared", step.stage, step.id)
    return _with_event(session, event, steps=_frozen(steps)), Change("step", step.id, event)


def _stage_change(session: Session, kind: str, record: StageRecord, event: Event) -> tuple[Session, Change]:
    stages = dict(session.stages)
    stages[kind] = record
    return _with_event(session, event, stages=_frozen(stages)), Change("stage", kind, event)


def enter_stage(session: Session, kind: str, *, now: str) -> tuple[Session, Change]:
    old = session.stages.get(kind)
    record = StageRecord("entered", "", old.entered_at if old and old.entered_at else now, None)
    return _stage_change(session, kind, record, Event(now, "stage-entered", kind))


def complete_stage(session: Session, kind: str, *, now: str) -> tuple[Session, Change]:
    old = session.stages.get(kind)
    record = StageRecord("completed", "", old.entered_at if old and old.entered_at else now, now)
    return _stage_change(session, kind, record, Event(now, "stage-completed", kind))


def skip_stage(session: Session, kind: str, reason: str, *, now: str) -> tuple[Session, Change]:
    old = session.stages.get(kind)
    record = StageRecord("skipped", reason, old.entered_at if old else now, now)
    return _stage_change(session, kind, record, Event(now, "stage-skipped", kind, detail=reason))


def set_status(session: Session, status: str, *, now: str) -> tuple[Session, Change]:
    kind = {"completed": "session-completed", "abandoned": "session-abandoned"}.get(status, "resumed")
    event = Event(now, kind)
    return _with_event(session, event, status=status), Change("session", None, event)


def note_resumed(session: Session, *, now: str, detail: str = "") -> tuple[Session, Change]:
    event = Event(now, "resumed", detail=detail)
    return _with_event(session, event), Change("session", None, event)


def add_draft(session: Session, draft: Draft) -> tuple[Session, Change]:
    event = Event(draft.created_at, "draft", detail=draft.message_id)
    return _with_event(session, event, drafts=session.drafts + (draft,)), Change("draft", draft.message_id, event)


def mark_sent(session: Session, draft: Draft, *, now: str) -> tuple[Session, Change]:
    """Record that the person sent this draft. Drafting is not sending: only this (or a
    to-do such as `follow_up_sent` marked done) settles the follow-up a message owes.
    Kept as an event, so that every journal stores it as it is."""
    event = Event(now, "draft-sent", detail=f"{draft.message_id} {draft.created_at}")
    return _with_event(session, event), Change("session", None, event)


def sent_at(session: Session) -> dict[int, str]:
    """When each draft that was marked sent was sent: index in `session.drafts` -> UTC time."""
    out: dict[int, str] = {}
    for event in session.events:
        if event.kind != "draft-sent":
            continue
        message_id, _, created = event.detail.partition(" ")
        matching = [i for i, d in enumerate(session.drafts) if d.message_id == message_id and d.created_at == created]
        if matching:
            out.setdefault(matching[-1], event.at)  # two drafts in one second: the later, edited one
    return out


@dataclass(frozen=True, slots=True)
class ShownDraft:
    """A draft as an export shows it: whether it is the latest of its message (and phase),
    and when it was marked sent."""

    draft: Draft
    latest: bool
    sent_at: str | None = None


def drafts_to_show(session: Session, *, every: bool = False) -> tuple[ShownDraft, ...]:
    """The latest draft of each message (per phase, for status updates) and any draft
    marked sent, oldest first; with `every`, every draft kept. Re-drafting the same
    message leaves the earlier runs in the record, not in the way."""
    sent = sent_at(session)
    last: dict[tuple[str, str | None], int] = {}
    for index, draft in enumerate(session.drafts):
        last[(draft.message_id, draft.phase)] = index
    latest = set(last.values())
    return tuple(
        ShownDraft(draft, index in latest, sent.get(index))
        for index, draft in enumerate(session.drafts)
        if every or index in latest or index in sent
    )


def record_sent(session: Session, sent: Sent) -> tuple[Session, Change]:
    """Record that a draft left mea-culpa. A post is also the event `draft-sent` (detail:
    the message id and the draft's time), which says the draft went out; the mail program
    and the clipboard are logged as handed over (`draft-handed-over`)."""
    kind = "draft-sent" if sent.posted else "draft-handed-over"
    event = Event(sent.at, kind, detail=f"{sent.message_id} {sent.draft_created_at}")
    return _with_event(session, event, sent=session.sent + (sent,)), Change("sent", sent.message_id, event)


# --- what applies, given the answers so far -----------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """A step as it stands in a plan: whether it applies now, and what is recorded."""

    step: Step
    applicable: bool
    record: StepRecord | None
    stage_skipped: bool = False  # its stage was skipped: unanswered, it is skipped too, not pending

    @property
    def state(self) -> str:
        if not self.applicable:
            return "not-applicable"
        if self.record:
            return self.record.state
        return "skipped" if self.stage_skipped else "pending"


@dataclass(frozen=True, slots=True)
class PlannedStage:
    """A stage as it stands in a plan, with its steps."""

    stage: Stage
    applicable: bool
    record: StageRecord | None
    steps: tuple[PlannedStep, ...]

    @property
    def state(self) -> str:
        if not self.applicable:
            return "not-applicable"
        if self.record is None:
            return "pending"
        return self.record.state


@dataclass(frozen=True, slots=True)
class Plan:
    """Which stages and steps apply, given the answers so far, and the values that `when`
    conditions and templates read."""

    stages: tuple[PlannedStage, ...]
    context: Mapping[str, Any]  # step id -> value (None when not answered or not applicable)

    def step(self, step_id: str) -> PlannedStep | None:
        for stage in self.stages:
            for planned in stage.steps:
                if planned.step.id == step_id:
                    return planned
        return None


def session_facts(session: Session) -> dict[str, Any]:
    """Plain facts about a session that expressions and templates may read as `session`."""
    return {
        "id": session.id,
        "title": session.title,
        "playbook": session.playbook_id,
        "playbook_title": session.playbook_title,
        "status": session.status,
        "severity": session.severity,
        "started": session.created_at,
        "happened_at": session.happened_at,
        "noticed_at": session.noticed_at,
        "tags": list(session.tags),
    }


def step_value(record: StepRecord | None) -> Any:
    if record is None:
        return None
    if record.state == "answered":
        return record.value
    return {"state": record.state, "reason": record.reason}


def plan(playbook: Playbook, session: Session) -> Plan:
    """Which stages and steps apply, in order, given the answers so far. A `when` sees only
    the answers of earlier steps that themselves apply."""

    from mea_culpa.playbook.answers import readable

    context: dict[str, Any] = {step.id: None for step in playbook.steps}
    context["session"] = session_facts(session)
    where = f"{playbook.path}: " if playbook.path else ""
    stages = []
    for stage in playbook.stages:
        stage_ok = True
        if stage.when:
            stage_ok = _holds(stage.when, context, f"{where}stage {stage.kind}: when")
        planned_steps = []
        stage_record = session.stages.get(stage.kind)
        skipped = stage_record is not None and stage_record.state == "skipped"
        for step in stage.steps:
            ok = stage_ok
            if ok and step.when:
                ok = _holds(step.when, context, f"{where}step {step.id}: when")
            record = session.steps.get(step.id)
            planned_steps.append(PlannedStep(step, ok, record, skipped))
            if ok:
                context[step.id] = step_value(record) if step.type != "number" else readable(step_value(record))
        stages.append(PlannedStage(stage, stage_ok, stage_record, tuple(planned_steps)))
    return Plan(tuple(stages), _frozen(context))


def _holds(source: str, context: Mapping[str, Any], what: str) -> bool:
    """Whether a `when` holds. A condition that fails only because an answer it reads is
    not given yet (`'x' in others_involved` before that question) does not hold *yet*;
    one that fails with every answer it reads in hand is the playbook's error."""
    from mea_culpa.errors import TemplateError
    from mea_culpa.playbook import expressions

    try:
        return expressions.condition(source, context, what=what)
    except TemplateError:
        names = expressions.expression_names(source)
        if any(context.get(name) is None for name in names if name != "session"):
            return False
        raise


def default_for(step: Step, plan_: Plan) -> Any:
    """The step's default, with `{{ earlier_answer }}` rendered from the answers so far."""
    from mea_culpa.playbook import expressions

    default = step.default
    if expressions.is_template(default):
        rendered = expressions.render_string(default, plan_.context, what=f"step {step.id}: default").strip()
        return rendered or None
    return default


# --- what a session leaves open -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenItem:
    """Something a session leaves to do: a to-do put off (later), blocked, or not marked
    yet while the session is in progress (pending), or an action item not yet done (open).
    What the run's summary calls "Still open", the export lists, and the journal reminds of."""

    kind: str  # "to-do" (an action step) | "action" (an item of an action-items list)
    step_id: str
    stage: str
    what: str  # the to-do's prompt, or the action item's `what`
    state: str  # later | blocked | pending | open
    note: str = ""  # why it is blocked, or the note left with "later"
    due: str | None = None  # an action item's due date; for a to-do, the date or time its note starts with
    since: str | None = None  # when the to-do was put off or blocked (UTC)
    owner: str | None = None


def open_items(
    playbook: Playbook, session: Session, *, status: Mapping[tuple[str, str], str] | None = None
) -> tuple[OpenItem, ...]:
    """Everything the session leaves open, in playbook order: each applicable to-do marked
    later or blocked (with its note, and the date or time the note gives, such as "today
    15:00"), each required to-do not marked yet (outside skipped stages), and each action
    item. `status` maps (step id, what) to the journal's status (open, done, dropped) for
    items closed outside the run; anything it does not name is open."""
    from mea_culpa.playbook.answers import moment_in

    status = status or {}
    out: list[OpenItem] = []
    for planned_stage in plan(playbook, session).stages:
        if not planned_stage.applicable:
            continue
        for planned in planned_stage.steps:
            step, record = planned.step, planned.record
            if not planned.applicable:
                continue
            if step.type == "action":
                state = planned.state
                unmarked = state == "pending" and step.required and session.status == "in-progress"
                if state not in ("later", "blocked") and not unmarked:
                    continue
                if status.get((step.id, step.prompt), "open") != "open":
                    continue
                note = record.reason if record else ""
                since = record.at if record else None
                out.append(OpenItem("to-do", step.id, step.stage, step.prompt, state, note,
                                    moment_in(note, since) if note else None, since))
            elif step.type == "list" and step.action_items and record is not None and isinstance(record.value, list):
                for item in record.value:
                    if not isinstance(item, Mapping):
                        continue
                    what = str(item.get("what") or "")
                    if status.get((step.id, what), "open") != "open":
                        continue
                    due = item.get("due")
                    owner = item.get("owner")
                    out.append(OpenItem("action", step.id, step.stage, what, "open",
                                        due=str(due) if due else None, owner=str(owner) if owner else None))
    return tuple(out)


# --- the follow-ups that messages owe ----------------------------------------------------

STATUS_UPDATE = "status-update"
FOLLOW_UP = "follow-up"
# Messages that tell the people affected something: after the fix they are owed a follow-up.
TOLD_MESSAGES = ("customer-apology", "status-update", "personal-note", "social-post")
NEXT_UPDATE_STEP = "next_update_minutes"
RESOLVED_NOTICE_STEP = "resolved_notice"  # an action step: the resolved update was posted
FOLLOW_UP_SENT_STEP = "follow_up_sent"  # an action step: the follow-up was sent
DEFAULT_UPDATE_MINUTES = 30


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A message the session's other messages make due: the next status update, or the
    follow-up once the fix is done. Done only when the person says it went out (a draft
    marked sent, or the to-do that says so marked done); never because it was drafted."""

    message_id: str  # status-update | follow-up
    what: str
    due: str  # status update: a UTC time; follow-up: a local date
    state: str  # open | done | dropped
    reason: str = ""


def follow_ups(session: Session) -> tuple[FollowUp, ...]:
    """The follow-ups the session's messages imply, and whether each was sent."""
    from mea_culpa.playbook.answers import number_of

    def marked_done(step_id: str) -> bool:
        record = session.steps.get(step_id)
        return record is not None and record.state == "done"

    abandoned = session.status == "abandoned"
    sent = sent_at(session)
    sent_drafts = [session.drafts[i] for i in sent]
    out = []
    updates = [(i, d) for i, d in enumerate(session.drafts) if d.message_id == STATUS_UPDATE]
    if updates:
        index, latest = updates[-1]
        if any(d.message_id == STATUS_UPDATE and d.phase == "resolved" for d in sent_drafts):
            state, reason = "done", "resolved update sent"
        elif marked_done(RESOLVED_NOTICE_STEP):
            state, reason = "done", "resolved notice posted"
        elif abandoned:
            state, reason = "dropped", "session abandoned"
        else:
            state, reason = "open", ""
        if latest.phase == "resolved":
            what, due = "Post the resolved update", latest.created_at
        else:
            record = session.steps.get(NEXT_UPDATE_STEP)
            minutes = number_of(record.value) if record is not None and record.state == "answered" else None
            start = _parse_utc(sent.get(index) or latest.created_at)
            moment = start + dt.timedelta(minutes=minutes if minutes and minutes > 0 else DEFAULT_UPDATE_MINUTES)
            what, due = f"Post the next status update (last: {latest.phase or 'no phase'})", moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        out.append(FollowUp(STATUS_UPDATE, what, due, state, reason))
    fix = session.stages.get("fix")
    told = any(d.message_id in TOLD_MESSAGES for d in session.drafts)
    if fix is not None and fix.state == "completed" and fix.completed_at and told:
        if any(d.message_id == FOLLOW_UP for d in sent_drafts) or marked_done(FOLLOW_UP_SENT_STEP):
            state, reason = "done", "follow-up sent"
        elif abandoned:
            state, reason = "dropped", "session abandoned"
        else:
            state, reason = "open", ""
        due = (_parse_utc(fix.completed_at).astimezone().date() + dt.timedelta(days=1)).isoformat()
        out.append(FollowUp(FOLLOW_UP, "Send the follow-up message: what was fixed, what changes", due, state, reason))
    return tuple(out)


def _parse_utc(value: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.now(dt.timezone.utc)
