"""Drafting messages: which messages a session offers, and rendering one from the answers.

Templates run in the project's Jinja sandbox with a loader that only reads the playbook's
own folder and the built-in templates. The context is plain data (see docs/templates.md).
An answer the template needs but the session lacks is a falsy, empty value that a
template can test (`{% if repair %}`); printing it stops the draft with one line naming
the step that would supply it. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mea_culpa.errors import NotFound, SecurityError, TemplateError, UsageError
from mea_culpa.playbook.model import TONES, VOCABULARY, Message, Playbook, Step, find_template
from mea_culpa.run.session import Plan, Session, plan, session_facts
from mea_culpa.text import wording
from mea_culpa.text.terminal import safe_for_terminal

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment


# The phases of a status update, in the order an incident goes through them.
PHASES: tuple[str, ...] = ("investigating", "identified", "monitoring", "resolved")
# Templates that are written per phase even when the playbook does not list the phases.
PHASED_TEMPLATES = frozenset({"status-update"})
# Built-in messages that ask or inform rather than apologise: the apology check still runs
# on them, but the parts of an apology they leave out are not pointed out as missing.
REQUEST_TEMPLATES = frozenset({"containment-request"})
# Severities for which a light tone would read as not taking the harm seriously.
SERIOUS = frozenset({"major", "critical"})
SOCIAL_LIMIT = 280
# Which apology-check audience reads a message of each audience.
CHECK_AUDIENCE = {"customer": "customer", "public": "customer", "internal": "internal", "personal": "personal"}

_SUBJECT = re.compile(r"\ASubject:[ \t]*(?P<subject>[^\n]*)\n", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A drafted message. `text` is what to send: for email, `Subject: …`, a blank line,
    then the body; for other channels, the body alone."""

    subject: str | None
    body: str
    text: str


# --- which messages, which tones and phases ------------------------------------------


def when_context(playbook: Playbook, session: Session, plan_: Plan) -> dict[str, Any]:
    context = dict(plan_.context)
    answers = _answered(plan_)
    context.update(
        session=session_facts(session),
        playbook=_playbook_facts(playbook),
        answers=answers,
        actions=_actions(playbook, answers),
        stages=_stage_facts(plan_),
    )
    return context


def available(playbook: Playbook, session: Session, plan_: Plan | None = None) -> list[Message]:
    """The messages the playbook offers for this session (their `when` holds), in order.
    `plan_` is the session's plan when the caller has worked it out already."""
    from mea_culpa.playbook import expressions

    plan_ = plan_ or plan(playbook, session)
    context = when_context(playbook, session, plan_)
    return [
        m
        for m in playbook.messages
        if not m.when or expressions.condition(m.when, context, what=f"message {m.id}: when")
    ]


def phases_for(message: Message) -> tuple[str, ...]:
    """The phases a message is written for; empty when it has none."""
    if message.phases:
        return message.phases
    if message.id in PHASED_TEMPLATES or Path(message.template).name.removesuffix(".j2") in PHASED_TEMPLATES:
        return PHASES
    return ()


def _or_list(words: tuple[str, ...] | list[str]) -> str:
    from mea_culpa.text.filters import sentence_list

    return sentence_list(list(words), "or")


def check_tone(message: Message, tone: str, severity: str | None) -> None:
    """Refuse a tone the message does not offer, or a light tone for a serious mistake."""
    if tone not in TONES:
        raise UsageError(f"there is no tone {tone!r}; choose {_or_list(TONES)}")
    if tone not in message.tones:
        raise UsageError(f"the {message.id} message is written in a {_or_list(message.tones)} tone, not {tone!r}")
    if tone == "light" and severity in SERIOUS:
        others = [t for t in message.tones if t != "light"] or ["warm"]
        raise UsageError(
            f"a light tone is for small mistakes, and this one is {severity}; "
            f"use {_or_list(['--tone ' + t for t in others])}"
        )


def check_phase(message: Message, phase: str | None) -> str | None:
    """The phase to render with, or a UsageError naming the valid ones."""
    valid = phases_for(message)
    if valid and phase is None:
        raise UsageError(f"the {message.id} message needs --phase: {_or_list(valid)}")
    if not valid and phase is not None:
        raise UsageError(f"the {message.id} message has no phases; leave out --phase {phase}")
    if phase is not None and phase not in valid:
        raise UsageError(f"there is no phase {phase!r} for {message.id}; choose {_or_list(valid)}")
    return phase


def find_message(playbook: Playbook, message_id: str) -> Message:
    """The message a playbook offers under this id, or NotFound listing the ids."""
    message = playbook.message(message_id)
    if message is None:
        offered = ", ".join(m.id for m in playbook.messages) or "none"
        raise NotFound(f"playbook {playbook.id!r} has no message {message_id!r}; it offers: {offered}")
    return message


# --- the context ---------------------------------------------------------------------


def filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _answered(plan_: Plan) -> dict[str, Any]:
    out = {}
    for stage in plan_.stages:
        for planned in stage.steps:
            if planned.applicable and planned.record is not None:
                value = plan_.context.get(planned.step.id)  # a number typed as "£300" prints so
                if filled(value):
                    out[planned.step.id] = value
    return out


def _playbook_facts(playbook: Playbook) -> dict[str, Any]:
    return {"id": playbook.id, "title": playbook.title, "version": playbook.version}


def _stage_facts(plan_: Plan) -> list[dict[str, Any]]:
    return [
        {
            "stage": s.stage.kind,
            "title": s.stage.title,
            "state": s.state,
            "reason": s.record.reason if s.record else "",
            "entered_at": s.record.entered_at if s.record else None,
            "completed_at": s.record.completed_at if s.record else None,
        }
        for s in plan_.stages
    ]


def is_commitment(value: Any) -> bool:
    """Whether an action item's `commitment` field marks a commitment (not just an idea).
    Items that do not say are commitments: the playbook asked for an owner and a date."""
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip().lower() not in {"no", "false", "idea", "maybe", "n"}
    return bool(value)


def _actions(playbook: Playbook, answers: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for step in playbook.steps:
        if step.type != "list" or not step.action_items or not isinstance(answers.get(step.id), list):
            continue
        for item in answers[step.id]:
            if not isinstance(item, dict):
                continue
            out.append(
                {
                    "step": step.id,
                    "what": item.get("what"),
                    "owner": item.get("owner"),
                    "due": item.get("due"),
                    "effort": item.get("effort"),
                    "commitment": is_commitment(item.get("commitment")),
                }
            )
    return out


def _where(step: Step) -> str:
    return f'("{step.prompt}", stage {step.stage})'


def _missing_hint(step_id: str, playbook: Playbook, session: Session, plan_: Plan) -> str:
    step = playbook.step(step_id)
    if step is None:
        return (
            f"the draft needs an answer to {step_id!r}, but playbook {playbook.id!r} has no step with that id; "
            f"add the step, or test it in the template with {{% if {step_id} %}}"
        )
    planned = plan_.step(step_id)
    if planned is not None and not planned.applicable:
        return (
            f"the draft needs an answer to {step_id!r} {_where(step)}, which does not apply to this session; "
            f"test it in the template with {{% if {step_id} %}}"
        )
    left_empty = ", which was left empty" if planned is not None and planned.record is not None else ""
    return f"the draft needs an answer to {step_id!r} {_where(step)}{left_empty}; add it with: mea-culpa resume {session.id}"


@lru_cache(maxsize=1)
def _missing_class() -> type:
    from jinja2 import ChainableUndefined

    class Missing(ChainableUndefined):
        """An answer the session does not have: false, empty and quiet in tests and loops,
        but printing it stops the draft with one line naming the step."""

        __slots__ = ()

        def __str__(self) -> str:
            self._fail_with_undefined_error()
            return ""  # pragma: no cover - the line above raises

        def __html__(self) -> str:
            return self.__str__()

    return Missing


def template_context(
    playbook: Playbook,
    session: Session,
    message: Message | None = None,
    *,
    tone: str = "warm",
    phase: str | None = None,
    now: dt.datetime | None = None,
    plan_: Plan | None = None,
    stand_ins: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything a message template can read (documented in docs/templates.md).
    `stand_ins` give text for answers not given yet (a preview during the run)."""
    missing = _missing_class()
    plan_ = plan_ or plan(playbook, session)
    answers = _answered(plan_)
    stand_ins = stand_ins or {}
    context: dict[str, Any] = {}
    for step_id in [s.id for s in playbook.steps] + sorted(VOCABULARY):
        if step_id in context:
            continue
        if step_id in answers:
            context[step_id] = answers[step_id]
        elif step_id in stand_ins:
            context[step_id] = stand_ins[step_id]
        else:
            context[step_id] = missing(hint=_missing_hint(step_id, playbook, session, plan_), name=step_id)
    moment = now or dt.datetime.now()
    if moment.tzinfo is None:
        moment = moment.astimezone()  # the machine's zone: the one the sender lives in
    context.update(
        session=session_facts(session),
        playbook=_playbook_facts(playbook),
        stages=_stage_facts(plan_),
        answers=answers,
        actions=_actions(playbook, answers),
        tone=tone,
        phase=phase,
        audience=message.audience if message else "customer",
        channel=message.channel if message else "email",
        message={"id": message.id, "title": message.title} if message else {"id": "", "title": ""},
        now=moment.isoformat(timespec="minutes"),
    )
    return context


_MID_SENTENCE_CAPITAL = re.compile(r"(?<=[a-z0-9,;:] )[A-Z][\w'-]*")
# Titles that start a name: "Mrs Patel" keeps its capital inside a sentence.
_TITLES = frozenset(["mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame", "lord", "lady"])
_NAME_STEPS = ("sender_name", "recipient_name", "organization")


def _proper_words(answers: Mapping[str, Any]) -> frozenset[str]:
    """Words the session's answers show as names: the people and organisation named, the
    owners of actions, and words written with a capital in mid-sentence."""
    words: set[str] = set()

    def texts(value: Any) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple)):
            return [t for v in value for t in texts(v)]
        if isinstance(value, Mapping):
            return [t for v in value.values() for t in texts(v)]
        return []

    for step_id in _NAME_STEPS:
        for text in texts(answers.get(step_id)):
            words.update(text.split())
    for value in answers.values():
        if isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping) and isinstance(item.get("owner"), str):
                    words.update(item["owner"].split())
        for text in texts(value):
            words.update(_MID_SENTENCE_CAPITAL.findall(text))
    return frozenset(w.strip(".,;:!?'\"()") for w in words)


def _clause_in_context() -> Callable[..., str]:
    from jinja2 import pass_context

    @pass_context
    def clause(context: Any, value: Any) -> str:
        """User text to continue a sentence: trimmed and mended, trailing full stop removed,
        the first letter lowered unless it starts "I", an acronym, a title before a name
        ("Mrs Patel") or a name the answers show."""
        text = wording.mend(value).strip().rstrip(".").rstrip()
        if not text or not text[0].isupper():
            return text
        first = re.split(r"[\s,;:]", text, maxsplit=1)[0].strip(".,;:!?'\"()")
        answers = context.get("answers")
        names = _proper_words(answers) if isinstance(answers, Mapping) else frozenset()
        keep = (first in names or first == "I" or first.startswith(("I'", "I\u2019")) or (len(first) > 1 and first[1].isupper())
                or first.lower() in _TITLES)
        return text if keep else text[0].lower() + text[1:]

    return clause


# --- rendering -----------------------------------------------------------------------


def _loader(roots: list[Path]) -> Any:
    """A Jinja loader that reads the playbook's folder, then the built-ins, never outside.

    Each template is opened once, without following any link, and read from what was
    opened (a regular file, of bounded size; model.read_template): checking a name and
    then opening it again would let someone who shares the folder swap in a link to
    another file in between."""
    import os

    from jinja2 import BaseLoader, TemplateNotFound

    from mea_culpa.files import NotReadable
    from mea_culpa.paths import PathEscape, check_relative
    from mea_culpa.playbook.model import read_template

    def unchanged(path: Path, seen: os.stat_result) -> bool:
        try:
            now = os.stat(path, follow_symlinks=False)
        except OSError:
            return False
        return (now.st_ino, now.st_mtime_ns, now.st_size) == (seen.st_ino, seen.st_mtime_ns, seen.st_size)

    class SafeLoader(BaseLoader):
        def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
            try:
                check_relative(template)
            except PathEscape as exc:
                raise SecurityError(f"template {template!r}: {exc}") from None
            for root in roots:
                try:
                    source, info = read_template(root, template)
                except NotReadable as exc:
                    if str(exc) == "no such file":
                        continue
                    raise SecurityError(f"template {template}: refused: {exc}") from None
                path = root / template
                return source, str(path), lambda path=path, seen=info: unchanged(path, seen)
            raise TemplateNotFound(template)

    return SafeLoader()


def _roots(playbook: Playbook) -> list[Path]:
    from mea_culpa.playbook.model import template_roots

    return template_roots(playbook.folder)


@lru_cache(maxsize=16)
def _environment(roots: tuple[Path, ...]) -> SandboxedEnvironment:
    """The sandbox for one set of template folders; kept, so that templates compile once."""
    from mea_culpa.playbook.expressions import make_environment

    env = make_environment(_loader(list(roots)))
    # Lookups that fail inside a template (an item's missing field) are empty too, so
    # that `{% if item.effort %}` works; printing one still names what is missing.
    env.undefined = _missing_class()
    from mea_culpa.playbook.expressions import size_guarded

    env.filters["clause"] = size_guarded(_clause_in_context(), "|clause")
    return env


def _template_name(playbook: Playbook, message: Message) -> str:
    from mea_culpa.paths import PathEscape

    try:
        path = find_template(message.template, playbook.folder)
    except PathEscape as exc:
        raise SecurityError(f"message {message.id}: {exc}") from None
    if path is None:
        raise NotFound(f"message {message.id}: no template {message.template!r} beside the playbook or among the built-ins")
    for root in _roots(playbook):
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            continue
    raise NotFound(f"message {message.id}: template {path} is outside the template folders")  # pragma: no cover


def _run_template(env: SandboxedEnvironment, name: str, context: Mapping[str, Any]) -> str:
    import jinja2
    from jinja2.exceptions import SecurityError as JinjaSecurityError

    from mea_culpa.errors import MeaCulpaError
    from mea_culpa.playbook import expressions
    from mea_culpa.playbook.expressions import MAX_OUTPUT

    # A runaway template is stopped by the sandbox's time limit where there is one.
    limit = getattr(expressions, "sandbox_time_limit", None)
    try:
        with limit() if limit is not None else contextlib.nullcontext():
            out = env.get_template(name).render(**context)
    except MeaCulpaError:
        raise
    except jinja2.UndefinedError as exc:
        raise TemplateError(str(exc.message or exc).splitlines()[0]) from None
    except jinja2.TemplateSyntaxError as exc:
        where = f"{exc.filename or exc.name or name}:{exc.lineno}"
        raise TemplateError(f"{where}: the template does not parse: {exc.message}") from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template {name}: includes {exc.name!r}, which is neither beside the playbook nor built in") from None
    except JinjaSecurityError as exc:
        raise SecurityError(f"template {name}: refused by the sandbox: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template {name}: {exc.message or exc}") from None
    except RecursionError:
        raise SecurityError(f"template {name}: refused: recursion too deep") from None
    except SyntaxError:  # the Python Jinja compiles the template to nests past Python's limits
        raise TemplateError(f"template {name}: nested too deeply to compile; simplify it") from None
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, KeyError, IndexError, OverflowError) as exc:
        raise TemplateError(f"template {name}: {type(exc).__name__}: {exc}") from None
    if len(out) > MAX_OUTPUT:
        raise SecurityError(f"template {name}: refused: output longer than {MAX_OUTPUT:,} characters")
    return out


_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_INNER_SPACES = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_SPACE_BEFORE_PUNCT = re.compile(r"(?<=\w)[ \t]+(?=[.,;:!?](?:\s|$))")
_BLANK_LINES = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """Rendered text as a person would have typed it: no trailing spaces, no doubled
    spaces or space before punctuation where an empty answer was, at most one blank line
    in a row, none at the start, one newline at the end."""
    text = text.replace("\r\n", "\n")
    text = _TRAILING_SPACE.sub("", text)
    text = _INNER_SPACES.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub("", text)
    text = _BLANK_LINES.sub("\n\n", text)
    return text.strip("\n") + "\n"


def _split_subject(text: str) -> tuple[str | None, str]:
    match = _SUBJECT.match(text)
    if not match:
        return None, text
    return match.group("subject").strip() or None, tidy(text[match.end() :])


def _over_limit(text: str, answers: Mapping[str, Any], message: Message) -> TemplateError:
    lowered = text.lower()
    used = [
        (len(value.strip()), step_id)
        for step_id, value in answers.items()
        if isinstance(value, str) and value.strip() and value.strip().rstrip(".").lower() in lowered
    ]
    if used:
        length, step_id = max(used)
        advice = f"shorten the answer to {step_id!r} ({length} characters)"
    else:
        advice = "shorten the answers it uses"
    return TemplateError(
        f"the {message.id} draft is {len(text)} characters, over the {SOCIAL_LIMIT} a post allows; "
        f"{advice} and draft it again"
    )


def render(
    playbook: Playbook,
    session: Session,
    message_id: str,
    *,
    tone: str = "warm",
    phase: str | None = None,
    now: dt.datetime | None = None,
    plan_: Plan | None = None,
) -> Rendered:
    """Draft one message of the playbook from the session's answers (and its plan, when
    the caller has worked it out already).

    Raises UsageError for a tone or phase the message does not take, NotFound for an
    unknown message, TemplateError (one line naming the step) for a missing answer."""
    from mea_culpa.messages.offered import not_offered

    message = find_message(playbook, message_id)
    check_tone(message, tone, session.severity)
    phase = check_phase(message, phase)
    plan_ = plan_ or plan(playbook, session)
    if message not in available(playbook, session, plan_):
        raise UsageError(not_offered(playbook, message, when_context(playbook, session, plan_)))
    context = template_context(playbook, session, message, tone=tone, phase=phase, now=now, plan_=plan_)
    drafted = _drafted(playbook, message, context)
    if message.channel == "social" and len(drafted.text.rstrip("\n")) > SOCIAL_LIMIT:
        raise _over_limit(drafted.text.rstrip("\n"), context["answers"], message)
    return drafted


def _drafted(playbook: Playbook, message: Message, context: Mapping[str, Any], name: str | None = None) -> Rendered:
    env = _environment(tuple(_roots(playbook)))
    # What a template builds goes to a terminal, a file and the journal: never an escape
    # sequence, however it was made (validation refuses the ones it can see).
    raw = safe_for_terminal(_run_template(env, name or _template_name(playbook, message), context))
    subject, body = _split_subject(tidy(raw))
    body = tidy(body)
    if not body.strip():
        raise TemplateError(f"the {message.id} template produced no text for this session")
    text = f"Subject: {subject}\n\n{body}" if message.channel == "email" and subject else body
    return Rendered(subject=subject, body=body, text=text)


def check_audience(message: Message) -> str:
    """The apology-check audience that reads this message."""
    return CHECK_AUDIENCE.get(message.audience, "customer")
