"""What `stats` reads instead of recounting (schema 2): per session the seconds from
noticing the mistake to owning, apologizing and fixing it and whether it shows learning;
contributing factors in their normal form and their counts; the indexes every count and
median is read from.

The figures are derived from what schema 1 stored; a journal that comes through this
revision has them computed by the current code once it reaches the head
(migrate.upgrade), so no domain logic lives in a migration.

Revision ID: 0002_stats
Revises: 0001_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mea_culpa.journal.migrations import FORWARD_ONLY

revision = "0002_stats"
down_revision = "0001_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("owned_s", sa.Float))
    op.add_column("sessions", sa.Column("apologized_s", sa.Float))
    op.add_column("sessions", sa.Column("fixed_s", sa.Float))
    op.add_column("sessions", sa.Column("learned", sa.Integer, nullable=False, server_default="0"))
    op.create_index("sessions_severity", "sessions", ["severity", "created_at"])
    for name in ("owned", "apologized", "fixed"):
        where = sa.text(f"{name}_s IS NOT NULL")
        op.create_index(f"sessions_{name}", "sessions", [f"{name}_s", "created_at"], sqlite_where=where, postgresql_where=where)
        op.create_index(f"sessions_severity_{name}", "sessions", ["severity", f"{name}_s", "created_at"],
                        sqlite_where=where, postgresql_where=where)
    op.drop_index("actions_status_due", table_name="actions")
    op.create_index("actions_status", "actions", ["status", "kind", "due", "session_id"])
    op.create_table(
        "factors",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("session_id", sa.Text, sa.ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("learned", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("factors_session", "factors", ["session_id"])
    op.create_index("factors_stats", "factors", ["key", "created_at", "learned"])
    op.create_table(
        "factor_counts",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("sessions", sa.Integer, nullable=False),
        sa.Column("learned", sa.Integer, nullable=False),
        sa.Column("first", sa.Text, nullable=False),
        sa.Column("last", sa.Text, nullable=False),
    )
    op.create_index("factor_counts_rank", "factor_counts", ["sessions", "key"])
    op.create_index("factor_counts_unlearned", "factor_counts", ["learned", "sessions", "key"])


def downgrade() -> None:
    raise NotImplementedError(FORWARD_ONLY)
