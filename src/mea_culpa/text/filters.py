"""The filters and tests every playbook template and expression may use: dates and
durations in words, lists as sentences, answers as sentences, clauses, bullets and
phrases (mended as wording.py mends them), and the reframing filters of wording.py.

Pure functions on plain values, without Jinja: playbook/expressions.py registers them in
the sandbox, so that validating a playbook and drafting a message see the same names.
docs/templates.md describes each one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from mea_culpa.text import wording
from mea_culpa.text.wording import capitalise_sentences, mend


def sentence_list(items: Any, conjunction: str = "and") -> str:
    """["a", "b", "c"] -> "a, b and c"; a single string is returned as it is."""
    if items is None:
        return ""
    if isinstance(items, str):
        return items
    words = [str(i).strip() for i in items if i is not None and str(i).strip()]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _as_datetime(value: Any) -> dt.date | dt.datetime | None:
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00")
        for parse in (dt.datetime.fromisoformat, dt.date.fromisoformat):
            try:
                return parse(text)
            except ValueError:
                continue
    return None


def human_date(value: Any) -> str:
    """2026-03-03 -> "Tuesday 3 March 2026" (text that is not a date is returned unchanged)."""
    when = _as_datetime(value)
    if when is None:
        return "" if value is None else str(value)
    return f"{when:%A} {when.day} {when:%B %Y}"


def human_datetime(value: Any) -> str:
    """2026-03-03T14:30 -> "Tuesday 3 March 2026 at 14:30" (dates alone as human_date)."""
    when = _as_datetime(value)
    if not isinstance(when, dt.datetime):
        return human_date(value)
    return f"{human_date(when)} at {when:%H:%M}"


def human_time(value: Any) -> str:
    """2026-03-03T14:30 -> "14:30"; other text unchanged."""
    when = _as_datetime(value)
    if isinstance(when, dt.datetime):
        return f"{when:%H:%M}"
    return "" if value is None else str(value)


def sentence(value: Any) -> str:
    """User text as a sentence: trimmed and mended (wording.mend: "couldnt", "i", "api"),
    each sentence's first letter capital, ending in punctuation."""
    text = mend(value).strip()
    if not text:
        return ""
    text = capitalise_sentences(text)
    return text if text[-1] in ".!?…\"')" else text + "."


def clause(value: Any) -> str:
    """User text to continue a sentence: trimmed and mended, trailing full stop removed,
    first letter lowered unless it starts an acronym or a name like "I"."""
    text = mend(value).strip().rstrip(".")
    if len(text) > 1 and text[0].isupper() and not text[1].isupper() and not text.startswith("I "):
        text = text[0].lower() + text[1:]
    return text


_BLAME = re.compile(
    r"\b(?:human error|user error|operator error|(?:his|her|their|[A-Z][a-z]+'s) (?:fault|mistake|error|carelessness)"
    r"|careless(?:ness)?|lazy|stupid|incompetent|sloppy|should have known|the (?:intern|new (?:guy|girl|hire))"
    r"|(?:he|she) (?:forgot|didn't|did not|failed|messed|screwed|ignored)"
    # a capitalised name doing the failing ("Sam forgot"), but not "We forgot" or "Nobody checked"
    r"|\b(?!(?:We|I|They|It|Someone|Somebody|Nobody|No one|Everyone|Everybody|The|This|That|Our|You|One|Each|Nothing)\b)"
    r"[A-Z][a-z]+ (?:forgot|failed to|didn't|did not|messed up|screwed up|ignored|should have))",
)


def is_blaming(value: Any) -> bool:
    """True when text pins the mistake on a person ("human error", "Sam forgot", "careless")."""
    if value is None:
        return False
    if isinstance(value, (list, tuple)):
        return any(is_blaming(v) for v in value)
    if isinstance(value, dict):
        return any(is_blaming(v) for v in value.values())
    return bool(_BLAME.search(str(value)))




def _moment(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def plus_minutes(value: Any, minutes: Any, round_to: int = 1) -> str:
    """An ISO date-time `minutes` later, rounded up to a multiple of `round_to` minutes:
    `now | plus_minutes(30, round_to=5)` for "the next update by 15:05"."""
    moment = _moment(value)
    if moment is None:
        raise ValueError(f"plus_minutes needs a date and time, not {value!r}")
    later = moment + dt.timedelta(minutes=float(minutes))
    step = max(1, int(round_to))
    base = later.replace(second=0, microsecond=0)
    if later != base:
        base += dt.timedelta(minutes=1)
    extra = (-base.minute) % step
    return (base + dt.timedelta(minutes=extra)).isoformat(timespec="minutes")


def clock(value: Any) -> str:
    """An ISO date-time as a time of day with its zone: "15:05 UTC+1" ("15:05" when the
    time has no zone), so that readers elsewhere know which 15:05."""
    moment = _moment(value)
    if moment is None:
        return "" if value is None else str(value)
    offset = moment.utcoffset()
    if offset is None:
        return f"{moment:%H:%M}"
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return f"{moment:%H:%M} UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{moment:%H:%M} UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def duration_between(start: Any, end: Any) -> str:
    """The time between two ISO date-times in words: "25 minutes", "2 hours 5 minutes",
    "3 days 4 hours"; empty when either is missing."""
    a, b = _moment(start), _moment(end)
    if a is None or b is None:
        return ""
    if (a.tzinfo is None) != (b.tzinfo is None):
        a, b = a.replace(tzinfo=None), b.replace(tzinfo=None)
    return human_duration((b - a).total_seconds())


def human_duration(seconds: float) -> str:
    """Seconds in words, to the minute: "under a minute", "1 hour 5 minutes", "2 days"."""
    minutes = max(0, int(math.floor(seconds / 60)))
    if minutes == 0:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [(days, "day"), (hours, "hour"), (mins, "minute")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return " ".join(words[:2])


_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d{1,3}[.)])\s+")


def items(value: Any) -> list[str]:
    """Any answer as a list of lines: a list stays a list (an item's `what`, or its first
    text, stands for a mapping); text is split into its lines, with bullets removed."""
    if value is None or value is False:
        return []
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            if isinstance(item, Mapping):
                text = item.get("what") or next((v for v in item.values() if isinstance(v, str) and v.strip()), "")
                out.append(str(text).strip())
            elif item is not None and str(item).strip():
                out.append(str(item).strip())
        return [line for line in out if line]
    text = str(value)
    return [_BULLET.sub("", line).strip() for line in text.splitlines() if _BULLET.sub("", line).strip()]


def bullets(value: Any, marker: str = "- ") -> str:
    """Any answer as bullet lines (see `items`), each made a sentence."""
    return "\n".join(marker + sentence(line) for line in items(value))


def paragraph(value: Any) -> str:
    """Lines joined into one paragraph: `{% set p %}…{% endset %}{{ p | paragraph }}` lets
    a template write one sentence per line, each under its own condition."""
    text = "" if value is None else str(value)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def phrase(value: Any) -> str:
    """User text as a list item or heading: trimmed and mended, first letter capital, no
    full stop at the end (so that "(by Friday)" can follow)."""
    text = mend(value).strip().rstrip(".").rstrip()
    return text[:1].upper() + text[1:]


FILTERS: dict[str, Callable[..., Any]] = {
    "sentence_list": sentence_list,
    "human_date": human_date,
    "human_datetime": human_datetime,
    "human_time": human_time,
    "sentence": sentence,
    "clause": clause,
    "plus_minutes": plus_minutes,
    "clock": clock,
    "duration_between": duration_between,
    "items": items,
    "bullets": bullets,
    "phrase": phrase,
    "paragraph": paragraph,
    # shaping answers into what a draft says to the reader (wording.py)
    "to_you": wording.to_you,
    "ours": wording.ours,
    "owned": wording.owned,
    "unsaid": wording.unsaid,
    "says_when": wording.says_when,
    "reads_as_clause": wording.reads_as_clause,
}
TESTS: dict[str, Callable[..., bool]] = {"blaming": is_blaming}
