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
from collections import Counter
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

    from mea_culpa.run.runner import Quote

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


def _when_context(playbook: Playbook, session: Session, plan_: Plan) -> dict[str, Any]:
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
    `plan_` is the session's plan, when the caller has it already."""
    from mea_culpa.playbook import expressions

    plan_ = plan_ or plan(playbook, session)
    context = _when_context(playbook, session, plan_)
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


def _filled(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _answered(plan_: Plan) -> dict[str, Any]:
    out = {}
    for stage in plan_.stages:
        for planned in stage.steps:
            if planned.applicable and planned.record is not None:
                value = plan_.context.get(planned.step.id)  # a number typed as "£300" prints so
                if _filled(value):
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
) -> Rendered:
    """Draft one message of the playbook from the session's answers.

    Raises UsageError for a tone or phase the message does not take, NotFound for an
    unknown message, TemplateError (one line naming the step) for a missing answer."""
    message = find_message(playbook, message_id)
    check_tone(message, tone, session.severity)
    phase = check_phase(message, phase)
    if message not in available(playbook, session):
        raise UsageError(not_offered(playbook, session, message))
    context = template_context(playbook, session, message, tone=tone, phase=phase, now=now)
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


# --- what a draft will say with an answer, shown at the question ------------------------

# Answers a draft quotes in words the person typed (or a date, a number, a list of them);
# a choice or a yes/no steers a draft but is not quoted.
QUOTED_TYPES = frozenset({"text", "long-text", "number", "date", "datetime", "list"})
# Required answers in words, not given yet: a template may print them whole, so a
# stand-in lets the draft render before the run reaches them, and the sentences that carry
# a stand-in are not shown. (Dates and numbers stay missing: a template that prints one
# tests for it first, and a stand-in would take its place in the sentence being shown.)
_STAND_IN_TYPES = frozenset({"text", "long-text"})
_STAND_IN = "Qzxqv"
# The messages a preview looks at first: what the people affected will read.
_AUDIENCE_ORDER = {"customer": 0, "personal": 0, "public": 1, "internal": 2}
QUOTE_MESSAGES = 2  # messages shown for one answer, at most
QUOTE_TRIES = 3  # messages rendered for one answer, at most: each is drafted twice
QUOTE_SENTENCES = 3  # sentences shown from one message, at most
# A sentence ends at . ! or ? (maybe closed by a quote or a bracket) before a space and
# what starts a sentence; "e.g. the shop" goes on. Lines are sentences of their own.
_SENTENCE_BREAK = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"'\u201d\u2019)]))\s+(?=[\"'\u201c\u2018(]?[A-Z0-9])")
_WORDS = re.compile(r"\w+")
# Words too common to show that a sentence carries an answer.
_COMMON = frozenset(
    ["the", "and", "for", "our", "you", "your", "their", "they", "them", "was", "were", "with", "that", "this", "have", "has", "had", "are", "not", "but", "from", "all", "any", "its", "can", "will", "would", "into", "out", "off", "who", "what", "when"]
)


def sentences(text: str) -> list[str]:
    """The sentences of a draft, in order: every line on its own, split at sentence ends."""
    return [piece for line in text.splitlines() for piece in _SENTENCE_BREAK.split(line.strip()) if piece]


@lru_cache(maxsize=64)
def _template_reads(roots: tuple[Path, ...], name: str) -> frozenset[str] | None:
    """The names a template reads, with the templates it includes; None when that cannot
    be known (it includes one by a computed name, or one that is missing or does not
    parse, which drafting it will report). Kept per template for the process: a run asks
    dozens of questions and its templates do not change under it."""
    from jinja2 import TemplateNotFound

    from mea_culpa.playbook import expressions

    env = _environment(roots)
    names: set[str] = set()
    todo, seen = [name], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            source = env.loader.get_source(env, current)[0] if env.loader else ""
            analysis = expressions.analyze_template(source, env)
        except (TemplateNotFound, expressions.ExpressionSyntaxError):
            return None
        if None in analysis.includes:
            return None
        names |= analysis.names
        todo += [included for included in analysis.includes if included]
    return frozenset(names)


def _reads(playbook: Playbook, name: str, step: Step) -> bool:
    reads = _template_reads(tuple(_roots(playbook)), name)
    # `actions` is made of the answers to the lists of action items
    return reads is None or step.id in reads or (step.action_items and "actions" in reads)


def _stand_ins(plan_: Plan) -> dict[str, str]:
    return {
        p.step.id: _STAND_IN
        for stage in plan_.stages
        for p in stage.steps
        if p.state == "pending" and p.step.required and p.step.type in _STAND_IN_TYPES
    }


def _other(step: Step, value: Any) -> Any:
    """A value of the same kind as an answer, and not it: a number one more, a date a day
    later (what a template computes from it still works), the stand-in for words."""
    if step.type == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return value + 1
    if step.type in ("date", "datetime") and isinstance(value, str):
        try:
            day = dt.date.fromisoformat(value[:10])
        except ValueError:
            return _STAND_IN
        return (day + dt.timedelta(days=1)).isoformat() + value[10:]
    return _STAND_IN


def _words_of(value: Any) -> set[str]:
    if isinstance(value, Mapping):
        return {w for v in value.values() for w in _words_of(v)}
    if isinstance(value, (list, tuple)):
        return {w for v in value for w in _words_of(v)}
    return set(_WORDS.findall(str(value).casefold()))


def _with_the_answer(with_it: str, without_it: str, value: Any) -> tuple[str, ...]:
    """The sentences of `with_it` that `without_it` does not have: those that carry the
    answer. Left out: a sentence with a stand-in (its answer is still to come), a line that
    is the answer alone ("Dan" under a sign-off: no join to see), and, when some of the
    sentences share words with the answer, the others (a heading that comes with it)."""
    left = Counter(sentences(without_it))
    typed = _words_of(value)
    found = []
    for sentence in sentences(with_it):
        if left[sentence] > 0:
            left[sentence] -= 1
            continue
        words = _WORDS.findall(sentence.casefold())
        alone = set(words) == typed and not sentence.endswith((".", "!", "?"))
        if _STAND_IN.casefold() not in words and not alone:
            found.append((sentence, bool(set(words) & typed - _COMMON)))
    sharing = [sentence for sentence, shares in found if shares]
    return tuple(sharing) if sharing else tuple(sentence for sentence, _ in found)


def answer_quotes(
    playbook: Playbook, session: Session, step_id: str, *, now: dt.datetime | None = None
) -> tuple[Quote, ...]:
    """Where the drafts will quote the answer just given to `step_id`: for the first
    messages the session offers that read the step (those to the people affected first),
    the sentences that change with it, found by drafting the message with the answer and
    without it. Answers that later questions will give stand in for themselves, and the
    sentences that need them are left out. Empty when no draft can be rendered yet or
    none quotes the answer: a preview never stops the run."""
    from mea_culpa.errors import MeaCulpaError
    from mea_culpa.run.runner import Quote
    from mea_culpa.run.session import clear_answer

    step = playbook.step(step_id)
    if step is None or step.type not in QUOTED_TYPES:
        return ()
    try:
        with_plan = plan(playbook, session)
        value = with_plan.context.get(step_id)
        planned = with_plan.step(step_id)
        if planned is None or not planned.applicable or not _filled(value) or value == []:
            return ()
        without, _ = clear_answer(session, step, now=session.updated_at)
        without_plan = plan(playbook, without)
        names = {m.id: _template_name(playbook, m) for m in available(playbook, session, with_plan)}
        reading = sorted(
            (m for m in playbook.messages if m.id in names and _reads(playbook, names[m.id], step)),
            key=lambda m: _AUDIENCE_ORDER.get(m.audience, 1),
        )[:QUOTE_TRIES]
    except MeaCulpaError:
        return ()
    moment = (now or dt.datetime.now()).astimezone()  # one moment for both drafts: times in them agree
    # Without the answer, another of its kind takes its place (a list is left out: a
    # template loops over it), so that a template that prints it unguarded still renders.
    own_stand_in = {step_id: _other(step, value)} if step.type != "list" else {}
    quotes: list[Quote] = []
    shown: set[str] = set()
    for message in reading:
        if len(quotes) == QUOTE_MESSAGES:
            break
        tone = "warm" if "warm" in message.tones else message.tones[0]
        for phase in phases_for(message) or (None,):
            drafts = []
            for one, one_plan, stand_ins in ((session, with_plan, _stand_ins(with_plan)),
                                             (without, without_plan, {**_stand_ins(without_plan), **own_stand_in})):
                context = template_context(playbook, one, message, tone=tone, phase=phase, now=moment,
                                           plan_=one_plan, stand_ins=stand_ins)
                try:
                    drafts.append(_drafted(playbook, message, context, names[message.id]).text)
                except MeaCulpaError:
                    break  # not yet: an answer it prints is still to come
            said = _with_the_answer(drafts[0], drafts[1], value) if len(drafts) == 2 else ()
            if said and all(sentence in shown for sentence in said):
                break  # the same words as in a message already shown
            shown.update(said)
            if said:
                quotes.append(Quote(message.id, message.title, said[:QUOTE_SENTENCES], len(said) > QUOTE_SENTENCES))
                break
    return tuple(quotes)


def not_offered(playbook: Playbook, session: Session, message: Message) -> str:
    """Why a message is not offered for this session, in the words of the playbook's own
    questions: what its `when` asks for, and which answers stand in the way."""
    from mea_culpa.playbook import expressions

    source = message.when or ""
    context = _when_context(playbook, session, plan(playbook, session))
    try:
        tree = expressions.expression_tree(source)
    except expressions.ExpressionSyntaxError:
        tree = None
    if tree is None:
        return f"the playbook offers “{message.title}” only when `{source}`, which this session's answers do not meet"
    words = _Condition(playbook, context)
    findings = list(dict.fromkeys(words.findings(tree)))
    found = f"; here {_and_list(findings)}" if findings else ""
    return f"the playbook offers “{message.title}” only when {words.requirement(tree, top=True)}{found}"


def _and_list(parts: list[str]) -> str:
    from mea_culpa.text.filters import sentence_list

    return sentence_list(parts)


class _Condition:
    """A `when` condition put into words: what it requires, and which of its parts the
    answers do not meet. Each part is evaluated by the sandbox like the whole, from a
    source written back from the parsed tree; a part too complex to write back is quoted
    as it is."""

    _OPS = {"eq": "==", "ne": "!=", "gt": ">", "gteq": ">=", "lt": "<", "lteq": "<=", "in": "in", "notin": "not in"}

    def __init__(self, playbook: Playbook, context: Mapping[str, Any]) -> None:
        self.playbook = playbook
        self.context = context

    # --- writing a part back as source, to evaluate it ------------------------------------

    def source(self, node: Any) -> str | None:
        from jinja2 import nodes

        if isinstance(node, nodes.Name):
            return node.name
        if isinstance(node, nodes.Const):
            return repr(node.value)
        if isinstance(node, (nodes.List, nodes.Tuple)):
            items = [self.source(item) for item in node.items]
            return None if None in items else "[" + ", ".join(str(i) for i in items) + "]"
        if isinstance(node, nodes.Getattr):
            inner = self.source(node.node)
            return None if inner is None else f"{inner}.{node.attr}"
        if isinstance(node, nodes.Not):
            inner = self.source(node.node)
            return None if inner is None else f"not ({inner})"
        if isinstance(node, (nodes.And, nodes.Or)):
            left, right = self.source(node.left), self.source(node.right)
            op = "and" if isinstance(node, nodes.And) else "or"
            return None if left is None or right is None else f"({left}) {op} ({right})"
        if isinstance(node, nodes.Test) and not node.args and not node.kwargs:
            inner = self.source(node.node)
            return None if inner is None else f"{inner} is {node.name}"
        if isinstance(node, nodes.Compare) and len(node.ops) == 1 and node.ops[0].op in self._OPS:
            left, right = self.source(node.expr), self.source(node.ops[0].expr)
            return None if left is None or right is None else f"{left} {self._OPS[node.ops[0].op]} {right}"
        return None

    def holds(self, node: Any) -> bool | None:
        from mea_culpa.errors import TemplateError
        from mea_culpa.playbook import expressions

        source = self.source(node)
        if source is None:
            return None
        try:
            return expressions.condition(source, self.context, what="when")
        except TemplateError:
            return None

    # --- words --------------------------------------------------------------------------

    def _step(self, node: Any) -> Step | None:
        from jinja2 import nodes

        while isinstance(node, nodes.Getattr):
            node = node.node
        return self.playbook.step(node.name) if isinstance(node, nodes.Name) else None

    def _question(self, node: Any) -> str:
        step = self._step(node)
        if step is None:
            return f"`{self.source(node) or '…'}`"
        prompt = step.prompt if len(step.prompt) <= 60 else step.prompt[:59].rstrip() + "…"
        return f"“{prompt}”"

    def _label(self, step: Step | None, value: Any) -> str:
        if isinstance(value, (list, tuple)):
            return " or ".join(self._label(step, v) for v in value)
        return f"“{step.choice_label(value) if step else value}”"

    def requirement(self, node: Any, *, top: bool = False) -> str:
        from jinja2 import nodes

        if isinstance(node, (nodes.And, nodes.Or)):
            op = " and " if isinstance(node, nodes.And) else " or "
            text = self.requirement(node.left) + op + self.requirement(node.right)
            return text if top or isinstance(node, nodes.And) else f"either {text}"
        step = self._step(node.expr if isinstance(node, nodes.Compare) else node)
        if isinstance(node, nodes.Name):
            return f"{self._question(node)} is {'yes' if step and step.type == 'yes-no' else 'answered'}"
        if isinstance(node, nodes.Not) and isinstance(node.node, nodes.Name):
            inner = self._step(node.node)
            return f"{self._question(node.node)} is {'no' if inner and inner.type == 'yes-no' else 'not answered'}"
        if isinstance(node, nodes.Test) and node.name == "blaming":
            return f"{self._question(node.node)} puts it on a person"
        if isinstance(node, nodes.Compare) and len(node.ops) == 1 and isinstance(node.ops[0].expr, (nodes.Const, nodes.List, nodes.Tuple)):
            op, other = node.ops[0].op, node.ops[0].expr
            value = other.value if isinstance(other, nodes.Const) else [getattr(i, "value", "…") for i in other.items]
            if isinstance(node.expr, nodes.Getattr) and node.expr.attr == "state":
                marked = self._label(None, value)
                return f"{self._question(node.expr)} is {'not ' if op in ('ne', 'notin') else ''}marked {marked}"
            if op in ("eq", "in"):
                return f"{self._question(node.expr)} is {self._label(step, value)}"
            if op in ("ne", "notin"):
                return f"{self._question(node.expr)} is not {self._label(step, value)}"
        if isinstance(node, nodes.Compare) and len(node.ops) == 1 and node.ops[0].op == "in" and isinstance(node.expr, nodes.Const):
            target = self._step(node.ops[0].expr)
            return f"{self._question(node.ops[0].expr)} includes {self._label(target, node.expr.value)}"
        return f"`{self.source(node) or '…'}`"

    def findings(self, node: Any) -> list[str]:
        """What stands in the way: for each part that does not hold, the answer it reads."""
        from jinja2 import nodes

        if self.holds(node) is not False:
            return []
        if isinstance(node, (nodes.And, nodes.Or)):
            return self.findings(node.left) + self.findings(node.right)
        names = [node] if isinstance(node, nodes.Name) else list(node.find_all(nodes.Name))
        return [self._answer(n) for n in names if self.playbook.step(n.name)] or [
            f"{self.requirement(node)} does not hold"]

    def _answer(self, name: Any) -> str:
        step = self.playbook.step(name.name)
        value = self.context.get(name.name)
        question = self._question(name)
        if value is None or value == "" or value == []:
            return f"{question} has no answer"
        if isinstance(value, bool):
            return f"{question} is {'yes' if value else 'no'}"
        if isinstance(value, Mapping) and "state" in value:
            return f"{question} is marked “{value['state']}”"
        if isinstance(value, list):
            return f"{question} is {' and '.join(self._label(step, v) for v in value)}"
        if step is not None and step.choices:
            return f"{question} is {self._label(step, value)}"
        return f"{question} is answered"


def check_audience(message: Message) -> str:
    """The apology-check audience that reads this message."""
    return CHECK_AUDIENCE.get(message.audience, "customer")
