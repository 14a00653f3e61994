"""Counts kept on write, so that `history`, `actions` and `stats` read the same few rows
whether the journal holds a thousand sessions or a hundred thousand: the tallies of
sessions by status, playbook, severity, author, month and tag and of items by kind and
status; the durations to each milestone in buckets (for medians); and the indexes that
give `actions` a page of items in order and `history` each session's open items; the
index by author becomes one by the author in lower case, as `--author` and `--mine` ask;
the milestone indexes become whole ones instead of partial (cheaper to declare, as
tables.py says, and as quick to read).

The counts are derived from what the journal holds; a journal that comes through this
revision has them counted by the current code once it reaches the head
(migrate.upgrade), so no domain logic lives in a migration.

Revision ID: 0006_kept_counts
Revises: 0005_to_dos
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mea_culpa.journal.migrations import FORWARD_ONLY

revision = "0006_kept_counts"
down_revision = "0005_to_dos"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tallies",
        sa.Column("figure", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.create_table(
        "durations",
        sa.Column("milestone", sa.Text, primary_key=True),
        sa.Column("severity", sa.Text, primary_key=True),
        sa.Column("bucket", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.create_index("actions_due", "actions", ["status", "due", "session_id", "position", "id"])
    op.create_index("actions_session_status", "actions", ["session_id", "status"])
    op.drop_index("sessions_author", table_name="sessions")
    op.create_index("sessions_author_lower", "sessions", [sa.text("lower(author)"), "created_at"])
    for name in ("owned", "apologized", "fixed"):  # whole indexes now (see tables.py)
        op.drop_index(f"sessions_{name}", table_name="sessions")
        op.drop_index(f"sessions_severity_{name}", table_name="sessions")
        op.create_index(f"sessions_{name}", "sessions", [f"{name}_s", "created_at"])
        op.create_index(f"sessions_severity_{name}", "sessions", ["severity", f"{name}_s", "created_at"])


def downgrade() -> None:
    raise NotImplementedError(FORWARD_ONLY)
