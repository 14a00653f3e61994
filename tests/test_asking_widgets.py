"""QuestionaryAsker's widgets, fed keys through a prompt_toolkit pipe (no terminal needed).

Each test types a whole answer up front: prompt_toolkit keeps keys that arrive before a
question as type-ahead for it, the way a terminal would. The pipe is closed after the
keys, so a test whose keys run out fails at once with EOFError instead of hanging.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from mea_culpa.cli.prompts import QuestionaryAsker
from mea_culpa.journal import memory_journal
from mea_culpa.playbook import answers as answers_mod
from mea_culpa.playbook.loading import load
from mea_culpa.playbook.model import Choice, Field, Playbook, Stage, Step, Validation
from mea_culpa.run import session as sm
from mea_culpa.run.runner import Quote, Rephrase, Review, Runner
from terminal_helpers import (
    BACKSPACE,
    CTRL_C,
    CTRL_U,
    CTRL_X_CTRL_E,
    DOWN,
    ENTER,
    ESC_ENTER,
    SPACE,
    UP,
    plain,
    tiny_editor,
)

TODAY = dt.date.today()


class Screen:
    """What the widgets wrote, without escape sequences."""

    def __init__(self, buffer: io.StringIO) -> None:
        self._buffer = buffer

    @property
    def text(self) -> str:
        return plain(self._buffer.getvalue())


class Until(str):
    """In a key script: wait until this text is on the screen before typing on. Spaces
    are ignored (the renderer moves the cursor over blanks instead of writing them)."""

    def seen(self, screen: Screen) -> bool:
        return "".join(self.split()) in "".join(screen.text.split())


@contextmanager
def typed(*script: str | Callable[[], object], columns: int = 100) -> Iterator[Screen]:
    """Run the widgets inside the block on a key script, with a captured 40 x `columns`
    screen. Keys typed before a question waits for them are kept for it (type-ahead); an
    `Until` in the script waits for the screen, to see states that type-ahead would skip
    (an error shown, then corrected); a callable is called there (e.g. to send a signal).
    Once the script is typed the pipe is closed; if an `Until` never shows, the rest is not
    typed and the test fails."""
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.data_structures import Size
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output.vt100 import Vt100_Output

    buffer = io.StringIO()
    screen = Screen(buffer)
    output = Vt100_Output(buffer, lambda: Size(rows=40, columns=columns), term="xterm",
                          enable_cpr=False)
    done = threading.Event()
    missed: list[str] = []

    with create_pipe_input() as pipe:

        def feed() -> None:
            for part in script:
                if isinstance(part, Until):
                    deadline = time.monotonic() + 5
                    while not part.seen(screen) and not done.is_set():
                        if time.monotonic() > deadline:
                            missed.append(part)
                            pipe.close()
                            return
                        time.sleep(0.002)
                elif callable(part):
                    part()
                elif not done.is_set():
                    pipe.send_text(part)
            pipe.close()

        feeder = threading.Thread(target=feed, daemon=True)
        with create_app_session(input=pipe, output=output):
            feeder.start()
            try:
                yield screen
            finally:
                done.set()
                feeder.join(5)
                assert not missed, f"the screen never showed {missed[0]!r}:\n{screen.text}"


def checker(step: Step) -> Callable[[Any], str | None]:
    """The check the runner hands to an asker: the problem with an answer, or None."""

    return functools.partial(answers_mod.problem, step)


def ask(step: Step, *script: str | Callable[[], object], default: Any = None, current: Any = None,
        columns: int = 100) -> tuple[Any, str]:
    """Ask `step` on a key script; the raw answer and the screen text."""
    with typed(*script, columns=columns) as screen:
        raw = QuestionaryAsker().ask(step, default, checker(step), current)
    return raw, screen.text


def step(type_: str, **kw: Any) -> Step:
    """A step as a playbook's facts stage would hold it (validated by the format's models)."""
    kw.setdefault("prompt", f"A {type_} question")
    data = {"id": kw.pop("id", "q"), "type": type_, **{k: v for k, v in kw.items() if v != ()}}
    return Stage.model_validate({"stage": "facts", "steps": [data]}).steps[0]


SEVERITY = (Choice(value="none", label="No harm"), Choice(value="minor", label="Small"), Choice(value="major", label="Serious"),
            Choice(value="critical", label="Very serious"))
CHANNELS = (Choice(value="email", label="Email"), Choice(value="phone", label="Phone call"), Choice(value="chat", label="Chat"))


# --- text, number, dates --------------------------------------------------------------


def test_text_shows_a_problem_inline_and_takes_the_corrected_answer():
    s = step("text", validate=Validation(min_length=5, message="a few words, please"))
    raw, screen = ask(s, "no" + ENTER, Until("a few words"), BACKSPACE * 2 + "a calm answer" + ENTER)
    assert raw == "a calm answer"
    assert "a few words, please" in screen


def test_text_keeps_a_default_on_enter():
    raw, _ = ask(step("text"), ENTER, default="Checkout down")
    assert raw == "Checkout down"


def test_text_is_not_validated_while_typing():
    """Half of "yesterday" is not a date; no error may flash up before Enter."""
    s = step("date")
    checked: list[Any] = []

    def check(raw: Any) -> str | None:
        checked.append(raw)
        return checker(s)(raw)

    with typed("yes", Until("of month) yes"), "terday" + ENTER) as screen:
        raw = QuestionaryAsker().ask(s, None, check)
    assert raw == "yesterday"
    assert checked == ["yesterday"]
    assert "is not a date" not in screen.text


def test_number_refuses_a_value_below_the_minimum_then_takes_a_valid_one():
    s = step("number", validate=Validation(min=0))
    raw, screen = ask(s, "-3" + ENTER, Until("must be"), BACKSPACE * 2 + "12" + ENTER)
    assert raw == "12"
    assert "must be at least 0" in screen
    assert answers_mod.coerce(s, raw) == 12


def test_optional_number_may_be_left_empty():
    s = step("number", required=False)
    raw, screen = ask(s, ENTER)
    assert answers_mod.coerce(s, raw) is None
    assert "(optional)" in screen


@pytest.mark.parametrize(("words", "days"), [("yesterday", -1), ("in 3 days", 3), ("today", 0)])
def test_date_words_resolve_and_the_resolved_date_is_shown(words: str, days: int):
    s = step("date")
    raw, screen = ask(s, words + ENTER)
    day = TODAY + dt.timedelta(days=days)
    assert answers_mod.coerce(s, raw) == day.isoformat()
    assert "→ " + day.strftime("%a %d %b %Y") in screen


def test_a_date_typed_as_a_date_is_not_repeated_underneath():
    _, screen = ask(step("date"), "2026-03-31" + ENTER)
    assert "→" not in screen


def test_datetime_words_resolve_to_a_local_time():
    s = step("datetime")
    raw, screen = ask(s, "yesterday 09:00" + ENTER)
    when = dt.datetime.combine(TODAY - dt.timedelta(days=1), dt.time(9, 0))
    assert answers_mod.coerce(s, raw) == when.isoformat(timespec="minutes")
    assert "→ " + when.strftime("%a %d %b %Y 09:00") in screen


def test_datetime_default_is_offered_with_a_space_not_a_T():
    raw, screen = ask(step("datetime"), ENTER, current="2026-11-20T09:30")
    assert raw == "2026-11-20 09:30"
    assert "2026-11-20 09:30" in screen


def test_a_bad_date_is_explained_and_asked_again():
    s = step("date")
    raw, screen = ask(s, "someday" + ENTER, Until("is not a date"), CTRL_U + "tomorrow" + ENTER)
    assert raw == "tomorrow"
    assert "'someday' is not a date" in screen


# --- long text --------------------------------------------------------------------------


def test_long_text_finishes_on_enter_at_an_empty_line_and_keeps_every_line():
    raw, screen = ask(step("long-text"), "We charged twice." + ENTER + "Refunds today." + ENTER + ENTER)
    assert raw == "We charged twice.\nRefunds today."
    assert "Enter on an empty line to finish (or Esc then Enter)" in screen


def test_long_text_finishes_on_esc_enter():
    raw, _ = ask(step("long-text"), "One line, done." + ESC_ENTER)
    assert raw == "One line, done."


def test_long_text_finishes_on_esc_then_a_line_feed():
    """Typed a moment before the prompt takes the terminal, Enter arrives as a line feed
    (the tty is still in cooked mode): Esc then that must still finish, not add a line."""
    raw, _ = ask(step("long-text"), "Typed ahead." + "\x1b\n")
    assert raw == "Typed ahead."


def test_long_text_enter_inside_the_text_starts_a_new_line_there():
    left = "\x1b[D"
    raw, _ = ask(step("long-text"), "ab" + left + ENTER + ESC_ENTER)
    assert raw == "a\nb"


def test_long_text_required_and_empty_says_so_then_takes_text():
    raw, screen = ask(step("long-text"), ENTER, Until("needed"), "Now there is text." + ESC_ENTER)
    assert raw == "Now there is text."
    assert "an answer is needed" in screen


def test_long_text_edit_starts_from_the_current_answer():
    raw, _ = ask(step("long-text"), " Really." + ENTER + ENTER, current="It broke.")
    assert raw == "It broke. Really."


def test_long_text_can_be_written_in_the_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", tiny_editor(tmp_path, "from the editor\nsecond line\n"))
    raw, screen = ask(step("long-text"), CTRL_X_CTRL_E, Until("second line"))
    assert raw == "from the editor\nsecond line"
    assert "Ctrl-X Ctrl-E to write it in python" in screen


def test_long_text_names_visual_over_editor(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VISUAL", "/usr/local/bin/hx --wait")
    monkeypatch.setenv("EDITOR", "nano")
    _, screen = ask(step("long-text"), "x" + ESC_ENTER)
    assert "to write it in hx" in screen


def test_long_text_instructions_wrap_in_a_narrow_terminal(monkeypatch: pytest.MonkeyPatch):
    """The keys that finish must stay readable at 30 columns, not be cut off."""
    monkeypatch.setenv("EDITOR", "nano")
    _, screen = ask(step("long-text", prompt="What went wrong, and since when?"),
                    "x" + ESC_ENTER, columns=30)
    lines = [line.rstrip() for line in screen.splitlines()]
    assert "? What went wrong, and since" in lines
    assert "  when?" in lines
    words = " ".join(line.strip() for line in lines[:8])
    assert "Esc then Enter) · Ctrl-X Ctrl-E to write it in nano" in words


# --- choices ----------------------------------------------------------------------------


def test_choice_picks_with_arrows_and_enter():
    raw, screen = ask(step("choice", choices=SEVERITY), DOWN + DOWN + ENTER)
    assert raw == "major"
    assert "Serious" in screen


def test_choice_starts_on_the_current_answer():
    raw, _ = ask(step("choice", choices=SEVERITY), UP + ENTER, current="critical")
    assert raw == "major"


def test_optional_choice_offers_no_answer_and_returns_none():
    """questionary turns a Choice(value=None) into its title; "no answer" must be None."""
    s = step("choice", choices=SEVERITY, required=False)
    raw, screen = ask(s, UP + ENTER)
    assert raw is None
    assert "(no answer)" in screen
    assert answers_mod.coerce(s, raw) is None


def test_choice_help_is_shown_as_the_description():
    s = step("choice", choices=(Choice(value="a", label="Alpha", help="the first letter"), Choice(value="b", label="Beta")))
    _, screen = ask(s, ENTER)
    assert "the first letter" in screen


def test_multi_choice_ticks_with_space_and_echoes_the_labels():
    raw, screen = ask(step("multi-choice", choices=CHANNELS), SPACE + DOWN + SPACE + ENTER)
    assert raw == ["email", "phone"]
    # the widget erases itself; what stays is the question with the labels chosen
    assert screen.rstrip().endswith("? A multi-choice question Email, Phone call")


def test_multi_choice_required_refuses_nothing_ticked():
    """(questionary shows this error in a bottom toolbar, drawn only where the terminal
    reports the cursor position; the pipe does not, so the refusal is read off the check.)"""
    s = step("multi-choice", choices=CHANNELS)
    seen: list[tuple[Any, str | None]] = []

    def check(raw: Any) -> str | None:
        seen.append((raw, checker(s)(raw)))
        return seen[-1][1]

    with typed(ENTER + DOWN + DOWN + SPACE + ENTER):
        raw = QuestionaryAsker().ask(s, None, check)
    assert raw == ["chat"]
    assert seen[0] == ([], "choose at least one")
    assert seen[-1] == (["chat"], None)


def test_multi_choice_refuses_an_exclusive_choice_ticked_with_another():
    choices = (Choice(value="nobody", label="Nobody else", exclusive=True), Choice(value="colleague", label="A colleague"))
    s = step("multi-choice", choices=choices)
    seen: list[tuple[Any, str | None]] = []

    def check(raw: Any) -> str | None:  # the refusal is drawn in a toolbar the pipe cannot show
        seen.append((raw, checker(s)(raw)))
        return seen[-1][1]

    with typed(SPACE + DOWN + SPACE + ENTER + SPACE + ENTER):
        raw = QuestionaryAsker().ask(s, None, check)
    assert raw == ["nobody"]
    assert (["nobody", "colleague"], "“Nobody else” goes on its own: untick “A colleague”") in seen


def test_a_doubtful_time_is_said_in_one_line_and_can_be_changed_or_kept():
    s = step("datetime", id="resolved_at", prompt="When did it work normally again?")
    doubtful = functools.partial(answers_mod.doubt, s, answers={"happened_at": "2026-01-10T12:05"},
                                 prompts={"happened_at": "When did it stop working?"})
    with typed(CTRL_U + "2026-01-10 11:00" + ENTER, Until("Keep it, or change it?"), ENTER,
               Until("again?"), CTRL_U + "2026-01-10 13:00" + ENTER) as screen:
        raw = QuestionaryAsker().ask(s, None, checker(s), doubt=doubtful)
    assert raw == "2026-01-10 13:00"
    said = "! 11:00 Sat 10 Jan 2026 is before your answer to “When did it stop working?” (12:05 Sat 10 Jan 2026)."
    assert " ".join(said.split()) in " ".join(screen.text.split())
    with typed(CTRL_U + "2026-01-10 11:00" + ENTER, Until("Keep it, or change it?"), DOWN + ENTER):
        assert QuestionaryAsker().ask(s, None, checker(s), doubt=doubtful) == "2026-01-10 11:00"


def test_a_number_typed_with_a_currency_is_taken_and_offered_back_as_typed():
    s = step("number")
    raw, _ = ask(s, "£300" + ENTER)
    assert answers_mod.coerce(s, raw) == {"number": 300, "typed": "£300"}
    raw, screen = ask(s, ENTER, current={"number": 300, "typed": "£300"})
    assert raw == "£300"


def test_multi_choice_keeps_the_current_ticks():
    raw, _ = ask(step("multi-choice", choices=CHANNELS), DOWN + SPACE + ENTER, current=["email", "phone"])
    assert raw == ["email"]


@pytest.mark.parametrize(("keys", "default", "expected"), [
    ("n", None, False), ("y", False, True), (ENTER, False, False), (ENTER, None, True),
])
def test_yes_no_takes_a_letter_or_the_default(keys: str, default: Any, expected: bool):
    raw, _ = ask(step("yes-no"), keys, default=default)
    assert raw is expected


def test_yes_no_reads_a_templated_default_as_yes_or_no():
    """A default like "{{ severity in ['major'] }}" renders to the text "False"."""
    raw, screen = ask(step("yes-no"), ENTER, default="False")
    assert raw is False
    assert "(y/N)" in screen


def test_multi_choice_reads_a_templated_default_as_one_choice():
    raw, _ = ask(step("multi-choice", choices=CHANNELS), ENTER, default="phone")
    assert raw == ["phone"]


def test_a_default_that_does_not_fit_is_still_offered_as_text():
    s = step("number", validate=Validation(min=0))
    raw, _ = ask(s, ENTER, Until("must be at least 0"), CTRL_U + "4" + ENTER, default="-1")
    assert raw == "4"


# --- actions ----------------------------------------------------------------------------


def test_action_done_needs_no_reason():
    raw, screen = ask(step("action", prompt="Send the apology"), ENTER)
    assert raw == {"state": "done", "reason": ""}
    assert "To do: Send the apology" in screen


def test_action_skipped_requires_a_reason():
    raw, screen = ask(step("action"), DOWN + DOWN + ENTER + ENTER, Until("A reason is needed"),
                      "They already know" + ENTER)
    assert raw == {"state": "skipped", "reason": "They already know"}
    assert "Why is it not needed?" in screen
    assert "A reason is needed" in screen


def test_action_blocked_asks_what_blocks_it():
    raw, _ = ask(step("action"), DOWN * 3 + ENTER + "Waiting for legal" + ENTER)
    assert raw == {"state": "blocked", "reason": "Waiting for legal"}


def test_action_later_takes_an_optional_note():
    raw, _ = ask(step("action"), DOWN + ENTER + ENTER)
    assert raw == {"state": "later", "reason": ""}


def test_action_edit_starts_from_the_current_state_and_reason():
    current = {"state": "blocked", "reason": "Waiting for legal"}
    raw, _ = ask(step("action"), ENTER + " (asked again)" + ENTER, current=current)
    assert raw == {"state": "blocked", "reason": "Waiting for legal (asked again)"}


# --- lists ------------------------------------------------------------------------------

ACTIONS = step(
    "list", id="prevention_actions", prompt="Prevention actions", action_items=True,
    fields=(Field(id="what", prompt="What will change?"), Field(id="owner", prompt="Who owns it?"),
            Field(id="due", prompt="By when?", type="date")),
)


def item_keys(what: str, owner: str, due: str) -> str:
    return what + ENTER + owner + ENTER + due + ENTER


def test_list_adds_two_items_then_stops():
    keys = (item_keys("Add a sent-check", "Ana", "in 3 days") + DOWN + ENTER
            + item_keys("Review the export", "Bo", "2027-01-05") + ENTER)
    raw, screen = ask(ACTIONS, keys)
    due = (TODAY + dt.timedelta(days=3)).isoformat()
    assert raw == [{"what": "Add a sent-check", "owner": "Ana", "due": due},
                   {"what": "Review the export", "owner": "Bo", "due": "2027-01-05"}]
    assert answers_mod.coerce(ACTIONS, raw) == raw
    assert "item 1" in screen and "item 2" in screen
    assert "Prevention actions: 2 items. Anything else?" in screen


def test_list_can_remove_an_item_before_finishing():
    keys = (item_keys("Wrong one", "Ana", "today") + DOWN + ENTER
            + item_keys("Right one", "Bo", "today") + DOWN + DOWN + ENTER  # remove one
            + ENTER  # the first
            + ENTER)  # done
    raw, screen = ask(ACTIONS, keys)
    assert [i["what"] for i in raw] == ["Right one"]
    assert "1. Right one (Bo, " in screen


def test_list_edit_shows_the_items_so_far_and_can_add_more():
    current = [{"what": "Add a sent-check", "owner": "Ana", "due": "2026-12-01"}]
    raw, screen = ask(ACTIONS, DOWN + ENTER + item_keys("Second", "Bo", "2026-12-02") + ENTER,
                      current=current)
    assert [i["what"] for i in raw] == ["Add a sent-check", "Second"]
    assert "1. Add a sent-check (Ana, 2026-12-01)" in screen


def test_list_stops_offering_more_at_max_items():
    s = step("list", prompt="One at most", max_items=1, fields=(Field(id="what", prompt="What?"),))
    raw, screen = ask(s, "only" + ENTER + ENTER)
    assert raw == [{"what": "only"}]
    assert "One at most: 1 item. Anything else?" in screen
    assert "Add another" not in screen


def test_optional_empty_list_asks_whether_to_add_anything():
    s = step("list", prompt="Extras", required=False, fields=(Field(id="what", prompt="What?"),))
    raw, screen = ask(s, "n")
    assert raw == []
    assert "Extras: add an item?" in screen


def test_list_field_errors_are_explained_inline():
    raw, screen = ask(ACTIONS, "x" + ENTER + "y" + ENTER + "soonish" + ENTER, Until("is not a date"),
                      CTRL_U + "today" + ENTER + ENTER)
    assert raw[0]["due"] == TODAY.isoformat()
    assert "'soonish' is not a date" in screen


# --- help, markup, Ctrl-C ---------------------------------------------------------------


def test_help_is_printed_literally_even_with_brackets(capsys: pytest.CaptureFixture[str]):
    ask(step("text", help="Say [bold]what[/bold] happened [/x]"), "ok" + ENTER)
    assert "Say [bold]what[/bold] happened [/x]" in capsys.readouterr().err


@pytest.mark.parametrize("type_", ["text", "long-text", "choice", "multi-choice", "yes-no", "action", "list"])
def test_ctrl_c_raises_keyboard_interrupt(type_: str):
    s = step(type_, choices=SEVERITY if "choice" in type_ else (),
             fields=(Field(id="what", prompt="What?"),) if type_ == "list" else ())
    with pytest.raises(KeyboardInterrupt):
        ask(s, "par" + CTRL_C if type_ in ("text", "long-text") else CTRL_C)


def test_stop_prompt_ends_the_question_like_ctrl_c_and_restores_the_terminal():
    """What a SIGTERM / SIGHUP handler should call: the prompt ends through its own exit
    path, so prompt_toolkit turns bracketed paste (and raw mode) off again."""
    import os
    import signal

    from mea_culpa.cli import prompts as asking

    stopped: list[bool] = []

    def handler(signum: int, frame: Any) -> None:
        stopped.append(asking.stop_prompt())
        if not stopped[-1]:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGUSR1, handler)
    try:
        with pytest.raises(KeyboardInterrupt), typed(
                "half an ans", Until("half an ans"), lambda: os.kill(os.getpid(), signal.SIGUSR1),
        ) as screen:
            QuestionaryAsker().ask(step("long-text"), None, lambda raw: None)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert stopped == [True]
    raw = screen._buffer.getvalue()
    assert raw.rfind("\x1b[?2004l") > raw.rfind("\x1b[?2004h") >= 0


def test_stop_prompt_without_a_question_says_so():
    from mea_culpa.cli import prompts as asking

    assert asking.stop_prompt() is False


# --- reviews ----------------------------------------------------------------------------


@pytest.fixture
def book(mini_playbook_path: Path) -> Playbook:
    return load(mini_playbook_path)


def answered(book: Playbook, **answers: Any) -> sm.Session:
    session, _ = sm.new_session(book, session_id="s", title="T", now="2026-11-22T10:00:00Z")
    for step_id, value in answers.items():
        found = book.step(step_id)
        assert found is not None
        session, _ = sm.set_answer(session, found, answers_mod.coerce(found, value), now="2026-11-22T10:01:00Z")
    return session


def review(book: Playbook, session: sm.Session, *script: str, final: bool = False) -> tuple[Review, str]:
    plan = sm.plan(book, session)
    facts = next(s for s in plan.stages if s.stage.kind == "facts")
    with typed(*script) as screen:
        asker = QuestionaryAsker()
        result = asker.final_review(plan, session) if final else asker.stage_review(facts, plan, session)
    return result, screen.text


FACTS = {"severity": "major", "what_happened": "We sent it twice.", "noticed_at": "2026-11-20 09:30"}


def test_stage_review_continue(book: Playbook):
    result, screen = review(book, answered(book, **FACTS), ENTER)
    assert result == Review("continue")
    assert "Collect the facts: done. What next?" in screen


def test_stage_review_edit_picks_a_step_showing_its_answer(book: Playbook):
    result, screen = review(book, answered(book, **FACTS), DOWN + ENTER, Until("(never mind)"), DOWN + ENTER)
    assert result == Review("edit", "what_happened")
    assert "── Collect the facts" in screen
    assert "What happened? [We sent it twice.]" in screen
    assert "When did you notice? [2026-11-20 09:30]" in screen
    assert "Understand the cause" not in screen  # nothing answered there yet


def test_stage_review_edit_never_mind_returns_to_the_review(book: Playbook):
    result, _ = review(book, answered(book, **FACTS), DOWN + ENTER + UP + ENTER + ENTER)
    assert result == Review("continue")


def test_stage_review_offers_no_skip_once_the_stage_is_answered(book: Playbook):
    _, screen = review(book, answered(book, **FACTS), ENTER)
    assert "Skip" not in screen


def test_stage_review_save_and_quit(book: Playbook):
    result, _ = review(book, answered(book, **FACTS), DOWN * 2 + ENTER)
    assert result == Review("quit")


# --- Ctrl-S: skip the rest of a stage from any question -----------------------------------


def run_until_interrupted(book: Playbook, *script: str | Callable[[], object]) -> tuple[sm.Session, str]:
    """Run the mini playbook through the widgets on `script`, which ends in Ctrl-C."""
    journal = memory_journal()
    session, change = sm.new_session(book, session_id="s", title="T", now="2026-11-22T10:00:00Z")
    journal.apply(session, change)
    with typed(*script) as screen, pytest.raises(KeyboardInterrupt):
        Runner(book, session, journal, QuestionaryAsker()).run()
    return journal.load("s"), screen.text


CTRL_S = "\x13"


def test_ctrl_s_at_a_question_skips_the_rest_of_the_stage_and_keeps_its_answers(book: Playbook, capsys):
    stored, screen = run_until_interrupted(
        book,
        DOWN + DOWN + ENTER,                              # severity: major
        Until("What happened?"), CTRL_S,
        Until("Everything you answered is already saved"), DOWN + ENTER,   # yes, skip it
        Until("Why skip it?"), ENTER, Until("A reason is needed"),
        "It is all in the ticket" + ENTER,
        Until("What made it possible?"), CTRL_C,
    )
    assert stored.stages["facts"].state == "skipped"
    assert stored.stages["facts"].reason == "It is all in the ticket"
    assert stored.steps["severity"].value == "major"
    assert "what_happened" not in stored.steps
    assert "Collect the facts: done" not in screen  # no review of a skipped stage
    assert "Ctrl-S at any question skips the rest of this stage" in capsys.readouterr().err
    states = {p.step.id: p.state for p in sm.plan(book, stored).stages[0].steps}
    assert states == {"severity": "answered", "what_happened": "skipped", "affected_count": "skipped",
                      "noticed_at": "skipped"}


def test_ctrl_s_at_the_first_question_skips_the_whole_stage(book: Playbook):
    stored, _ = run_until_interrupted(
        book, Until("How bad?"), CTRL_S, Until("already saved"), DOWN + ENTER,
        Until("Why skip it?"), "Not for this one" + ENTER, Until("What made it possible?"), CTRL_C,
    )
    assert stored.stages["facts"].state == "skipped" and not stored.steps


def test_ctrl_s_then_no_goes_back_to_the_same_question(book: Playbook):
    stored, screen = run_until_interrupted(
        book, DOWN + DOWN + ENTER, Until("What happened?"), "half" + CTRL_S, Until("already saved"), ENTER,
        Until("What happened?"), "The export ran twice." + ESC_ENTER, Until("How many people?"), CTRL_C,
    )
    assert stored.stages["facts"].state == "entered"
    assert stored.steps["what_happened"].value == "The export ran twice."


def test_ctrl_c_inside_a_list_item_keeps_its_answered_fields_and_resume_goes_on_from_them(book: Playbook):
    journal = memory_journal()
    values = {"severity": "minor", "what_happened": "Twice.", "affected_count": 3, "noticed_at": "2026-11-20 09:30",
              "contributing_factors": "No check.", "responsibility": "Mine.", "channels": ["email"],
              "apology_sent": {"state": "done"}, "fixed": True}
    session, change = sm.new_session(book, session_id="s", title="T", now="2026-11-22T10:00:00Z")
    journal.apply(session, change)
    for stage in book.stages[:5]:
        session, change = sm.enter_stage(session, stage.kind, now="2026-11-22T10:00:00Z")
        journal.apply(session, change)
        for one in stage.steps:
            if one.id in values:
                session, change = sm.set_answer(session, one, answers_mod.coerce(one, values[one.id]), now="2026-11-22T10:01:00Z")
                journal.apply(session, change)
        session, change = sm.complete_stage(session, stage.kind, now="2026-11-22T10:02:00Z")
        journal.apply(session, change)
    with typed(item_keys("First", "Ana", "2026-12-01") + DOWN + ENTER + "Second" + ENTER + "Bo" + ENTER,
               Until("When?"), CTRL_C), pytest.raises(KeyboardInterrupt):
        Runner(book, session, journal, QuestionaryAsker()).run()
    stored = journal.load("s")
    assert "prevention_actions" not in stored.steps  # not answered until the list is done
    assert sm.partial_answer(stored, "prevention_actions") == {
        "items": [{"what": "First", "owner": "Ana", "due": "2026-12-01"}], "item": {"what": "Second", "owner": "Bo"}}

    with typed(Until("going on from what: Second, owner: Bo"), "2026-12-02" + ENTER, Until("2 items"), ENTER, Until("What next?"), ENTER,
               Until("The lesson"), CTRL_C) as screen, pytest.raises(KeyboardInterrupt):
        Runner(book, stored, journal, QuestionaryAsker()).run()
    assert "Who?" not in screen.text.split("going on from")[1]  # only the field still missing is asked
    assert journal.load("s").steps["prevention_actions"].value == [
        {"what": "First", "owner": "Ana", "due": "2026-12-01"}, {"what": "Second", "owner": "Bo", "due": "2026-12-02"}]


def test_final_review_shows_the_answers_then_finishes(book: Playbook, capsys: pytest.CaptureFixture[str]):
    result, screen = review(book, answered(book, **FACTS), ENTER, final=True)
    assert result == Review("continue")
    assert "Finish this session?" in screen
    assert "We sent it twice." in capsys.readouterr().err


def test_final_review_changes_an_answer(book: Playbook):
    result, _ = review(book, answered(book, **FACTS), DOWN + ENTER + ENTER, final=True)
    assert result == Review("edit", "severity")


def test_final_review_save_and_quit(book: Playbook):
    result, _ = review(book, answered(book, **FACTS), DOWN * 2 + ENTER, final=True)
    assert result == Review("quit")


def test_ctrl_c_at_a_review_raises_keyboard_interrupt(book: Playbook):
    with pytest.raises(KeyboardInterrupt):
        review(book, answered(book, **FACTS), CTRL_C)


# --- choosers ---------------------------------------------------------------------------


def test_choose_playbook_returns_the_id():
    from types import SimpleNamespace

    entries = [SimpleNamespace(id="general", title="Any mistake", summary="For any mistake."),
               SimpleNamespace(id="service-outage", title="Service outage", summary="")]
    with typed(DOWN + ENTER) as screen:
        picked = QuestionaryAsker().choose_playbook(entries)
    assert picked == "service-outage"
    assert "Any mistake  (general)" in screen.text


def test_choose_playbook_wraps_a_long_summary_at_words():
    """questionary writes a description on one line; the terminal would cut it mid-word."""
    from types import SimpleNamespace

    summary = ("For an order, a delivery or an invoice that went wrong: the wrong item, the wrong "
               "address, a double charge, a late parcel, or an invoice sent to the wrong customer.")
    entries = [SimpleNamespace(id="order-mistake", title="Order went wrong", summary=summary)]
    with typed(ENTER, columns=60) as screen:
        QuestionaryAsker().choose_playbook(entries)
    lines = [line.rstrip() for line in screen.text.splitlines()]
    start = next(i for i, line in enumerate(lines) if "Description:" in line)
    block = lines[start:start + 8]
    shown = []
    for line in block:
        line = line.split("?")[0].rstrip()  # the widget's last redraw follows on the same row
        words = line.replace("Description:", "").split()
        if not words:
            break
        assert len(line) < 60, line
        shown += words
        if line.endswith("customer."):
            break
    assert " ".join(shown).startswith(" ".join(summary.split()[:12]))
    assert all(word in summary.split() for word in shown), shown


def test_module_choose_offers_value_label_pairs():
    from mea_culpa.cli import prompts as asking

    with typed(DOWN + ENTER):
        assert asking.choose("Which message?", [("apology", "Apology"), ("update", "Status update")]) == "update"


# --- the whole run, through the widgets -------------------------------------------------


def test_a_whole_run_through_the_widgets_completes_the_session(book: Playbook):
    keys = "".join([
        DOWN + DOWN + ENTER,                      # severity: major
        "The export ran twice." + ESC_ENTER,      # what happened
        "12" + ENTER,                             # affected
        ENTER,                                    # noticed: keep the default
        ENTER,                                    # review: continue
        "The job has no sent-check." + ESC_ENTER,  # contributing factors
        ENTER,
        ENTER + ENTER,                            # own: keep the default statement
        ENTER,
        SPACE + ENTER,                            # channels: email
        ENTER,                                    # apology sent: done
        ENTER,
        "y",                                      # fixed
        ENTER,
        item_keys("Add a sent-check", "Ana", "2026-12-01") + ENTER,
        ENTER,
        "Money mail needs a duplicate check." + ENTER,
        ENTER,
        ENTER,                                    # final review: finish
    ])
    journal = memory_journal()
    session, change = sm.new_session(book, session_id="s", title="T", now="2026-11-22T10:00:00Z")
    journal.apply(session, change)
    with typed(keys):
        final = Runner(book, session, journal, QuestionaryAsker()).run()
    assert final.status == "completed"
    stored = journal.load("s")
    assert stored.steps["responsibility"].value == "The export ran twice. That was my mistake."
    assert stored.steps["prevention_actions"].value[0]["due"] == "2026-12-01"
    assert stored.steps["apology_sent"].state == "done"


# --- Ctrl-R: rephrase the answer just quoted -----------------------------------------------

CTRL_R = "\x12"
QUOTED = Quote("customer-apology", "Apology to affected customers", ("For you, that meant your apps couldn't sync.",))


def test_ctrl_r_after_a_quoted_answer_goes_back_to_it(capsys):
    asker, impact, workaround = QuestionaryAsker(), step("long-text", id="impact"), step("text", id="workaround")
    with typed(Until("A text question"), "by ph" + CTRL_R), pytest.raises(Rephrase) as back:
        asker.quoted(impact, [QUOTED])
        asker.ask(workaround, None, checker(workaround))
    assert back.value.step_id == "impact"
    assert "Your apology to affected customers will say:  (Ctrl-R to rephrase it)" in capsys.readouterr().err


def test_ctrl_r_goes_back_from_the_next_question_only():
    asker, impact, workaround = QuestionaryAsker(), step("long-text", id="impact"), step("text", id="workaround")
    asker.quoted(impact, [QUOTED])
    with typed("use the dashboard" + ENTER, Until("A text question"), "by" + CTRL_R + " phone" + ENTER):
        first = asker.ask(workaround, None, checker(workaround))
        second = asker.ask(workaround, None, checker(workaround))  # nothing quoted before it: Ctrl-R does nothing
    assert (first, second) == ("use the dashboard", "by phone")


def test_ctrl_r_at_the_review_after_a_quoted_answer_changes_that_answer(book: Playbook):
    asker = QuestionaryAsker()
    session, _ = sm.new_session(book, session_id="s", title="T", now="2026-11-22T10:00:00Z")
    plan = sm.plan(book, session)
    asker.quoted(book.step("what_happened"), [QUOTED])
    with typed(Until("What next?"), CTRL_R):
        review = asker.stage_review(plan.stages[0], plan, session)
    assert review == Review("edit", "what_happened")
