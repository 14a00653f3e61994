"""`mea-culpa export`: a session as a checklist to share, or an answers file to replay."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from mea_culpa.journal import Journal


def export(
    session: str | None = typer.Argument(
        None, help="The session id, or the start of it. Default: the latest session.", show_default=False
    ),
    format: str | None = typer.Option(  # noqa: A002 - the option's name is the user's word
        None,
        "--format",
        "-f",
        metavar="FORMAT",
        help="md, html, json or yaml. Default: from the --output suffix, else md.",
        show_default=False,
    ),
    output: Path | None = typer.Option(None, "--output", "-o", metavar="FILE", help="Write to this file instead of stdout."),
    force: bool = typer.Option(False, "--force", help="Let --output replace an existing file."),
    include_sensitive: bool = typer.Option(
        False, "--include-sensitive", help="Keep the answers of sensitive steps instead of redacting them."
    ),
    all_drafts: bool = typer.Option(
        False, "--all-drafts", help="Every draft kept, not only the latest of each message and the ones sent."
    ),
    audience: str = typer.Option(
        "team", "--audience", metavar="team|public",
        help="team: everything (the default); public: without the internal note, contributing factors, owners, notes on skipped steps and team-only steps.",
    ),
    playbooks: list[Path] | None = typer.Option(
        None, "--playbooks", metavar="DIR", help="A folder of playbooks to search first (repeatable)."
    ),
    database: str | None = typer.Option(
        None, "--database", metavar="URL", help="The journal to use (default: $MEA_CULPA_DATABASE_URL, else your own file)."
    ),
) -> None:
    """Export a session: the completed checklist as Markdown, HTML or JSON, or its answers
    as a YAML file that `mea-culpa start PLAYBOOK --answers FILE --no-input` replays.

    Sensitive answers are redacted unless --include-sensitive; --output never replaces a
    file unless --force. --audience public writes the document to publish: what was meant
    for the team only is left out (see docs/export.md).

    \b
    Examples:
      mea-culpa export --format html -o report.html
      mea-culpa export --audience public -o postmortem.md
    """
    from mea_culpa.cli.run import utf8_text
    from mea_culpa.export import formats as exporting
    from mea_culpa.journal import open_journal
    from mea_culpa.playbook.catalog import playbook_for_session

    if format is not None:
        fmt = exporting.normalise_format(format)
    elif output is not None:
        fmt = exporting.format_for_path(output.name) or "md"
    else:
        fmt = "md"
    if output is not None:  # refused before any work: an existing file without --force, a folder…
        from mea_culpa.files import check_output

        check_output(output, force=force)
    with open_journal(database, create=False, read_only=True) as journal:
        current = journal.load(journal.resolve(None if session is None else utf8_text(session, "SESSION")))
        status = _action_status(journal, current.id)
    playbook, changed = playbook_for_session(current, tuple(playbooks or ()))
    if changed:
        typer.echo(f"note: playbook {playbook.id!r} changed since this session started; exporting with the current version", err=True)
    text = exporting.export_session(playbook, current, fmt, include_sensitive=include_sensitive, action_status=status,
                                    all_drafts=all_drafts, audience=audience)
    if output is not None:
        from mea_culpa.files import write_atomic

        write_atomic(output, text, force=force)
        typer.echo(f"wrote {output} ({fmt})", err=True)
    else:
        from mea_culpa.cli.output import data

        data(text)


def _action_status(journal: Journal, session_id: str) -> dict[tuple[str, str], str]:
    """The status the journal keeps for each action item and open to-do (open, done,
    dropped), by step and text (the journal matches items by their text too), so that
    one marked done with `actions done` is no longer open in the export."""
    rows = journal.actions(session=session_id, include_closed=True)
    return {(r.step_id, r.what): r.status for r in rows if not r.is_follow_up}
