"""`stats` in SQL: counts, milestone medians, action follow-through and recurring factors.
The same statements on SQLite and PostgreSQL, never loading every session.

Over the whole journal the figures are read from what every write keeps up to date
(upkeep.py): the tallies, the duration buckets and the factor counts, a few hundred rows
however many sessions there are; a median is then read in the one bucket that holds it.
Over some sessions (`--since`, `--author`) they are counted from the indexes, each count
walking only the sessions picked.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from mea_culpa.journal import derived
from mea_culpa.journal import stats as st
from mea_culpa.journal.tables import actions, durations, factor_counts, factors, session_tags, sessions, tallies

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.engine import Connection

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def report(conn: Connection, *, since: str | None, author: str | None, today: str, patterns: int) -> st.Report:
    """Aggregates over the sessions started since `since` (all when None) by `author` (all
    when None)."""
    s = sessions.c
    picked: list[ColumnElement[bool]] = []
    if since:
        picked.append(s.created_at >= since)
    if author:
        picked.append(func.lower(s.author) == author.strip().lower())
    if not picked and tallied_whole(conn):
        return _kept_report(conn, today=today, patterns=patterns)
    overdue = select(func.count()).where(
        actions.c.status == "open", actions.c.kind == "action", actions.c.due < today, func.length(actions.c.due) == 10
    )
    # Tables that hold a session id are narrowed to the picked sessions.
    in_picked = select(s.id).where(*picked)

    def counts(column: Any) -> list[tuple[Any, int]]:
        n = func.count().label("n")
        rows = conn.execute(select(column, n).where(*picked).group_by(column).order_by(n.desc(), column))
        return [(r[0], r[1]) for r in rows]

    by_status = counts(s.status)
    by_playbook = counts(s.playbook_id)
    by_severity = counts(s.severity)
    by_author = counts(s.author)
    tag_n = func.count().label("n")
    tags = select(session_tags.c.tag, tag_n).where(session_tags.c.session_id.in_(in_picked))
    by_tag = [(r[0], r[1]) for r in conn.execute(tags.group_by(session_tags.c.tag).order_by(tag_n.desc(), session_tags.c.tag))]

    prevention = select(actions.c.status, func.count()).where(actions.c.kind == "action", actions.c.session_id.in_(in_picked))
    overdue = overdue.where(actions.c.session_id.in_(in_picked))
    action_counts = {r[0]: r[1] for r in conn.execute(prevention.group_by(actions.c.status))}
    return st.build_report(
        since=since,
        sessions=sum(n for _, n in by_status),
        by_playbook=by_playbook,
        by_severity=by_severity,
        by_tag=by_tag,
        by_status=by_status,
        per_month=_per_month(conn, picked),
        medians=_medians(conn, picked, [sev for sev, _ in by_severity]),
        actions=st.ActionCounts(
            open=action_counts.get("open", 0), overdue=int(conn.execute(overdue).scalar() or 0),
            done=action_counts.get("done", 0), dropped=action_counts.get("dropped", 0),
        ),
        patterns=_patterns(conn, picked=_factors_picked(since, author), limit=patterns),
        by_author=by_author,
        author=author,
    )


def tallied_whole(conn: Connection) -> bool:
    """Whether the kept tallies hold every session of the journal. They count what
    mea-culpa's own writes wrote; sessions another program added or removed (a journal
    edited by hand, or by a script) make them disagree with the count of sessions, and
    the report is then counted, as with a filter. The count reads the smallest index of
    `sessions` (about 2 ms at 100,000 sessions on SQLite)."""
    kept = conn.execute(select(func.coalesce(func.sum(tallies.c.n), 0)).where(tallies.c.figure == "status")).scalar()
    return int(kept or 0) == int(conn.execute(select(func.count()).select_from(sessions)).scalar() or 0)


def _kept_report(conn: Connection, *, today: str, patterns: int) -> st.Report:
    """The report over the whole journal, from the kept tallies (see the module's docstring)."""
    c = tallies.c
    overdue = conn.execute(
        select(func.coalesce(func.sum(c.n), 0)).where(c.figure == "open action due", c.value < today)
    ).scalar()
    figures: dict[str, list[tuple[str, int]]] = {}
    for figure, value, n in conn.execute(
        select(c.figure, c.value, c.n).where(c.n > 0, c.figure != "open action due").order_by(c.figure, c.n.desc(), c.value)
    ):
        figures.setdefault(figure, []).append((value, int(n)))

    def or_none(figure: str) -> list[tuple[str | None, int]]:
        return [(value or None, n) for value, n in figures.get(figure, [])]  # "": no severity, no author

    by_status = figures.get("status", [])
    items = dict(figures.get("item", []))
    return st.build_report(
        since=None,
        sessions=sum(n for _, n in by_status),
        by_playbook=figures.get("playbook", []),
        by_severity=or_none("severity"),
        by_tag=figures.get("tag", []),
        by_status=by_status,
        per_month={str(month): n for month, n in figures.get("month", [])},
        medians=_kept_medians(conn),
        actions=st.ActionCounts(
            open=items.get("action open", 0), overdue=int(overdue or 0), done=items.get("action done", 0),
            dropped=items.get("action dropped", 0),
        ),
        patterns=_patterns(conn, picked=None, limit=patterns),
        by_author=or_none("author"),
    )


def _kept_medians(conn: Connection) -> list[tuple[str | None, str, float | None, int]]:
    """Medians overall and per severity from the duration buckets: the bucket that holds
    the middle is found by adding up the counts, then the middle value(s) are read from
    the milestone's index, starting at that bucket's lower bound."""
    d = durations.c
    groups: dict[tuple[str, str | None], list[tuple[int, int]]] = {}
    for milestone, severity, bucket, n in conn.execute(
        select(d.milestone, d.severity, d.bucket, d.n).where(d.n > 0).order_by(d.milestone, d.severity, d.bucket)
    ):
        groups.setdefault((milestone, severity), []).append((bucket, n))
        groups.setdefault((milestone, None), []).append((bucket, n))
    out: list[tuple[str | None, str, float | None, int]] = []
    for name, _ in derived.MILESTONES:
        column = sessions.c[f"{name}_s"]
        labels = sorted({sev for (m, sev) in groups if m == name and sev is not None})
        for severity in [None, *labels]:
            counts: dict[int, int] = {}
            for bucket, n in groups.get((name, severity), []):
                counts[bucket] = counts.get(bucket, 0) + n
            total = sum(counts.values())
            if not total:
                continue
            middle, before = (total - 1) // 2, 0
            for bucket in sorted(counts):
                if before + counts[bucket] > middle:
                    break
                before += counts[bucket]
            where: list[ColumnElement[bool]] = [column.is_not(None)]
            if severity is not None:
                where.append(sessions.c.severity == severity if severity else sessions.c.severity.is_(None))
            if bucket:
                where.append(column >= derived.DURATION_BUCKETS[bucket - 1])
            values = select(column.label("v")).where(*where).order_by(column).limit(2 - total % 2).offset(middle - before).subquery()
            value = conn.execute(select(func.avg(values.c.v))).scalar()
            out.append((None if severity is None else severity or "unset", name, None if value is None else float(value), total))
    return out


def _per_month(conn: Connection, picked: list[ColumnElement[bool]]) -> dict[str, int]:
    """Sessions per calendar month (UTC), one index range count per month. A start time
    that is no ISO date (a journal written by something else: "March 2, 2026") is in no
    month: counting from it would never end."""
    created = sessions.c.created_at
    # the shape of YYYY-MM-…: read from the index entries themselves, so the walk stays on the index
    dated = [created >= "0000-01", created < "9999-13", func.substr(created, 5, 1) == "-", func.substr(created, 8, 1) == "-"]
    # Two queries: SQLite answers a lone first or last along the index at once, both together by a scan.
    first = conn.execute(select(created).where(*dated, *picked).order_by(created).limit(1)).scalar()
    last = conn.execute(select(created).where(*dated, *picked).order_by(created.desc()).limit(1)).scalar()
    start, end = _MONTH.match(first or ""), _MONTH.match(last or "")
    if start is None or end is None:
        return {}
    out = {}
    year, month = int(start[1]), int(start[2])
    stop = (int(end[1]), int(end[2]))
    while (year, month) <= stop:
        begin = f"{year:04d}-{month:02d}"
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        n = conn.execute(
            select(func.count()).where(created >= begin, created < f"{year:04d}-{month:02d}", *dated, *picked)
        ).scalar()
        if n:
            out[begin] = int(n)
    return out


def _medians(conn: Connection, picked: list[ColumnElement[bool]], severities: list[str | None]
             ) -> list[tuple[str | None, str, float | None, int]]:
    """Medians overall and per severity: a count, then one LIMIT/OFFSET step along the
    milestone's index (ordered by duration) to the middle value(s)."""
    out: list[tuple[str | None, str, float | None, int]] = []
    for name, _ in derived.MILESTONES:
        column = sessions.c[f"{name}_s"]
        groups: list[tuple[str | None, list[ColumnElement[bool]]]] = [(None, [])]
        groups += [
            (sev or "unset", [sessions.c.severity.is_(None) if sev is None else sessions.c.severity == sev])
            for sev in severities
        ]
        for label, where in groups:
            conditions = [column.is_not(None), *where, *picked]
            n = int(conn.execute(select(func.count()).where(*conditions)).scalar() or 0)
            if not n:
                continue
            middle = select(column.label("v")).where(*conditions).order_by(column).limit(2 - n % 2).offset((n - 1) // 2).subquery()
            value = conn.execute(select(func.avg(middle.c.v))).scalar()
            out.append((label, name, None if value is None else float(value), n))
    return out


def _factors_picked(since: str | None, author: str | None) -> list[ColumnElement[bool]]:
    """The factors of the sessions picked, said of the factors themselves where they can be:
    each carries its session's start, so a range needs no list of sessions."""
    f = factors.c
    picked: list[ColumnElement[bool]] = []
    if since:
        picked.append(f.created_at >= since)
    if author:
        picked.append(f.session_id.in_(select(sessions.c.id).where(func.lower(sessions.c.author) == author.strip().lower())))
    return picked


def _patterns(conn: Connection, *, picked: list[ColumnElement[bool]] | None, limit: int) -> list[st.Pattern]:
    """The most frequent recurring factors, and those without learning (however rare), up
    to `limit` each: over the whole journal from the kept factor_counts, else counted over
    the factors `picked`."""
    least = st.PATTERN_MIN_SESSIONS
    if picked is None:
        c = factor_counts.c
        ranked = select(c.key, c.sessions, c.learned, c.first, c.last).where(c.sessions >= least).order_by(c.sessions.desc(), c.key)
        top = conn.execute(ranked.limit(limit)).all()
        unlearned = conn.execute(ranked.where(c.learned == 0).limit(2 * limit)).all()
    else:
        f = factors.c
        n = func.count().label("sessions")
        counted = (
            select(f.key, n, func.sum(f.learned).label("learned"), func.min(f.created_at), func.max(f.created_at))
            .where(*picked).group_by(f.key).having(func.count() >= least).order_by(n.desc(), f.key)
        )
        top = conn.execute(counted.limit(limit)).all()
        unlearned = conn.execute(counted.having(func.sum(f.learned) == 0).limit(2 * limit)).all()
    found = [st.Pattern(r[0], "", int(r[1]), int(r[2]), r[3], r[4]) for r in top]
    seen = {p.key for p in found}
    found += [st.Pattern(r[0], "", int(r[1]), int(r[2]), r[3], r[4]) for r in unlearned if r[0] not in seen][:limit]
    labelled = []
    for p in found:
        # the factor as most recently written
        label = select(factors.c.text).where(factors.c.key == p.key, *(picked or [])).order_by(factors.c.created_at.desc()).limit(1)
        labelled.append(replace(p, label=conn.execute(label).scalar() or p.key))
    return labelled
