"""The journal's Alembic migrations (run by journal/migrate.py, never at import time).

Journals are only upgraded: a downgrade would hand an older mea-culpa a journal whose
derived figures it keeps differently (the SQLite triggers of schema 2), so each
revision's `downgrade` refuses, and docs/journal.md says to keep a copy before upgrading.
"""

FORWARD_ONLY = "mea-culpa journals are only upgraded; restore the copy made before the upgrade to go back"
