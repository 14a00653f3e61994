"""The journal commands: `history`, `actions` (done, drop, reopen), `stats`, `forget`, and
`journal` (upgrade, info, copy).

`cli.py` calls `register(app)`. Only typer is imported at the top; the journal (and with it
SQLAlchemy), rich and icalendar are imported inside the commands. Data (tables, JSON, the
calendar with `-`) goes to stdout, everything else to stderr.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from mea_culpa.journal import ActionRow, Journal
    from mea_culpa.journal.stats import Report

STATUSES = ("in-progress", "completed", "abandoned")
DEFAULT_ACTIONS_SHOWN = 50
BAR_WIDTH = 32


def register(app: typer.Typer) -> None:
    """Add history, actions (with its done / drop / reopen), stats, forget and journal
    (upgrade / info / copy) to `app`."""
    app.command("history")(history)
    app.add_typer(actions_app, name="actions")
    app.command("stats")(stats)
    app.command("forget")(forget)
    app.add_typer(journal_app, name="journal")


# The option every command that reads or writes the journal takes (start, resume, draft and
# export too): unset, MEA_CULPA_DATABASE_URL, else the SQLite file in the home.
Database = Annotated[
    str | None,
    typer.Option(
        "--database", metavar="URL",
        help="The journal to use: postgresql://user@host/db for a team's (default: $MEA_CULPA_DATABASE_URL, else your own file).",
    ),
]


# --- shared helpers ---------------------------------------------------------------------

_AGO = re.compile(r"(\d{1,4})\s*(d|days?|w|weeks?|m|months?|y|years?)\s+ago", re.I)


def parse_day(value: str, option: str, today: dt.date | None = None) -> dt.date:
    """A day from an ISO date, today/yesterday, `30 days ago`, `2 weeks ago`, `3 months ago`."""
    today = today or dt.date.today()
    text = value.strip().lower()
    match = _AGO.fullmatch(text)
    if match:
        n, unit = int(match.group(1)), match.group(2)[0]
        if unit == "d":
            return today - dt.timedelta(days=n)
        if unit == "w":
            return today - dt.timedelta(weeks=n)
        months = n * (12 if unit == "y" else 1)
        year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
        month += 1
        last_day = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
        return dt.date(year, month, min(today.day, last_day))
    from mea_culpa.errors import UsageError
    from mea_culpa.playbook.answers import AnswerProblem, parse_date

    try:
        return parse_date(text, today)
    except AnswerProblem:
        raise UsageError(
            f"{option}: {value!r} is not a date; write it like 2026-03-31, today, or 30 days ago"
        ) from None


def _utf8(**options: str | None) -> None:
    """Refuse, in one line (exit 2), text given on the command line that is not UTF-8:
    Python keeps its bytes as lone surrogates, which no journal query can carry. Named
    as the user typed them (`_utf8(**{"--tag": tag})`)."""
    from mea_culpa.cli.run import utf8_text

    for name, value in options.items():
        if value is not None:
            utf8_text(value, name)


def _day_start_utc(day: dt.date) -> str:
    """Local midnight of `day` as the UTC text that session start times are stored in."""
    midnight = dt.datetime.combine(day, dt.time()).astimezone()
    return midnight.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _open(database: str | None, *, writing: bool = False) -> Journal | None:
    """The journal to read, or None when nothing was ever saved in the SQLite file (an
    empty journal is no error; nothing is created just to read it, and reading writes
    nothing, so that it works on a full disk). `writing`: one to change, which must exist."""
    from mea_culpa.journal import open_journal
    from mea_culpa.journal.engine import locate

    location = locate(database)
    if location.path is not None and not location.path.exists():
        if writing:
            from mea_culpa.errors import NotFound

            raise NotFound("the journal is empty", hint="start a session with: mea-culpa start")
        return None
    return open_journal(database, create=False, read_only=not writing)


def _consoles() -> tuple[Console, Console]:
    """(data to stdout, talk to stderr). Piped tables get a generous width rather than
    rich's 80 columns, so that no id is cut."""
    import os

    from rich.console import Console

    out = Console(highlight=False)
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out = Console(highlight=False, width=160)
    return out, Console(stderr=True, highlight=False)


def _unicode(console: Console) -> bool:
    encoding = (console.encoding or "").lower().replace("-", "").replace("_", "")
    return encoding.startswith("utf") and not console.legacy_windows


def _local(utc_text: str | None, *, with_time: bool = True) -> str:
    from mea_culpa.journal.derived import parse_utc

    at = parse_utc(utc_text)
    if at is None:
        return ""
    return at.astimezone().strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def _print_json(data: Any) -> None:
    import json

    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


_EIGHTHS = " \u258f\u258e\u258d\u258c\u258b\u258a\u2589\u2588"


def bar(value: float, most: float, width: int = BAR_WIDTH, *, unicode: bool = True) -> str:
    """A horizontal bar `value/most` of `width` cells: unicode eighth blocks, or `#`."""
    if most <= 0 or value <= 0:
        return ""
    cells = value / most * width
    if not unicode:
        return "#" * max(1, round(cells))
    eighths = max(1, round(cells * 8))
    full, rest = divmod(eighths, 8)
    return "\u2588" * full + (_EIGHTHS[rest] if rest else "")


# --- history ------------------------------------------------------------------------------


def history(
    playbook: Annotated[str | None, typer.Option("--playbook", "-p", help="Only sessions of this playbook id.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", "-t", help="Only sessions with this tag.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", "-s", help="Only in-progress, completed or abandoned sessions.")
    ] = None,
    severity: Annotated[str | None, typer.Option("--severity", help="Only sessions of this severity.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only sessions started on or after a date: 2026-03-01, 30 days ago.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Sessions per page.")] = 20,
    page: Annotated[int, typer.Option("--page", min=1, max=1_000_000, help="Which page (1 is the newest).")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the page as a JSON array.")] = False,
    author: Annotated[str | None, typer.Option("--author", metavar="NAME", help="Only the sessions of this person (any case).")] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only your own sessions (see MEA_CULPA_USER).")] = False,
    database: Database = None,
) -> None:
    """Past sessions, newest first, a page at a time.

    One row per session: id, start, playbook, title, severity, status, the stage reached
    and how many of its actions are still open; in a team journal, who worked through it.

    \b
    Examples:
      mea-culpa history
      mea-culpa history --tag billing --since "30 days ago" --page 2
      mea-culpa history --status in-progress --json
      mea-culpa history --mine
    """
    from mea_culpa.errors import UsageError

    _utf8(**{"--playbook": playbook, "--tag": tag, "--status": status, "--severity": severity, "--since": since,
             "--author": author, "--database": database})
    if status and status not in STATUSES:
        raise UsageError(f"--status: {status!r} is not a status; use one of {', '.join(STATUSES)}")
    if mine and author:
        raise UsageError("use --mine or --author NAME, not both")
    filters = {
        "playbook": playbook,
        "tag": tag,
        "status": status,
        "severity": severity,
        "since": _day_start_utc(parse_day(since, "--since")) if since else None,
        "author": _me() if mine else author,
    }
    journal = _open(database)
    if journal is None:
        rows, total = [], 0
    else:
        with journal:
            total = journal.count_sessions(**filters)
            rows = journal.history(**filters, limit=limit, offset=(page - 1) * limit)
    if as_json:
        _print_json(
            [
                {
                    "id": r.id, "started": r.created_at, "updated": r.updated_at, "playbook": r.playbook_id,
                    "title": r.title, "severity": r.severity, "status": r.status, "stage_reached": r.stage_reached,
                    "open_actions": r.open_actions, "tags": list(r.tags), "facts_forgotten": r.lessons_only,
                    "author": r.author, "posted": r.posted, "last_posted": r.last_posted,
                }
                for r in rows
            ]
        )
        return
    out, err = _consoles()
    if not rows:
        if total:
            err.print(f"Page {page} is past the end: {total} sessions make {-(-total // limit)} pages.")
        elif journal is None or not any(filters.values()):
            err.print("No sessions in the journal yet. Start one with: mea-culpa start")
        else:
            err.print("No session matches these filters.")
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("Session", overflow="fold")
    table.add_column("Started", no_wrap=True)
    table.add_column("Playbook", overflow="fold")
    table.add_column("Severity", overflow="fold")
    table.add_column("Status", overflow="fold")
    table.add_column("Stage", overflow="fold")
    table.add_column("Open", justify="right", no_wrap=True)
    # Who: in a journal of several people (your own journal needs no such column).
    authors = len({r.author for r in rows}) > 1 or (journal is not None and journal.location.is_server)
    if authors:
        table.add_column("Author", overflow="fold")
    # What went out from mea-culpa: shown once any session on the page posted a draft.
    posts = any(r.posted for r in rows)
    if posts:
        table.add_column("Posted", justify="right", no_wrap=True)
    for r in rows:
        status_style = {"completed": "green", "abandoned": "dim", "in-progress": "yellow"}.get(r.status, "")
        title = f"[dim italic]{_escape(r.title)}[/]" if r.lessons_only else f"[dim]{_escape(r.title)}[/]"
        cells = [
            f"[bold]{_escape(r.id)}[/]\n{title}",
            _local(r.created_at),
            _escape(r.playbook_id),
            _escape(r.severity or ""),
            f"[{status_style}]{r.status}[/]" if status_style else _escape(r.status),
            _escape(r.stage_reached or ""),
            str(r.open_actions) if r.open_actions else "",
        ]
        posted = (str(r.posted) if r.posted else "") if posts else None  # when: in --json (last_posted)
        table.add_row(*cells, *([_escape(r.author or "")] if authors else []), *([posted] if posted is not None else []))
    out.print(table)
    pages = -(-total // limit)
    tail = f"; next: --page {page + 1}" if page < pages else ""
    err.print(f"[dim]page {page} of {pages} ({total} session{'s' if total != 1 else ''}){tail}[/]")
    _remind(database)


def _remind(database: str | None) -> None:
    """One quiet line when something is overdue (cli/reminder.py)."""
    from mea_culpa.cli import reminder

    reminder.overdue(database)


def _escape(text: str) -> str:
    """Someone's text, ready for rich: without escape sequences or control characters
    (in a team journal anyone may have typed it; text/terminal.py), on one line, and its
    markup characters escaped."""
    from rich.markup import escape

    from mea_culpa.text.terminal import safe_for_terminal

    return escape(safe_for_terminal(text, one_line=True))


def _me() -> str:
    from mea_culpa.journal.who import current_user

    return current_user()


# --- actions ------------------------------------------------------------------------------

actions_app = typer.Typer(no_args_is_help=False, add_completion=False)


@actions_app.callback(invoke_without_command=True)
def actions(
    ctx: typer.Context,
    show_all: Annotated[bool, typer.Option("--all", "-a", help="Also the done and dropped items.")] = False,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only the open items past their due date.")] = False,
    owner: Annotated[
        str | None, typer.Option("--owner", "-o", help="Only the items of this owner (any case; an item without one is its session author's).")
    ] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only your own items (see MEA_CULPA_USER).")] = False,
    session: Annotated[str | None, typer.Option("--session", help="Only the items of this session.")] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=0, help=f"Show at most this many (default {DEFAULT_ACTIONS_SHOWN}; 0: all).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the items as a JSON array (all of them, unless --limit).")] = False,
    ics: Annotated[
        Path | None, typer.Option("--ics", metavar="FILE", help="Write the open items that have a due date as an iCalendar file (- for stdout).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="With --ics: replace an existing file.")] = False,
    database: Database = None,
) -> None:
    """Open prevention actions, to-dos and follow-ups, soonest due first.

    The action items of every session (what, owner, due, status, session), the to-dos a
    session left open (put off until later or blocked, with the note and the date or time
    it gives), and the follow-ups their messages imply (the next status update, the
    follow-up after the fix), marked as such. Overdue items are highlighted. Mark one with
    `actions done ID` or `actions drop ID --reason TEXT`.

    \b
    Examples:
      mea-culpa actions --overdue
      mea-culpa actions --owner Dana --ics ~/dana.ics
      mea-culpa actions --mine
      mea-culpa actions done 12
      mea-culpa actions drop 14 --reason "replaced by the release checklist"
    """
    _utf8(**{"--owner": owner, "--session": session, "--database": database})
    ctx.obj = {"database": database}
    if ctx.invoked_subcommand:
        return
    if mine and owner:
        from mea_culpa.errors import UsageError

        raise UsageError("use --mine or --owner NAME, not both")
    owner = _me() if mine else owner
    journal = _open(database)
    session_id = None
    if journal is None:
        items: list[ActionRow] = []
        total = 0
    else:
        with journal:
            session_id = journal.resolve(session) if session else None
            query: dict[str, Any] = {"include_closed": show_all and ics is None, "overdue": overdue, "owner": owner, "session": session_id}
            shown = limit if limit else None
            if limit is None and not as_json and ics is None:
                shown = DEFAULT_ACTIONS_SHOWN
            items = journal.actions(**query, limit=shown)
            total = journal.count_actions(**query) if shown is not None and len(items) == shown else len(items)
    if ics is not None:
        _write_ics(ics, items, force=force)
        return
    if as_json:
        _print_json([_action_json(a) for a in items])
        return
    out, err = _consoles()
    if not items:
        what = "overdue items" if overdue else "open items" if not show_all else "action items"
        err.print(f"No {what}{' for ' + _escape(owner) if owner else ''}. " + ("" if show_all else "(--all shows the done and dropped ones.)"))
        return
    _actions_table(out, items)
    if total > len(items):
        err.print(f"[dim]showing {len(items)} of {total}; --limit 0 shows all[/]")
    if not overdue:
        _remind(database)


def _action_json(a: ActionRow) -> dict[str, Any]:
    return {
        "id": a.id, "kind": a.kind, "follow_up": a.is_follow_up, "what": a.what, "owner": a.owner, "due": a.due,
        "effort": a.effort, "commitment": a.commitment, "status": a.status, "reason": a.reason, "overdue": a.overdue,
        "session": a.session_id, "session_title": a.session_title, "updated": a.updated_at, "uid": a.uid,
        "step_state": a.step_state, "note": a.note,
    }


def _due_text(due: str | None) -> str:
    if not due:
        return ""
    return _escape(due) if len(due) == 10 else _local(due)


def _actions_table(out: Console, items: list[ActionRow]) -> None:
    from rich.table import Table

    uni = _unicode(out)
    mark = "\u21bb " if uni else "> "
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("ID", justify="right", no_wrap=True)
    table.add_column("What", ratio=2)
    table.add_column("Owner", no_wrap=True)
    table.add_column("Due", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Session", ratio=1, overflow="fold")
    for a in items:
        what = _escape(a.what)
        if a.is_follow_up:
            what = f"[cyan]{mark}follow-up:[/] {what}"
        elif a.step_state:  # a to-do left open: why, as the run's summary says it
            state = "not marked yet" if a.step_state == "pending" else a.step_state
            what += f" [dim]\u2014 {_escape(state)}{': ' + _escape(a.note) if a.note else ''}[/]"
        due = _due_text(a.due)
        status = a.status
        if a.overdue:
            due = f"[bold red]{due}[/]"
            status = "[bold red]overdue[/]"
        elif a.status == "done":
            status = "[green]done[/]"
        elif a.status == "dropped":
            status = f"[dim]dropped: {_escape(a.reason)}[/]"
        style = "dim" if a.status != "open" else None
        table.add_row(str(a.id), what, _escape(a.owner or ""), due, status, _escape(a.session_id), style=style)
    out.print(table)


def _write_ics(target: Path, items: list[ActionRow], *, force: bool) -> None:
    from mea_culpa.journal import calendar

    due = calendar.due_items(items)
    data = calendar.to_ics(due)
    _, err = _consoles()
    if str(target) == "-":
        sys.stdout.buffer.write(data) if hasattr(sys.stdout, "buffer") else sys.stdout.write(data.decode())
        sys.stdout.flush()
        return
    from mea_culpa.files import write_atomic

    path = target.expanduser()
    write_atomic(path, data.decode("utf-8"), force=force)  # the CRLF line ends iCalendar wants stay
    if due:
        err.print(f"Wrote {len(due)} due item{'s' if len(due) != 1 else ''} to {path}; import it into your calendar.")
    else:
        err.print(f"Wrote {path}, but no open item has a due date yet.")


def _set_status(ctx: typer.Context, database: str | None, action_id: int, status: str, reason: str = "") -> None:
    _utf8(**{"--reason": reason, "--database": database})
    if database is None and isinstance(ctx.obj, dict):
        database = ctx.obj.get("database")  # given before the subcommand: actions --database URL done 12
    journal = _open(database, writing=True)
    assert journal is not None
    with journal:
        before = journal.action(action_id)
        item = journal.set_action_status(action_id, status, reason=reason)
    _, err = _consoles()
    what = _escape(item.what)
    if before.status == status and status != "dropped":
        err.print(f"{action_id} was already {status}: {what}")
    elif status == "done":
        err.print(f"[green]Done[/] {action_id}: {what}")
    elif status == "dropped":
        err.print(f"Dropped {action_id}: {what} [dim](reason: {_escape(item.reason)})[/]")
    else:
        err.print(f"Open again {action_id}: {what}")


@actions_app.command("done")
def actions_done(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(metavar="ID", help="The item's id, as `actions` shows it.")],
    database: Database = None,
) -> None:
    """Mark an action item (or a follow-up) done.

    \b
    Example:
      mea-culpa actions done 12
    """
    _set_status(ctx, database, action_id, "done")


@actions_app.command("drop")
def actions_drop(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(metavar="ID", help="The item's id, as `actions` shows it.")],
    reason: Annotated[str, typer.Option("--reason", "-r", help="Why it will not be done (kept with the item).")],
    database: Database = None,
) -> None:
    """Drop an action item that will not be done, and say why.

    \b
    Example:
      mea-culpa actions drop 12 --reason "replaced by the new release checklist"
    """
    _set_status(ctx, database, action_id, "dropped", reason)


@actions_app.command("reopen")
def actions_reopen(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument(metavar="ID", help="The item's id, as `actions --all` shows it.")],
    database: Database = None,
) -> None:
    """Open a done or dropped item again.

    \b
    Example:
      mea-culpa actions reopen 12
    """
    _set_status(ctx, database, action_id, "open")


# --- stats ----------------------------------------------------------------------------------


def stats(
    since: Annotated[
        str | None, typer.Option("--since", help="Only sessions started on or after a date: 2026-01-01, 90 days ago.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON (durations in seconds).")] = False,
    author: Annotated[
        str | None, typer.Option("--author", metavar="NAME", help="Only the sessions of this person (default: everyone's).")
    ] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only your own sessions (see MEA_CULPA_USER).")] = False,
    database: Database = None,
) -> None:
    """Patterns across the journal: timings, follow-through, recurring causes.

    Sessions by playbook, severity and tag, and per month; the median time from noticing a
    mistake to owning it, apologizing and fixing it; how many prevention actions got done;
    and the contributing factors that keep coming back, flagged when nothing was learned.

    \b
    Examples:
      mea-culpa stats
      mea-culpa stats --since "90 days ago" --json
      mea-culpa stats --author Dana
    """
    from mea_culpa.journal import stats as st

    _utf8(**{"--since": since, "--author": author, "--database": database})
    if mine and author:
        from mea_culpa.errors import UsageError

        raise UsageError("use --mine or --author NAME, not both")
    who = _me() if mine else author
    since_utc = _day_start_utc(parse_day(since, "--since")) if since else None
    journal = _open(database)
    if journal is None:
        report = st.build_report(
            since=since_utc, sessions=0, by_playbook=[], by_severity=[], by_tag=[], by_status=[], per_month={},
            medians=[], actions=st.ActionCounts(), patterns=[], author=who,
        )
    else:
        with journal:
            report = journal.stats(since=since_utc, author=who)
    if as_json:
        _print_json(st.to_json(report))
        return
    out, err = _consoles()
    if not report.sessions:
        whose = f" by {_escape(who)}" if who else ""
        err.print("No sessions" + whose + (f" since {_escape(since)}" if since else "") + " in the journal. Start one with: mea-culpa start")
        return
    show_report(out, report, since_label=since)


def show_report(out: Console, report: Report, *, since_label: str | None = None) -> None:
    """The stats report with its small bar charts."""
    from rich.table import Table
    from rich.text import Text

    from mea_culpa.journal import stats as st

    uni = _unicode(out)
    dot = " \u00b7 " if uni else " | "
    statuses = dot.join(f"{_escape(status)} {n}" for status, n in report.by_status)
    head = f"[bold]{report.sessions} session{'s' if report.sessions != 1 else ''}[/]"
    whose = f" by {_escape(report.author)}" if report.author else ""
    out.print(head + whose + (f" since {_escape(since_label)}" if since_label else "") + f"{dot}{statuses}")

    out.print()
    out.print("[bold]Sessions per month[/]")
    months = report.per_month[-24:]
    most = max((n for _, n in months), default=0)
    chart = Table.grid(padding=(0, 1))
    chart.add_column(no_wrap=True)
    chart.add_column(no_wrap=True, style="cyan")
    chart.add_column(justify="right", no_wrap=True)
    for month, n in months:
        chart.add_row(_escape(month), bar(n, most, unicode=uni), str(n))
    out.print(chart)
    if len(report.per_month) > len(months):
        out.print(f"[dim](the last {len(months)} of {len(report.per_month)} months)[/]")

    out.print()
    out.print("[bold]Median time from noticing the mistake[/]")
    slowest = max((m.seconds or 0 for m in report.medians), default=0)
    chart = Table.grid(padding=(0, 1))
    chart.add_column(no_wrap=True)
    chart.add_column(no_wrap=True, style="magenta")
    chart.add_column(no_wrap=True)
    chart.add_column(no_wrap=True, style="dim")
    labels = {"owned": "to own it", "apologized": "to apologize", "fixed": "to fix it"}
    for m in report.medians:
        chart.add_row(labels.get(m.milestone, m.milestone), bar(m.seconds or 0, slowest, unicode=uni),
                      st.human_duration(m.seconds), f"{m.sessions} session{'s' if m.sessions != 1 else ''}")
    out.print(chart)
    if len(report.medians_by_severity) > 1:
        by_sev = Table(box=None, header_style="bold", pad_edge=False)
        by_sev.add_column("severity")
        for label in ("to own", "to apologize", "to fix"):
            by_sev.add_column(label, justify="right")
        for sev, medians in report.medians_by_severity.items():
            by_sev.add_row(_escape(sev), *(st.human_duration(m.seconds) for m in medians))
        out.print(by_sev)

    out.print()
    counts = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 3, 0, 0))
    columns = [("By playbook", report.by_playbook), ("By severity", report.by_severity), ("By tag", report.by_tag[:10])]
    if len(report.by_author) > 1:  # across a team: who
        columns.append(("By author", report.by_author[:10]))
    for title, _ in columns:
        counts.add_column(title, no_wrap=True)
    for i in range(max(len(rows) for _, rows in columns)):
        counts.add_row(*(f"{rows[i][1]:>5}  {_escape(str(rows[i][0]))}" if i < len(rows) else "" for _, rows in columns))
    out.print(counts)
    if len(report.by_tag) > 10:
        out.print(f"[dim](the 10 most used of {len(report.by_tag)} tags)[/]")

    out.print()
    a = report.actions
    if a.total:
        rate = a.completion_rate or 0
        line = Text.assemble(
            ("Prevention actions: ", "bold"),
            f"{a.done} of {a.total} done ({rate:.0%}){dot}{a.open} open",
            (f" ({a.overdue} overdue)", "bold red") if a.overdue else "",
            f"{dot}{a.dropped} dropped",
        )
        out.print(line)
        out.print(_stacked(a, unicode=uni))
    else:
        out.print("[bold]Prevention actions:[/] none recorded yet")

    out.print()
    if not report.patterns:
        out.print("[bold]Recurring contributing factors:[/] none yet (a factor becomes a pattern when it comes back in a second session)")
        return
    out.print("[bold]Recurring contributing factors[/] (in 2 or more sessions)")
    flag = "\u2691" if uni else "!"
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("Sessions", justify="right", no_wrap=True)
    table.add_column("Factor", ratio=1)
    table.add_column("Learning", no_wrap=True)
    table.add_column("Last seen", no_wrap=True)
    shown = list(report.patterns[:10])
    shown += [p for p in report.patterns[10:] if p.without_learning][:10]
    for p in shown:
        learning = f"[bold red]{flag} none[/]" if p.without_learning else f"{p.learned} of {p.sessions}"
        table.add_row(str(p.sessions), _escape(p.label), learning, _local(p.last, with_time=False))
    out.print(table)
    without = report.patterns_without_learning
    if without:
        out.print(
            f"[bold red]{flag}[/] {len(without)} pattern{'s' if len(without) != 1 else ''} without learning: no session with the factor "
            "has a lesson and its prevention actions done. That is the case worth a conversation."
        )


def _stacked(a: Any, *, unicode: bool, width: int = BAR_WIDTH) -> Any:
    """One bar of the prevention actions, filled as far as they are done: done is drawn
    solid; open (overdue in red) and dropped only as the empty track, so that nothing
    done draws an empty bar."""
    from rich.text import Text

    parts = [
        (a.done, "green", "\u2588" if unicode else "#"),
        (a.open - a.overdue, "yellow", "\u2591" if unicode else "-"),
        (a.overdue, "red", "\u2591" if unicode else "-"),
        (a.dropped, "dim", "\u2591" if unicode else "-"),
    ]
    text = Text()
    for n, style, cell in parts:
        count = round(n / a.total * width) if a.total else 0
        if n and count:
            text.append(cell * count, style=style)
    return text


# --- forget -------------------------------------------------------------------------------


def _interactive() -> bool:
    return sys.stdin.isatty()


def forget(
    session: Annotated[str | None, typer.Argument(metavar="SESSION", help="The session's id (or a unique beginning of it).")] = None,
    before: Annotated[
        str | None, typer.Option("--before", metavar="DATE", help="Forget every session started before this date instead.")
    ] = None,
    keep_lessons: Annotated[
        bool, typer.Option("--keep-lessons", help="Keep the lesson and the action items; remove the facts.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    vacuum: Annotated[
        bool, typer.Option("--vacuum", help="Only compact the journal file (after a forget another mea-culpa kept from finishing).")
    ] = False,
    database: Database = None,
) -> None:
    """Delete a session for good, or keep only its lesson and action items.

    Asks first (--yes to skip the question). Every row of it goes, from every table. Your
    own journal file is compacted afterwards, so what was forgotten is gone from the disk
    too, not just hidden; a team's database is vacuumed (see docs/journal.md).

    \b
    Examples:
      mea-culpa forget 2026-03-02-invoice-to-wrong-client --keep-lessons
      mea-culpa forget --before 2025-01-01 --yes
    """
    from mea_culpa.errors import StorageError, UsageError

    _utf8(**{"SESSION": session, "--before": before, "--database": database})
    if vacuum and (session or before):
        raise UsageError("--vacuum only compacts the journal; run it without a session or --before")
    if session and before:
        raise UsageError("name one session or use --before DATE, not both")
    if not session and not before and not vacuum:
        raise UsageError("name the session to forget, or use --before DATE", hint="see the ids with: mea-culpa history")
    cutoff = parse_day(before, "--before") if before else None
    journal = _open(database, writing=True)
    assert journal is not None
    _, err = _consoles()
    with journal:
        if vacuum:
            if not journal.scrub():
                raise StorageError("another mea-culpa holds the journal open; the file could not be compacted", hint="try again when it has finished")
            if journal.location.is_server:
                err.print("The journal's tables are vacuumed: PostgreSQL may reuse the space of what was forgotten.")
            else:
                err.print("The journal file is compacted: nothing forgotten remains in it.")
            return
        if session:
            ids = [journal.resolve(session)]
            question = _describe_one(journal, ids[0], keep_lessons)
        else:
            assert cutoff is not None
            ids = journal.session_ids(before=_day_start_utc(cutoff))
            if not ids:
                err.print(f"No session started before {cutoff.isoformat()}; nothing to forget.")
                return
            question = _describe_many(ids, cutoff, keep_lessons)
        if not yes:
            if not _interactive():
                raise UsageError("forget asks for a confirmation, and there is no terminal to ask", hint="pass --yes to confirm")
            err.print(question)
            if not typer.confirm("Go ahead?", default=False, err=True):
                err.print("Nothing was forgotten.")
                return
        result = journal.forget(ids, keep_lessons=keep_lessons)
    if len(result.kept) > 3:
        err.print(f"Kept only the lessons and the action items of {len(result.kept)} sessions, now named <date>-facts-forgotten.")
    else:
        for old, new in result.kept:
            moved = f" (now {_escape(new)})" if new != old else ""
            err.print(f"Kept only the lesson and the action items of {_escape(old)}{moved}.")
    if result.deleted:
        n = len(result.deleted)
        err.print(f"Forgot {_escape(result.deleted[0]) if n == 1 else f'{n} sessions'}.")
    if not result.scrubbed:
        raise StorageError(
            "the records are deleted, but another mea-culpa holds the journal open, so their bytes are still in the file",
            hint="run `mea-culpa forget --vacuum` when it has finished",
        )
    if journal.location.is_server:
        err.print("[dim]No table of the journal holds the forgotten facts any more; the tables were vacuumed.[/]")
    else:
        err.print("[dim]The journal file was compacted: the forgotten facts are gone from the disk too.[/]")


def _describe_one(journal: Journal, session_id: str, keep_lessons: bool) -> str:
    s = journal.load(session_id)
    items = len(journal.actions(session=session_id, include_closed=True))
    what = f"[bold]{_escape(s.id)}[/] \u201c{_escape(s.title)}\u201d ({_escape(s.playbook_id)}, {_escape(s.status)}, started {_local(s.created_at)})"
    if keep_lessons:
        return f"This removes the facts of {what}: its answers, drafts and title. The lesson and {items} action item{'s' if items != 1 else ''} stay."
    return f"This deletes {what} for good, with its {items} action item{'s' if items != 1 else ''}."


def _describe_many(ids: list[str], cutoff: dt.date, keep_lessons: bool) -> str:
    n = len(ids)
    span = f"from {_escape(ids[0])} to {_escape(ids[-1])}" if n > 1 else _escape(ids[0])
    if keep_lessons:
        return f"This removes the facts of {n} session{'s' if n != 1 else ''} started before {cutoff} ({span}); their lessons and action items stay."
    return f"This deletes {n} session{'s' if n != 1 else ''} started before {cutoff} ({span}) for good."


# --- journal: upgrade, info, copy ---------------------------------------------------------------

journal_app = typer.Typer(no_args_is_help=True, add_completion=False, help="The journal itself: its schema, what it holds, moving it.")


@journal_app.command("upgrade")
def journal_upgrade(database: Database = None) -> None:
    """Create or upgrade the journal's tables to this mea-culpa's schema.

    A team's database is never changed behind its back: run this once when the team sets
    it up, and once after a mea-culpa upgrade that says so. (Your own journal file is
    upgraded on first use; this does it now.)

    \b
    Example:
      MEA_CULPA_DATABASE_URL=postgresql://mc@db.example/journal mea-culpa journal upgrade
    """
    from mea_culpa.journal import upgrade_journal

    _utf8(**{"--database": database})
    before, after, shown = upgrade_journal(database)
    _, err = _consoles()
    if before == after:
        err.print(f"The journal {_escape(shown)} is already at schema {after}.")
    elif before is None:
        err.print(f"Created the journal in {_escape(shown)} (schema {after}).")
    else:
        err.print(f"Upgraded the journal {_escape(shown)} from schema {before} to {after}.")


@journal_app.command("info")
def journal_info(
    as_json: Annotated[bool, typer.Option("--json", help="Print it as JSON.")] = False,
    database: Database = None,
) -> None:
    """Which journal is in use, its schema version, and what it holds.

    Any password in the database URL is shown as ***.

    \b
    Example:
      mea-culpa journal info
    """
    from mea_culpa.journal import describe

    _utf8(**{"--database": database})
    info = describe(database)
    data = {
        "store": info.store, "engine": info.server, "schema": info.revision, "schema_needed": info.head, "current": info.current,
        "sessions": info.sessions, "by_status": dict(info.by_status), "authors": info.authors,
        "action_items": dict(info.actions), "drafts": info.drafts,
    }
    if as_json:
        _print_json(data)
        return
    out, _ = _consoles()
    out.print(f"journal:  {_escape(info.store)} ({info.server})")
    if info.revision is None:
        out.print(f"schema:   none yet; create it with: mea-culpa journal upgrade (schema {info.head})")
        return
    if not info.current:
        out.print(f"schema:   {_escape(info.revision)}; this mea-culpa needs {info.head}: run mea-culpa journal upgrade")
        return
    out.print(f"schema:   {info.revision} (current)")
    statuses = ", ".join(f"{n} {_escape(status)}" for status, n in info.by_status)
    out.print(f"sessions: {info.sessions}" + (f" ({statuses})" if statuses else "") + f", by {info.authors} author{'s' if info.authors != 1 else ''}")
    items = ", ".join(f"{n} {_escape(status)}" for status, n in info.actions) or "none"
    out.print(f"actions:  {items}")
    out.print(f"drafts:   {info.drafts}")


@journal_app.command("copy")
def journal_copy(
    to: Annotated[
        str | None, typer.Option("--to", metavar="URL", help="The journal to copy into (default: $MEA_CULPA_DATABASE_URL).")
    ] = None,
    source: Annotated[
        str | None, typer.Option("--from", metavar="URL", help="The journal to copy from (default: your own file in the home).")
    ] = None,
) -> None:
    """Copy your own journal into a team's: every session, its answers, drafts and action
    items with their statuses, and who wrote it.

    Each session is copied once: running it again copies only what is new (sessions keep a
    stable id across journals). A session whose readable id is taken in the team's journal
    gets the next free one (-2, -3…). Your own journal is left as it is.

    \b
    Example:
      mea-culpa journal copy --to postgresql://mc@db.example/journal
    """
    import os

    from mea_culpa import paths
    from mea_culpa.errors import UsageError
    from mea_culpa.journal import open_journal
    from mea_culpa.journal.engine import DATABASE_ENV, locate

    _utf8(**{"--to": to, "--from": source})
    target = to or os.environ.get(DATABASE_ENV)
    if not target:
        raise UsageError("name the journal to copy into with --to URL", hint=f"or set {DATABASE_ENV}")
    origin = source if source is not None else str(paths.journal_path())
    if locate(origin) == locate(target):
        raise UsageError("--from and --to name the same journal; there is nothing to copy")
    with open_journal(origin, create=False) as mine, open_journal(target, create=False) as theirs:
        result = mine.copy_to(theirs)
        shown = theirs.location.shown
    _, err = _consoles()
    for old, new in result.copied:
        err.print(f"copied {_escape(old)}" + (f" as {_escape(new)}" if new != old else ""))
    n, skipped = len(result.copied), len(result.already)
    err.print(
        f"Copied {n} session{'s' if n != 1 else ''} into {_escape(shown)}"
        + (f"; {skipped} {'was' if skipped == 1 else 'were'} there already" if skipped else "")
        + "."
    )
