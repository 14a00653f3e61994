"""The calm face: rich views for stage headers, guidance, reviews and summaries.

Everything here writes to standard error, so that standard output stays for data
(`export`, `draft`) even during an interactive run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mea_culpa.playbook.model import Playbook, Step
from mea_culpa.run.session import OpenItem, Plan, PlannedStage, Session
from mea_culpa.text.terminal import safe_for_terminal

if TYPE_CHECKING:
    from rich.console import Console

    from mea_culpa.run.runner import Quote

STATE_MARKS = {
    "answered": ("✓", "green"),
    "done": ("✓", "green"),
    "later": ("…", "yellow"),
    "skipped": ("↷", "yellow"),
    "blocked": ("✗", "red"),
    "pending": ("○", "dim"),
    "not-applicable": ("–", "dim"),
    "completed": ("✓", "green"),
    "entered": ("…", "yellow"),
}


def plain() -> bool:
    """Whether standard error is not a terminal (a log, a pipe, a script) and no colour is
    forced: there rich's boxes and colours add nothing, and the closing lines of a
    non-interactive run are printed as plain text, without importing rich (a fifth of the
    run's time)."""
    if os.environ.get("FORCE_COLOR") or os.environ.get("TTY_COMPATIBLE") == "1":
        return False
    try:
        return not sys.stderr.isatty()
    except (AttributeError, ValueError):
        return True


@lru_cache(maxsize=1)
def console() -> Console:
    import shutil

    from rich.console import Console

    # NO_COLOR and TERM=dumb are honoured by rich itself, but on a dumb terminal it assumes
    # 80 columns: ask the terminal instead, so that rules do not wrap when it is narrower.
    width = shutil.get_terminal_size((80, 24)).columns if os.environ.get("TERM") in ("dumb", "unknown") else None
    return Console(stderr=True, highlight=False, soft_wrap=False, width=width)


def escape(text: str) -> str:
    """User and playbook text, safe to put inside rich markup ("[/x]" stays text) and
    without escape sequences (rich passes an ESC through as it is)."""
    from rich.markup import escape as rich_escape

    return rich_escape(safe_for_terminal(text))


def _markdown(text: str) -> Any:
    from rich.markdown import Markdown

    return Markdown(safe_for_terminal(text))


def describe_value(step: Step | None, value: Any, *, limit: int = 80) -> str:
    """A one-line human form of a stored answer."""
    if value is None:
        return "—"
    if step is not None and step.type == "datetime" and isinstance(value, str):
        value = value.replace("T", " ")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict) and "typed" in value:  # a number kept as typed: "£300"
        value = str(value["typed"])
    if isinstance(value, dict) and "state" in value:
        reason = f" ({value['reason']})" if value.get("reason") else ""
        return f"{value['state']}{reason}"
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            parts = []
            for item in value:
                what = item.get("what") or next((str(v) for v in item.values() if v), "")
                extra = ", ".join(str(item[k]) for k in ("owner", "due") if item.get(k))
                parts.append(f"{what} ({extra})" if extra else str(what))
            text = "; ".join(parts)
        else:
            text = ", ".join(step.choice_label(v) if step else str(v) for v in value)
    elif step is not None and step.choices:
        text = step.choice_label(value)
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def intro(playbook: Playbook) -> None:
    from rich.panel import Panel

    c = console()
    c.print()
    c.print(Panel(_markdown(playbook.intro or "Take a breath. We will go through this one step at a time."),
                  title=f"[bold]{escape(playbook.title)}[/bold]", border_style="cyan", padding=(1, 2)))
    c.print("[dim]Every answer is saved as you go. Ctrl-C stops safely; `mea-culpa resume` continues.[/dim]")


def stage_header(planned: PlannedStage, position: int, total: int, *, hint: str = "") -> None:
    from rich.rule import Rule

    c = console()
    c.print()
    c.print(Rule(f"[bold]\\[{position}/{total}] {escape(planned.stage.title)}[/bold]", style="cyan", align="left"))
    if planned.stage.guidance:
        c.print(_markdown(planned.stage.guidance))
    if hint:
        c.print(f"[dim]{escape(hint)}[/dim]")
    c.print()


def notice(text: str, *, style: str = "yellow") -> None:
    text = safe_for_terminal(text)
    if plain():
        print(text, file=sys.stderr)
        return
    from rich.text import Text

    console().print(Text(text, style=style))


def your(title: str) -> str:
    """A message's title as the person's own: "Apology to readers" -> "Your apology to
    readers"; a first word in capitals ("SMS to…") keeps them."""
    first = title.split(" ", 1)[0]
    keep = len(first) > 1 and first[1:2].isupper()
    return "Your " + (title if keep else title[:1].lower() + title[1:])


def answer_quotes(quotes: Sequence[Quote], *, hint: str = "") -> None:
    """Under an answer, the sentences of the drafts that will carry it, each message's
    under its name, so that the person sees the join and can rephrase at once."""
    from rich.padding import Padding
    from rich.text import Text

    c = console()
    for number, quote in enumerate(quotes):
        label = Text(safe_for_terminal(f"{your(quote.title)} will say:"), style="dim")
        if hint and number == 0:
            label.append(f"  ({hint})", style="dim italic")
        c.print(Padding(label, (0, 0, 0, 2)))
        for sentence in quote.sentences:
            c.print(Padding(Text(safe_for_terminal(sentence), style="italic"), (0, 0, 0, 4)))
        if quote.more:
            c.print(Padding(Text("…", style="dim"), (0, 0, 0, 4)))


def answers_table(plan: Plan, *, title: str, only_stage: str | None = None, answered_only: bool = False) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_lines=False, expand=False, pad_edge=False)
    table.add_column("", no_wrap=True)
    table.add_column("stage", style="dim", no_wrap=True)
    table.add_column("step")
    table.add_column("answer")
    for planned in plan.stages:
        if only_stage and planned.stage.kind != only_stage:
            continue
        for p in planned.steps:
            if p.state == "not-applicable" or (answered_only and p.record is None):
                continue
            mark, colour = STATE_MARKS.get(p.state, ("?", "white"))
            value = describe_value(p.step, plan.context.get(p.step.id) if p.record else None)
            if p.record is None and p.state == "skipped":
                value = "skipped with its stage"
            if p.record and p.record.state != "answered":
                value = describe_value(p.step, {"state": p.record.state, "reason": p.record.reason})
            table.add_row(f"[{colour}]{mark}[/{colour}]", planned.stage.kind, escape(p.step.prompt), escape(value))
    console().print(table)


def resumed(session: Session, plan: Plan, *, changed: bool) -> None:
    c = console()
    c.print()
    c.print(f"[bold]Resuming[/bold] {escape(session.title)} [dim]({escape(session.id)}, {escape(session.playbook_id)})[/dim]")
    if changed:
        notice("The playbook changed since this session started; answers are matched by step id.")
    answers_table(plan, title="Already answered", answered_only=True)
    left = sum(1 for st in plan.stages for p in st.steps if p.state == "pending")
    c.print(f"[dim]{left} question{'s' if left != 1 else ''} to go.[/dim]")


def open_line(item: OpenItem) -> str:
    """One open to-do as the summary shows it: what, its state, its note and the date or
    time that note gives."""
    text = f"{item.what} — {item.state if item.state != 'pending' else 'not marked yet'}"
    if item.note:
        text += f": {item.note}"
    if item.due and item.due not in item.note:
        text += f" (due {describe_when(item.due)})"
    return text


def describe_when(value: str) -> str:
    """A stored date or local date-time as a person reads it: "Sat 14 Mar 2026 15:00"."""
    import datetime as dt

    try:
        if "T" in value:
            return dt.datetime.fromisoformat(value).strftime("%a %d %b %Y %H:%M")
        return dt.date.fromisoformat(value).strftime("%a %d %b %Y")
    except ValueError:
        return value


def skipped_line(planned: PlannedStage) -> str:
    """A skipped stage as the summary shows it: its title, the reason, and how much of it
    was answered before it was skipped."""
    reason = planned.record.reason if planned.record else ""
    asked = [p for p in planned.steps if p.applicable]
    answered = sum(1 for p in asked if p.record is not None)
    text = planned.stage.title + (f" — {reason}" if reason else "")
    if answered:
        text += f" ({answered} of {len(asked)} answered before skipping)"
    return text


def summary(session: Session, plan: Plan, *, saved: bool, still_open: tuple[OpenItem, ...] = ()) -> None:
    done = sum(1 for s in plan.stages for p in s.steps if p.state in ("answered", "done"))
    to_dos = [item for item in still_open if item.kind == "to-do"]
    actions = [item for item in still_open if item.kind == "action"]
    skipped = [s for s in plan.stages if s.state == "skipped"]
    lines = [f"{done} step{'s' if done != 1 else ''} answered."]  # after a "Done." that rich shows in bold green
    if to_dos:
        lines.append("Still open:")
        lines += [f"  - {open_line(item)}" for item in to_dos]
    if skipped:
        lines.append("Skipped stages:")
        lines += [f"  - {skipped_line(s)}" for s in skipped]
    if actions:
        lines.append(f"{len(actions)} prevention action{'s' if len(actions) != 1 else ''} recorded; `mea-culpa actions` reminds you of them.")
    if saved:
        steps = [
            "  Draft the messages (apology, updates, follow-up, team note):",
            f"    mea-culpa draft {session.id}",
            "  Export the completed checklist:",
            f"    mea-culpa export {session.id} -f md",
        ]
    else:
        steps = []
    lines = [safe_for_terminal(line) for line in lines]
    if plain():
        print("\nSummary\nDone. " + "\n".join(lines), file=sys.stderr)
        print("Next steps\n" + "\n".join(steps) if saved else "This session was not saved (--no-save).", file=sys.stderr)
        return
    from rich.panel import Panel

    c = console()
    c.print()
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    bullets: Table | None = None
    for index, line in enumerate(lines):
        if line.startswith("  - "):
            if bullets is None:  # a grid, so that a long item wraps under its own first word
                bullets = Table.grid(padding=(0, 1))
                bullets.add_column(no_wrap=True)
                bullets.add_column()
                parts.append(bullets)
            bullets.add_row("  -", Text(line[4:]))
            continue
        bullets = None
        text = Text(line)
        if index == 0:
            text = Text.assemble(("Done. ", "bold green"), line)
        parts.append(text)
    c.print(Panel(Group(*parts), title="Summary", border_style="green", padding=(1, 2)))
    if saved:
        c.print("[bold]Next steps[/bold]")
        for line in steps:
            c.print(escape(line), soft_wrap=True)
    else:
        c.print("[dim]This session was not saved (--no-save).[/dim]")


def show_playbook(playbook: Playbook) -> None:
    from rich.tree import Tree

    from mea_culpa.cli.output import data_console

    c = data_console(highlight=False)  # `show` prints data: standard output
    tree = Tree(f"[bold]{escape(playbook.title)}[/bold] [dim]({playbook.id} v{escape(playbook.version)})[/dim]")
    if playbook.summary:
        tree.add(f"[italic]{escape(playbook.summary)}[/italic]")
    for stage in playbook.stages:
        label = f"[bold cyan]\\[{stage.number}/7] {escape(stage.title)}[/bold cyan]" + (f" [dim]when {escape(stage.when)}[/dim]" if stage.when else "")
        branch = tree.add(label)
        if stage.guidance:
            branch.add(_markdown(stage.guidance))
        for step in stage.steps:
            extra = []
            if not step.required:
                extra.append("optional")
            if step.when:
                extra.append(f"when {escape(step.when)}")
            if step.sensitive:
                extra.append("sensitive")
            note = f" [dim]({'; '.join(extra)})[/dim]" if extra else ""
            branch.add(f"[green]{step.id}[/green] [dim]{step.type}[/dim] {escape(step.prompt)}{note}")
    if playbook.messages:
        msgs = tree.add("[bold]Messages[/bold]")
        for m in playbook.messages:
            msgs.add(f"[green]{m.id}[/green] {escape(m.title)} [dim]({m.audience}, {m.channel})[/dim]")
    c.print(tree)
