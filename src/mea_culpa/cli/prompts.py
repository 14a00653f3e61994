"""The person at the terminal: the questionary asker (every widget of a run, the stage
headers and reviews, Ctrl-S to skip a stage and Ctrl-R to rephrase a quoted answer), and
the chooser other commands use. The only module that imports questionary; prompt_toolkit
is imported here and by ui.py's screen helpers. Questions use `unsafe_ask`: questionary's
`ask` would swallow Ctrl-C and return None.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import shlex
from collections.abc import Callable, Sequence
from typing import Any

from mea_culpa.playbook.model import Step
from mea_culpa.run.asking import (
    ACTION_CHOICES,
    ACTION_REASONS,
    REASON_NEEDED,
    REPHRASE_HINT,
    REPHRASE_KEY,
    SKIP_HINT,
    SKIP_KEY,
    Check,
    Doubt,
    Keep,
)
from mea_culpa.run.runner import Quote, Rephrase, Review, SkipStage
from mea_culpa.run.session import Plan, PlannedStage, Session

# questionary turns a Choice whose value is None into its title, so "no answer" and
# "never mind" need a value of their own that no playbook choice can have.
_NOTHING = "\x00nothing"
_SELECT_HINT = "(↑↓ then Enter)"



class _SkipPressed(Exception):
    """Ctrl-S at a question: the person may want to skip the rest of the stage."""


class _RephrasePressed(Exception):
    """Ctrl-R at the question after a quoted answer: the person wants to rephrase it."""


def choose(message: str, choices: Sequence[tuple[str, str]]) -> str | None:
    """One choice among (value, label) pairs at the terminal, for commands outside a run
    (e.g. `draft` picking a message). Ctrl-C raises KeyboardInterrupt."""
    return QuestionaryAsker().choose(message, choices)


def stop_prompt() -> bool:
    """Stop the question on screen as Ctrl-C would, for a signal handler (SIGTERM, SIGHUP).

    Raising KeyboardInterrupt straight from the handler can land anywhere in
    prompt_toolkit's event loop and skip its clean-up, leaving the terminal in raw mode
    with bracketed paste on. Returns False when no question is being asked (raise then)."""
    import sys

    if "prompt_toolkit" not in sys.modules:
        return False
    from prompt_toolkit.application.current import get_app_or_none

    app = get_app_or_none()
    if app is None or not app.is_running or app.is_done:
        return False
    app.exit(exception=KeyboardInterrupt, style="class:aborting")
    return True


def editor_name() -> str:
    """The editor Ctrl-X Ctrl-E opens (prompt_toolkit reads $VISUAL, then $EDITOR)."""
    command = os.environ.get("VISUAL") or os.environ.get("EDITOR") or ""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    return os.path.basename(words[0]) if words else "your editor"


def long_text_instruction() -> str:
    return (f"Enter on an empty line to finish (or Esc then Enter) · "
            f"Ctrl-X Ctrl-E to write it in {editor_name()}")


def resolved_when(step_type: str, raw: Any, stored: Any) -> str | None:
    """What typed date words resolved to ("in 3 days" -> "Wed 25 Nov 2026"), shown under
    the answer so that the user sees the date that is kept; None when nothing to add."""
    if not isinstance(raw, str) or not isinstance(stored, str):
        return None
    typed = raw.strip().replace("T", " ")
    try:
        if step_type == "date":
            day = dt.date.fromisoformat(stored)
            return None if typed == stored else day.strftime("%a %d %b %Y")
        if step_type == "datetime":
            moment = dt.datetime.fromisoformat(stored)
            return None if typed == stored.replace("T", " ") else moment.strftime("%a %d %b %Y %H:%M")
    except ValueError:
        return None
    return None


def _as_stored(step: Step, value: Any) -> Any:
    """A default or current answer in its stored form, to pre-fill a widget with. A
    templated default arrives as text ("False", "email"), which `bool()` or `set()` would
    misread; one that does not fit is offered as typed text, or not at all."""
    from mea_culpa.playbook import answers as answers_mod

    if value is None:
        return None
    try:
        return answers_mod.coerce(step, value)
    except answers_mod.AnswerProblem:
        typed = step.type in ("text", "long-text", "number", "date", "datetime")
        return value if typed and isinstance(value, str) else None


class QuestionaryAsker:
    """The real thing: one questionary widget per step type, at a terminal.

    Question lines go through prompt_toolkit (standard output, like the widgets); the
    longer help before a question goes through rich (standard error), which wraps it."""

    def __init__(self) -> None:
        import questionary

        self.q = questionary
        self.style = questionary.Style([
            ("qmark", "fg:#5f87af bold"), ("question", "bold"), ("answer", "fg:#5faf5f"),
            ("instruction", "fg:#808080"), ("pointer", "fg:#5f87af bold"),
            ("highlighted", "fg:#5f87af"),
        ])
        self._stage_title: str | None = None  # the stage whose questions are being asked: Ctrl-S skips it
        self._quoted: str | None = None  # the step whose answer was just quoted: the next question offers Ctrl-R
        self._back_to: str | None = None  # while a question is asked: the step Ctrl-R goes back to

    # --- display -----------------------------------------------------------------------

    def stage_header(self, planned: PlannedStage, position: int, total: int, plan: Plan) -> None:
        from mea_culpa.cli import ui

        ui.stage_header(planned, position, total, hint=SKIP_HINT)
        self._stage_title = planned.stage.title

    # --- Ctrl-S: skip the rest of the stage -----------------------------------------------

    def _unsafe_ask(self, question: Any) -> Any:
        """Ask a question; inside a stage, Ctrl-S ends it with _SkipPressed, and after a
        quoted answer Ctrl-R with _RephrasePressed. Ctrl-C raises KeyboardInterrupt, as
        questionary's `unsafe_ask` does."""
        from prompt_toolkit.key_binding import KeyBindings, merge_key_bindings

        def skip(event: Any) -> None:
            event.app.exit(exception=_SkipPressed(), style="class:aborting")

        def rephrase(event: Any) -> None:
            # Elsewhere Ctrl-R does nothing, rather than open prompt_toolkit's search of a
            # history these questions do not keep.
            if self._back_to is not None:
                event.app.exit(exception=_RephrasePressed(), style="class:aborting")

        keys = KeyBindings()
        if self._stage_title is not None:
            keys.add(SKIP_KEY, eager=True)(skip)
        keys.add(REPHRASE_KEY, eager=True)(rephrase)
        app = question.application
        # later bindings win over earlier ones: these keys over a widget's own
        app.key_bindings = merge_key_bindings([app.key_bindings, keys]) if app.key_bindings else keys
        return question.unsafe_ask()

    def _skip_reason(self) -> str | None:
        """After Ctrl-S: the reason to skip the rest of the stage, or None to go back to the
        question. Going back is first, so that Enter, or Ctrl-S pressed out of habit to
        save, changes nothing."""
        title, self._stage_title = self._stage_title, None  # no Ctrl-S inside this little menu
        try:
            picked = self._select(
                f"Skip the rest of “{title}”? Everything you answered is already saved.",
                [self.q.Choice("No, back to the question", value="back"),
                 self.q.Choice(f"Yes, skip the rest of “{title}”", value="skip")],
            )
            if picked != "skip":
                return None
            reason: str = self._text("Why skip it? (kept with the record)",
                                     check=lambda t: None if str(t).strip() else REASON_NEEDED)
            return reason.strip()
        finally:
            self._stage_title = title

    def _say(self, *fragments: tuple[str, str], indent: int = 0) -> None:
        """(style, text) fragments in the widgets' own style, on the widgets' own output,
        wrapped at spaces to the terminal's width with a hanging indent of two columns."""
        from prompt_toolkit import print_formatted_text
        from prompt_toolkit.application.current import get_app_session
        from prompt_toolkit.formatted_text import FormattedText

        width = max(get_app_session().output.get_size().columns - 1, 16)
        lines: list[list[tuple[str, str]]] = []
        line, column, words = [("", " " * indent)], indent, 0
        for style, text in fragments:
            for word in text.split():
                if words and column + 1 + len(word) > width:
                    lines.append(line)
                    line, column, words = [("", "  ")], 2, 0
                piece = f" {word}" if words else word
                if line[-1][0] == style:  # one run per style: no escape codes inside words
                    line[-1] = (style, line[-1][1] + piece)
                else:
                    line.append((style, piece))
                column += len(piece)
                words += 1
        lines.append(line)
        for one in lines:
            print_formatted_text(FormattedText(one), style=self.style)

    def _question_line(self, message: str, answer: str = "") -> None:
        self._say(("class:qmark", "?"), ("class:question", message), ("class:answer", answer))

    def _note(self, text: str) -> None:
        self._say(("class:instruction", text), indent=2)

    def _help(self, text: str) -> None:
        from rich.markup import escape

        from mea_culpa.cli import ui

        ui.console().print(f"[dim]{escape(text)}[/dim]")

    # --- questions ---------------------------------------------------------------------

    def _described(self, text: str | None) -> str | None:
        """A choice's description, wrapped at spaces to the terminal's width: questionary
        writes it on one line after "  Description: ", which the terminal would cut
        mid-word. Continuation lines start under the first word."""
        import textwrap

        from prompt_toolkit.application.current import get_app_session

        if not text:
            return None
        lead = len("  Description: ")
        width = max(get_app_session().output.get_size().columns - 1 - lead, 20)
        lines = textwrap.wrap(" ".join(text.split()), width=width, break_long_words=False, break_on_hyphens=False)
        return ("\n" + " " * lead).join(lines)

    def _validator(self, check: Check) -> Callable[[str], bool | str]:
        def validate(text: str) -> bool | str:
            problem = check(text)
            return True if problem is None else problem

        return validate

    def _text(self, message: str, *, default: str = "", check: Check | None = None,
              **kwargs: Any) -> str:
        # Validate on Enter only: an error flashing up while "yesterday" is half typed
        # ("'yes' is not a date") is noise for someone who is already stressed.
        answer: str = self._unsafe_ask(self.q.text(
            message, default=default, validate=self._validator(check) if check else None,
            style=self.style, validate_while_typing=False, **kwargs,
        ))
        return answer

    def _select(self, message: str, choices: list[Any], *, default: Any = None,
                instruction: str = _SELECT_HINT) -> Any:
        picked = self._unsafe_ask(self.q.select(message, choices=choices, default=default, style=self.style,
                                                instruction=instruction))
        return None if picked == _NOTHING else picked

    def ask(self, step: Step, default: Any, check: Check, current: Any = None, keep: Keep | None = None,
            doubt: Doubt | None = None) -> Any:
        back, self._quoted = self._quoted, None  # Ctrl-R goes back from this question only
        self._back_to = back
        try:
            if step.type == "list":
                return self._list(step, current, check, keep)
            return self._skippable(lambda: self._ask(step, default, check, current, doubt))
        except _RephrasePressed:
            assert back is not None  # the key is bound only when there is an answer to go back to
            raise Rephrase(back) from None
        finally:
            self._back_to = None

    def quoted(self, step: Step, quotes: Sequence[Quote]) -> None:
        from mea_culpa.cli import ui

        ui.answer_quotes(quotes, hint=REPHRASE_HINT)
        self._quoted = step.id

    def _skippable(self, question: Callable[[], Any]) -> Any:
        """Ask; after Ctrl-S, offer to skip the rest of the stage, and ask again if not."""
        while True:
            try:
                return question()
            except _SkipPressed:
                reason = self._skip_reason()
                if reason is not None:
                    raise SkipStage(reason) from None

    def _ask(self, step: Step, default: Any, check: Check, current: Any = None, doubt: Doubt | None = None) -> Any:
        start = _as_stored(step, current if current is not None else default)
        q = self.q
        message = step.prompt + ("" if step.required else " (optional)")
        if step.help:
            self._help(step.help)
        kind = step.type
        if kind == "choice":
            choices = [q.Choice(c.label, value=c.value, description=self._described(c.help))
                       for c in step.choices]
            if not step.required:
                choices.append(q.Choice("(no answer)", value=_NOTHING))
            known = any(c.value == start for c in step.choices)
            return self._select(message, choices, default=start if known else None)
        if kind == "multi-choice":
            return self._multi_choice(step, message, start, check)
        if kind == "yes-no":
            return self._unsafe_ask(q.confirm(message, default=bool(start) if start is not None else True,
                                              style=self.style))
        if kind == "action":
            return self._action(step, start)
        if kind == "long-text":
            return self._long_text(message, start, check)
        hint = {"date": " (e.g. 2026-03-31, today, friday, in 2 weeks, end of month)",
                "datetime": " (e.g. now, 14:30, yesterday 09:00, 2026-03-31 14:30)"}.get(kind, "")
        text_default = "" if start is None else str(start.get("typed", "") if isinstance(start, dict) else start)
        if kind == "datetime":
            text_default = text_default.replace("T", " ")
        while True:
            answer = self._text(message + hint, default=text_default, check=check)
            if kind not in ("date", "datetime"):
                return answer
            from mea_culpa.playbook import answers as answers_mod

            try:
                shown = resolved_when(kind, answer, answers_mod.coerce(step, answer))
            except answers_mod.AnswerProblem:  # pragma: no cover - the validator let it in
                shown = None
            if shown:
                self._note(f"→ {shown}")
            line = doubt(answer) if doubt is not None else None
            if line is None:
                return answer
            self._note(f"! {line}")
            keep = self._select("Keep it, or change it?", [self.q.Choice("Change it", value="change"),
                                                          self.q.Choice("Keep it", value="keep")])
            if keep == "keep":
                return answer
            text_default = answer

    def _multi_choice(self, step: Step, message: str, start: Any, check: Check) -> list[str]:
        chosen = set(start or [])
        choices = [self.q.Choice(c.label, value=c.value, checked=c.value in chosen,
                                 description=self._described(c.help)) for c in step.choices]
        # questionary shows "done (2 selections)" after the answer; the labels say more,
        # so the widget is erased when done and the question is written again with them.
        question = self.q.checkbox(message, choices=choices, style=self.style,
                                   validate=lambda v: check(v) or True, erase_when_done=True,
                                   instruction="(Space to tick, Enter when done)")
        try:
            picked: list[str] = self._unsafe_ask(question)
        except KeyboardInterrupt:
            self._question_line(message)
            raise
        labels = [step.choice_label(v) for v in picked]
        self._question_line(message, ", ".join(labels) if labels else "(none)")
        return picked

    def _long_text(self, message: str, start: Any, check: Check) -> str:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.document import Document
        from prompt_toolkit.key_binding import KeyBindings
        from prompt_toolkit.lexers import SimpleLexer
        from questionary.prompts.common import build_validator

        bindings = KeyBindings()

        @bindings.add("enter", eager=True)
        def _(event: Any) -> None:
            # Enter on an empty last line finishes; otherwise it starts a new line. Esc then
            # Enter (and Alt+Enter) finish too, and Ctrl-X Ctrl-E opens $VISUAL / $EDITOR.
            buffer = event.current_buffer
            at_end = buffer.document.is_cursor_at_the_end
            if at_end and (buffer.text.endswith("\n") or not buffer.text.strip()):
                buffer.text = buffer.text.rstrip("\n")
                buffer.validate_and_handle()
            else:
                buffer.insert_text("\n")

        @bindings.add("escape", "c-j")
        def _(event: Any) -> None:
            # Esc then Enter typed a moment before the prompt took the terminal: the tty
            # (still in cooked mode) turned the Enter into a line feed.
            event.current_buffer.validate_and_handle()

        # The question and the keys go on lines of their own, printed rather than part of
        # the prompt: prompt_toolkit cuts the lines above a multi-line input at the
        # terminal's width instead of wrapping them. The input itself starts at "> ".
        self._question_line(message)
        self._note(long_text_instruction())
        session: PromptSession[str] = PromptSession(
            [("class:qmark", "> ")], style=self.style, lexer=SimpleLexer("class:answer"),
            multiline=True, key_bindings=bindings, enable_open_in_editor=True,
            validator=build_validator(self._validator(check)), validate_while_typing=False,
            prompt_continuation=lambda width, line_number, wrap_count: " " * width,
        )
        session.default_buffer.reset(Document("" if start is None else str(start)))
        answer: str = self._unsafe_ask(self.q.Question(session.app))
        return answer

    def _action(self, step: Step, start: Any) -> dict[str, str]:
        q = self.q
        current = start if isinstance(start, dict) else {}
        state = self._select(
            f"To do: {step.prompt}",
            [q.Choice(label, value=value) for value, label in ACTION_CHOICES],
            default=current.get("state") if current.get("state") in dict(ACTION_CHOICES) else None,
        )
        old_reason = str(current.get("reason") or "")
        if state in ACTION_REASONS:
            reason = self._text(
                ACTION_REASONS[state], default=old_reason,
                check=lambda t: None if str(t).strip() else REASON_NEEDED,
            )
        elif state == "later":
            reason = self._text("Anything to note for later? (optional)", default=old_reason)
        else:
            reason = ""
        return {"state": state, "reason": reason.strip()}

    def _list(self, step: Step, current: Any, check: Check, keep: Keep | None) -> list[dict[str, Any]]:
        """Items one by one, each field by field. `current` is the list so far (to change
        it) or a partial one kept by `keep` ({"items": [...], "item": {...}}), which is
        called after every field, so that an interrupted item keeps its answered fields."""
        from mea_culpa.cli import ui
        from mea_culpa.playbook import answers as answers_mod

        partial = current if isinstance(current, dict) else {"items": current or [], "item": {}}
        items = [dict(i) for i in partial.get("items") or [] if isinstance(i, dict)]
        item: dict[str, Any] = dict(partial.get("item") or {})
        self._question_line(step.prompt + ("" if step.required else " (optional)"))
        minimum = step.min_items or (1 if step.required else 0)
        show = bool(items)  # when changing an earlier answer or going on: what is there to start with

        def kept() -> None:
            if keep is not None:
                keep({"items": [dict(i) for i in items], "item": dict(item)})

        while True:
            if show:
                for n, entry in enumerate(items, 1):
                    self._note(f"{n}. {ui.describe_value(step, [entry], limit=200)}")
                show = False
            if not item and len(items) >= minimum:
                nxt = self._skippable(lambda: self._list_next(step, items))
                if nxt == "done":
                    problem = check(items)
                    if problem is None:
                        return items
                    self._note(f"! {problem}")
                    continue
                if nxt == "remove":
                    gone = self._skippable(lambda: self._select("Remove which one?", [
                        *(self.q.Choice(f"{n}. {ui.describe_value(step, [i], limit=60)}", value=str(n))
                          for n, i in enumerate(items, 1)),
                        self.q.Choice("(keep them all)", value=_NOTHING)]))
                    if gone is not None:
                        del items[int(gone) - 1]
                        kept()
                        show = True
                    continue
            if item:
                done = ", ".join(f"{k}: {ui.describe_value(None, v, limit=40)}" for k, v in item.items())
                self._note(f"item {len(items) + 1}, going on from {done}")
            else:
                self._note(f"item {len(items) + 1}")
            for field in step.fields:
                if field.id in item:
                    continue
                probe = step.column(field)
                # kept as it will be stored, so the list shows dates, not "in 3 days"
                field_check = functools.partial(answers_mod.problem, probe)
                item[field.id] = answers_mod.coerce(probe, self.ask(probe, None, field_check))
                kept()
            items.append(item)
            item = {}
            kept()

    def _list_next(self, step: Step, items: list[dict[str, Any]]) -> str:
        if not items:
            more = self._unsafe_ask(self.q.confirm(f"{step.prompt}: add an item?", default=True,
                                                   style=self.style))
            return "add" if more else "done"
        full = step.max_items is not None and len(items) >= step.max_items
        choices = [self.q.Choice("Done", value="done")]
        if not full:
            choices.append(self.q.Choice("Add another", value="add"))
        choices.append(self.q.Choice("Remove one", value="remove"))
        count = f"{len(items)} item{'s' if len(items) != 1 else ''}"
        picked: str = self._select(f"{step.prompt}: {count}. Anything else?", choices)
        return picked

    # --- reviews -----------------------------------------------------------------------

    def _pick_step(self, plan: Plan) -> str | None:
        from mea_culpa.cli import ui

        q = self.q
        choices: list[Any] = []
        for planned in plan.stages:
            steps = [p for p in planned.steps if p.record is not None and p.state != "not-applicable"]
            if steps:
                choices.append(q.Separator(f"── {planned.stage.title}"))
            for p in steps:
                assert p.record is not None
                if p.record.state != "answered":
                    value = p.record.state
                else:
                    value = ui.describe_value(p.step, plan.context.get(p.step.id), limit=32)
                    if p.step.type == "datetime":
                        value = value.replace("T", " ")
                prompt = p.step.prompt if len(p.step.prompt) <= 48 else p.step.prompt[:47] + "…"
                choices.append(q.Choice(f"{prompt} [{value}]", value=p.step.id))
        choices.append(q.Choice("(never mind)", value=_NOTHING))
        picked: str | None = self._select("Which answer do you want to change?", choices)
        return picked

    def _review_choice(self, message: str, choices: list[Any]) -> Review | str:
        """What to do at a review; right after a quoted answer, Ctrl-R is the shortcut to
        changing that answer, as at a question."""
        back, self._quoted = self._quoted, None
        self._back_to = back
        try:
            choice: str = self._select(message, choices)
        except _RephrasePressed:
            assert back is not None  # the key is bound only when there is an answer to go back to
            return Review("edit", back)
        finally:
            self._back_to = None
        return choice

    def stage_review(self, planned: PlannedStage, plan: Plan, session: Session) -> Review:
        self._stage_title = None  # the stage's questions are over; an edit is not a skip
        q = self.q
        choice = self._review_choice(
            f"{planned.stage.title}: done. What next?",
            [
                q.Choice("Continue", value="continue"),
                q.Choice("Change an earlier answer", value="edit"),
                q.Choice("Save and quit for now", value="quit"),
            ],
        )
        if isinstance(choice, Review):
            return choice
        if choice == "edit":
            step_id = self._pick_step(plan)
            return Review("edit", step_id) if step_id else self.stage_review(planned, plan, session)
        return Review(choice)

    def final_review(self, plan: Plan, session: Session) -> Review:
        from mea_culpa.cli import ui

        self._stage_title = None
        ui.answers_table(plan, title="Your session, before you finish")
        q = self.q
        choice = self._review_choice(
            "Finish this session?",
            [q.Choice("Finish", value="continue"), q.Choice("Change an answer", value="edit"),
             q.Choice("Save and quit for now", value="quit")],
        )
        if isinstance(choice, Review):
            return choice
        if choice == "edit":
            step_id = self._pick_step(plan)
            return Review("edit", step_id) if step_id else self.final_review(plan, session)
        return Review(choice)

    def choose_playbook(self, entries: Sequence[Any]) -> str:
        q = self.q
        from mea_culpa.text.terminal import safe_for_terminal as safe

        # read shallowly, not validated: the words only, never an escape sequence
        choices = [q.Choice(safe(f"{e.title}  ({e.id})"), value=e.id, description=self._described(safe(e.summary)))
                   for e in entries]
        picked: str = self._select("Which kind of mistake is it?", choices)
        return picked

    def choose(self, message: str, choices: Sequence[tuple[str, str]]) -> str | None:
        picked: str | None = self._select(
            message, [self.q.Choice(label, value=value) for value, label in choices])
        return picked

    def text(self, message: str, default: str = "") -> str:
        return self._text(message, default=default)
