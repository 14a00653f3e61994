"""The journal: every session, action item and lesson, behind a small interface.

Owns the store (a SQLite file in the home by default, a PostgreSQL database by URL) through
SQLAlchemy Core: its tables (tables.py) and Alembic migrations (migrations/, migrate.py),
which store a name selects and what its failures mean (engine.py), what is derived on
every write (upkeep.py: follow-ups, factors, learning), who writes (who.py) and the leases
that keep two people from overwriting each other, the local spool of what a server could
not take (spool.py), and what is read back: history and actions (store.py), stats
(reports.py over the pure stats.py and derived.py), the calendar of due items (calendar.py).

May import: the base modules, playbook and run (the session values it stores); nothing of
the command line, the prompts or the messages.

The interface is `open_journal`, `memory_journal` and a `Journal`'s `apply`, `save`,
`load` and queries, importable from here. They are looked up in store.py on first use,
so that importing the pure modules (derived, stats, calendar) costs no SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mea_culpa.journal.store import (
        ACTION_STATUSES,
        FORGOTTEN_TITLE,
        SCHEMA_VERSION,
        ActionRow,
        Copied,
        Forgotten,
        Info,
        Journal,
        Resumed,
        SessionHeld,
        SessionRow,
        describe,
        memory_journal,
        open_journal,
        upgrade_journal,
    )

__all__ = [
    "ACTION_STATUSES", "FORGOTTEN_TITLE", "SCHEMA_VERSION", "ActionRow", "Copied", "Forgotten", "Info", "Journal",
    "Resumed", "SessionHeld", "SessionRow", "describe", "memory_journal", "open_journal", "upgrade_journal",
]


def __getattr__(name: str) -> Any:
    """The store's names, imported with SQLAlchemy when one is first asked for."""
    if name.startswith("__"):
        raise AttributeError(name)
    import importlib

    store = importlib.import_module("mea_culpa.journal.store")
    try:
        return getattr(store, name)
    except AttributeError:
        raise AttributeError(f"module 'mea_culpa.journal' has no attribute {name!r}") from None
