"""The one document every export starts from (`session_data`, the JSON shape documented
in docs/export.md), so that Markdown, HTML and JSON tell the same story. Sensitive answers
are redacted unless asked for. Pure: nothing here reads the journal or writes a file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from mea_culpa.playbook.model import Playbook
from mea_culpa.run.session import OpenItem, Plan, Session, drafts_to_show, open_items, plan, step_value

SCHEMA_VERSION = 2  # 2: `messages` holds the latest draft of each message and any sent; `still_open`
REDACTED = "[redacted]"

STATE_WORDS = {
    "answered": "done",
    "done": "done",
    "skipped": "skipped",
    "blocked": "blocked",
    "later": "later",
    "pending": "pending",
    "not-applicable": "not applicable",
    "entered": "in progress",
    "completed": "completed",
}


# --- the document --------------------------------------------------------------------


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def seconds_between(start: str | None, end: str | None) -> int | None:
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None:
        return None
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return max(0, int((b - a).total_seconds()))


def _secrets(playbook: Playbook, session: Session) -> list[str]:
    """The text of every sensitive answer, to be blotted out of drafts as well."""
    found: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            for v in value:
                collect(v)
        elif isinstance(value, Mapping):
            for v in value.values():
                collect(v)

    for step in playbook.steps:
        record = session.steps.get(step.id)
        if step.sensitive and record is not None:
            collect(record.value)
            collect(record.reason)
    return found


def secret_texts(secrets: list[str]) -> list[str]:
    """The secrets as a draft may quote them: each whole, and each line of one of several
    lines on its own (templates quote lines one by one); spaces and line breaks made single
    spaces, a trailing full stop left off; the longest first."""
    texts: set[str] = set()
    for secret in secrets:
        for part in [secret, *secret.splitlines()]:
            words = part.strip().rstrip(".").split()
            if words:
                texts.add(" ".join(words))
    return sorted(texts, key=len, reverse=True)


def secret_patterns(secrets: list[str]) -> list[re.Pattern[str]]:
    """Patterns that find each secret (see `secret_texts`) in a draft however the draft
    wrote it: any letter case, any run of spaces or line breaks between its words (drafts
    are tidied and wrapped). A short secret (a name like "Jo") is matched as a whole word
    only, so that it is found in "Hi Jo," but not in "Joe"; longer text wherever it is.
    The longest come first, so that a secret inside a longer one does not split it."""
    patterns = []
    for text in secret_texts(secrets):
        body = r"\s+".join(re.escape(word) for word in text.split())
        if len(text) < 3:
            body = (r"(?<!\w)" if text[0].isalnum() else "") + body + (r"(?!\w)" if text[-1].isalnum() else "")
        patterns.append(re.compile(body, re.IGNORECASE))
    return patterns


def redact_text(text: str, patterns: list[re.Pattern[str]]) -> str:
    """`text` with every match of a secret's pattern replaced by [redacted]."""
    for pattern in patterns:
        text = pattern.sub(REDACTED, text)
    return text


def _redact_finding(finding: Mapping[str, Any], texts: list[str], patterns: list[re.Pattern[str]]) -> dict[str, Any]:
    out = dict(finding)
    match = str(out.get("match") or "")
    # a finding may quote a secret, or only a piece of one ("d.okafor" of an address)
    words = " ".join(match.split()).lower()
    piece = len(words) >= 3 and any(words in text.lower() for text in texts)
    if match and (piece or redact_text(match, patterns) != match):
        out["match"] = REDACTED
    for key in ("message", "suggestion"):
        if isinstance(out.get(key), str):
            out[key] = redact_text(out[key], patterns)
    return out


def _action_items(plan_: Plan, action_status: Mapping[tuple[str, str], str], include_sensitive: bool) -> list[dict[str, Any]]:
    out = []
    for stage in plan_.stages:
        for planned in stage.steps:
            step = planned.step
            if not (step.type == "list" and step.action_items and planned.applicable and planned.record):
                continue
            value = planned.record.value
            if not isinstance(value, list):
                continue
            for item in value:
                if not isinstance(item, Mapping):
                    continue
                out.append(
                    {
                        "step": step.id,
                        "what": REDACTED if step.sensitive and not include_sensitive else item.get("what"),
                        "owner": item.get("owner"),
                        "due": item.get("due"),
                        "effort": item.get("effort"),
                        "commitment": item.get("commitment"),
                        "status": action_status.get((step.id, str(item.get("what") or "")), "open"),
                    }
                )
    return out


def _open_item(item: OpenItem, playbook: Playbook, include_sensitive: bool) -> dict[str, Any]:
    step = playbook.step(item.step_id)
    hidden = step is not None and step.sensitive and not include_sensitive
    return {
        "kind": item.kind,
        "step": item.step_id,
        "stage": item.stage,
        "what": REDACTED if hidden and item.kind == "action" else item.what,
        "state": item.state,
        "note": REDACTED if hidden and item.note else item.note,
        "due": item.due,
        "since": item.since,
        "owner": item.owner,
    }


def session_data(
    playbook: Playbook,
    session: Session,
    *,
    include_sensitive: bool = False,
    action_status: Mapping[tuple[str, str], str] | None = None,
    all_drafts: bool = False,
) -> dict[str, Any]:
    """The session as one plain document: the JSON export (see docs/export.md).

    `action_status` maps (step id, what) of an action item to its status in the journal
    (open, done, dropped); items it does not name are "open". Messages are the latest
    draft of each message (per phase) and any marked sent; `all_drafts`: every draft."""
    plan_ = plan(playbook, session)
    secrets = [] if include_sensitive else secret_texts(_secrets(playbook, session))
    patterns = secret_patterns(secrets)
    stages = []
    for planned_stage in plan_.stages:
        record = planned_stage.record
        steps = []
        for planned in planned_stage.steps:
            step = planned.step
            rec = planned.record
            hidden = step.sensitive and not include_sensitive and rec is not None
            answer = step_value(rec) if rec is not None and rec.state == "answered" else None
            reason = rec.reason if rec is not None else ""
            steps.append(
                {
                    "id": step.id,
                    "prompt": step.prompt,
                    "type": step.type,
                    "state": planned.state,
                    "answer": REDACTED if hidden and answer is not None else answer,
                    "reason": REDACTED if hidden and reason else reason,
                    "answered_at": rec.at if rec is not None else None,
                    "sensitive": step.sensitive,
                }
            )
        stages.append(
            {
                "stage": planned_stage.stage.kind,
                "title": planned_stage.stage.title,
                "state": planned_stage.state,
                "reason": record.reason if record else "",
                "entered_at": record.entered_at if record else None,
                "completed_at": record.completed_at if record else None,
                "duration_seconds": seconds_between(record.entered_at, record.completed_at) if record else None,
                "steps": steps,
            }
        )
    actions = _action_items(plan_, action_status or {}, include_sensitive)
    # the to-dos first: an apology put off until 15:00 is more urgent than next month's prevention
    items = sorted(open_items(playbook, session, status=action_status), key=lambda item: item.kind != "to-do")
    still_open = [_open_item(item, playbook, include_sensitive) for item in items]
    titles = {m.id: m.title for m in playbook.messages}
    shown = drafts_to_show(session, every=all_drafts)
    messages = [
        {
            "message": d.message_id,
            "title": titles.get(d.message_id, d.message_id),
            "tone": d.tone,
            "phase": d.phase,
            "created": d.created_at,
            "edited": d.edited,
            "latest": one.latest,
            "sent": one.sent_at,
            "score": d.score,
            "findings": [_redact_finding(f, secrets, patterns) for f in d.findings],
            "text": redact_text(d.text, patterns),
        }
        for one in shown
        for d in (one.draft,)
    ]
    completed = session.updated_at if session.status == "completed" else None
    return {
        "schema_version": SCHEMA_VERSION,
        "id": session.id,
        "title": session.title,
        "author": session.author,
        "playbook": {"id": playbook.id, "title": playbook.title, "version": playbook.version},
        "status": session.status,
        "severity": session.severity,
        "tags": list(session.tags),
        "created": session.created_at,
        "updated": session.updated_at,
        "completed": completed,
        "duration_seconds": seconds_between(session.created_at, completed),
        "happened_at": session.happened_at,
        "noticed_at": session.noticed_at,
        "redacted": bool(secrets),
        "stages": stages,
        "still_open": still_open,
        "actions": actions,
        "messages": messages,
        "drafts_not_shown": len(session.drafts) - len(messages),
        "sent": sent_data(playbook, session),
        "audience": "team",
    }




def sent_data(playbook: Playbook, session: Session) -> list[dict[str, Any]]:
    """What left mea-culpa, oldest first: which draft, how, where (secrets masked), when."""
    titles = {m.id: m.title for m in playbook.messages}
    return [
        {
            "message": s.message_id,
            "title": titles.get(s.message_id, s.message_id),
            "phase": s.phase,
            "how": s.how,
            "where": s.where,
            "posted": s.posted,
            "at": s.at,
            "draft_created": s.draft_created_at,
        }
        for s in session.sent
    ]
