"""Patterns across the journal: milestone medians, recurring contributing factors, action follow-through.

Pure: no I/O. The journal aggregates in SQL and hands the numbers to `build_report`; the
functions here and in derived.py also define what the SQL computes (a factor's normal
form, a median, the milestone clock), so tests can check one against the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# The per-session facts that the figures here count (also what the journal's SQL groups by).
from mea_culpa.journal.derived import (  # noqa: F401 - part of this module's interface
    MILESTONES,
    factor_keys,
    milestone_seconds,
    normalise_factor,
    parse_utc,
    split_factors,
    stem,
)

# A contributing factor seen in this many sessions is a pattern.
PATTERN_MIN_SESSIONS = 2


def median(values: Iterable[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None if empty."""
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    mid = n // 2
    return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def human_duration(seconds: float | None) -> str:
    """3 min, 2 h 5 min, 3 d 4 h; an em dash when unknown."""
    if seconds is None:
        return "\u2014"
    minutes = int(round(seconds / 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def fill_months(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Counts per "YYYY-MM" from the first month to the last, months without sessions as 0."""
    if not counts:
        return []
    months = sorted(counts)
    year, month = map(int, months[0].split("-"))
    last = months[-1]
    out = []
    while True:
        key = f"{year:04d}-{month:02d}"
        out.append((key, counts.get(key, 0)))
        if key >= last:
            return out
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


# --- the report -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Median:
    """The median time to one milestone, over the sessions that reached it."""

    milestone: str  # owned | apologized | fixed
    seconds: float | None
    sessions: int  # how many sessions reached it (the sample size)


@dataclass(frozen=True, slots=True)
class Pattern:
    """A contributing factor that recurs across sessions."""

    key: str
    label: str
    sessions: int
    learned: int  # sessions with a lesson and every prevention action done
    first: str
    last: str

    @property
    def without_learning(self) -> bool:
        """No session with this factor shows learning: the case worth a formal conversation."""
        return self.learned == 0


@dataclass(frozen=True, slots=True)
class ActionCounts:
    """Prevention actions by status, and how many are overdue."""

    open: int = 0
    overdue: int = 0
    done: int = 0
    dropped: int = 0

    @property
    def total(self) -> int:
        return self.open + self.done + self.dropped

    @property
    def completion_rate(self) -> float | None:
        """Done out of all prevention actions (follow-up messages are not counted)."""
        return self.done / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class Report:
    """Everything `mea-culpa stats` shows."""

    since: str | None
    sessions: int
    by_playbook: tuple[tuple[str, int], ...]
    by_severity: tuple[tuple[str, int], ...]
    by_tag: tuple[tuple[str, int], ...]
    by_status: tuple[tuple[str, int], ...]
    per_month: tuple[tuple[str, int], ...]
    medians: tuple[Median, ...]
    medians_by_severity: Mapping[str, tuple[Median, ...]]
    actions: ActionCounts
    patterns: tuple[Pattern, ...] = field(default=())
    by_author: tuple[tuple[str, int], ...] = ()
    author: str | None = None  # the one person the report is about (None: the whole journal)

    @property
    def patterns_without_learning(self) -> tuple[Pattern, ...]:
        return tuple(p for p in self.patterns if p.without_learning)


def _medians(rows: Iterable[tuple[str, float | None, int]]) -> tuple[Median, ...]:
    found = {name: (seconds, n) for name, seconds, n in rows}
    return tuple(Median(name, *found.get(name, (None, 0))) for name, _ in MILESTONES)


def build_report(
    *,
    since: str | None,
    sessions: int,
    by_playbook: Sequence[tuple[str, int]],
    by_severity: Sequence[tuple[str | None, int]],
    by_tag: Sequence[tuple[str, int]],
    by_status: Sequence[tuple[str, int]],
    per_month: Mapping[str, int],
    medians: Sequence[tuple[str | None, str, float | None, int]],
    actions: ActionCounts,
    patterns: Sequence[Pattern],
    by_author: Sequence[tuple[str | None, int]] = (),
    author: str | None = None,
) -> Report:
    """Assemble the report from aggregates. `medians` rows are (severity or None for all
    sessions, milestone, seconds, sample size)."""
    overall = _medians((m, s, n) for sev, m, s, n in medians if sev is None)
    severities = sorted({sev for sev, *_ in medians if sev is not None})
    by_sev = {sev: _medians((m, s, n) for v, m, s, n in medians if v == sev) for sev in severities}
    return Report(
        since=since,
        sessions=sessions,
        by_playbook=tuple(by_playbook),
        by_severity=tuple((sev or "unset", n) for sev, n in by_severity),
        by_tag=tuple(by_tag),
        by_status=tuple(by_status),
        per_month=tuple(fill_months(per_month)),
        medians=overall,
        medians_by_severity=by_sev,
        actions=actions,
        patterns=tuple(patterns),
        by_author=tuple((name or "unknown", n) for name, n in by_author),
        author=author,
    )


def to_json(report: Report) -> dict[str, Any]:
    """The report as plain data (`stats --json`). Durations in seconds."""

    def medians(ms: Iterable[Median]) -> dict[str, Any]:
        return {m.milestone: {"median_seconds": m.seconds, "sessions": m.sessions} for m in ms}

    a = report.actions
    return {
        "since": report.since,
        "author": report.author,
        "sessions": report.sessions,
        "by_author": dict(report.by_author),
        "by_playbook": dict(report.by_playbook),
        "by_severity": dict(report.by_severity),
        "by_tag": dict(report.by_tag),
        "by_status": dict(report.by_status),
        "per_month": dict(report.per_month),
        "time_from_noticed": medians(report.medians),
        "time_from_noticed_by_severity": {sev: medians(ms) for sev, ms in report.medians_by_severity.items()},
        "prevention_actions": {
            "open": a.open, "overdue": a.overdue, "done": a.done, "dropped": a.dropped, "total": a.total,
            "completion_rate": a.completion_rate,
        },
        "recurring_factors": [
            {
                "factor": p.label, "key": p.key, "sessions": p.sessions, "sessions_with_learning": p.learned,
                "without_learning": p.without_learning, "first": p.first, "last": p.last,
            }
            for p in report.patterns
        ],
    }
