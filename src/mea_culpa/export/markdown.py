"""The export as Markdown: the checklist to keep or paste into a ticket."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mea_culpa.export.document import STATE_WORDS
from mea_culpa.export.lines import (
    action_line,
    display,
    finding_line,
    header_lines,
    item_line,
    message_heading,
    not_shown,
    open_line,
    sent_line,
    stage_line,
)
from mea_culpa.playbook.model import Playbook, Step

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
            lines += [f"  - {_md(item_line(step, item))}" for item in answer]
        else:
            lines += _md_quote(display(step, answer), "  ")
    return lines


def to_markdown(playbook: Playbook, data: Mapping[str, Any]) -> str:
    """The checklist as GitHub-flavoured Markdown, with task-list boxes."""
    out = [f"# {_md(data['title'])}", ""]
    out += [f"- **{label}:** {_md(value)}" for label, value in header_lines(data)]
    if data["still_open"]:
        out += ["", "## Still open", ""]
        out += [f"- [ ] {_md(open_line(item))}" for item in data["still_open"]]
    for number, stage in enumerate(data["stages"], 1):
        out += ["", f"## {number}. {_md(stage['title'])}", "", f"*{_md(stage_line(stage))}*", ""]
        for entry in stage["steps"]:
            out += _md_step(playbook.step(entry["id"]), entry)
    if data["actions"]:
        out += ["", "## Action items", ""]
        for action in data["actions"]:
            box = "[x]" if action["status"] == "done" else "[ ]"
            out.append(f"- {box} {_md(action_line(action))}")
    if data["messages"]:
        out += ["", "## Messages"]
        for m in data["messages"]:
            out += ["", f"### {_md(message_heading(m))}", ""]
            fence = _fence(m["text"])
            out += [f"{fence}text", *m["text"].rstrip("\n").splitlines(), fence]
            if m["findings"]:
                out += ["", "Apology check findings:", ""]
                out += [f"- {_md(finding_line(finding))}" for finding in m["findings"]]
        if data["drafts_not_shown"]:
            out += ["", f"*{_md(not_shown(data['drafts_not_shown']))}*"]
    if data.get("sent"):
        out += ["", "## Sent and handed over", ""]
        out += [f"- {_md(sent_line(item))}" for item in data["sent"]]
    return "\n".join(out).rstrip("\n") + "\n"


