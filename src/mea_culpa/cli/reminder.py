"""The quiet line after an interactive command when something is overdue: an action item
past its date, or a status update that was promised and not posted.

One count query (the index `actions_status` answers it), only when a person reads the
terminal: never into a pipe, never with --json. In a team's journal it counts your own
items (yours as owner, or of your sessions when they have no owner); in your own journal,
every item is yours to remember.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from mea_culpa.journal import Journal


def wanted(*, as_json: bool = False) -> bool:
    """Whether the line is for a person: both streams on a terminal, and no data asked for."""
    try:
        return not as_json and sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def overdue(database: str | None = None, *, journal: Journal | None = None, as_json: bool = False) -> None:
    """Print `N items are overdue; see them with: …` when there are any."""
    if not wanted(as_json=as_json):
        return
    from mea_culpa.errors import MeaCulpaError

    try:
        if journal is not None:
            count, team = _count(journal)
        else:
            from mea_culpa.journal import open_journal
            from mea_culpa.journal.engine import locate

            location = locate(database)
            if location.path is not None and not location.path.exists():
                return
            with open_journal(database, create=False, read_only=True) as opened:
                count, team = _count(opened)
    except MeaCulpaError:
        return  # a reminder never turns a command that worked into one that failed
    if not count:
        return
    see = "mea-culpa actions --overdue" + (" --mine" if team else "")
    items = f"{count} item{'s are' if count != 1 else ' is'} overdue"
    typer.secho(f"{items}; see {'them' if count != 1 else 'it'} with: {see}", err=True, dim=not os.environ.get("NO_COLOR"))


def _count(journal: Journal) -> tuple[int, bool]:
    team = journal.location.is_server
    return journal.count_actions(overdue=True, owner=journal.user if team else None), team
