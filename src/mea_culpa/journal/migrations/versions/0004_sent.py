"""What left mea-culpa: one row per draft posted to Slack or a webhook, opened in the mail
program or copied to the clipboard (what, how, where with secrets masked, when). Posted
status updates and follow-ups settle the follow-ups they were owed; the next status update
falls due from the moment one was posted.

Revision ID: 0004_sent
Revises: 0003_team
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mea_culpa.journal.migrations import FORWARD_ONLY

revision = "0004_sent"
down_revision = "0003_team"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sent",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Text, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("phase", sa.Text),
        sa.Column("how", sa.Text, nullable=False),
        sa.Column("destination", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("sent_at", sa.Text, nullable=False),
        sa.Column("draft_created_at", sa.Text, nullable=False),
    )
    op.create_index("sent_session", "sent", ["session_id", "message_id", "sent_at"])


def downgrade() -> None:
    raise NotImplementedError(FORWARD_ONLY)
