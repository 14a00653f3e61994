"""What an answer may be: turning typed text, file values and defaults into stored values.

Every answer, whether typed, read from an answers file or taken from a default, passes
through `coerce`, so a value from a file is held to exactly the rules a typed one is.
Stored values are plain JSON data: text, numbers, booleans, ISO dates, lists and mappings.
"""

from __future__ import annotations

import datetime as dt
import json
import re
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


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise AnswerProblem("expected a number")
    if isinstance(value, (int, float)):
        number: int | float = value
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise AnswerProblem(f"{shown(value)} is not a number") from None
    else:
        raise AnswerProblem("expected a number")
    if isinstance(number, float) and (number != number or number in (float("inf"), float("-inf"))):
        raise AnswerProblem("expected a finite number")
    return number


_RELATIVE_DAYS = {"today": 0, "yesterday": -1, "tomorrow": 1}
_IN_DAYS = re.compile(r"(?:in\s+)?\+?(\d{1,4})\s*(d|days?|w|weeks?)(?:\s+from\s+now)?", re.I)


def parse_date(value: Any, today: dt.date | None = None) -> dt.date:
    """A date from an ISO date, a date object, or words: today, yesterday, tomorrow, in 3 days, +2w."""
    today = today or dt.date.today()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise AnswerProblem("expected a date like 2026-03-31")
    text = value.strip().lower()
    if text in _RELATIVE_DAYS:
        return today + dt.timedelta(days=_RELATIVE_DAYS[text])
    match = _IN_DAYS.fullmatch(text)
    if match:
        n = int(match.group(1))
        return today + dt.timedelta(days=n * (7 if match.group(2).startswith("w") else 1))
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise AnswerProblem(f"{shown(value)} is not a date; write it like 2026-03-31, or today, yesterday, in 3 days") from None


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
    if len(parts) == 2 and parts[0] in _RELATIVE_DAYS and _TIME.fullmatch(parts[1]):
        day = parse_date(parts[0], now.date())
        hour, minute = map(int, parts[1].split(":"))
        if hour > 23 or minute > 59:
            raise AnswerProblem(f"{shown(parts[1])} is not a time of day")
        return dt.datetime.combine(day, dt.time(hour, minute))
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            return dt.datetime.combine(parse_date(value, now.date()), dt.time())
        except AnswerProblem:
            raise AnswerProblem(f"{shown(value)} is not a date and time; write it like 2026-03-31 14:30, or now, 14:30, yesterday 09:00") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone().replace(tzinfo=None)
    return parsed.replace(second=0, microsecond=0)


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
        _check_count(step, len(chosen), "choice")
        if step.required and not chosen:
            raise AnswerProblem("choose at least one")
        return chosen
    if kind == "yes-no":
        return _yes_no(value)
    if kind == "number":
        number = _number(value)
        v = step.validation
        if v.min is not None and number < v.min:
            raise AnswerProblem(v.message or f"must be at least {v.min:g}")
        if v.max is not None and number > v.max:
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
                why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
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
        return {}
    if not isinstance(data, dict):
        raise AnswersError(["expected a mapping of step id to answer"], source=where)
    if isinstance(data.get("answers"), dict) and "playbook" in data:
        data = data["answers"]  # an exported session (`export --format yaml`) replays as it is
    return {str(k): _plain(v) for k, v in data.items()}


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
