"""The Asker seam's vocabulary and its two askers that need no person: nobody
(`--no-input`, every answer must come from a file) and a script (the tests drive whole runs
through it). The person at a terminal is asked by cli/prompts.py, which implements the
same seam with questionary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mea_culpa.playbook.model import Step
from mea_culpa.run.runner import NeedsAnswer, Quote, Rephrase, Review, SkipStage
from mea_culpa.run.session import Plan, PlannedStage, Session

Check = Callable[[Any], "str | None"]
Keep = Callable[[dict[str, Any]], None]
Doubt = Callable[[Any], "str | None"]

ACTION_CHOICES = (
    ("done", "Done"),
    ("later", "Later: keep it on my list"),
    ("skipped", "Skip it: not needed here"),
    ("blocked", "Blocked: cannot do it yet"),
)
ACTION_REASONS = {
    "skipped": "Why is it not needed?",
    "blocked": "What is blocking it?",
}
REASON_NEEDED = "A reason is needed, so the record stays honest"
SKIP_KEY = "c-s"  # Ctrl-S, at any question of a stage: skip the rest of it
SKIP_HINT = "Not needed here? Ctrl-S at any question skips the rest of this stage; what you answered is kept."
REPHRASE_KEY = "c-r"  # Ctrl-R, at the question after a quoted answer: rephrase that answer
REPHRASE_HINT = "Ctrl-R to rephrase it"

class NoInputAsker:
    """Asks nothing (`--no-input`, or no terminal): every answer must come from elsewhere."""

    def stage_header(self, planned: PlannedStage, position: int, total: int, plan: Plan) -> None:
        return None

    def ask(self, step: Step, default: Any, check: Check, current: Any = None, keep: Keep | None = None,
            doubt: Doubt | None = None) -> Any:
        raise NeedsAnswer(step.id)

    def quoted(self, step: Step, quotes: Sequence[Quote]) -> None:
        return None

    def stage_review(self, planned: PlannedStage, plan: Plan, session: Session) -> Review:
        return Review("continue")

    def final_review(self, plan: Plan, session: Session) -> Review:
        return Review("continue")


class ScriptedAsker:
    """Answers from a script, for tests: step id -> answer, or a list of answers tried in
    turn (the first ones may be invalid, to exercise re-asking). Reviews come from
    `reviews[stage kind]` (a list consumed in order) and `final` (idem). Where the drafts
    quote an answer is kept in `quotes`, as (step id, quotes)."""

    def __init__(
        self,
        answers: Mapping[str, Any],
        *,
        reviews: Mapping[str, Sequence[Review]] | None = None,
        final: Sequence[Review] = (),
        interrupt_before: str | None = None,
    ) -> None:
        self.answers = {
            k: list(v) if isinstance(v, _Attempts) else [v] for k, v in answers.items()
        }
        self.reviews = {k: list(v) for k, v in (reviews or {}).items()}
        self.final = list(final)
        self.interrupt_before = interrupt_before
        self.asked: list[str] = []
        self.problems: list[tuple[str, str]] = []
        self.doubts: list[tuple[str, str]] = []
        self.headers: list[tuple[str, int, int]] = []
        self.quotes: list[tuple[str, tuple[Quote, ...]]] = []

    def stage_header(self, planned: PlannedStage, position: int, total: int, plan: Plan) -> None:
        self.headers.append((planned.stage.kind, position, total))

    def ask(self, step: Step, default: Any, check: Check, current: Any = None, keep: Keep | None = None,
            doubt: Doubt | None = None) -> Any:
        if step.id == self.interrupt_before:
            raise KeyboardInterrupt
        self.asked.append(step.id)
        attempts = self.answers.get(step.id)
        while attempts:
            raw = attempts.pop(0)
            if isinstance(raw, _Skip):
                raise SkipStage(str(raw))
            if isinstance(raw, _Back):
                raise Rephrase(str(raw))
            problem = check(raw)
            if problem is None:
                line = doubt(raw) if doubt is not None else None
                if line is not None:
                    self.doubts.append((step.id, line))  # a script keeps what it gave
                return raw
            self.problems.append((step.id, problem))
        raise NeedsAnswer(step.id)

    def quoted(self, step: Step, quotes: Sequence[Quote]) -> None:
        self.quotes.append((step.id, tuple(quotes)))

    def stage_review(self, planned: PlannedStage, plan: Plan, session: Session) -> Review:
        queue = self.reviews.get(planned.stage.kind)
        return queue.pop(0) if queue else Review("continue")

    def final_review(self, plan: Plan, session: Session) -> Review:
        return self.final.pop(0) if self.final else Review("continue")


class _Attempts(list):  # type: ignore[type-arg]
    """A list of answers to try in turn (not a list-valued answer)."""


class _Skip(str):
    """In a script, instead of an answer: skip the rest of the stage, for this reason."""


class _Back(str):
    """In a script, instead of an answer: go back and rephrase the answer to this step."""


def back_to(step_id: str) -> _Back:
    """A scripted answer that rephrases the answer to `step_id` first (as Ctrl-R does
    after a quoted answer); the step's next scripted answer is the new one."""
    return _Back(step_id)


def skip_stage(reason: str) -> _Skip:
    """A scripted answer that skips the rest of the stage at this step (ScriptedAsker)."""
    return _Skip(reason)


def attempts(*values: Any) -> _Attempts:
    """Several answers for one step, tried in order by ScriptedAsker."""
    return _Attempts(values)
