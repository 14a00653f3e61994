"""A session as text to share or keep: Markdown, HTML, JSON or a replayable YAML answers file.

Every format starts from one document (`session_data`, the JSON shape documented in
docs/export.md), so that they all tell the same story. Sensitive answers are redacted
unless asked for. Pure: nothing here reads the journal or writes a file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any

from mea_culpa.errors import UsageError
from mea_culpa.playbook.model import Playbook, Step
from mea_culpa.run.session import OpenItem, Plan, Session, drafts_to_show, open_items, plan, step_value
from mea_culpa.text.terminal import json_for_terminal, safe_for_terminal

SCHEMA_VERSION = 2  # 2: `messages` holds the latest draft of each message and any sent; `still_open`
FORMATS = ("md", "html", "json", "yaml")
ALIASES = {"markdown": "md", "htm": "html", "yml": "yaml"}
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


def normalise_format(fmt: str) -> str:
    """The export format named by `fmt` (md, html, json, yaml, or an alias such as yml)."""
    name = fmt.strip().lower().lstrip(".")
    name = ALIASES.get(name, name)
    if name not in FORMATS:
        raise UsageError(f"there is no export format {fmt!r}; choose md, html, json or yaml")
    return name


def format_for_path(name: str) -> str | None:
    """The format a file name's suffix suggests (`report.html` -> html), or None."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    suffix = ALIASES.get(suffix, suffix)
    return suffix if suffix in FORMATS else None


# --- the document --------------------------------------------------------------------


def _parse(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def seconds_between(start: str | None, end: str | None) -> int | None:
    a, b = _parse(start), _parse(end)
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


HOW_WORDS = {
    "slack": "posted to Slack",
    "webhook": "posted to",
    "email": "opened in the mail program",
    "clipboard": "copied to the clipboard",
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


def _sent_line(item: Mapping[str, Any]) -> str:
    what = item["title"] + (f" ({item['phase']})" if item["phase"] else "")
    how = HOW_WORDS.get(item["how"], item["how"])
    if item["how"] in ("webhook", "slack"):
        how += f" {item['where']}" if item["how"] == "webhook" else f" ({item['where']})"
    elif item["how"] == "email" and str(item["where"]).startswith("mailto:"):
        how += f", to {str(item['where']).removeprefix('mailto:')}"
    return f"{what} · {how} · {when(item['at'])}"


# --- how values read -----------------------------------------------------------------


def when(value: str | None) -> str:
    """A stored UTC timestamp as "2026-03-14 16:30 UTC"."""
    moment = _parse(value)
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


def _number(value: Any) -> str:
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
        return _number(value)
    if isinstance(value, list):
        return "; ".join(_item_line(step, v) for v in value)
    return str(value)


def _item_line(step: Step | None, item: Any) -> str:
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
            parts.append(f"{f.id}: {_number(v)}")
    if not fields:
        parts = [f"{k}: {v}" for k, v in item.items() if v not in (None, "")]
    return " · ".join(parts)


def _action_line(action: Mapping[str, Any]) -> str:
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


def _open_line(item: Mapping[str, Any]) -> str:
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


def _stage_line(stage: Mapping[str, Any]) -> str:
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


def _header_lines(data: Mapping[str, Any]) -> list[tuple[str, str]]:
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


# --- Markdown ------------------------------------------------------------------------

_MD_HTML = re.compile(r"<")


def _md(text: str) -> str:
    """User text made safe inside Markdown: `<` cannot open raw HTML."""
    return _MD_HTML.sub(r"\\<", text)


def _md_quote(text: str, indent: str) -> list[str]:
    """An answer as a quote under its step, so that it reads apart from the prompt."""
    return [f"{indent}> {_md(line)}".rstrip() for line in text.splitlines() or [""]]


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_step(step: Step | None, entry: Mapping[str, Any]) -> list[str]:
    state = entry["state"]
    prompt = _md(entry["prompt"])
    box = "[x]" if state in ("answered", "done") else "[ ]"
    if state in ("skipped", "not-applicable"):
        head = f"- {box} ~~{prompt}~~ — {STATE_WORDS[state]}"
    elif state == "answered":
        head = f"- {box} {prompt}"
    else:
        head = f"- {box} {prompt} — **{STATE_WORDS[state]}**" if state == "blocked" else f"- {box} {prompt} — {STATE_WORDS[state]}"
    if entry["reason"]:
        head += f": {_md(entry['reason'])}"
    lines = [head]
    answer = entry["answer"]
    if state == "answered" and answer is not None:
        if isinstance(answer, list) and step is not None and step.type == "list":
            lines += [f"  - {_md(_item_line(step, item))}" for item in answer]
        else:
            lines += _md_quote(display(step, answer), "  ")
    return lines


def to_markdown(playbook: Playbook, data: Mapping[str, Any]) -> str:
    """The checklist as GitHub-flavoured Markdown, with task-list boxes."""
    out = [f"# {_md(data['title'])}", ""]
    out += [f"- **{label}:** {_md(value)}" for label, value in _header_lines(data)]
    if data["still_open"]:
        out += ["", "## Still open", ""]
        out += [f"- [ ] {_md(_open_line(item))}" for item in data["still_open"]]
    for number, stage in enumerate(data["stages"], 1):
        out += ["", f"## {number}. {_md(stage['title'])}", "", f"*{_md(_stage_line(stage))}*", ""]
        for entry in stage["steps"]:
            out += _md_step(playbook.step(entry["id"]), entry)
    if data["actions"]:
        out += ["", "## Action items", ""]
        for action in data["actions"]:
            box = "[x]" if action["status"] == "done" else "[ ]"
            out.append(f"- {box} {_md(_action_line(action))}")
    if data["messages"]:
        out += ["", "## Messages"]
        for m in data["messages"]:
            out += ["", f"### {_md(_message_heading(m))}", ""]
            fence = _fence(m["text"])
            out += [f"{fence}text", *m["text"].rstrip("\n").splitlines(), fence]
            if m["findings"]:
                out += ["", "Apology check findings:", ""]
                out += [f"- {_md(_finding_line(finding))}" for finding in m["findings"]]
        if data["drafts_not_shown"]:
            out += ["", f"*{_md(_not_shown(data['drafts_not_shown']))}*"]
    if data.get("sent"):
        out += ["", "## Sent and handed over", ""]
        out += [f"- {_md(_sent_line(item))}" for item in data["sent"]]
    return "\n".join(out).rstrip("\n") + "\n"


def _not_shown(count: int) -> str:
    return (f"{count} earlier draft{'s are' if count != 1 else ' is'} not shown; "
            "export with --all-drafts to include every draft.")


def _message_heading(m: Mapping[str, Any]) -> str:
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


def _finding_line(finding: Mapping[str, Any]) -> str:
    where = f"line {finding.get('line')}: " if finding.get("line") else ""
    match = f"“{finding['match']}” " if finding.get("match") else ""
    return f"{where}{match}{finding.get('level', '')} — {finding.get('message', '')}".strip()


# --- HTML ----------------------------------------------------------------------------

_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f; margin: 0; }
main { max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .25rem; }
h2 { font-size: 1.15rem; margin: 2rem 0 .25rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
h3 { font-size: 1rem; margin: 1.5rem 0 .25rem; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; margin: 1rem 0; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; }
p.stage { color: #555; font-style: italic; margin: 0 0 .5rem; }
ul.checklist { list-style: none; padding: 0; margin: 0; }
ul.checklist > li { margin: .45rem 0; padding-left: 1.7rem; text-indent: -1.7rem; }
ul.checklist > li > * { text-indent: 0; }
.box { display: inline-block; width: 1.7rem; text-indent: 0; }
.state { font-size: .85em; color: #555; }
.blocked .state { color: #a40000; font-weight: 600; }
.skipped .prompt, .not-applicable .prompt { text-decoration: line-through; color: #777; }
.answer { white-space: pre-wrap; margin: .15rem 0 0; color: #222; }
ul.items { margin: .15rem 0 0 1rem; padding-left: 1rem; }
pre.draft { white-space: pre-wrap; background: #f6f6f4; border: 1px solid #e2e2dc; padding: .75rem; font: 14px/1.45 ui-monospace, Menlo, Consolas, monospace; }
.note { color: #555; }
/* a long link or token wraps instead of running off the screen or the printed page */
.answer, pre.draft, ul.items li, ul.checklist li, dl.meta dd, h1, h3 { overflow-wrap: anywhere; }
@page { margin: 16mm 15mm; }
@media print {
  body { font-size: 10.5pt; color: #000; background: #fff; }
  main { margin: 0; padding: 0; max-width: none; }
  h1, h2, h3 { break-after: avoid; }
  li, pre.draft, dl.meta { break-inside: avoid; }
  p.stage, .state, .note, .skipped .prompt, .not-applicable .prompt { color: #333; }
  .blocked .state { color: #000; }
  pre.draft { background: none; border-color: #999; }
  p, li { orphans: 3; widows: 3; }
}
""".strip()


def _h(value: Any) -> str:
    import html  # only the HTML export escapes

    return html.escape("" if value is None else str(value), quote=True)


def _html_step(step: Step | None, entry: Mapping[str, Any]) -> str:
    state = entry["state"]
    box = "☑" if state in ("answered", "done") else "☐"
    parts = [f'<li class="{_h(state)}"><span class="box" aria-hidden="true">{box}</span>']
    parts.append(f'<span class="prompt">{_h(entry["prompt"])}</span>')
    if state != "answered":
        words = STATE_WORDS[state]
        if entry["reason"]:
            words += f": {entry['reason']}"
        parts.append(f' <span class="state">— {_h(words)}</span>')
    answer = entry["answer"]
    if state == "answered" and answer is not None:
        if isinstance(answer, list) and step is not None and step.type == "list":
            items = "".join(f"<li>{_h(_item_line(step, item))}</li>" for item in answer)
            parts.append(f'<ul class="items">{items}</ul>')
        else:
            parts.append(f'<div class="answer">{_h(display(step, answer))}</div>')
    parts.append("</li>")
    return "".join(parts)


def to_html(playbook: Playbook, data: Mapping[str, Any]) -> str:
    """The checklist as one self-contained, printable HTML page; every answer escaped."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # nothing runs and nothing is fetched, even if some text were not escaped
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">',
        f"<title>{_h(data['title'])}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_h(data['title'])}</h1>",
        '<dl class="meta">',
    ]
    out += [f"<dt>{_h(label)}</dt><dd>{_h(value)}</dd>" for label, value in _header_lines(data)]
    out.append("</dl>")
    if data["still_open"]:
        out += ['<section class="still-open">', "<h2>Still open</h2>", '<ul class="checklist">']
        out += [f'<li><span class="box" aria-hidden="true">☐</span>{_h(_open_line(item))}</li>' for item in data["still_open"]]
        out += ["</ul>", "</section>"]
    for number, stage in enumerate(data["stages"], 1):
        out.append(f'<section class="stage-{_h(stage["stage"])}">')
        out.append(f"<h2>{number}. {_h(stage['title'])}</h2>")
        out.append(f'<p class="stage">{_h(_stage_line(stage))}</p>')
        out.append('<ul class="checklist">')
        out += [_html_step(playbook.step(entry["id"]), entry) for entry in stage["steps"]]
        out += ["</ul>", "</section>"]
    if data["actions"]:
        out += ['<section class="actions">', "<h2>Action items</h2>", '<ul class="checklist">']
        for action in data["actions"]:
            box = "☑" if action["status"] == "done" else "☐"
            out.append(f'<li><span class="box" aria-hidden="true">{box}</span>{_h(_action_line(action))}</li>')
        out += ["</ul>", "</section>"]
    if data["messages"]:
        out += ['<section class="messages">', "<h2>Messages</h2>"]
        for m in data["messages"]:
            out.append(f"<h3>{_h(_message_heading(m))}</h3>")
            out.append(f'<pre class="draft">{_h(m["text"].rstrip())}</pre>')
            if m["findings"]:
                out.append('<p class="note">Apology check findings:</p>')
                out.append('<ul class="note">')
                out += [f"<li>{_h(_finding_line(f))}</li>" for f in m["findings"]]
                out.append("</ul>")
        if data["drafts_not_shown"]:
            out.append(f'<p class="note">{_h(_not_shown(data["drafts_not_shown"]))}</p>')
        out.append("</section>")
    if data.get("sent"):
        out += ['<section class="sent">', "<h2>Sent and handed over</h2>", "<ul>"]
        out += [f"<li>{_h(_sent_line(item))}</li>" for item in data["sent"]]
        out += ["</ul>", "</section>"]
    out += ["</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


# --- YAML answers file ---------------------------------------------------------------


def answers_data(playbook: Playbook, session: Session, *, include_sensitive: bool = False) -> tuple[dict[str, Any], list[str]]:
    """The answers to replay (step id -> value; actions as {state, reason}), in playbook
    order, and the ids of the sensitive answers left out."""
    plan_ = plan(playbook, session)
    answers: dict[str, Any] = {}
    left_out = []
    for stage in plan_.stages:
        for planned in stage.steps:
            rec = planned.record
            if rec is None or not planned.applicable:
                continue
            if planned.step.sensitive and not include_sensitive:
                left_out.append(planned.step.id)
                continue
            if rec.state == "answered":
                if rec.value is None:
                    continue
                value = rec.value
                if isinstance(value, list):  # optional fields left empty need not be spelled out
                    value = [{k: v for k, v in i.items() if v is not None} if isinstance(i, Mapping) else i for i in value]
                answers[planned.step.id] = value
            else:
                answers[planned.step.id] = {"state": rec.state, **({"reason": rec.reason} if rec.reason else {})}
    return answers, left_out


def to_yaml(playbook: Playbook, session: Session, *, include_sensitive: bool = False) -> str:
    """An answers file that `mea-culpa start PLAYBOOK --answers FILE --no-input` replays."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        # Readable blocks for multi-line text; but YAML reads a NEL (U+0085) or a CR as a
        # line break in every style but the double-quoted one, which escapes them.
        if "\x85" in value or "\r" in value:
            style: str | None = '"'
        else:
            style = "|" if "\n" in value.strip("\n") else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    answers, left_out = answers_data(playbook, session, include_sensitive=include_sensitive)
    # A comment ends at a newline: a title with one would start YAML of its own.
    title = " ".join(safe_for_terminal(session.title).split())
    header = [
        f"# mea-culpa answers from session {session.id} ({title})",
        f"# playbook {playbook.id}, version {playbook.version}",
        f"# replay with: mea-culpa start {playbook.id} --answers FILE --no-input",
    ]
    if left_out:
        header.append(
            f"# sensitive answers left out: {', '.join(left_out)}; "
            "export with --include-sensitive to keep them (a replay will ask for them)"
        )
    elif include_sensitive and any(s.sensitive for s in playbook.steps):
        header.append("# sensitive answers are included: keep this file private")
    document: dict[str, Any] = {"playbook": playbook.id, "session": session.id}
    skipped = {s.stage.kind: s.record.reason for s in plan(playbook, session).stages if s.state == "skipped" and s.record}
    if skipped:
        document["skipped_stages"] = skipped  # replayed: each is skipped when reached, with its reason
    document["answers"] = answers
    body = yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=10_000)
    return "\n".join(header) + "\n" + body


# --- the entry point -----------------------------------------------------------------


def export_session(
    playbook: Playbook,
    session: Session,
    fmt: str,
    *,
    include_sensitive: bool = False,
    action_status: Mapping[tuple[str, str], str] | None = None,
    all_drafts: bool = False,
    audience: str = "team",
) -> str:
    """The session as Markdown, HTML, JSON or YAML text (see docs/export.md), for the
    team (everything) or the public (export/audience.py)."""
    from mea_culpa.export import audience as audiences

    # Exports are printed and read in terminals, so none carries an escape sequence: JSON
    # and YAML keep every character of the answers, written as escapes; Markdown and HTML,
    # text for people, leave the controls out (newlines and tabs stay).
    name = normalise_format(fmt)
    public = audiences.check(audience) == "public"
    if public and name == "yaml":
        raise UsageError("an answers file replays the whole session, so it is the team's: export --format yaml without --audience public")
    if public and include_sensitive:
        raise UsageError("a public export never holds sensitive answers; leave out --include-sensitive")
    if name == "yaml":
        return to_yaml(playbook, session, include_sensitive=include_sensitive)
    data = session_data(playbook, session, include_sensitive=include_sensitive, action_status=action_status,
                        all_drafts=all_drafts)
    if public:
        data = audiences.public_document(playbook, data)
    if name == "json":
        return json_for_terminal(json.dumps(data, ensure_ascii=False, indent=2)) + "\n"
    if name == "html":
        return safe_for_terminal(to_html(playbook, data))
    return safe_for_terminal(to_markdown(playbook, data))
