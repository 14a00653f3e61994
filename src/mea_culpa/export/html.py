"""The export as a web page: one HTML file, its own stylesheet (screen and print), nothing
that runs or loads (a Content-Security-Policy says so), every answer escaped."""

from __future__ import annotations

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
            items = "".join(f"<li>{_h(item_line(step, item))}</li>" for item in answer)
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
    out += [f"<dt>{_h(label)}</dt><dd>{_h(value)}</dd>" for label, value in header_lines(data)]
    out.append("</dl>")
    if data["still_open"]:
        out += ['<section class="still-open">', "<h2>Still open</h2>", '<ul class="checklist">']
        out += [f'<li><span class="box" aria-hidden="true">☐</span>{_h(open_line(item))}</li>' for item in data["still_open"]]
        out += ["</ul>", "</section>"]
    for number, stage in enumerate(data["stages"], 1):
        out.append(f'<section class="stage-{_h(stage["stage"])}">')
        out.append(f"<h2>{number}. {_h(stage['title'])}</h2>")
        out.append(f'<p class="stage">{_h(stage_line(stage))}</p>')
        out.append('<ul class="checklist">')
        out += [_html_step(playbook.step(entry["id"]), entry) for entry in stage["steps"]]
        out += ["</ul>", "</section>"]
    if data["actions"]:
        out += ['<section class="actions">', "<h2>Action items</h2>", '<ul class="checklist">']
        for action in data["actions"]:
            box = "☑" if action["status"] == "done" else "☐"
            out.append(f'<li><span class="box" aria-hidden="true">{box}</span>{_h(action_line(action))}</li>')
        out += ["</ul>", "</section>"]
    if data["messages"]:
        out += ['<section class="messages">', "<h2>Messages</h2>"]
        for m in data["messages"]:
            out.append(f"<h3>{_h(message_heading(m))}</h3>")
            out.append(f'<pre class="draft">{_h(m["text"].rstrip())}</pre>')
            if m["findings"]:
                out.append('<p class="note">Apology check findings:</p>')
                out.append('<ul class="note">')
                out += [f"<li>{_h(finding_line(f))}</li>" for f in m["findings"]]
                out.append("</ul>")
        if data["drafts_not_shown"]:
            out.append(f'<p class="note">{_h(not_shown(data["drafts_not_shown"]))}</p>')
        out.append("</section>")
    if data.get("sent"):
        out += ['<section class="sent">', "<h2>Sent and handed over</h2>", "<ul>"]
        out += [f"<li>{_h(sent_line(item))}</li>" for item in data["sent"]]
        out += ["</ul>", "</section>"]
    out += ["</main>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


