"""What an answer may be: turning typed text, file values and defaults into stored values.

Every answer, whether typed, read from an answers file or taken from a default, passes
through `coerce`, so a value from a file is held to exactly the rules a typed one is.
Stored values are plain JSON data: text, numbers, booleans, ISO dates, lists and mappings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mea_culpa.errors import AnswersError
from mea_culpa.playbook.model import ACTION_STATES, Choice, Field, Playbook, Step

MAX_TEXT = 20_000  # characters in one answer: a long email, not a novel
MAX_ITEMS = 200


PATTERN_SECONDS = 1.0  # time a step's `validate.pattern` may take on one answer


class AnswerProblem(ValueError):
    """An answer that does not fit its step; `str()` says why and what would fit."""


def shown(value: Any, limit: int = 60) -> str:
    """A value inside a one-line message: as repr shows it (control characters escaped),
    shortened, so that a huge or multi-line answer cannot flood or break the line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 2] + "…" + text[-1]


_SURROGATE = re.compile("[\ud800-\udfff]")


def _text(value: Any, *, required: bool) -> str:
    if isinstance(value, (bool, list, dict)):
        kind = {bool: "true/false", list: "a list", dict: "a mapping"}[type(value)]
        raise AnswerProblem(f"expected text, found {kind}")
    if value is None:
        value = ""
    if isinstance(value, (int, float)):
        value = str(value)
    if not isinstance(value, str):
        raise AnswerProblem(f"expected text, found {type(value).__name__}")
    surrogate = _SURROGATE.search(value)
    if surrogate:  # JSON's "\udcff", or bytes that were not UTF-8: no character at all
        raise AnswerProblem(f"contains U+{ord(surrogate.group()):04X}, half of a UTF-16 pair and not a character; write the text as UTF-8")
    value = value.strip()
    if required and not value:
        raise AnswerProblem("an answer is needed")
    if len(value) > MAX_TEXT:
        raise AnswerProblem(f"is {len(value):,} characters long; the limit is {MAX_TEXT:,}")
    return str(value)


def _choice(value: Any, choices: tuple[Choice, ...]) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise AnswerProblem(f"expected one of {_listed(choices)}")
    for choice in choices:
        if value == choice.value:
            return choice.value
    lowered = value.strip().lower()
    for choice in choices:
        if lowered in (choice.value.lower(), choice.label.lower()):
            return choice.value
    raise AnswerProblem(f"{shown(value)} is not one of {_listed(choices)}")


def _short(label: str, most: int = 24) -> str:
    return label if len(label) <= most else label[:most].rsplit(" ", 1)[0].rstrip(" ;,") + "…"  # at a word


def _quoted_and(labels: list[str]) -> str:
    quoted = [f"“{label}”" for label in labels]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _listed(choices: tuple[Choice, ...], most: int = 12) -> str:
    """The choice values for a one-line message: each shortened, at most `most` of them."""
    values = [c.value if len(c.value) <= 40 else c.value[:39] + "…" for c in choices[:most]]
    more = f" and {len(choices) - most} more" if len(choices) > most else ""
    return ", ".join(values) + more


_YES = {"yes", "y", "true", "1", "on"}
_NO = {"no", "n", "false", "0", "off"}


def _yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _YES | _NO:
        return value.strip().lower() in _YES
    raise AnswerProblem("expected yes or no")


# What may come around a number: "about 40", "~1200", "£300", "1.2k", "40-odd", "300 EUR", "12 people".
_APPROX_BEFORE = (r"~|≈|about|around|roughly|approx\.?|approximately|circa|c\.|ca\.|some|nearly|almost|over|"
                  r"more than|under|less than|fewer than|at least|at most|up to")
_APPROX_AFTER = r"\+|ish|-ish|or so|-odd|odd|or more|or less"
_CURRENCY = r"(?:[A-Z]{1,3})?[£$€¥₹₩₽₺₦]"
_CODE = r"[A-Za-z]{3}"  # an ISO currency code: GBP, usd
_UNIT = r"[^\W\d_][\w'’-]*(?:\s[^\W\d_][\w'’-]*)?"  # "EUR", "people", "orders a day"
_DIGITS = r"-?(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+)(?:\.\d+)?|-?\.\d+"
_NUMBER = re.compile(
    rf"(?:(?P<before>{_APPROX_BEFORE})\s*)?"
    rf"(?:(?P<currency>{_CURRENCY})\s*|(?P<code>{_CODE})\s+)?"
    rf"(?P<digits>{_DIGITS})"
    rf"(?P<thousands>k)?"
    rf"(?:\s*(?P<unit>{_UNIT}))?"
    rf"(?:\s*(?P<after>{_APPROX_AFTER}))?",
    re.IGNORECASE,
)
NUMBER_EXAMPLES = "1200, 1,200, ~1200, about 40 or £300"


def _number(value: Any) -> int | float | dict[str, Any]:
    """A number answer: the number, or, when more than the number was typed (a currency,
    "about", "~", "1.2k"), the number with the text as typed: {"number": 300, "typed": "£300"}."""
    if isinstance(value, dict) and ("typed" in value or "number" in value):
        return _number(value.get("typed", value.get("number")))  # a replayed export
    if isinstance(value, bool):
        raise AnswerProblem("expected a number")
    if isinstance(value, (int, float)):
        number: int | float = value
        if number != number or number in (float("inf"), float("-inf")):
            raise AnswerProblem("expected a finite number")
        return number
    if not isinstance(value, str):
        raise AnswerProblem("expected a number")
    typed = " ".join(value.split())
    match = _NUMBER.fullmatch(typed)
    if match is None or (match["code"] and match["unit"]):
        raise AnswerProblem(f"{shown(value)} is not a number; write it like {NUMBER_EXAMPLES}")
    digits = re.sub(r"[,\s\u00a0\u202f]", "", match["digits"])
    try:
        number = int(digits) if "." not in digits else float(digits)
    except ValueError:  # pragma: no cover - the pattern admits only digits
        raise AnswerProblem(f"{shown(value)} is not a number; write it like {NUMBER_EXAMPLES}") from None
    if match["thousands"]:
        number = number * 1000
        number = int(number) if float(number).is_integer() else number
    extra = any(match[part] for part in ("before", "currency", "code", "thousands", "unit", "after"))
    return {"number": number, "typed": typed} if extra else number


class _TypedInt(int):
    """A whole number that prints as it was typed ("£300"), for templates and `when`."""

    typed: str

    def __str__(self) -> str:
        return self.typed


class _TypedFloat(float):
    """A number with a fraction that prints as it was typed ("about 2.5k")."""

    typed: str

    def __str__(self) -> str:
        return self.typed


def readable(value: Any) -> Any:
    """A stored number answer as expressions and templates read it: a number that compares
    as one (`fix_cost > 100`) and prints as the person typed it, "~" read as "about"
    (`{{ fix_cost }}` is "£300", `{{ affected_count }}` "about 1200"). Other values as they are."""
    if not (isinstance(value, dict) and "typed" in value and isinstance(value.get("number"), (int, float))):
        return value
    number = value["number"]
    out: _TypedInt | _TypedFloat = _TypedInt(number) if isinstance(number, int) else _TypedFloat(number)
    out.typed = re.sub(r"^(?:~|≈)\s*", "about ", str(value["typed"]))
    return out


def number_of(value: Any) -> float | None:
    """The number in a stored number answer: a plain number, or the number of one kept
    with the text as typed ({"number": 300, "typed": "£300"}); None for anything else."""
    if isinstance(value, dict):
        value = value.get("number")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


_RELATIVE_DAYS = {"today": 0, "yesterday": -1, "tomorrow": 1}
_IN_DAYS = re.compile(r"(?:in\s+)?\+?(\d{1,4})\s*(d|days?|w|weeks?)(?:\s+from\s+now)?", re.I)


_WEEKDAYS = {name: n for n, names in enumerate((
    ("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed"), ("thursday", "thu", "thur", "thurs"),
    ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun"),
)) for name in names}
_WEEKDAY = re.compile(r"(?:(?P<which>this|coming|next|last)\s+)?(?P<day>[a-z]+)")
_END_OF_MONTH = re.compile(r"(?:the\s+)?end\s+of\s+(?:(?P<which>the|this|next)\s+)?month")
DATE_EXAMPLES = "2026-03-31, or today, friday, next friday, in 2 weeks, end of month"


def _weekday(text: str, today: dt.date) -> dt.date | None:
    """"friday" and "this friday": the nearest Friday from today on (today, on a Friday);
    "next friday": the Friday of next week (weeks start on Monday); "last friday": the
    latest Friday before today."""
    match = _WEEKDAY.fullmatch(text)
    if match is None or match["day"] not in _WEEKDAYS:
        return None
    day, which = _WEEKDAYS[match["day"]], match["which"]
    if which == "last":
        back = (today.weekday() - day) % 7 or 7
        return today - dt.timedelta(days=back)
    if which == "next":
        monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(days=7)
        return monday + dt.timedelta(days=day)
    return today + dt.timedelta(days=(day - today.weekday()) % 7)


def _end_of_month(text: str, today: dt.date) -> dt.date | None:
    match = _END_OF_MONTH.fullmatch(text)
    if match is None:
        return None
    year, month = today.year, today.month + (1 if match["which"] == "next" else 0)
    if month > 12:
        year, month = year + 1, 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def parse_date(value: Any, today: dt.date | None = None) -> dt.date:
    """A date from an ISO date, a date object, or words: today, yesterday, tomorrow, in 3
    days, +2w, friday, this friday, next friday, last friday, end of month, end of next month."""
    today = today or dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise AnswerProblem("expected a date like 2026-03-31")
    text = " ".join(value.strip().lower().split())
    if text in _RELATIVE_DAYS:
        return today + dt.timedelta(days=_RELATIVE_DAYS[text])
    match = _IN_DAYS.fullmatch(text)
    if match:
        n = int(match.group(1))
        return today + dt.timedelta(days=n * (7 if match.group(2).startswith("w") else 1))
    found = _weekday(text, today) or _end_of_month(text, today)
    if found is not None:
        return found
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise AnswerProblem(f"{shown(value)} is not a date; write it like {DATE_EXAMPLES}") from None


_TIME = re.compile(r"(\d{1,2}):(\d{2})")


def parse_datetime(value: Any, now: dt.datetime | None = None) -> dt.datetime:
    """A local date and time (minutes): ISO, `now`, `HH:MM` (today), `yesterday 14:30`, a date alone."""
    now = (now or dt.datetime.now()).replace(second=0, microsecond=0)
    if isinstance(value, dt.datetime):
        return value.replace(second=0, microsecond=0, tzinfo=None) if value.tzinfo is None else value.astimezone().replace(tzinfo=None, second=0, microsecond=0)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    if not isinstance(value, str):
        raise AnswerProblem("expected a date and time like 2026-03-31 14:30")
    text = value.strip().lower()
    if text == "now":
        return now
    if _TIME.fullmatch(text):
        hour, minute = map(int, _TIME.fullmatch(text).groups())  # type: ignore[union-attr]
        if hour > 23 or minute > 59:
            raise AnswerProblem(f"{shown(value)} is not a time of day")
        return now.replace(hour=hour, minute=minute)
    parts = text.split()
    if len(parts) >= 2 and _TIME.fullmatch(parts[-1]):
        try:
            day = parse_date(" ".join(parts[:-1]), now.date())  # "yesterday 09:00", "last friday 14:30"
        except AnswerProblem:
            day = None
        if day is not None:
            hour, minute = map(int, parts[-1].split(":"))
            if hour > 23 or minute > 59:
                raise AnswerProblem(f"{shown(parts[-1])} is not a time of day")
            return dt.datetime.combine(day, dt.time(hour, minute))
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            return dt.datetime.combine(parse_date(value, now.date()), dt.time())
        except AnswerProblem:
            raise AnswerProblem(f"{shown(value)} is not a date and time; write it like 2026-03-31 14:30, or now, 14:30, yesterday 09:00, last friday 14:30") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone().replace(tzinfo=None)
    return parsed.replace(second=0, microsecond=0)


def moment_in(note: str, noted_at: str | None = None) -> str | None:
    """The date or time a note starts with, read as on the day it was written: "today
    15:00, after the standup" noted on 14 March is 2026-03-14T15:00; "friday" is
    2026-03-20. None when the note does not start with one. `noted_at` is a UTC
    timestamp; without it, now."""
    base = dt.datetime.now()
    if noted_at:
        with contextlib.suppress(ValueError):  # not a timestamp: read the note as of now
            base = dt.datetime.fromisoformat(noted_at.replace("Z", "+00:00")).astimezone().replace(tzinfo=None)
    words = note.split()
    for count in range(min(len(words), 4), 0, -1):
        phrase = " ".join(words[:count]).rstrip(",;:.!")
        if not phrase or phrase.lower() == "now":
            continue
        try:
            return parse_date(phrase, base.date()).isoformat()
        except AnswerProblem:
            pass
        if _TIME.search(phrase):
            try:
                return parse_datetime(phrase, base).isoformat(timespec="minutes")
            except AnswerProblem:
                pass
    return None


# Conventional moments that have happened by the time they are asked, and the order they
# come in: it stopped working (happened_at), then someone noticed (noticed_at) and, later,
# it worked again (resolved_at). Noticed and resolved may come in either order.
PAST_MOMENTS = ("happened_at", "noticed_at", "resolved_at")
MOMENT_ORDER = (("happened_at", "noticed_at"), ("happened_at", "resolved_at"))


def doubt(step: Step, value: Any, answers: Mapping[str, Any], *, prompts: Mapping[str, str] | None = None,
          now: dt.datetime | None = None) -> str | None:
    """One line when an answer fits its step but looks impossible, to ask the person
    whether to keep it: a moment still to come ("it is 14:02 now"), or one before a moment
    it must follow (back at 11:00 before it went down at 12:05). None when all is well.
    `answers` holds the stored answers so far; `prompts` names their questions."""
    if step.id not in PAST_MOMENTS or step.type not in ("date", "datetime"):
        return None
    try:
        moment = _as_moment(coerce(step, value))
    except AnswerProblem:
        return None
    if moment is None:
        return None
    now = (now or dt.datetime.now()).replace(second=0, microsecond=0)
    if moment > now and (step.type == "datetime" or moment.date() > now.date()):
        return f"{_moment_words(moment, now)} has not come yet (it is {now:%H:%M} now)."
    for first, then in MOMENT_ORDER:
        other = then if step.id == first else first if step.id == then else None
        if other is None:
            continue
        other_moment = _as_moment(answers.get(other))
        if other_moment is None:
            continue
        wrong = moment > other_moment if step.id == first else moment < other_moment
        if wrong:
            question = (prompts or {}).get(other, other)
            side = "after" if step.id == first else "before"
            return f"{_moment_words(moment, now)} is {side} your answer to “{question}” ({_moment_words(other_moment, now)})."
    return None


def _as_moment(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return dt.datetime.fromisoformat(value) if "T" in value else dt.datetime.combine(dt.date.fromisoformat(value), dt.time())
    except ValueError:
        return None


def _moment_words(moment: dt.datetime, now: dt.datetime) -> str:
    day = "today" if moment.date() == now.date() else moment.strftime("%a %d %b %Y")
    return f"{moment:%H:%M} {day}" if (moment.hour, moment.minute) != (0, 0) else day


def _field(field: Field, value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        if field.required:
            raise AnswerProblem(f"{field.id}: an answer is needed")
        return None
    try:
        if field.type in ("text", "long-text"):
            return _text(value, required=field.required)
        if field.type == "choice":
            return _choice(value, field.choices)
        if field.type == "yes-no":
            return _yes_no(value)
        if field.type == "number":
            return _number(value)
        if field.type == "date":
            return parse_date(value).isoformat()
    except AnswerProblem as exc:
        raise AnswerProblem(f"{field.id}: {exc}") from None
    raise AnswerProblem(f"{field.id}: unknown field type {field.type}")  # pragma: no cover


def problem(step: Step, value: Any) -> str | None:
    """Why `value` cannot answer `step`, or None when it can: the check an asker is handed,
    so that it can say what is wrong and ask again."""
    try:
        coerce(step, value)
    except AnswerProblem as exc:
        return str(exc)
    return None


def coerce(step: Step, value: Any) -> Any:
    """The stored form of `value` as an answer to `step`, or AnswerProblem saying why not.
    None means "no answer", which only optional steps accept."""
    kind = step.type
    if kind in ("text", "long-text"):
        text = _text(value, required=step.required)
        if text:
            _check_text(step, text)
        return text or None
    if value is None or (isinstance(value, str) and not value.strip() and kind != "action"):
        if step.required:
            raise AnswerProblem("an answer is needed")
        return None
    if kind == "choice":
        return _choice(value, step.choices)
    if kind == "multi-choice":
        items = value if isinstance(value, list) else [value] if isinstance(value, str) else None
        if items is None:
            raise AnswerProblem("expected a list of choices")
        chosen = []
        for item in items:
            c = _choice(item, step.choices)
            if c not in chosen:
                chosen.append(c)
        alone = [c for c in step.choices if c.exclusive and c.value in chosen]
        if alone and len(chosen) > 1:
            others = [step.choice_label(v) for v in chosen if v != alone[0].value]
            # short enough for the one line a checkbox has for it, at 72 columns
            raise AnswerProblem(f"“{_short(alone[0].label)}” goes on its own: untick {_quoted_and([_short(o) for o in others])}")
        _check_count(step, len(chosen), "choice")
        if step.required and not chosen:
            raise AnswerProblem("choose at least one")
        return chosen
    if kind == "yes-no":
        return _yes_no(value)
    if kind == "number":
        number = _number(value)
        amount = number_of(number)
        v = step.validation
        if v.min is not None and amount is not None and amount < v.min:
            raise AnswerProblem(v.message or f"must be at least {v.min:g}")
        if v.max is not None and amount is not None and amount > v.max:
            raise AnswerProblem(v.message or f"must be at most {v.max:g}")
        return number
    if kind == "date":
        return parse_date(value).isoformat()
    if kind == "datetime":
        return parse_datetime(value).isoformat(timespec="minutes")
    if kind == "list":
        return _list(step, value)
    if kind == "action":
        return _action(value)
    raise AnswerProblem(f"unknown step type {kind}")  # pragma: no cover - the loader refuses it


def _check_text(step: Step, text: str) -> None:
    v = step.validation
    if v.min_length is not None and len(text) < v.min_length:
        raise AnswerProblem(v.message or f"needs at least {v.min_length} characters")
    if v.max_length is not None and len(text) > v.max_length:
        raise AnswerProblem(v.message or f"is {len(text)} characters; keep it under {v.max_length}")
    if v.pattern and not _matches(v.pattern, text):
        raise AnswerProblem(v.message or f"does not have the expected form ({v.pattern})")


def _matches(pattern: str, text: str) -> bool:
    # A pattern comes from the playbook: one that backtracks for ever on some answer must
    # not hang the run (the validator already refuses nested repetition like (a+)+).
    from mea_culpa.playbook.expressions import time_limit

    def too_slow(message: str) -> AnswerProblem:
        return AnswerProblem(f"checking this answer against the step's pattern {message}; the pattern is too complex (tell the playbook's author)")

    try:
        with time_limit(PATTERN_SECONDS, too_slow):
            return re.fullmatch(pattern, text) is not None
    except re.error as exc:
        raise AnswerProblem(f"the step's pattern is not a valid regular expression: {exc}") from None


def _check_count(step: Step, count: int, noun: str) -> None:
    if step.min_items is not None and count < step.min_items:
        raise AnswerProblem(f"needs at least {step.min_items} {noun}{'s' if step.min_items != 1 else ''}")
    if step.max_items is not None and count > step.max_items:
        raise AnswerProblem(f"takes at most {step.max_items} {noun}{'s' if step.max_items != 1 else ''}")


def _list(step: Step, value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise AnswerProblem("expected a list of items")
    if len(value) > MAX_ITEMS:
        raise AnswerProblem(f"has {len(value)} items; the limit is {MAX_ITEMS}")
    known = {f.id for f in step.fields}
    items = []
    for n, raw in enumerate(value, 1):
        if not isinstance(raw, dict):
            raise AnswerProblem(f"item {n}: expected a mapping with {', '.join(sorted(known))}")
        unknown = sorted(str(k) for k in raw if k not in known)
        if unknown:
            raise AnswerProblem(f"item {n}: unknown field {shown(unknown[0])}; the fields are {', '.join(f.id for f in step.fields)}")
        try:
            items.append({f.id: _field(f, raw.get(f.id)) for f in step.fields})
        except AnswerProblem as exc:
            raise AnswerProblem(f"item {n}: {exc}") from None
    _check_count(step, len(items), "item")
    if step.required and not items:
        raise AnswerProblem("add at least one item")
    return items


def _action(value: Any) -> dict[str, str]:
    if isinstance(value, str):
        value = {"state": value}
    if not isinstance(value, dict):
        raise AnswerProblem(f"expected a state ({', '.join(ACTION_STATES)}) or {{state, reason}}")
    unknown = sorted(str(k) for k in value if k not in ("state", "reason"))
    if unknown:
        raise AnswerProblem(f"unknown key {shown(unknown[0])}; an action takes state and reason")
    state = value.get("state")
    if state not in ACTION_STATES:
        raise AnswerProblem(f"state {shown(state)} is not one of {', '.join(ACTION_STATES)}")
    reason = _text(value.get("reason"), required=False)
    if state in ("skipped", "blocked") and not reason:
        raise AnswerProblem(f"a {state} action needs a reason")
    return {"state": state, "reason": reason}


def check_all(playbook: Playbook, values: dict[str, Any], *, source: str) -> dict[str, Any]:
    """Coerce a whole mapping of answers; AnswersError names every id that does not fit."""
    problems = []
    out: dict[str, Any] = {}
    for step_id, value in values.items():
        step = playbook.step(str(step_id))
        if step is None:
            import difflib

            close = difflib.get_close_matches(str(step_id)[:100], [s.id for s in playbook.steps], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{_id(step_id)}: no step with this id in playbook {playbook.id!r}{hint}")
            continue
        try:
            out[step.id] = coerce(step, value)
        except AnswerProblem as exc:
            problems.append(f"{step.id}: {exc}")
    if problems:
        raise AnswersError(problems, source=source)
    return out


def load_file(path: Path) -> dict[str, Any]:
    """An answers file (YAML or JSON): a mapping of step id to value. Values are not yet
    checked against a playbook (see `check_all`)."""
    return read_file(path)[0]


SKIPPED_STAGES = "skipped_stages"  # the key of an exported answers file that names the stages skipped


def read_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """An answers file: its answers (step id -> value), and the stages it skips (stage ->
    reason), which only the exported form (`playbook:`, `answers:`) can name. Neither is
    checked against a playbook yet (see `check_all`, `check_skips`)."""
    from mea_culpa import yamlfile

    where = str(path)
    try:
        text = yamlfile.read_text(path, display=where)
        if path.suffix.lower() == ".json":
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise AnswersError([f"line {exc.lineno} column {exc.colno}: not valid JSON: {exc.msg}"], source=where) from None
            except (ValueError, RecursionError) as exc:  # a number of 5,000 digits, nesting 100,000 deep
                why = "nested too deeply" if isinstance(exc, RecursionError) else yamlfile.too_long_number(exc) or str(exc).split(";")[0]
                raise AnswersError([f"not valid JSON: {why}"], source=where) from None
            if _depth(data) > yamlfile.MAX_DEPTH:
                raise AnswersError([f"nested more than {yamlfile.MAX_DEPTH} levels deep; flatten the structure"], source=where)
        else:
            data = yamlfile.parse(text, where).data
    except yamlfile.YamlProblems as exc:
        d = exc.diagnostics[0]
        line = f":{d.line}:{d.column}" if d.line else ""
        raise AnswersError([f"{d.key + ': ' if d.key else ''}{d.message}"], source=f"{where}{line}") from None
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise AnswersError(["expected a mapping of step id to answer"], source=where)
    skips: Any = {}
    if isinstance(data.get("answers"), dict) and "playbook" in data:
        # an exported session (`export --format yaml`) replays as it is
        skips = data.get(SKIPPED_STAGES) or {}
        if not isinstance(skips, dict):
            raise AnswersError([f"{SKIPPED_STAGES}: expected a mapping of stage to the reason it was skipped"], source=where)
        data = data["answers"]
    return {str(k): _plain(v) for k, v in data.items()}, {str(k): v for k, v in skips.items()}


def check_skips(playbook: Playbook, skips: dict[str, Any], *, source: str) -> dict[str, str]:
    """The stages an answers file skips, each with its reason; AnswersError names every
    stage the playbook does not have and every missing reason."""
    import difflib

    kinds: list[str] = [stage.kind for stage in playbook.stages]
    problems: list[str] = []
    out: dict[str, str] = {}
    for kind, reason in skips.items():
        where = f"{SKIPPED_STAGES}.{_id(kind)}"
        if kind not in kinds:
            close = difflib.get_close_matches(kind[:100], kinds, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; its stages are {', '.join(kinds)}"
            problems.append(f"{where}: playbook {playbook.id!r} has no such stage{hint}")
            continue
        try:
            out[kind] = _text(reason, required=True)
        except AnswerProblem as exc:
            problems.append(f"{where}: the reason it was skipped: {exc}")
    if problems:
        raise AnswersError(problems, source=source)
    return out


def _id(step_id: Any) -> str:
    """An answer's id as a message shows it: plain when it is a plain word, else escaped."""
    text = str(step_id)
    return text if text.isprintable() and len(text) <= 60 and ":" not in text else shown(text)


def _depth(value: Any) -> int:
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            todo.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value
