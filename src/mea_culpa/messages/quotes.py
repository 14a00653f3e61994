"""What a draft will say with an answer, shown at the question: the sentences of the
messages the session offers that change with the answer just given, found by drafting
each message with the answer and without it. A preview never stops a run."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mea_culpa.messages import drafting
from mea_culpa.playbook.model import Playbook, Step
from mea_culpa.run.session import Plan, Session, plan

if TYPE_CHECKING:
    from mea_culpa.run.runner import Quote


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

    env = drafting._environment(roots)
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
    reads = _template_reads(tuple(drafting._roots(playbook)), name)
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
        if planned is None or not planned.applicable or not drafting.filled(value) or value == []:
            return ()
        without, _ = clear_answer(session, step, now=session.updated_at)
        without_plan = plan(playbook, without)
        names = {m.id: drafting._template_name(playbook, m) for m in drafting.available(playbook, session, with_plan)}
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
        for phase in drafting.phases_for(message) or (None,):
            drafts = []
            for one, one_plan, stand_ins in ((session, with_plan, _stand_ins(with_plan)),
                                             (without, without_plan, {**_stand_ins(without_plan), **own_stand_in})):
                context = drafting.template_context(playbook, one, message, tone=tone, phase=phase, now=moment,
                                           plan_=one_plan, stand_ins=stand_ins)
                try:
                    drafts.append(drafting._drafted(playbook, message, context, names[message.id]).text)
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


