"""Sessions, their tags, answers, stages, events, action items and drafts (schema 1).

Revision ID: 0001_sessions
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mea_culpa.journal.migrations import FORWARD_ONLY

revision = "0001_sessions"
down_revision = None
branch_labels = None
depends_on = None


def _session_id(primary_key: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("session_id", sa.Text, sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                     nullable=False, primary_key=primary_key)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("playbook_id", sa.Text, nullable=False),
        sa.Column("playbook_title", sa.Text, nullable=False),
        sa.Column("playbook_version", sa.Text, nullable=False),
        sa.Column("playbook_hash", sa.Text, nullable=False),
        sa.Column("playbook_path", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("severity", sa.Text),
        sa.Column("stage_reached", sa.Text),
        sa.Column("tags", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("completed_at", sa.Text),
        sa.Column("happened_at", sa.Text),
        sa.Column("noticed_at", sa.Text),
        sa.Column("lessons_only", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_index("sessions_created", "sessions", ["created_at"])
    op.create_index("sessions_playbook", "sessions", ["playbook_id", "created_at"])
    op.create_index("sessions_status", "sessions", ["status", "created_at"])
    op.create_table("session_tags", _session_id(True), sa.Column("tag", sa.Text, primary_key=True))
    op.create_index("session_tags_tag", "session_tags", ["tag"])
    op.create_table(
        "steps",
        _session_id(True),
        sa.Column("step_id", sa.Text, primary_key=True),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("value", sa.Text),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False, server_default="typed"),
    )
    op.create_table(
        "stages",
        _session_id(True),
        sa.Column("stage", sa.Text, primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("entered_at", sa.Text),
        sa.Column("completed_at", sa.Text),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True),
        _session_id(),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("stage", sa.Text),
        sa.Column("step", sa.Text),
        sa.Column("detail", sa.Text, nullable=False, server_default=""),
    )
    op.create_index("events_session", "events", ["session_id", "kind", "stage"])
    op.create_table(
        "actions",
        sa.Column("id", sa.Integer, primary_key=True),
        _session_id(),
        sa.Column("step_id", sa.Text, nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("kind", sa.Text, nullable=False, server_default="action"),
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("due", sa.Text),
        sa.Column("effort", sa.Text),
        sa.Column("commitment", sa.Integer),
        sa.Column("status", sa.Text, nullable=False, server_default="open"),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
    op.create_index("actions_status_due", "actions", ["status", "due"])
    op.create_index("actions_session", "actions", ["session_id", "step_id"])
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer, primary_key=True),
        _session_id(),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("tone", sa.Text, nullable=False),
        sa.Column("phase", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("edited", sa.Integer, nullable=False, server_default="0"),
        sa.Column("score", sa.Integer),
        sa.Column("findings", sa.Text, nullable=False, server_default="[]"),
    )
    op.create_index("drafts_session", "drafts", ["session_id"])


def downgrade() -> None:
    raise NotImplementedError(FORWARD_ONLY)
