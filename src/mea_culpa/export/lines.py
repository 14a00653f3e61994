"""How a value reads in an export: dates, durations, answers, action items, open items,
stage lines and message headings, shared by the Markdown and HTML exports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from mea_culpa.export.document import REDACTED, STATE_WORDS, parse_time
from mea_culpa.playbook.model import Step

HOW_WORDS = {
    "slack": "posted to Slack",
    "webhook": "posted to",
    "email": "opened in the mail program",
    "clipboard": "copied to the clipboard",
}


def when(value: str | None) -> str:
    """A stored UTC timestamp as "2026-03-14 16:30 UTC"."""
    moment = parse_time(value)
    if moment is None:
        return value or ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
        return f"{moment:%Y-%m-%d %H:%M} UTC"
    return f"{moment:%Y-%m-%d %H:%M}"


def duration(seconds: int | None) -> str:
    """Seconds as "1 hour 5 minutes"; empty when unknown."""
    if seconds is None:
        return ""
    from mea_culpa.text.filters import human_duration

    return human_duration(seconds)


def number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def display(step: Step | None, value: Any) -> str:
    """An answer as a person reads it: choice labels, Yes/No, dates without seconds."""
    if value is None:
        return ""
    if value == REDACTED:
        return REDACTED
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, Mapping) and "typed" in value:  # a number kept as typed: "£300"
        return str(value["typed"])
    kind = step.type if step else ""
    if kind == "choice" and step is not None:
        return step.choice_label(value)
    if kind == "multi-choice" and step is not None and isinstance(value, list):
        return ", ".join(step.choice_label(v) for v in value)
    if kind == "datetime" and isinstance(value, str):
        return value.replace("T", " ")
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, list):
        return "; ".join(item_line(step, v) for v in value)
    return str(value)


def item_line(step: Step | None, item: Any) -> str:
    """One item of a list answer on one line: its first field, then the others."""
    if not isinstance(item, Mapping):
        return str(item)
    fields = step.fields if step else ()
    parts = []
    for f in fields or ():
        v = item.get(f.id)
        if v is None or v == "":
            continue
        if isinstance(v, Mapping) and "typed" in v:
            v = str(v["typed"])
        if isinstance(v, bool):
            parts.append(f"{f.id}: {'yes' if v else 'no'}")
        elif not parts:
            parts.append(str(v))
        else:
            parts.append(f"{f.id}: {number(v)}")
    if not fields:
        parts = [f"{k}: {v}" for k, v in item.items() if v not in (None, "")]
    return " · ".join(parts)


def action_line(action: Mapping[str, Any]) -> str:
    parts = [str(action.get("what") or "")]
    if action.get("owner"):
        parts.append(f"owner: {action['owner']}")
    if action.get("due"):
        parts.append(f"due {action['due']}")
    if action.get("effort"):
        parts.append(f"effort: {action['effort']}")
    commitment = action.get("commitment")
    if commitment is not None:
        from mea_culpa.messages.drafting import is_commitment

        parts.append("commitment" if is_commitment(commitment) else "idea")
    if action.get("status") not in (None, "open", "done"):
        parts.append(str(action["status"]))
    return " · ".join(parts)


def open_line(item: Mapping[str, Any]) -> str:
    """An open item on one line: a to-do with its state, note and due time; an action
    item with its owner and due date."""
    if item["kind"] == "action":
        parts = [str(item["what"])]
        if item["owner"]:
            parts.append(f"owner: {item['owner']}")
        if item["due"]:
            parts.append(f"due {item['due']}")
        return " · ".join(parts)
    text = f"{item['what']} — {item['state'] if item['state'] != 'pending' else 'not marked yet'}"
    if item["note"]:
        text += f": {item['note']}"
    if item["due"]:
        text += f" (due {str(item['due']).replace('T', ' ')})"
    return text


def stage_line(stage: Mapping[str, Any]) -> str:
    parts = [STATE_WORDS.get(stage["state"], stage["state"]).capitalize()]
    if stage["state"] == "skipped":
        if stage["reason"]:
            parts[0] += f": {stage['reason']}"
        asked = [s for s in stage["steps"] if s["state"] != "not-applicable"]
        answered = [s for s in asked if s["state"] != "skipped" or s["answered_at"]]
        if answered:
            parts.append(f"{len(answered)} of {len(asked)} answered before skipping")
    if stage["entered_at"]:
        span = when(stage["entered_at"])
        if stage["completed_at"]:
            span += f" → {when(stage['completed_at'])}"
        parts.append(span)
    if stage["duration_seconds"] is not None:
        parts.append(duration(stage["duration_seconds"]))
    return " · ".join(parts)


def header_lines(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    pb = data["playbook"]
    rows = [
        ("Session", data["id"]),
        ("Playbook", f"{pb['title']} ({pb['id']}, version {pb['version']})"),
        ("Status", str(data["status"])),
    ]
    if data.get("author"):
        rows.append(("Author", str(data["author"])))
    if data["severity"]:
        rows.append(("Severity", str(data["severity"])))
    rows.append(("Started", when(data["created"])))
    if data["completed"]:
        rows.append(("Completed", f"{when(data['completed'])} ({duration(data['duration_seconds'])})"))
    if data["tags"]:
        rows.append(("Tags", ", ".join(data["tags"])))
    if data["redacted"]:
        rows.append(("Note", "sensitive answers are redacted; export with --include-sensitive to keep them"))
    if data.get("audience") == "public":
        rows.append(("Audience", "public: what was meant for the team only is left out"))
    return rows




def sent_line(item: Mapping[str, Any]) -> str:
    what = item["title"] + (f" ({item['phase']})" if item["phase"] else "")
    how = HOW_WORDS.get(item["how"], item["how"])
    if item["how"] in ("webhook", "slack"):
        how += f" {item['where']}" if item["how"] == "webhook" else f" ({item['where']})"
    elif item["how"] == "email" and str(item["where"]).startswith("mailto:"):
        how += f", to {str(item['where']).removeprefix('mailto:')}"
    return f"{what} · {how} · {when(item['at'])}"


def not_shown(count: int) -> str:
    return (f"{count} earlier draft{'s are' if count != 1 else ' is'} not shown; "
            "export with --all-drafts to include every draft.")


def message_heading(m: Mapping[str, Any]) -> str:
    parts = [m["title"], m["tone"]]
    if m["phase"]:
        parts.append(m["phase"])
    if m["edited"]:
        parts.append("edited")
    parts.append(when(m["created"]))
    if m["sent"]:
        parts.append(f"sent {when(m['sent'])}")
    if not m["latest"]:
        parts.append("an earlier draft")
    if m["score"] is not None:
        parts.append(f"apology check {m['score']}/100")
    return " · ".join(parts)


def finding_line(finding: Mapping[str, Any]) -> str:
    where = f"line {finding.get('line')}: " if finding.get("line") else ""
    match = f"“{finding['match']}” " if finding.get("match") else ""
    return f"{where}{match}{finding.get('level', '')} — {finding.get('message', '')}".strip()
