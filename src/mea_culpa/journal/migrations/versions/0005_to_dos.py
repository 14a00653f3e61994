"""The to-dos a session leaves open: an action step answered "later" or "blocked" (with
its note, and the date or time the note gives), or a required one not marked while the
session runs, is kept in `actions` beside the action items and follow-ups, so that
`actions` lists everything the run's summary calls "Still open". `step_state` is the
to-do's state in the session (later, blocked, pending); `note` the note left with it.

The milestones `stats` reads now count only what happened (a stage whose to-dos were put
off has not reached its milestone), and the to-dos of the sessions already in the
journal are derived from their playbooks; migrate.py does both after this revision.

Revision ID: 0005_to_dos
Revises: 0004_sent
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mea_culpa.journal.migrations import FORWARD_ONLY

revision = "0005_to_dos"
down_revision = "0004_sent"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("actions", sa.Column("step_state", sa.Text))
    op.add_column("actions", sa.Column("note", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    raise NotImplementedError(FORWARD_ONLY)
