"""The Asker seam: how the runner asks a person (questionary), a script, or nobody.

This is the only module that imports questionary / prompt_toolkit, and only inside
`QuestionaryAsker`, so that every non-interactive path stays free of their start-up cost.
Questions use `unsafe_ask`: questionary's `ask` would swallow Ctrl-C and return None.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mea_culpa.playbook import Step
from mea_culpa.runner import NeedsAnswer, Review
from mea_culpa.session import Plan, PlannedStage, Session

ACTION_CHOICES = (
    ("done", "Done"),
    ("later", "Later: keep it on my list"),
    ("skipped", "Skip: not needed here (give a reason)"),
    ("blocked", "Blocked: cannot do it yet (give a reason)"),
)


class NoInputAsker:
    """Asks nothing (`--no-input`, or no terminal): every answer must come from elsewhere."""

    def stage_header(self, planned: PlannedStage, position: int, total: int, plan: Plan) -> None:
        return None

    def ask(self, step: Step, default: Any, check: Callable[[Any], str | None], current: Any = None) -> Any:
        raise NeedsAnswer(step.id)

    def stage_review(self, planned: PlannedStage, plan: Plan, session: Session) -> Review:
        return Review("continue")

    def final_review(self, plan: Plan, session: Session) -> Review:
        return Review("continue")


class ScriptedAsker:
    """Answers from a script, for tests: step id -> answer, or a list of answers tried in
    turn (the first ones may be invalid, to exercise re-asking). Reviews come from
    `reviews[stage kind]` (a list consumed in order) and `final` (idem)."""

    def __init__(
        self,
        answers: Mapping[str, Any],
        *,
        reviews: Mapping[str, Sequence[Review]] | None = None,
        final: Sequence[Review] = (),
        interrupt_before: str | None = None,
    ) -> None:
        self.answers = {k: list(v) if isinstance(v, _Attempts) else [v] for k, v in answers.items()}
        self.reviews = {k: list(v) for k, v in (reviews or {}).items()}
        self.final = list(final)
        self.interrupt_before = interrupt_before
        self.asked: list[str] = []
        self.problems: list[tuple[str, str]] = []
        self.headers: list[tuple[str, int, int]] = []

    def stage_header(self, planned: PlannedStage, position: int, total: int, plan: Plan) -> None:
        self.headers.append((planned.stage.kind, position, total))

    def ask(self, step: Step, default: Any, check: Callable[[Any], str | None], current: Any = None) -> Any:
        if step.id == self.interrupt_before:
            raise KeyboardInterrupt
        self.asked.append(step.id)
        attempts = self.answers.get(step.id)
        while attempts:
            raw = attempts.pop(0)
            problem = check(raw)
            if problem is None:
                return raw
            self.problems.append((step.id, problem))
        raise NeedsAnswer(step.id)

    def stage_review(self, planned: PlannedStage, plan: Plan, session: Session) -> Review:
        queue = self.reviews.get(planned.stage.kind)
        return queue.pop(0) if queue else Review("continue")

    def final_review(self, plan: Plan, session: Session) -> Review:
        return self.final.pop(0) if self.final else Review("continue")


class _Attempts(list):  # type: ignore[type-arg]
    """A list of answers to try in turn (not a list-valued answer)."""


def attempts(*values: Any) -> _Attempts:
    """Several answers for one step, tried in order by ScriptedAsker."""
    return _Attempts(values)


class QuestionaryAsker:
    """The real thing: one questionary widget per step type, at a terminal."""

    def __init__(self) -> None:
        import questionary

        self.q = questionary
        from questionary import Style

        self.style = Style([("qmark", "fg:#5f87af bold"), ("question", "bold"), ("answer", "fg:#5faf5f"),
                            ("instruction", "fg:#808080"), ("pointer", "fg:#5f87af bold"), ("highlighted", "fg:#5f87af")])

    # --- display -----------------------------------------------------------------------

    def stage_header(self, planned: PlannedStage, position: int, total: int, plan: Plan) -> None:
        from mea_culpa import ui

        ui.stage_header(planned, position, total)

    # --- questions ---------------------------------------------------------------------

    def _validator(self, check: Callable[[Any], str | None], convert: Callable[[str], Any] = lambda s: s) -> Callable[[str], Any]:
        def validate(text: str) -> bool | str:
            problem = check(convert(text))
            return True if problem is None else problem

        return validate

    def ask(self, step: Step, default: Any, check: Callable[[Any], str | None], current: Any = None) -> Any:
        start = current if current is not None else default
        q = self.q
        message = step.prompt + ("" if step.required else " (optional)")
        if step.help:
            from mea_culpa import ui

            ui.console().print(f"[dim]{step.help}[/dim]")
        kind = step.type
        if kind in ("choice",):
            choices = [q.Choice(c.label, value=c.value, description=c.help or None) for c in step.choices]
            if not step.required:
                choices.append(q.Choice("(no answer)", value=None))
            default_value = start if any(c.value == start for c in step.choices) else None
            return q.select(message, choices=choices, default=default_value, style=self.style,
                            instruction="(↑↓ then Enter)").unsafe_ask()
        if kind == "multi-choice":
            chosen = set(start or [])
            choices = [q.Choice(c.label, value=c.value, checked=c.value in chosen, description=c.help or None) for c in step.choices]
            return q.checkbox(message, choices=choices, style=self.style, validate=lambda v: check(v) or True,
                              instruction="(Space to tick, Enter when done)").unsafe_ask()
        if kind == "yes-no":
            return q.confirm(message, default=bool(start) if start is not None else True, style=self.style).unsafe_ask()
        if kind == "action":
            return self._action(step, message, start)
        if kind == "list":
            return self._list(step, message, start or [], check)
        if kind == "long-text":
            return self._long_text(message, start, check)
        hint = {"date": " (e.g. 2026-03-31, today, yesterday, in 3 days)",
                "datetime": " (e.g. now, 14:30, yesterday 09:00, 2026-03-31 14:30)"}.get(kind, "")
        text_default = "" if start is None else str(start).replace("T", " ") if kind == "datetime" else str(start)
        answer = q.text(message + hint, default=text_default, validate=self._validator(check), style=self.style).unsafe_ask()
        return answer

    def _long_text(self, message: str, start: Any, check: Callable[[Any], str | None]) -> str:
        from prompt_toolkit.key_binding import KeyBindings

        bindings = KeyBindings()

        @bindings.add("enter", eager=True)
        def _(event: Any) -> None:
            # Enter on an empty last line finishes; otherwise it starts a new line. Esc then
            # Enter (and Alt+Enter) finish too, and Ctrl-X Ctrl-E opens $VISUAL / $EDITOR.
            buffer = event.current_buffer
            if buffer.document.is_cursor_at_the_end and (buffer.text.endswith("\n") or not buffer.text.strip()):
                buffer.text = buffer.text.rstrip("\n")
                buffer.validate_and_handle()
            else:
                buffer.insert_text("\n")

        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "editor"
        instruction = f"(Enter on an empty line to finish · Ctrl-X Ctrl-E to write in {os.path.basename(editor)})\n"
        return self.q.text(message, default="" if start is None else str(start), multiline=True,
                           instruction=instruction, validate=self._validator(check), style=self.style,
                           key_bindings=bindings, enable_open_in_editor=True).unsafe_ask()

    def _action(self, step: Step, message: str, start: Any) -> dict[str, str]:
        q = self.q
        current_state = start.get("state") if isinstance(start, dict) else None
        state = q.select(message, choices=[q.Choice(label, value=value) for value, label in ACTION_CHOICES],
                         default=current_state if current_state in dict(ACTION_CHOICES) else None,
                         style=self.style, instruction="(↑↓ then Enter)").unsafe_ask()
        reason = ""
        if state in ("skipped", "blocked"):
            reason = q.text("Why?" if state == "skipped" else "What is blocking it?",
                            validate=lambda t: True if t.strip() else "A reason is needed, so the record stays honest",
                            style=self.style).unsafe_ask()
        elif state == "later":
            reason = q.text("Anything to note for later? (optional)", style=self.style).unsafe_ask()
        return {"state": state, "reason": reason.strip()}

    def _list(self, step: Step, message: str, start: list[dict[str, Any]], check: Callable[[Any], str | None]) -> list[dict[str, Any]]:
        from mea_culpa import answers as answers_mod
        from mea_culpa import ui

        q = self.q
        items = [dict(i) for i in start]
        ui.console().print(f"[bold]{message}[/bold]")
        if items:
            ui.console().print("[dim]So far: " + ui.describe_value(step, items, limit=200) + "[/dim]")
        while True:
            minimum = step.min_items or (1 if step.required else 0)
            if len(items) >= minimum:
                more = q.confirm("Add an item?" if not items else "Add another?", default=not items, style=self.style).unsafe_ask()
                if not more:
                    problem = check(items)
                    if problem is None:
                        return items
                    ui.notice(problem)
            item: dict[str, Any] = {}
            for field in step.fields:
                probe = Step(id=f"{step.id}.{field.id}", type=field.type if field.type != "date" else "date",
                             prompt=field.prompt, stage=step.stage, required=field.required, choices=field.choices)

                def field_check(raw: Any, probe: Step = probe) -> str | None:
                    try:
                        answers_mod.coerce(probe, raw)
                    except answers_mod.AnswerProblem as exc:
                        return str(exc)
                    return None

                item[field.id] = self.ask(probe, None, field_check)
            items.append(item)

    # --- reviews -----------------------------------------------------------------------

    def _pick_step(self, plan: Plan) -> str | None:
        from mea_culpa import ui

        q = self.q
        choices = []
        for planned in plan.stages:
            for p in planned.steps:
                if p.record is None or p.state == "not-applicable":
                    continue
                value = ui.describe_value(p.step, plan.context.get(p.step.id), limit=40)
                if p.record.state != "answered":
                    value = p.record.state
                choices.append(q.Choice(f"{planned.stage.title}: {p.step.prompt} [{value}]", value=p.step.id))
        choices.append(q.Choice("(never mind)", value=None))
        return q.select("Which answer?", choices=choices, style=self.style).unsafe_ask()

    def stage_review(self, planned: PlannedStage, plan: Plan, session: Session) -> Review:
        q = self.q
        choice = q.select(
            f"{planned.stage.title}: done. What next?",
            choices=[
                q.Choice("Continue", value="continue"),
                q.Choice("Change an earlier answer", value="edit"),
                q.Choice("Skip this stage (give a reason)", value="skip"),
                q.Choice("Save and quit (resume later)", value="quit"),
            ],
            style=self.style,
            instruction="(↑↓ then Enter)",
        ).unsafe_ask()
        if choice == "edit":
            step_id = self._pick_step(plan)
            return Review("edit", step_id) if step_id else self.stage_review(planned, plan, session)
        if choice == "skip":
            reason = q.text("Why skip this stage?", validate=lambda t: True if t.strip() else "A reason is needed",
                            style=self.style).unsafe_ask()
            return Review("skip", reason=reason.strip())
        return Review(choice)

    def final_review(self, plan: Plan, session: Session) -> Review:
        from mea_culpa import ui

        ui.answers_table(plan, title="Your session, before you finish")
        q = self.q
        choice = q.select(
            "Finish this session?",
            choices=[q.Choice("Finish", value="continue"), q.Choice("Change an answer", value="edit"),
                     q.Choice("Save and quit (resume later)", value="quit")],
            style=self.style,
        ).unsafe_ask()
        if choice == "edit":
            step_id = self._pick_step(plan)
            return Review("edit", step_id) if step_id else self.final_review(plan, session)
        return Review(choice)

    def choose_playbook(self, entries: Sequence[Any]) -> str:
        q = self.q
        choices = [q.Choice(f"{e.title}  ({e.id})", value=e.id, description=e.summary or None) for e in entries]
        return q.select("Which kind of mistake is it?", choices=choices, style=self.style,
                        instruction="(↑↓ then Enter)").unsafe_ask()

    def text(self, message: str, default: str = "") -> str:
        return self.q.text(message, default=default, style=self.style).unsafe_ask()
