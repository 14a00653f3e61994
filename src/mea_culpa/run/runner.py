"""Walks a session through a playbook with an Asker, committing every change as it goes.

The runner never prints. It asks through the `Asker` seam (questionary at a terminal, a
script in tests, nothing at all with --no-input) and hands every transition to the store
before the next question, so that an interrupted run loses nothing that was answered.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mea_culpa.errors import AnswersError, SecurityError, TemplateError
from mea_culpa.playbook import answers as answers_mod
from mea_culpa.playbook.model import Playbook, Step
from mea_culpa.run import session as sm
from mea_culpa.run.session import Change, Plan, PlannedStage, Session


class Store(Protocol):
    """Where every transition is committed. It is handed the playbook too: what a session
    leaves open (run.session.open_items) depends on it, and the journal keeps that on write."""

    def apply(self, session: Session, change: Change, *, playbook: Playbook | None = None) -> None: ...


@dataclass(frozen=True, slots=True)
class Review:
    """What the user chose at the end of a stage (or of the whole session)."""

    action: str  # continue | edit | quit
    step_id: str | None = None  # for edit


@dataclass(frozen=True, slots=True)
class Quote:
    """Where a draft will quote an answer just given: the message, and the sentences of
    it that carry the answer (`more` when the draft has further ones)."""

    message_id: str
    title: str
    sentences: tuple[str, ...]
    more: bool = False


# Where the drafts quote an answer (messages.quotes.answer_quotes): handed to the runner
# by the command line, since the run layer does not draft.
Quoter = Callable[[Playbook, Session, str], Sequence[Quote]]


class NeedsAnswer(Exception):
    """Raised by an asker that cannot ask (no terminal, --no-input)."""


class SkipStage(Exception):
    """Raised by an asker instead of an answer: the person skips the rest of the stage,
    with a reason. What the stage already has stays answered."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Rephrase(Exception):
    """Raised by an asker instead of an answer: the person wants to change the answer
    to `step_id` (the one just quoted) before this question."""

    def __init__(self, step_id: str) -> None:
        super().__init__(step_id)
        self.step_id = step_id


class SaveAndQuit(Exception):
    """The user chose "save and quit" at a review: the session stays in progress."""


class Asker(Protocol):
    """The one seam between the runner and the person. Implementations: run/asking.py (nobody, a script) and cli/prompts.py (a person)."""

    def stage_header(self, planned: PlannedStage, position: int, total: int, plan: Plan) -> None: ...

    def ask(self, step: Step, default: Any, check: Callable[[Any], str | None], current: Any = None,
            keep: Callable[[dict[str, Any]], None] | None = None, doubt: Callable[[Any], str | None] | None = None) -> Any:
        """Return a raw answer for `step` that `check` accepts (check returns the problem or
        None), or raise SkipStage when the person skips the rest of the stage. For a list,
        `keep` saves the list as it grows, field by field ({"items": [...], "item": {...}}),
        and `current` may be such a partial list to go on with. `doubt` gives one line when
        an accepted answer looks impossible (a time still to come): the person may keep it."""
        ...

    def quoted(self, step: Step, quotes: Sequence[Quote]) -> None:
        """Show where the drafts will quote the answer just given to `step`. The next
        `ask` may raise Rephrase(step.id) to change it at once."""
        ...

    def stage_review(self, planned: PlannedStage, plan: Plan, session: Session) -> Review: ...

    def final_review(self, plan: Plan, session: Session) -> Review: ...


class Runner:
    """One run of a session. `prefilled` answers (already checked) win over the session's."""

    def __init__(
        self,
        playbook: Playbook,
        session: Session,
        store: Store,
        asker: Asker,
        *,
        prefilled: Mapping[str, tuple[Any, str]] | None = None,
        skip_stages: Mapping[str, str] | None = None,
        clock: Callable[[], str] = sm.utc_now,
        quotes: Quoter | None = None,
    ) -> None:
        self.playbook = playbook
        self.session = session
        self.store = store
        self.asker = asker
        self.prefilled = dict(prefilled or {})
        self.skip_stages = dict(skip_stages or {})  # stage kind -> reason: skipped when reached (an answers file)
        self.clock = clock
        self.quotes = quotes
        self.missing: dict[str, str] = {}  # step id -> why nobody could answer it (no input)
        self._plan: Plan | None = None
        self._plan_of: Session | None = None

    # every transition goes through here: the new state is committed before anything else
    def _commit(self, result: tuple[Session, Change]) -> None:
        session, change = result
        self.store.apply(session, change, playbook=self.playbook)
        self.session = session

    def plan(self) -> Plan:
        # Sessions are immutable and every transition makes a new one, so a plan stays
        # right for as long as the session it was made from is the current one.
        if self._plan is None or self._plan_of is not self.session:
            self._plan, self._plan_of = sm.plan(self.playbook, self.session), self.session
        return self._plan

    def run(self) -> Session:
        """Ask until every applicable stage is complete or skipped; returns the final session.
        Raises KeyboardInterrupt / SaveAndQuit with everything so far committed."""
        self._apply_prefilled()
        shown: set[str] = set()
        while True:
            current = self.plan()
            pending = self._next_stage(current)
            if pending is None:
                if self._finish(current):
                    return self.session
                continue
            kind = pending.stage.kind
            if kind not in self.session.stages or self.session.stages[kind].state != "entered":
                self._commit(sm.enter_stage(self.session, kind, now=self.clock()))
            if kind in self.skip_stages:
                self._commit(sm.skip_stage(self.session, kind, self.skip_stages.pop(kind), now=self.clock()))
                continue
            if kind not in shown:
                applicable = [s for s in self.plan().stages if s.applicable]
                position = next(i for i, s in enumerate(applicable, 1) if s.stage.kind == kind)
                self.asker.stage_header(pending, position, len(applicable), self.plan())
                shown.add(kind)
            self._ask_stage(kind)
            if self.session.stages[kind].state == "skipped":
                continue  # skipped from inside: nothing left to review
            review = self.asker.stage_review(self._planned(kind), self.plan(), self.session)
            self._handle_review(review, kind)

    def _apply_prefilled(self) -> None:
        for step_id, (value, source) in self.prefilled.items():
            step = self.playbook.step(step_id)
            if step is None:
                continue
            existing = self.session.steps.get(step_id)
            if existing is not None and sm.step_value(existing) == value:
                continue
            self._commit(sm.set_answer(self.session, step, value, now=self.clock(), source=source))

    def _planned(self, kind: str) -> PlannedStage:
        return next(s for s in self.plan().stages if s.stage.kind == kind)

    def _next_stage(self, plan: Plan) -> PlannedStage | None:
        for planned in plan.stages:
            if not planned.applicable:
                continue
            record = planned.record
            if record is not None and record.state == "skipped":
                continue
            open_steps = [p for p in planned.steps if p.state == "pending" and p.step.id not in self.missing]
            if record is not None and record.state == "completed" and not open_steps:
                continue
            return planned
        return None

    def _ask_stage(self, kind: str) -> None:
        # Re-plan after every answer: a `when` may switch on a step later in this stage.
        rephrase: Step | None = None  # an answer just given, to change before going on
        while True:
            if rephrase is not None:
                step, again, rephrase = rephrase, True, None
            else:
                planned = self._planned(kind)
                found = next((p.step for p in planned.steps if p.state == "pending" and p.step.id not in self.missing), None)
                if found is None:
                    return
                step, again = found, False
            try:
                self._ask_step(step, again=again)
            except Rephrase as back:
                rephrase = self.playbook.step(back.step_id)
            except SkipStage as skip:
                self._keep_the_items(step)
                self._commit(sm.skip_stage(self.session, kind, skip.reason, now=self.clock()))
                return

    def _keep_the_items(self, step: Step) -> None:
        """A stage skipped inside a list keeps the list's items that are whole (an item cut
        short is whole when its required fields are there) as the answer."""
        partial = sm.partial_answer(self.session, step.id) if step.type == "list" else None
        if not partial:
            return
        items = [dict(i) for i in partial.get("items") or [] if isinstance(i, dict)]
        item = partial.get("item") or {}
        if isinstance(item, dict) and item and all(f.id in item for f in step.fields if f.required):
            items.append({f.id: item.get(f.id) for f in step.fields})
        if not items:
            return
        try:
            value = answers_mod.coerce(step, items)
        except answers_mod.AnswerProblem:  # fewer than min_items: the items stay in the session's log
            return
        self._commit(sm.set_answer(self.session, step, value, now=self.clock(), source="typed"))

    def _ask_step(self, step: Step, *, again: bool = False) -> None:
        current = self.plan()
        try:
            default = sm.default_for(step, current)
        except SecurityError:
            raise  # refused by the sandbox: the run stops with one line
        except TemplateError:  # a default that cannot be rendered must not block the question
            default = None
        existing = self.session.steps.get(step.id)
        current_value = sm.step_value(existing) if existing else None
        keep = None
        if step.type == "list":
            partial = sm.partial_answer(self.session, step.id)
            if partial is not None and not again:
                current_value, again = partial, True

            def keep(value: dict[str, Any]) -> None:
                self._commit(sm.keep_partial(self.session, step, value, now=self.clock()))

        check = functools.partial(answers_mod.problem, step)
        prompts = {s.id: s.prompt for s in self.playbook.steps}
        doubt = functools.partial(answers_mod.doubt, step, answers=current.context, prompts=prompts)

        try:
            raw = self.asker.ask(step, default, check, current_value if again else None, keep=keep, doubt=doubt)
        except NeedsAnswer:
            if default is not None:
                try:
                    value = answers_mod.coerce(step, default)
                except answers_mod.AnswerProblem as exc:
                    self.missing[step.id] = f"the default does not fit: {exc}"
                    return
                self._commit(sm.set_answer(self.session, step, value, now=self.clock(), source="default"))
            elif step.required:
                self.missing[step.id] = f"an answer is needed ({step.prompt})"
            else:
                self._commit(sm.set_answer(self.session, step, None, now=self.clock(), source="default"))
            return
        value = answers_mod.coerce(step, raw)  # the asker already checked it; this normalises
        self._commit(sm.set_answer(self.session, step, value, now=self.clock(), source="typed"))
        if self.quotes is not None:
            quotes = self.quotes(self.playbook, self.session, step.id)
            if quotes:
                self.asker.quoted(step, quotes)

    def _handle_review(self, review: Review, kind: str) -> None:
        if review.action == "quit":
            raise SaveAndQuit()
        if review.action == "edit" and review.step_id:
            step = self.playbook.step(review.step_id)
            if step is not None:
                self._ask_step(step, again=True)
            return
        planned = self._planned(kind)
        if all(p.state != "pending" or p.step.id in self.missing for p in planned.steps):
            self._commit(sm.complete_stage(self.session, kind, now=self.clock()))

    def _finish(self, plan: Plan) -> bool:
        if self.missing:
            raise AnswersError(
                [f"{step_id}: {why}" for step_id, why in self.missing.items()],
                source="missing answer",
                hint="give them with --answers FILE or --set ID=VALUE, or run at a terminal without --no-input",
            )
        review = self.asker.final_review(plan, self.session)
        if review.action == "quit":
            raise SaveAndQuit()
        if review.action == "edit" and review.step_id:
            step = self.playbook.step(review.step_id)
            if step is not None:
                self._ask_step(step, again=True)
            return False
        if self.session.status != "completed":
            self._commit(sm.set_status(self.session, "completed", now=self.clock()))
        return True
