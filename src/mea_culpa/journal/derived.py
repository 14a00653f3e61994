"""What the journal derives from a session as it writes it, for `stats` to count: the
normal form of each contributing factor, and the time from noticing the mistake to each
milestone.

Kept apart from stats.py, whose report classes a run that only writes need not build.
Pure: no I/O.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

# milestone name -> the stage whose first completion marks it
MILESTONES: tuple[tuple[str, str], ...] = (("owned", "own"), ("apologized", "apologize"), ("fixed", "fix"))

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


_START_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])-")


def start_month(created_at: str) -> str | None:
    """The calendar month ("YYYY-MM") a session counts in for `stats`: that of its start
    time (UTC), or none for a start time that is no ISO date (a journal written by
    something else: "March 2, 2026"), as reports._per_month counts them."""
    return created_at[:7] if _START_MONTH.match(created_at) else None


# The states of a to-do (an action step) in a session; only "done" means it happened.
PUT_OFF = ("later", "blocked")


def milestone_seconds(noticed_at: str | None, created_at: str, events: Iterable[Any],
                      steps: Iterable[Any] = ()) -> dict[str, float | None]:
    """Seconds from noticing the mistake (or, without that, starting the session) to each
    milestone: when the own, apologize and fix stages had happened. A stage has happened
    at its first completion, or, when one of its to-dos was marked done only later, at
    that moment; while any of its to-dos is put off (later, blocked) it has not happened
    (two apologies marked "later" are no apology). A milestone never reached, or one
    that would come before the start, is None. `events` are session.Event-like objects,
    `steps` session.StepRecord-like ones (their stage, state and time)."""
    start = parse_utc(noticed_at) or parse_utc(created_at)
    first: dict[str, dt.datetime] = {}
    for event in events:
        if event.kind == "stage-completed" and event.stage:
            at = parse_utc(event.at)
            if at and (event.stage not in first or at < first[event.stage]):
                first[event.stage] = at
    put_off: set[str] = set()
    done: dict[str, dt.datetime] = {}
    for record in steps:
        if record.state in PUT_OFF:
            put_off.add(record.stage)
        elif record.state == "done":
            at = parse_utc(record.at)
            if at and (record.stage not in done or at > done[record.stage]):
                done[record.stage] = at
    out: dict[str, float | None] = {}
    for name, stage in MILESTONES:
        at = first.get(stage)
        if at is not None and stage in put_off:
            at = None
        elif at is not None and stage in done:
            at = max(at, done[stage])
        seconds = (at - start).total_seconds() if at and start else None
        out[name] = seconds if seconds is not None and seconds >= 0 else None
    return out


def _bucket_bounds() -> tuple[int, ...]:
    bounds, at = [], 1
    while at < 10**10:  # some three centuries, in seconds
        bounds.append(at)
        at = max(at + 1, round(at * 1.1))
    return tuple(bounds)


# The lower bounds (whole seconds, each some 10% above the one before) of the buckets the
# journal counts milestone durations in, for finding a median without reading them all.
# Stored counts are by index in this tuple: changing it needs a migration that recounts.
DURATION_BUCKETS = _bucket_bounds()


def duration_bucket(seconds: float) -> int:
    """The bucket a duration falls in: 0 below one second, then i + 1 from
    DURATION_BUCKETS[i] up to (not including) the next bound."""
    return bisect.bisect_right(DURATION_BUCKETS, seconds)
