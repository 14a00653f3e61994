"""What the journal could not save, kept on this machine until it can: one plain JSON file
per session in `<home>/spool/`.

A run whose database server went away (or whose session another person took over) stops,
and the session as the person left it, with every answer typed, is written here; `resume`
merges it into the journal once it is reachable (Journal.begin_resume). Plain JSON: the
file is data a person may read, and loading it runs no code.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from mea_culpa.errors import StorageError

if TYPE_CHECKING:
    from mea_culpa.run.session import Session

FORMAT = 1


@dataclass(frozen=True, slots=True)
class Spooled:
    """One kept session, and the journal it belongs in."""

    path: Path
    store: str  # Location.shown of the journal it was meant for
    kept_at: str
    session: Session


def folder() -> Path:
    from mea_culpa import paths

    return paths.home() / "spool"


def _file_name(session_id: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in session_id)
    return f"{safe}.json"


def keep(store: str, session: Session, *, now: str) -> Path:
    """Write the session to the spool (replacing an older copy of it); returns the file."""
    from mea_culpa.files import write_atomic

    where = folder()
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)  # people's mistakes: the owner's eyes only
    except OSError as exc:
        raise StorageError(f"cannot keep the unsaved answers in {where}: {exc.strerror or exc}") from None
    path = where / _file_name(session.id)
    document = {"format": FORMAT, "store": store, "kept_at": now, "session": session_data(session)}
    write_atomic(path, json.dumps(document, ensure_ascii=False, indent=1) + "\n", force=True)
    return path


def find(store: str, session_id: str | None = None) -> Spooled | None:
    """The kept session `session_id` for this store, or without an id the latest kept one."""
    where = folder()
    if not where.is_dir():
        return None
    candidates = [where / _file_name(session_id)] if session_id else sorted(where.glob("*.json"))
    found: list[Spooled] = []
    for path in candidates:
        spooled = read(path)
        if spooled is not None and spooled.store == store and (session_id is None or spooled.session.id == session_id):
            found.append(spooled)
    return max(found, key=lambda s: s.kept_at) if found else None


def read(path: Path) -> Spooled | None:
    """A spool file, or None when it is missing or is not one."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        return None
    try:
        return Spooled(path, str(document["store"]), str(document["kept_at"]), session_from_data(document["session"]))
    except (KeyError, TypeError, ValueError):
        return None


def discard(session_id: str) -> None:
    """Forget the kept copy of a session (it is in the journal now, or forgotten)."""
    (folder() / _file_name(session_id)).unlink(missing_ok=True)


# --- a session as plain data and back --------------------------------------------------------


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def session_data(session: Session) -> dict[str, Any]:
    """Every field of the session as JSON-ready data."""
    data: dict[str, Any] = _plain(session)
    return data


def session_from_data(data: Mapping[str, Any]) -> Session:
    """The session `session_data` wrote."""
    from mea_culpa.run.session import Draft, Event, Sent, Session, StageRecord, StepRecord

    fields = {f.name for f in dataclasses.fields(Session)}
    values = {k: v for k, v in data.items() if k in fields}
    values["tags"] = tuple(data.get("tags", ()))
    values["steps"] = MappingProxyType({k: StepRecord(**v) for k, v in data.get("steps", {}).items()})
    values["stages"] = MappingProxyType({k: StageRecord(**v) for k, v in data.get("stages", {}).items()})
    values["events"] = tuple(Event(**e) for e in data.get("events", ()))
    values["drafts"] = tuple(
        Draft(**{**d, "findings": tuple(dict(f) for f in d.get("findings", ()))}) for d in data.get("drafts", ())
    )
    values["sent"] = tuple(Sent(**s) for s in data.get("sent", ()))
    return Session(**values)


def merge(stored: Session, kept: Session) -> Session:
    """The session as the journal holds it, with what was kept locally put back: per step
    and per stage the later record wins (someone may have answered on another machine
    meanwhile); events and drafts the journal lacks are added. The session's own fields
    (status, title, times) come from whichever changed last."""
    from dataclasses import replace

    steps = dict(stored.steps)
    for step_id, record in kept.steps.items():
        if step_id not in steps or record.at > steps[step_id].at:
            steps[step_id] = record
    stages = dict(stored.stages)
    for kind, stage in kept.stages.items():
        ours = stages.get(kind)
        if ours is None or (stage.completed_at or stage.entered_at or "") > (ours.completed_at or ours.entered_at or ""):
            stages[kind] = stage
    newer = kept if kept.updated_at >= stored.updated_at else stored
    events = stored.events + tuple(e for e in kept.events if e not in stored.events)
    drafts = stored.drafts + tuple(d for d in kept.drafts if d not in stored.drafts)
    sent = stored.sent + tuple(s for s in kept.sent if s not in stored.sent)
    return replace(
        newer, author=stored.author or kept.author, steps=MappingProxyType(steps), stages=MappingProxyType(stages),
        events=tuple(sorted(events, key=lambda e: e.at)), drafts=drafts, sent=sent,
        updated_at=max(stored.updated_at, kept.updated_at),
    )
