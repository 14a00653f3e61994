"""The journal's schema at its newest revision, as SQLAlchemy Core tables: what every query
and write is written against, on SQLite and PostgreSQL alike.

The migrations (migrations/versions/) build the same schema step by step; a test compares
the two. Timestamps are UTC ISO-8601 text (`2026-03-02T09:00:00Z`), so they compare as
text on both engines; JSON is stored as text; flags are 0/1 integers, as SQLite journals
have always kept them.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKey, Index, Integer, MetaData, Table, Text, func

# The Alembic revisions, oldest first; the last is what this code reads and writes. A
# journal at an earlier one is upgraded, one at a revision not listed here is from a newer
# mea-culpa and is refused. (tests/test_journal_upgrade.py checks this against migrations/.)
REVISIONS = ("0001_sessions", "0002_stats", "0003_team", "0004_sent", "0005_to_dos", "0006_kept_counts")
HEAD = REVISIONS[-1]
# SQLite journals also carry a plain number (PRAGMA user_version), which mea-culpa read
# before Alembic: 1 and 2 are REVISIONS[0] and [1]; the upgrade to 0003_team sets 3, so an
# older mea-culpa refuses the journal instead of writing it without authors or leases.
SCHEMA_VERSION = 3

metadata = MetaData()


def _session_id() -> Column[str]:
    return Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False)


sessions = Table(
    "sessions",
    metadata,
    Column("id", Text, primary_key=True),  # readable: 2026-03-02-checkout-down (unique per journal)
    Column("title", Text, nullable=False),
    Column("playbook_id", Text, nullable=False),
    Column("playbook_title", Text, nullable=False),
    Column("playbook_version", Text, nullable=False),
    Column("playbook_hash", Text, nullable=False),
    Column("playbook_path", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("severity", Text),
    Column("stage_reached", Text),
    Column("tags", Text, nullable=False, server_default="[]"),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
    Column("completed_at", Text),
    Column("happened_at", Text),
    Column("noticed_at", Text),
    Column("lessons_only", Integer, nullable=False, server_default="0"),
    # derived on write, for `stats` (0002_stats)
    Column("owned_s", Float),
    Column("apologized_s", Float),
    Column("fixed_s", Float),
    Column("learned", Integer, nullable=False, server_default="0"),
    # the team journal (0003_team)
    Column("uid", Text),  # stable across journals: `journal copy` copies a session once
    Column("author", Text),
    Column("lease_holder", Text),  # who is working through it now (see Journal.hold)
    Column("lease_host", Text),
    Column("lease_pid", Integer),
    Column("lease_token", Text),
    Column("lease_since", Text),
)
Index("sessions_created", sessions.c.created_at, sessions.c.id)
Index("sessions_playbook", sessions.c.playbook_id, sessions.c.created_at)
Index("sessions_status", sessions.c.status, sessions.c.created_at)
Index("sessions_severity", sessions.c.severity, sessions.c.created_at)
# `--author`, `--mine`: a name matches in any case (0006_kept_counts; 0003_team's index was
# on the name as written, which no query asks for)
Index("sessions_author_lower", func.lower(sessions.c.author), sessions.c.created_at)
Index("sessions_uid", sessions.c.uid, unique=True)
# A median is read along one of these (ordered by duration), so each covers the filters
# `stats` applies: the start time, and the severity. Whole indexes, not partial ones
# (`WHERE owned_s IS NOT NULL`, as 0002_stats made them): declaring a partial index
# makes SQLAlchemy import every dialect it names, PostgreSQL's with all its drivers, some
# 30 ms on every command that opens a SQLite journal (0006_kept_counts).
for _name in ("owned", "apologized", "fixed"):
    _column = sessions.c[f"{_name}_s"]
    Index(f"sessions_{_name}", _column, sessions.c.created_at)
    Index(f"sessions_severity_{_name}", sessions.c.severity, _column, sessions.c.created_at)
del _name, _column

session_tags = Table(
    "session_tags",
    metadata,
    Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("tag", Text, primary_key=True),
)
Index("session_tags_tag", session_tags.c.tag)

steps = Table(
    "steps",
    metadata,
    Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("step_id", Text, primary_key=True),
    Column("stage", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("value", Text),  # JSON
    Column("reason", Text, nullable=False, server_default=""),
    Column("at", Text, nullable=False),
    Column("source", Text, nullable=False, server_default="typed"),
)

stages = Table(
    "stages",
    metadata,
    Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("stage", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("entered_at", Text),
    Column("completed_at", Text),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    _session_id(),
    Column("at", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("stage", Text),
    Column("step", Text),
    Column("detail", Text, nullable=False, server_default=""),
)
Index("events_session", events.c.session_id, events.c.kind, events.c.stage)

actions = Table(
    "actions",
    metadata,
    Column("id", Integer, primary_key=True),
    _session_id(),
    Column("step_id", Text, nullable=False),
    Column("position", Integer, nullable=False),
    Column("kind", Text, nullable=False, server_default="action"),  # action | follow-up | to-do
    Column("what", Text, nullable=False),
    Column("owner", Text),
    Column("due", Text),
    Column("effort", Text),
    Column("commitment", Integer),
    Column("status", Text, nullable=False, server_default="open"),
    Column("reason", Text, nullable=False, server_default=""),
    Column("updated_at", Text, nullable=False),
    # a to-do's state in its session (later, blocked, pending) and the note left with it (0005_to_dos)
    Column("step_state", Text),
    Column("note", Text, nullable=False, server_default=""),
)
Index("actions_status", actions.c.status, actions.c.kind, actions.c.due, actions.c.session_id)
Index("actions_session", actions.c.session_id, actions.c.step_id)
# `actions` reads a page of items in this order (soonest due first), from the index
# instead of sorting every open item; and `history` counts a session's open items.
Index("actions_due", actions.c.status, actions.c.due, actions.c.session_id, actions.c.position, actions.c.id)
Index("actions_session_status", actions.c.session_id, actions.c.status)

drafts = Table(
    "drafts",
    metadata,
    Column("id", Integer, primary_key=True),
    _session_id(),
    Column("message_id", Text, nullable=False),
    Column("tone", Text, nullable=False),
    Column("phase", Text),
    Column("text", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("edited", Integer, nullable=False, server_default="0"),
    Column("score", Integer),
    Column("findings", Text, nullable=False, server_default="[]"),  # JSON
)
Index("drafts_session", drafts.c.session_id)

# What left mea-culpa (0004_sent): a draft posted to Slack or a webhook, opened in the mail
# program or copied to the clipboard. `destination` never holds a secret: a webhook's
# token is masked before it is stored (messages/sending.py: mask_url).
sent = Table(
    "sent",
    metadata,
    Column("id", Integer, primary_key=True),
    _session_id(),
    Column("message_id", Text, nullable=False),
    Column("phase", Text),
    Column("how", Text, nullable=False),  # slack | webhook | email | clipboard
    Column("destination", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("sent_at", Text, nullable=False),
    Column("draft_created_at", Text, nullable=False),
)
Index("sent_session", sent.c.session_id, sent.c.message_id, sent.c.sent_at)

# Contributing factors in their normal form (derived.normalise_factor), one row per
# session that names one, with the session's start and learning copied in for `stats`.
factors = Table(
    "factors",
    metadata,
    Column("key", Text, primary_key=True),
    Column("session_id", Text, ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("text", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("learned", Integer, nullable=False, server_default="0"),
)
Index("factors_session", factors.c.session_id)
Index("factors_stats", factors.c.key, factors.c.created_at, factors.c.learned)

# Per normal form: how many sessions name it and how many of those show learning, kept
# up to date by every write that changes them (upkeep.recount), so that `stats` over the
# whole journal reads the recurring factors without counting.
factor_counts = Table(
    "factor_counts",
    metadata,
    Column("key", Text, primary_key=True),
    Column("sessions", Integer, nullable=False),
    Column("learned", Integer, nullable=False),
    Column("first", Text, nullable=False),
    Column("last", Text, nullable=False),
)
Index("factor_counts_rank", factor_counts.c.sessions, factor_counts.c.key)
Index("factor_counts_unlearned", factor_counts.c.learned, factor_counts.c.sessions, factor_counts.c.key)

# What `stats`, `history` and `actions` count over the whole journal, kept up to date by
# every write (upkeep.Writes: each session's share before the write and after it), so
# that they read a few dozen rows instead of counting every session (0006_kept_counts).
# `figure` is status, playbook, severity, author, month (of the start, YYYY-MM), tag, item
# ("<kind> <status>" of action items, follow-ups and to-dos) or "open action due" (open prevention
# actions by due date: those before today are overdue); `value` "" is none (a session
# without severity or author).
tallies = Table(
    "tallies",
    metadata,
    Column("figure", Text, primary_key=True),
    Column("value", Text, primary_key=True),
    Column("n", Integer, nullable=False),
)

# How many sessions reached each milestone (owned, apologized, fixed) after how long, by
# severity ("" for none), in the buckets of derived.DURATION_BUCKETS: a median is then
# found in the one bucket that holds it, not by walking half of every duration.
durations = Table(
    "durations",
    metadata,
    Column("milestone", Text, primary_key=True),
    Column("severity", Text, primary_key=True),
    Column("bucket", Integer, primary_key=True),
    Column("n", Integer, nullable=False),
)

# Every table that holds something of a session, children first (for deleting in order).
SESSION_TABLES = (factors, sent, drafts, actions, events, stages, steps, session_tags)
