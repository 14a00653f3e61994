"""Build a synthetic journal of N realistic sessions, for measuring `history` and `stats` at scale.

    python benchmarks/make_journal.py --sessions 10000 --home /tmp/mc-10k
    MEA_CULPA_HOME=/tmp/mc-10k mea-culpa stats
    python benchmarks/make_journal.py --sessions 100000 --database-url sqlite:////tmp/team.sqlite3
    python benchmarks/make_journal.py --sessions 100000 --database-url postgresql://me@/bench --force

The sessions span the built-in playbook ids, severities and tags, over months ending today;
each has the event log a real run leaves (stages entered and completed with plausible
gaps, answers), contributing factors drawn from recurring themes written in varying ways,
prevention actions with owners, due dates and statuses, lessons for most, and the drafts
that make follow-ups (status updates of outages, apologies, follow-ups), the resolved
updates posted and the follow-ups marked sent (drafting alone settles none). Everything is
written through the journal's own interface (`Journal.save_many`, then
`set_action_statuses`), CHUNK sessions a transaction, into any store a URL names: a SQLite
file, or a PostgreSQL database (which must exist; its journal tables are created). On a
server the tables are then vacuumed and analysed, as autovacuum does with a table that has
just grown, so that the planner knows their size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import random
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import MappingProxyType

from mea_culpa.journal import Journal, open_journal, upgrade_journal
from mea_culpa.playbook.model import STAGE_KINDS
from mea_culpa.run.session import Draft, Event, Sent, Session, StageRecord, StepRecord, slug

PLAYBOOKS = {
    # id: (weight, titles, tags, customer-facing)
    "general": (20, ["Wrong price quoted to {c}", "Shared the draft report too early", "Forgot to renew the {p} licence"], ["general"], True),
    "service-outage": (20, ["{p} down for customers", "Checkout errors on {p}", "{p} API timeouts", "Login outage on {p}"], ["outage", "customers"], True),
    "email-blunder": (15, ["Campaign with dead links to {c} list", "Newsletter sent twice", "Promo email to unsubscribed {c} contacts"], ["email", "marketing"], True),
    "order-mistake": (15, ["Order for {c} shipped to the old address", "Invoice for {c} with the wrong VAT", "Wrong item sent to {c}"], ["orders", "customers"], True),
    "team-mistake": (10, ["Deleted the shared {p} folder", "Missed handover of the {p} shift", "Pushed untested {p} config"], ["team"], False),
    "wrong-recipient": (10, ["{c} contract sent to the wrong person", "Payroll sheet mailed to {c}", "Support ticket reply to the wrong {c} customer"], ["privacy", "email"], True),
    "missed-deadline": (10, ["Missed the {c} delivery date", "Quarterly report to {c} late", "Forgot the {c} onboarding call"], ["deadline"], True),
}
CUSTOMERS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Soylent", "Cyberdyne", "Vandelay"]
PRODUCTS = ["shop", "billing", "search", "mobile app", "dashboard", "export", "sync", "payments"]
EXTRA_TAGS = ["billing", "checkout", "api", "onboarding", "eu", "enterprise", "mobile", "vendor", "friday"]
SEVERITIES = (("none", 10), ("minor", 45), ("major", 35), ("critical", 10))
OWNERS = ["Dana", "Sam", "Priya", "Lee", "Jonas", "Maria", "Ops team", "Support lead"]
# Recurring themes, each written in several ways that normalise to the same factor.
FACTOR_THEMES = [
    ["No review step before sending", "no review steps before send.", "Missing a review step before sending"],
    ["Deploy on a Friday evening", "deployed on Friday evening", "Deploys on Friday evenings"],
    ["Manual copy and paste of addresses", "manual copy-paste of the address", "Manual copy & paste of the addresses"],
    ["Email autocomplete picked the wrong recipient", "autocomplete picked the wrong recipient", "The autocomplete picks wrong recipients"],
    ["No alert on the checkout error rate", "no alerting on checkout error rates", "No alerts on the checkout error rate"],
    ["Unclear ownership of the release", "ownership of the release was unclear", "Unclear release ownership"],
    ["Test segment left in the production list", "test segments left in production lists", "Test segment left in the production list!"],
    ["Deadline not in the shared calendar", "the deadline was not in the shared calendar", "Deadlines not in a shared calendar"],
    ["No handover checklist between shifts", "no handover checklist between shift", "Handover checklist missing between shifts"],
    ["Too many urgent tasks at once", "too many urgent tasks at once.", "Too many urgent tasks, all at once"],
]
ACTIONS = [
    ("Add a second-person review before every send", "2 h"),
    ("Freeze deploys after Thursday noon", "1 h"),
    ("Import addresses from the CRM instead of copying", "1 d"),
    ("Turn off address autocomplete for external mail", "30 min"),
    ("Alert on checkout error rate above 2%", "4 h"),
    ("Name one owner per release in the plan", "30 min"),
    ("Check the segment count before a campaign goes out", "1 h"),
    ("Put every customer deadline in the shared calendar", "2 h"),
    ("Write a handover checklist for shifts", "3 h"),
    ("Limit urgent work to two items per person", "1 h"),
]
LESSONS = [
    "A check that takes two minutes is cheaper than an apology.",
    "Tell people early, even before we know the cause.",
    "The system let it happen; fix the system, not the person.",
    "Write it down where everyone looks, not in one head.",
]
PHASES = ("investigating", "identified", "monitoring", "resolved")
MINUTE = dt.timedelta(minutes=1)
SLACK = "https://hooks.slack.com/services/T…/B…/***"  # as the journal keeps a webhook: masked
CHUNK = 10_000  # sessions a transaction: a bounded write-ahead log, and progress to show


def _weighted(rng: random.Random, pairs: list[tuple[str, int]] | tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def _utc(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_session(rng: random.Random, started: dt.datetime, now: dt.datetime, taken: dict[str, int]) -> Session:
    playbook = _weighted(rng, [(k, v[0]) for k, v in PLAYBOOKS.items()])
    _, titles, tags, customer_facing = PLAYBOOKS[playbook]
    title = rng.choice(titles).format(c=rng.choice(CUSTOMERS), p=rng.choice(PRODUCTS))
    title = title[0].upper() + title[1:]
    base = f"{started:%Y-%m-%d}-{slug(title)}"
    taken[base] = taken.get(base, 0) + 1
    sid = base if taken[base] == 1 else f"{base}-{taken[base]}"
    severity = _weighted(rng, SEVERITIES)
    tag_list = tuple(dict.fromkeys(tags + rng.sample(EXTRA_TAGS, rng.choice((0, 1, 1, 2)))))
    noticed = started - dt.timedelta(minutes=rng.randint(2, 120))
    happened = noticed - dt.timedelta(minutes=rng.randint(0, 24 * 60))

    recent = (now - started).days < 7
    roll = rng.random()
    status = ("in-progress" if roll < 0.4 else "completed") if recent else (
        "completed" if roll < 0.9 else "abandoned" if roll < 0.95 else "in-progress")
    last_stage = len(STAGE_KINDS) if status == "completed" else rng.randint(1, len(STAGE_KINDS) - 1)

    scale = {"none": 0.5, "minor": 1.0, "major": 1.6, "critical": 2.5}[severity]
    gaps = {  # minutes spent in each stage
        "facts": (5, 25), "cause": (5, 40), "own": (2, 20), "apologize": (10, int(90 * scale)),
        "fix": (30, int(60 * 24 * scale)), "prevent": (10, 45), "move-on": (5, 20),
    }
    t = started
    events = [Event(_utc(t), "session-started", detail=playbook)]
    steps: dict[str, StepRecord] = {}
    stages: dict[str, StageRecord] = {}
    drafts: list[Draft] = []
    sent: list[Sent] = []

    def answer(step_id: str, stage: str, value: object) -> None:
        nonlocal t
        t += dt.timedelta(seconds=rng.randint(20, 240))
        steps[step_id] = StepRecord("answered", value, "", _utc(t), "typed", stage)
        events.append(Event(_utc(t), "answer", stage, step_id))

    themes = rng.sample(range(len(FACTOR_THEMES)), rng.choice((1, 2, 2, 3)))
    for index, kind in enumerate(STAGE_KINDS[:last_stage]):
        entered = t
        events.append(Event(_utc(t), "stage-entered", kind))
        skip = kind == "apologize" and (severity == "none" or not customer_facing) and rng.random() < 0.8
        if kind == "facts":
            answer("severity", kind, severity)
            answer("what_happened", kind, f"{title}: affected {rng.randint(1, 5000)} people for {rng.randint(5, 600)} minutes.")
            answer("noticed_at", kind, noticed.astimezone().strftime("%Y-%m-%dT%H:%M"))
        elif kind == "cause":
            factors = [rng.choice(FACTOR_THEMES[i]) for i in themes]
            if rng.random() < 0.3:
                factors.append(f"Vendor {rng.choice(CUSTOMERS)} changed their {rng.choice(PRODUCTS)} API without notice")
            answer("contributing_factors", kind, "\n".join(f"- {f}" for f in factors))
        elif kind == "own":
            answer("responsibility", kind, "I sent it without the check we had agreed on; that is on me.")
        elif kind == "fix" and playbook == "service-outage":
            answer("next_update_minutes", kind, rng.choice((15, 20, 30, 60)))
            answer("fix_done", kind, "Rolled back the release and replayed the failed orders.")
        elif kind == "prevent":
            items = []
            for i in themes[: rng.randint(1, len(themes))]:
                what, effort = ACTIONS[i]
                due = (started + dt.timedelta(days=rng.randint(3, 60))).date().isoformat()
                items.append({"what": what, "owner": rng.choice(OWNERS), "due": due, "effort": effort, "commitment": rng.random() < 0.8})
            answer("prevention_actions", kind, items)
        elif kind == "move-on" and rng.random() < 0.75:
            answer("lesson", kind, rng.choice(LESSONS))
        lo, hi = gaps[kind]
        t = max(t, entered + dt.timedelta(minutes=rng.randint(lo, max(lo, hi))))
        if index == last_stage - 1 and status != "completed":
            stages[kind] = StageRecord("entered", "", _utc(entered), None)
            break
        if skip:
            stages[kind] = StageRecord("skipped", "nobody outside the team was affected", _utc(entered), _utc(t))
            events.append(Event(_utc(t), "stage-skipped", kind, detail="nobody outside the team was affected"))
        else:
            stages[kind] = StageRecord("completed", "", _utc(entered), _utc(t))
            events.append(Event(_utc(t), "stage-completed", kind))
        if kind == "apologize" and customer_facing and not skip and rng.random() < 0.7:
            drafts.append(Draft("customer-apology", "warm", f"We are sorry about: {title}.", _utc(t), None, False, rng.randint(60, 100)))
        if kind == "facts" and playbook == "service-outage":
            drafts.append(Draft("status-update", "warm", "We are investigating.", _utc(t), "investigating"))
        if kind == "fix" and playbook == "service-outage":
            reached = PHASES[: rng.randint(2, 4)] if status == "completed" else PHASES[1:2]
            for phase in reached[1:]:
                t += dt.timedelta(minutes=rng.randint(10, 40))
                drafts.append(Draft("status-update", "warm", f"Status: {phase}.", _utc(t), phase))
                if phase == "resolved":  # posted to the team's Slack a minute later
                    posted = Sent("status-update", "slack", SLACK, f"Status: {phase}.", _utc(t + MINUTE), _utc(t), phase)
                    sent.append(posted)
                    events.append(Event(posted.at, "draft-sent", detail=f"status-update {posted.draft_created_at}"))
        if kind == "move-on" and customer_facing and rng.random() < 0.6:
            drafts.append(Draft("follow-up", "warm", "What we fixed and what changes.", _utc(t)))
            # sent from the person's own mail and marked sent: drafting alone settles no follow-up
            events.append(Event(_utc(t + 10 * MINUTE), "draft-sent", detail=f"follow-up {_utc(t)}"))
    for d in drafts:
        events.append(Event(d.created_at, "draft", detail=d.message_id))
    if status == "completed":
        events.append(Event(_utc(t), "session-completed"))
    elif status == "abandoned":
        events.append(Event(_utc(t), "session-abandoned"))
    events.sort(key=lambda e: e.at)
    return Session(
        id=sid, title=title, playbook_id=playbook, playbook_title=playbook.replace("-", " ").title(),
        playbook_version="1", playbook_hash="synthetic", playbook_path=f"<built-in>/{playbook}.yaml",
        status=status, created_at=_utc(started), updated_at=_utc(t), tags=tag_list,
        happened_at=_utc(happened), noticed_at=_utc(noticed), steps=MappingProxyType(steps),
        stages=MappingProxyType(stages), events=tuple(events), drafts=tuple(drafts), sent=tuple(sent),
    )


def action_statuses(rng: random.Random, journal: Journal, today: str) -> list[tuple[int, str, str]]:
    """(id, status, reason) for the action items that are no longer open: past-due items are
    mostly done, some dropped, some still open (overdue); later ones mostly still open."""
    out = []
    for item in sorted(journal.actions(include_closed=True), key=lambda a: a.id):
        if item.kind != "action":
            continue
        roll = rng.random()
        if item.due and item.due < today:
            status = "done" if roll < 0.65 else "dropped" if roll < 0.75 else "open"
        else:
            status = "done" if roll < 0.2 else "open"
        if status != "open":
            out.append((item.id, status, "superseded by the new checklist" if status == "dropped" else ""))
    return out


def sqlite_file(url: str) -> Path | None:
    """The file a sqlite:///FILE URL names (SQLAlchemy's spelling: sqlite:////abs/path)."""
    scheme, sep, rest = url.partition("://")
    if scheme.split("+")[0] != "sqlite" or not sep or not rest.startswith("/") or len(rest) < 2:
        return None
    return Path(rest[1:].split("?")[0])


def fill(journal: Journal, sessions: Iterable[Session], rng: random.Random, today: str, total: int) -> None:
    """Write the sessions through the journal's own interface (`save_many`, CHUNK sessions
    a transaction), then close some of their action items."""
    began, done = time.perf_counter(), 0
    for chunk in batched(sessions, CHUNK):
        done += journal.save_many(chunk)
        if total > CHUNK:
            print(f"  {done:,} of {total:,} sessions ({time.perf_counter() - began:.0f} s)", file=sys.stderr, flush=True)
    journal.set_action_statuses(action_statuses(rng, journal, today))
    if journal.location.is_server:
        # What autovacuum does with a table that has just grown (the planner learns its
        # size; index-only scans need the visibility map), done now rather than in a minute.
        with journal.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")


def batched(items: Iterable[Session], n: int) -> Iterator[list[Session]]:
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, n)):
        yield chunk


def clear_server(url: str, *, force: bool) -> str:
    """Make the database at `url` hold an empty journal of the newest schema: created when
    it holds none; with `force`, the journal it holds is dropped first. Returns a problem
    (it holds sessions, and no `force`), or ""."""
    from sqlalchemy import create_engine, inspect

    from mea_culpa.journal.engine import locate
    from mea_culpa.journal.tables import metadata

    location = locate(url)
    engine = create_engine(location.url)
    try:
        with engine.begin() as conn:
            if "sessions" in inspect(conn).get_table_names():
                if not force:
                    return f"the database at {location.shown} holds a journal; pass --force to replace it"
                metadata.drop_all(conn)
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    finally:
        engine.dispose()
    upgrade_journal(url)
    return ""


def remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, required=True, help="how many sessions")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--home", type=Path, help="the MEA_CULPA_HOME to fill (its journal.sqlite3)")
    where.add_argument("--database-url", metavar="URL",
                       help="the store to fill, as MEA_CULPA_DATABASE_URL names it: sqlite:///FILE, or postgresql://user@host/db (the database must exist)")
    parser.add_argument("--months", type=int, default=18, help="how far back the sessions go (default 18)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7): the same journal every time")
    parser.add_argument("--force", action="store_true", help="replace an existing journal")
    args = parser.parse_args(argv)
    if args.sessions < 0:
        parser.error("--sessions must be 0 or more")
    path: Path | None = None
    if args.home is not None:
        path = args.home.expanduser() / "journal.sqlite3"
        target: Path | str = path
    else:
        target = args.database_url
        found = sqlite_file(args.database_url)
        path = found.expanduser() if found is not None else None
    if path is not None:
        if path.exists():
            if not args.force:
                print(f"{path} exists; pass --force to replace it", file=sys.stderr)
                return 2
            remove_sqlite(path)
        target = path
    else:
        problem = clear_server(args.database_url, force=args.force)
        if problem:
            print(problem, file=sys.stderr)
            return 2
    rng = random.Random(args.seed)
    began = time.perf_counter()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    span = dt.timedelta(days=30 * args.months).total_seconds()
    starts = sorted(now - dt.timedelta(seconds=rng.uniform(3600, span)) for _ in range(args.sessions))
    taken: dict[str, int] = {}
    with open_journal(target) as journal:
        shown = journal.location.shown
        fill(journal, (make_session(rng, start, now, taken) for start in starts), rng, now.date().isoformat(), args.sessions)
    took = time.perf_counter() - began
    size = f" ({path.stat().st_size / 1e6:.1f} MB)" if path is not None else ""
    print(f"{args.sessions} sessions in {shown}{size} in {took:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
