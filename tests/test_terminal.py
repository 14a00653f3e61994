"""The guided run in a real pseudo-terminal (pexpect): keystrokes in, screen and journal out.

Every test starts `python -m mea_culpa` in a 40x120 terminal with its own MEA_CULPA_HOME
(the autouse fixture's, so the journal can be read back here with `open_journal`), and
waits on what the screen shows, never on the clock.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mea_culpa.errors import PlaybookError
from mea_culpa.journal import open_journal
from mea_culpa.playbook.loading import load
from terminal_helpers import (
    CTRL_C,
    CTRL_X_CTRL_E,
    DOWN,
    ENTER,
    ESC_ENTER,
    SELECT_HINT,
    SPACE,
    UP,
    Terminal,
    question,
    run_env,
    spawn,
    tiny_editor,
    walk,
)

pytest.importorskip("pexpect")
pytestmark = pytest.mark.pty

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent
MINI = str(DATA / "playbooks" / "mini.yaml")
RESUME_HINT = r"resume with: mea-culpa resume (\S+)"

Start = Callable[..., Terminal]


@pytest.fixture
def start(isolated_home: Path, tmp_path: Path) -> Iterator[Start]:
    """Start `mea-culpa ARGS` in a pseudo-terminal; extra keyword arguments go to its
    environment. Whatever is still running at the end is killed."""
    started: list[Terminal] = []

    def _start(*args: str, **env: str) -> Terminal:
        term = Terminal(spawn(list(args), run_env(isolated_home, **env), tmp_path))
        started.append(term)
        return term

    yield _start
    for term in started:
        if term.child.isalive():
            term.child.terminate(force=True)


def continue_(term: Terminal) -> None:
    """Continue at a stage review."""
    term.wait(r"What next\?" + SELECT_HINT)
    term.child.send(ENTER)


# The mini playbook (tests/data/playbooks/mini.yaml), question by question, severity major.
FACTS = [
    ("How bad?", DOWN + DOWN + ENTER),
    ("What happened?", "The export ran twice." + ENTER + "Once at 9:00, once at 9:05." + ENTER + ENTER),
    ("How many people?", "12" + ENTER),
    ("When did you notice?", ENTER),  # keeps the default, 2026-11-20 09:30
]
AFTER_FACTS = [
    ("What made it possible?", "The job has no sent-check." + ESC_ENTER),
    ("Your statement", ENTER + ENTER),  # keeps the default built from what_happened
    ("Where?", SPACE + ENTER),
    ("To do: Send it", ENTER),
    ("Is it fixed?", "y"),
    ("Actions", ""),
    ("What?", "Add a sent-check" + ENTER),
    ("Who?", "Ana" + ENTER),
    ("When?", "2026-12-01" + ENTER),
    ("Actions: 1 item. Anything else?", ENTER),
    ("The lesson", "Money mail needs a duplicate check." + ENTER),
]
REVIEW_AFTER = {"When did you notice?", "What made it possible?", "Your statement", "To do: Send it",
                "Is it fixed?", "Actions: 1 item. Anything else?", "The lesson"}


def play(term: Terminal, script: list[tuple[str, str]]) -> None:
    """Answer each question of `script`, continuing at the review that ends each stage."""
    for prompt, keys in script:
        term.answer(prompt, keys)
        if prompt in REVIEW_AFTER:
            continue_(term)


def finish(term: Terminal) -> int:
    term.wait(question("Finish this session?") + SELECT_HINT)
    term.child.send(ENTER)
    term.wait("Summary")
    return term.exit_code()


def only_session() -> str:
    with open_journal() as journal:
        latest = journal.latest()
    assert latest is not None
    return latest


def stored(session_id: str):  # noqa: ANN201 - a Session
    with open_journal() as journal:
        return journal.load(session_id)


# --- whole walks -------------------------------------------------------------------------


def test_walks_the_mini_playbook_by_keystrokes_to_completion(start: Start, tmp_path: Path):
    """Every widget once, the long text written in $EDITOR, and the session completed."""
    editor = tiny_editor(tmp_path, "The job has no sent-check.\nNobody reviews the schedule.\n")
    term = start("start", MINI, "--title", "invoices twice", EDITOR=editor)
    script = [(p, CTRL_X_CTRL_E) if p == "What made it possible?" else (p, k) for p, k in AFTER_FACTS]
    play(term, FACTS + script)
    assert finish(term) == 0
    session = stored(only_session())
    assert session.status == "completed"
    assert session.steps["what_happened"].value == "The export ran twice.\nOnce at 9:00, once at 9:05."
    assert session.steps["contributing_factors"].value == "The job has no sent-check.\nNobody reviews the schedule."
    assert session.steps["responsibility"].value.endswith("once at 9:05. That was my mistake.")
    assert session.steps["noticed_at"].value == "2026-11-20T09:30"
    assert session.steps["prevention_actions"].value == [
        {"what": "Add a sent-check", "owner": "Ana", "due": "2026-12-01"}]
    assert "Next steps" in term.transcript


def test_walks_the_general_playbook_by_keystrokes_to_completion(start: Start):
    path = REPO / "playbooks" / "general.yaml"
    try:
        book = load(path)
    except (PlaybookError, OSError) as exc:
        pytest.skip(f"playbooks/general.yaml does not load yet ({str(exc).splitlines()[0]})")
    term = start("start", "general", "--title", "walk general")
    answered = walk(term, book)
    assert term.exit_code() == 0, term.transcript[-2000:]
    session = stored(only_session())
    assert session.status == "completed"
    assert set(answered) <= set(session.steps)
    assert {"severity", "what_happened", "responsibility", "prevention_actions"} <= set(answered)


def test_the_chooser_lists_the_playbooks_and_asks_for_a_title(start: Start):
    term = start("start", "--playbooks", str(DATA / "playbooks"))
    term.wait(question("Which kind of mistake is it?"))
    term.wait(r"» (?:\x1b\[[0-9;]*m)*Mini  \(mini\)")  # the pointer starts on it
    term.wait("A small playbook for tests.")  # its summary, under the list
    term.child.send(ENTER)
    term.answer("A short name for this session", "\x15printer jam" + ENTER)
    term.answer("How bad?", CTRL_C)
    assert term.exit_code() == 130
    session_id = re.search(RESUME_HINT, term.transcript).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-printer-jam", session_id)
    assert stored(session_id).playbook_id == "mini"


# --- interrupted runs ----------------------------------------------------------------------


def test_ctrl_c_mid_stage_saves_then_resume_finishes(start: Start):
    term = start("start", MINI, "--title", "stopped early")
    play(term, FACTS[:2])
    term.answer("How many people?", "1")  # half typed, then Ctrl-C
    term.child.send(CTRL_C)
    term.wait("Everything you answered is saved")
    session_id = term.wait(RESUME_HINT).split()[-1]
    assert term.exit_code() == 130
    assert set(stored(session_id).steps) == {"severity", "what_happened"}

    again = start("resume")
    again.wait("Resuming")
    again.wait("Already answered")
    again.wait(r"How bad\?[ │]*major")
    again.wait(r"What happened\?[ │]*The export ran twice\. Once at 9:00")
    play(again, FACTS[2:] + AFTER_FACTS)
    assert finish(again) == 0
    session = stored(session_id)
    assert session.status == "completed"
    assert session.steps["severity"].value == "major"
    assert session.steps["affected_count"].value == 12


def test_sigkill_after_answers_then_resume_keeps_every_one(start: Start):
    term = start("start", MINI, "--title", "killed")
    play(term, FACTS[:3])
    term.wait(question("When did you notice?"))  # the third answer is committed by now
    term.child.kill(signal.SIGKILL)
    assert term.exit_code() == 128 + signal.SIGKILL
    session_id = only_session()
    session = stored(session_id)
    assert {k: r.value for k, r in session.steps.items()} == {
        "severity": "major",
        "what_happened": "The export ran twice.\nOnce at 9:00, once at 9:05.",
        "affected_count": 12,
    }
    assert session.status == "in-progress"

    again = start("resume", session_id)
    play(again, FACTS[3:] + AFTER_FACTS)
    assert finish(again) == 0
    assert stored(session_id).steps["affected_count"].value == 12
    assert stored(session_id).status == "completed"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_save_like_ctrl_c(start: Start, sig: signal.Signals):
    term = start("start", MINI, "--title", "signalled")
    play(term, FACTS[:2])
    term.wait(question("How many people?"))
    term.child.kill(sig)
    session_id = term.wait(RESUME_HINT).split()[-1]
    assert term.exit_code() == 130
    session = stored(session_id)
    assert set(session.steps) == {"severity", "what_happened"}
    assert session.status == "in-progress"


# --- going back --------------------------------------------------------------------------


def test_going_back_at_a_stage_review_changes_an_earlier_answer(start: Start):
    term = start("start", MINI, "--title", "go back")
    for prompt, keys in FACTS:
        term.answer(prompt, keys)
    term.wait(r"What next\?" + SELECT_HINT)
    term.child.send(DOWN + ENTER)  # change an earlier answer
    term.wait(question("Which answer do you want to change?"))
    term.wait(r"How bad\? \[major\]")
    term.child.send(ENTER)
    term.answer("How bad?", UP + ENTER)  # from major (where it starts) to minor
    continue_(term)
    term.answer("What made it possible?", "No sent-check." + ESC_ENTER)
    term.wait(r"What next\?" + SELECT_HINT)
    term.child.send(DOWN * 2 + ENTER)  # save and quit
    session_id = term.wait(RESUME_HINT).split()[-1]
    assert term.exit_code() == 0
    session = stored(session_id)
    assert session.steps["severity"].value == "minor"
    assert [e.kind for e in session.events if e.step == "severity"] == ["answer", "answer-changed"]
    assert session.steps["contributing_factors"].value == "No sent-check."


# --- no terminal -------------------------------------------------------------------------


def test_start_without_a_terminal_or_answers_exits_2_naming_every_missing_step(isolated_home: Path, tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "mea_culpa", "start", MINI], stdin=subprocess.DEVNULL,
        capture_output=True, text=True, env=run_env(isolated_home), cwd=tmp_path, timeout=30,
    )
    assert result.returncode == 2
    missing = re.findall(r"^missing answer: ([a-z_]+):", result.stderr, re.M)
    assert missing == ["severity", "what_happened", "contributing_factors", "channels",
                       "apology_sent", "fixed", "prevention_actions", "lesson"]
    assert "--answers FILE" in result.stderr
    assert "Traceback" not in result.stderr
    with open_journal() as journal:
        assert journal.latest() is None


# --- draft at a terminal -----------------------------------------------------------------


def saved_general_session(isolated_home: Path, tmp_path: Path) -> str:
    """A completed session of the built-in `general` playbook, from its example answers."""
    result = subprocess.run(
        [sys.executable, "-m", "mea_culpa", "start", "general", "--title", "garden gate",
         "--answers", str(DATA / "answers" / "general.yaml"), "--no-input"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=run_env(isolated_home), cwd=tmp_path, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_draft_at_a_terminal_prints_the_draft_then_its_check(start: Start, isolated_home: Path, tmp_path: Path):
    """Both streams share the screen: the score is a note under the draft, never above it."""
    session_id = saved_general_session(isolated_home, tmp_path)
    term = start("draft", session_id, "-m", "customer-apology")
    assert term.exit_code() == 0
    screen = term.transcript
    draft_starts, score = screen.index("Subject:"), screen.index("apology check:")
    sign_off = screen.rindex("Hannah")
    assert draft_starts < sign_off < score, screen
    assert screen.index("kept in session") > sign_off


SELF_FOCUS = "I feel terrible about this."
# An $EDITOR that adds the writer's own feelings after the apology: a `self-focus` finding.
REWRITE = f"""\
import sys
path = sys.argv[1]
text = open(path, encoding="utf-8").read()
open(path, "w", encoding="utf-8").write(text.replace("I'm sorry.", "I'm sorry. {SELF_FOCUS}", 1))
"""


def test_draft_edit_checks_the_edited_text_and_the_export_sends_that_version(
        start: Start, isolated_home: Path, tmp_path: Path):
    from mea_culpa.apology import check_text

    session_id = saved_general_session(isolated_home, tmp_path)
    editor = tmp_path / "rewrite.py"
    editor.write_text(REWRITE, encoding="utf-8")
    term = start("draft", session_id, "-m", "customer-apology", "--edit", EDITOR=f"{sys.executable} {editor}")
    assert term.exit_code() == 0
    screen = term.transcript
    rendered, edited = stored(session_id).drafts
    assert (rendered.edited, edited.edited) == (False, True)
    assert edited.text == rendered.text.replace("I'm sorry.", f"I'm sorry. {SELF_FOCUS}", 1)
    # the score is the edited text's, not the rendered one's, and names the new finding
    assert edited.score == check_text(edited.text, "customer").score != rendered.score
    assert f"apology check: {edited.score}/100" in screen
    assert f"apology check: {rendered.score}/100" not in screen
    assert re.search(r"\d+:\d+ \w+ \[self-focus\] “I feel terrible about this”", screen), screen
    assert screen.index(SELF_FOCUS) < screen.index("customer-apology · warm · edited · kept in session")

    export = subprocess.run([sys.executable, "-m", "mea_culpa", "export", session_id, "-f", "md"],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, env=run_env(isolated_home),
                            cwd=tmp_path, timeout=60)
    assert export.returncode == 0, export.stderr
    messages = export.stdout[export.stdout.index("## Messages"):]
    assert re.search(rf"### [^\n]* · edited · [^\n]* · apology check {edited.score}/100\n", messages), messages
    assert edited.text.strip() in messages  # the version to send is the edited one…
    assert rendered.text.split("\n\n")[2] not in messages  # …and the rendered paragraph it replaced is not shown
    (finding,) = [f for f in edited.findings if f["category"] == "self-focus"]
    assert f"line {finding['line']}: “{finding['match']}” {finding['level']}" in messages


# --- skipping a stage, and a list item cut short ----------------------------------------------

CTRL_S = "\x13"


def test_ctrl_s_skips_the_rest_of_a_stage_and_the_summary_says_so(start: Start):
    term = start("start", MINI, "--title", "skip facts")
    term.wait("Ctrl-S at any question skips the rest of this stage")  # said before the first question
    term.answer("How bad?", DOWN + DOWN + ENTER)
    term.answer("What happened?", CTRL_S)
    term.wait(question("Skip the rest of “Collect the facts”? Everything you answered is already saved."))
    term.child.send(DOWN + ENTER)
    term.answer("Why skip it?", "It is all in the ticket" + ENTER)
    play(term, AFTER_FACTS)
    assert finish(term) == 0
    session = stored(only_session())
    assert (session.stages["facts"].state, session.stages["facts"].reason) == ("skipped", "It is all in the ticket")
    assert session.steps["severity"].value == "major" and "what_happened" not in session.steps
    assert "Collect the facts: done" not in term.transcript
    assert "Collect the facts — It is all in the ticket (1 of 4 answered before skipping)" in term.transcript


def test_ctrl_s_pressed_to_save_changes_nothing(start: Start):
    """Ctrl-S is many people's "save": its menu starts on going back, and says all is saved."""
    term = start("start", MINI, "--title", "habit")
    term.answer("How bad?", CTRL_S)
    term.wait("Everything you answered is already saved")
    term.child.send(ENTER)
    term.answer("How bad?", DOWN + ENTER)
    term.answer("What happened?", CTRL_C)
    session_id = term.wait(RESUME_HINT).split()[-1]
    assert term.exit_code() == 130
    session = stored(session_id)
    assert session.steps["severity"].value == "minor"
    assert session.stages["facts"].state == "entered"


def test_ctrl_c_inside_a_list_item_keeps_its_fields_and_resume_asks_only_the_rest(start: Start):
    term = start("start", MINI, "--title", "half an item")
    play(term, FACTS + AFTER_FACTS[:5])  # up to the prevention list
    term.answer("What?", "Add a sent-check" + ENTER)
    term.answer("Who?", "Ana" + ENTER)
    term.answer("When?", CTRL_C)
    term.wait("Everything you answered is saved")
    session_id = term.wait(RESUME_HINT).split()[-1]
    assert term.exit_code() == 130

    again = start("resume", session_id)
    again.wait("item 1, going on from what: Add a sent-check, owner: Ana")
    again.answer("When?", "2026-12-01" + ENTER)
    again.answer("Actions: 1 item. Anything else?", ENTER)
    continue_(again)
    again.answer("The lesson", "Money mail needs a duplicate check." + ENTER)
    continue_(again)
    assert finish(again) == 0
    assert "? Who?" not in again.transcript
    assert stored(session_id).steps["prevention_actions"].value == [
        {"what": "Add a sent-check", "owner": "Ana", "due": "2026-12-01"}]


# --- answers that fit but look wrong, or say more than a number -----------------------------------

OUTAGE = """\
id: tiny-outage
title: Tiny outage
summary: Two times and a cost.
version: 1
stages:
  - stage: facts
    steps:
      - id: happened_at
        type: datetime
        prompt: When did it stop working?
      - id: fix_cost
        type: number
        prompt: What will it cost?
  - stage: fix
    steps:
      - id: resolved_at
        type: datetime
        prompt: When did it work again?
"""


def test_a_time_before_the_outage_began_is_questioned_and_can_be_fixed(start: Start, tmp_path: Path):
    playbook = tmp_path / "tiny-outage.yaml"
    playbook.write_text(OUTAGE, encoding="utf-8")
    term = start("start", str(playbook), "--title", "times")
    term.answer("When did it stop working?", "2026-01-10 12:05" + ENTER)
    term.answer("What will it cost?", "£300" + ENTER)
    continue_(term)
    term.answer("When did it work again?", "2026-01-10 11:00" + ENTER)
    term.wait(re.escape("11:00 Sat 10 Jan 2026 is before your answer to “When did it stop working?” (12:05 Sat 10 Jan 2026)"))
    term.wait(question("Keep it, or change it?"))
    term.child.send(ENTER)  # change it: the question comes back with what was typed
    term.answer("When did it work again?", "\x15" + "2026-01-10 12:50" + ENTER)
    continue_(term)
    assert finish(term) == 0
    session = stored(only_session())
    assert session.steps["resolved_at"].value == "2026-01-10T12:50"
    assert session.steps["fix_cost"].value == {"number": 300, "typed": "£300"}


# --- the drafts' words under an answer -----------------------------------------------------

CTRL_R = "\x12"
OUTAGE_FACTS = """\
severity: major
what_is_affected: the api
still_happening: false
what_happened: our api was down for 40 min, all requests failed
happened_at: "2026-11-21 14:05"
noticed_at: "2026-11-21 14:20"
who_affected: every customer using the api
affected_count: 310
"""


def test_a_quoted_answer_shows_the_apology_sentence_and_ctrl_r_rephrases_it(start: Start, tmp_path: Path):
    answers = tmp_path / "facts.yaml"
    answers.write_text(OUTAGE_FACTS, encoding="utf-8")
    term = start("start", "service-outage", "--title", "api down", "--answers", str(answers))
    term.answer("What did it mean for your customers?", "their apps couldnt sync" + ESC_ENTER)
    term.wait(r"Your apology to affected customers will say:\S*  \S*\(Ctrl-R to rephrase it\)")
    term.wait(re.escape("For you, that meant your apps couldn't sync."))  # reframed, under the answer
    term.answer("Is there another way for customers to get what they need", CTRL_R)
    term.wait(question("What did it mean for your customers?"))
    term.wait(r"> (?:\x1b\[[0-9;]*m)*their apps couldnt sync")  # the answer to rephrase, as it was
    term.child.send("\x15" + "you couldn't sync your apps or see your orders" + ESC_ENTER)
    term.wait(re.escape("For you, that meant you couldn't sync your apps or see your orders."))
    term.answer("Is there another way for customers to get what they need", "use the web dashboard" + ENTER)
    term.wait(re.escape("In the meantime, use the web dashboard."))
    term.answer("Could any customer data or orders have been lost?", CTRL_C)
    assert term.exit_code() == 130
    session = stored(only_session())
    assert session.steps["impact"].value == "you couldn't sync your apps or see your orders"
    assert session.steps["workaround"].value == "use the web dashboard"
    assert [e.kind for e in session.events if e.step == "impact"] == ["answer", "answer-changed"]
