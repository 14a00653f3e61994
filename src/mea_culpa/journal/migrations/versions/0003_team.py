"""The team journal: every session gets a stable id (for copying between journals), its
author, and a lease (who is working through it now, since when). The derived figures are
kept by mea-culpa's own writes on every engine, so the SQLite triggers of schema 2 go.

Existing sessions get a new stable id each, and as author the person upgrading (a journal
that is upgraded in place is a personal one; migrate.py passes the name).

Revision ID: 0003_team
Revises: 0002_stats
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

from mea_culpa.journal.migrations import FORWARD_ONLY

revision = "0003_team"
down_revision = "0002_stats"
branch_labels = None
depends_on = None

# The triggers a schema-2 SQLite journal carries; on other engines there are none.
SCHEMA_2_TRIGGERS = (
    "learned_action_insert", "learned_action_update", "learned_action_delete",
    "learned_lesson_insert", "learned_lesson_update", "learned_lesson_delete",
    "learned_to_factors", "factor_counts_insert", "factor_counts_delete", "factor_counts_learned",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in SCHEMA_2_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for name in ("uid", "author", "lease_holder", "lease_host"):
        op.add_column("sessions", sa.Column(name, sa.Text))
    op.add_column("sessions", sa.Column("lease_pid", sa.Integer))
    op.add_column("sessions", sa.Column("lease_token", sa.Text))
    op.add_column("sessions", sa.Column("lease_since", sa.Text))
    sessions = sa.table("sessions", sa.column("id", sa.Text), sa.column("uid", sa.Text), sa.column("author", sa.Text))
    config = op.get_context().config
    author = config.attributes.get("author") if config is not None else None
    for (session_id,) in bind.execute(sa.select(sessions.c.id)).all():
        bind.execute(
            sessions.update().where(sessions.c.id == session_id).values(uid=str(uuid.uuid4()), author=author)
        )
    # history pages by start time; the id breaks ties (the order rows were written in is
    # no column on PostgreSQL)
    op.drop_index("sessions_created", table_name="sessions")
    op.create_index("sessions_created", "sessions", ["created_at", "id"])
    op.create_index("sessions_author", "sessions", ["author", "created_at"])
    op.create_index("sessions_uid", "sessions", ["uid"], unique=True)
    if bind.dialect.name == "sqlite":
        op.execute("PRAGMA user_version = 3")


def downgrade() -> None:
    raise NotImplementedError(FORWARD_ONLY)
