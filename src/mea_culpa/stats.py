"""Patterns across the journal: milestone medians, recurring contributing factors, action follow-through.

Pure: no I/O. The journal aggregates in SQL and hands the numbers to `build_report`; the
functions here also define what the SQL computes (a factor's normal form, a median, the
milestone clock), so tests can check one against the other.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# milestone name -> the stage whose first completion marks it
MILESTONES: tuple[tuple[str, str], ...] = (("owned", "own"), ("apologized", "apologize"), ("fixed", "fix"))
# A contributing factor seen in this many sessions is a pattern.
PATTERN_MIN_SESSIONS = 2

# --- contributing factors -------------------------------------------------------------

# Words that carry no theme. Negations and "missing/lack" are dropped too, so that
# "no review step" and "missing review steps" are the same factor.
_STOP_TEXT = """
    a an the and or but nor so of to in on at for with by from as into onto about over under
    before after during while until since
    is are was were be been being am do does did done has have had having will would shall should
    can could may might must it its this that these those there here their they them we our us
    i my me you your he him his she her who whom which what when where why how than then too very
    just also only even still again ever all any some each every no not none never without
    missing lack lacked lacking nobody anyone someone something nothing because due
"""
_STOP_WORDS = frozenset(_STOP_TEXT.split())
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("ingly", ""), ("edly", ""), ("ying", "y"), ("ing", ""), ("ied", "y"), ("ed", ""),
    ("ness", ""), ("ment", ""), ("ly", ""),
)
_UNDOUBLE = re.compile(r"([bgmnpt])\1$")
_WORD = re.compile(r"[a-z0-9]+")
_BULLET = re.compile(r"^\s*(?:[-*+\u2022\u00b7]|\d{1,2}[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|;")


def stem(word: str) -> str:
    """A crude stem, enough to count a factor written twice once: plurals first, then one
    of -ing/-ed/-ly/-ment/-ness, then a final e (tests/tested/testing -> test,
    evenings -> even, changes/changed -> chang, copies/copied -> copy)."""
    if word.isdigit() or len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = _UNDOUBLE.sub(r"\1", word[: len(word) - len(suffix)]) + replacement
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def normalise_factor(text: str) -> str:
    """The key under which a factor counts: lowercased, punctuation and stop words removed,
    words stemmed, de-duplicated and sorted (so word order does not matter). "" when nothing
    meaningful is left."""
    words = _WORD.findall(text.lower().replace("'", ""))
    stems = {stem(w) for w in words if w not in _STOP_WORDS}
    stems.discard("")
    return " ".join(sorted(stems))


def split_factors(text: str) -> list[str]:
    """The separate factors in a contributing-factors answer: one per line, bullet or sentence."""
    out: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", line).strip()
        for part in _SENTENCE_END.split(line):
            part = part.strip(" \t.;:!?,-")
            if part:
                out.append(part)
    return out


def factor_keys(text: str | None) -> dict[str, str]:
    """Normal form -> the factor as written (first occurrence), for one session's answer.
    A factor written twice in one answer appears once."""
    found: dict[str, str] = {}
    if not text:
        return found
    for factor in split_factors(text):
        key = normalise_factor(factor)
        if key and key not in found:
            found[key] = factor[:200]
    return found


# --- durations --------------------------------------------------------------------------


def parse_utc(text: str | None) -> dt.datetime | None:
    """A stored UTC timestamp ("2026-03-01T10:00:00Z") as an aware datetime; None if absent."""
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def median(values: Iterable[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None if empty."""
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return None
    mid = n // 2
    return float(ordered[mid]) if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def milestone_seconds(noticed_at: str | None, created_at: str, events: Iterable[Any]) -> dict[str, float | None]:
    """Seconds from noticing the mistake (or, without that, starting the session) to the first
    completion of the own, apologize and fix stages. A milestone never reached, or one that
    would come before the start, is None. `events` are session.Event-like objects."""
    start = parse_utc(noticed_at) or parse_utc(created_at)
    first: dict[str, dt.datetime] = {}
    for event in events:
        if event.kind == "stage-completed" and event.stage:
            at = parse_utc(event.at)
            if at and (event.stage not in first or at < first[event.stage]):
                first[event.stage] = at
    out: dict[str, float | None] = {}
    for name, stage in MILESTONES:
        at = first.get(stage)
        seconds = (at - start).total_seconds() if at and start else None
        out[name] = seconds if seconds is not None and seconds >= 0 else None
    return out


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


@dataclass(frozen=True)
class Median:
    milestone: str  # owned | apologized | fixed
    seconds: float | None
    sessions: int  # how many sessions reached it (the sample size)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class ActionCounts:
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


@dataclass(frozen=True)
class Report:
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
    )


def to_json(report: Report) -> dict[str, Any]:
    """The report as plain data (`stats --json`). Durations in seconds."""

    def medians(ms: Iterable[Median]) -> dict[str, Any]:
        return {m.milestone: {"median_seconds": m.seconds, "sessions": m.sessions} for m in ms}

    a = report.actions
    return {
        "since": report.since,
        "sessions": report.sessions,
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
