"""Laptops die mid-run: a SIGKILL at any point loses at most the answer being typed, the
journal stays a sound SQLite file, and `resume` goes on from the last committed answer.
Two runs writing one journal at the same moment both finish. Exports are all or nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

TESTS = Path(__file__).parent
MINI = TESTS / "data" / "playbooks" / "mini.yaml"
DOWN = "\x1b[B"
PASTE_ON, PASTE_OFF = "\x1b[?2004h", "\x1b[?2004l"


def _tomorrow() -> str:
    return (dt.date.today() + dt.timedelta(days=1)).isoformat()


def asked(text: str) -> str:
    """A pattern for a question as the widget asks it: after its "?" mark (escape codes
    between), so that the table of answers `resume` shows first does not match."""
    return r"\?(?:\x1b\[[0-9;?]*[a-zA-Z]|[ \t])*" + text


@dataclass(frozen=True)
class Prompt:
    """One question of the mini playbook as it appears on screen, and how it is answered."""

    name: str
    pattern: str  # a regular expression that finds it on the screen
    keys: str  # the keystrokes of the answer
    partial: str  # keystrokes of an answer still being typed
    step: str | None = None  # the step it answers (None: a review)
    value: Any = None  # what the journal holds once it is answered


PROMPTS = [
    Prompt("severity", asked(r"How bad\?"), DOWN + DOWN + "\r", DOWN, "severity", "major"),
    Prompt("what_happened", asked(r"What happened\?"), "it broke\r\r", "it bro", "what_happened", "it broke"),
    Prompt("affected_count", asked(r"How many people\?"), "3\r", "3", "affected_count", 3),
    Prompt("noticed_at", asked(r"When did you notice\?"), "\r", "", "noticed_at", "2026-11-20T09:30"),
    Prompt("review-facts", asked(r"Collect the facts: done"), "\r", DOWN),
    Prompt("contributing_factors", asked(r"What made it possible\?"), "no check\r\r", "no ch", "contributing_factors", "no check"),
    Prompt("review-cause", asked(r"Understand the cause: done"), "\r", DOWN),
    Prompt("responsibility", asked(r"Your statement"), "\r\r", " sorry", "responsibility", "it broke That was my mistake."),
    Prompt("review-own", asked(r"Own it: done"), "\r", DOWN),
    Prompt("channels", asked(r"Where\?"), " \r", " ", "channels", ["email"]),
    Prompt("apology_sent", asked(r"To do: Send it"), "\r", DOWN, "apology_sent", {"state": "done", "reason": ""}),
    Prompt("review-apologize", asked(r"Apologize: done"), "\r", DOWN),
    Prompt("fixed", asked(r"Is it fixed\?"), "y", "", "fixed", True),
    Prompt("review-fix", asked(r"Fix it: done"), "\r", DOWN),
    Prompt("what", asked(r"What\?"), "check\r", "che"),  # the fields of one action item: nothing is
    Prompt("owner", asked(r"Who\?"), "me\r", "m"),  # committed until the list is done
    Prompt("due", asked(r"When\?"), "tomorrow\r", "tomo"),
    Prompt("actions-done", asked(r"Actions: 1 item\. Anything else\?"), "\r", DOWN, "prevention_actions", "tomorrow"),
    Prompt("review-prevent", asked(r"Prevent it: done"), "\r", DOWN),
    Prompt("lesson", asked(r"The lesson"), "check first\r", "check fi", "lesson", "check first"),
    Prompt("review-move-on", asked(r"Move on: done"), "\r", DOWN),
    Prompt("finish", asked(r"Finish this session\?"), "\r", DOWN),
]
BY_NAME = {p.name: p for p in PROMPTS}


def expected_value(prompt: Prompt) -> Any:
    if prompt.step == "prevention_actions":
        return [{"what": "check", "owner": "me", "due": _tomorrow()}]
    return prompt.value


# Where each SIGKILL lands, in the order of one run: (prompt, how)
#   "shown"   - the prompt is on screen, nothing typed: between prompts
#   "typing"  - part of the answer typed, not submitted
#   "saving"  - the answer submitted and the process killed at once: during its save
KILLS = [
    ("severity", "shown"),
    ("what_happened", "typing"),
    ("what_happened", "saving"),
    ("review-facts", "saving"),
    ("contributing_factors", "typing"),
    ("responsibility", "shown"),
    ("channels", "typing"),
    ("apology_sent", "saving"),
    ("owner", "typing"),
    ("actions-done", "saving"),
    ("finish", "shown"),
]


class Run:
    """One `mea-culpa start` or `resume` in a pseudo-terminal, answering as a person would."""

    def __init__(self, args: list[str], home: Path, cwd: Path) -> None:
        import pexpect

        self.pexpect = pexpect
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEA_CULPA_")}
        env.update(
            MEA_CULPA_HOME=str(home), MEA_CULPA_CONFIG=str(cwd / "config"), NO_COLOR="1", TERM="xterm-256color",
            PROMPT_TOOLKIT_NO_CPR="1",
        )
        self.child = pexpect.spawn(
            sys.executable, ["-m", "mea_culpa", *args], env=env, cwd=str(cwd), dimensions=(40, 120),
            encoding="utf-8", timeout=15,
        )
        self.screen: list[str] = []
        self.submitted: list[Prompt] = []  # answers sent, in order
        self.since_answer = ""  # what the screen showed since the last answer was sent

    def next_prompt(self) -> Prompt:
        patterns = [p.pattern for p in PROMPTS] + [self.pexpect.EOF]
        while True:
            index = self.child.expect(patterns)
            before = self.child.before
            self.screen.append(before + (self.child.after if isinstance(self.child.after, str) else ""))
            if index == len(PROMPTS):
                raise AssertionError("the run ended early:\n" + "".join(self.screen)[-3000:])
            prompt = PROMPTS[index]
            self.since_answer += before
            if self.submitted and prompt is self.submitted[-1] and PASTE_ON not in self.since_answer:
                continue  # the question just answered, written again with its answer
            break
        # prompt_toolkit turns bracketed paste on when a widget takes the terminal; a question
        # printed before its widget (long text) is not ready for keys until then
        if before.rfind(PASTE_ON) <= before.rfind(PASTE_OFF):
            self.child.expect_exact(PASTE_ON)
            self.screen.append(self.child.before + PASTE_ON)
        self._settle()
        return prompt

    def _settle(self, quiet: float = 0.05, limit: float = 3.0) -> None:
        """Wait until the screen is still: the widget has drawn itself and owns the keyboard,
        so keys typed now are its keys (typed earlier, a line-buffered terminal changes them)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            try:
                self.screen.append(self.child.read_nonblocking(65536, timeout=quiet))
            except self.pexpect.TIMEOUT:
                return
            except self.pexpect.EOF:
                return

    def answer(self, prompt: Prompt) -> None:
        self.child.send(prompt.keys)
        self.submitted.append(prompt)
        self.since_answer = ""

    def kill(self) -> None:
        os.kill(self.child.pid, signal.SIGKILL)
        self.child.expect(self.pexpect.EOF)
        self.child.close()
        assert self.child.signalstatus == signal.SIGKILL

    def finish(self) -> int:
        self.child.expect(self.pexpect.EOF)
        self.screen.append(self.child.before)
        self.child.close()
        return self.child.exitstatus


def journal_state(home: Path) -> tuple[str, dict[str, Any], str]:
    """(integrity_check, answers of the latest session, its status), read as a second process would."""
    from mea_culpa.journal import open_journal
    from mea_culpa.run import session as sm

    path = home / "journal.sqlite3"
    conn = sqlite3.connect(path)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()
    with open_journal(path, create=False) as journal:
        session = journal.load(journal.resolve(None))
    return integrity, {k: sm.step_value(r) for k, r in session.steps.items()}, session.status


@pytest.mark.pty
def test_sigkill_at_eleven_points_loses_at_most_the_answer_being_typed(tmp_path: Path):
    pytest.importorskip("pexpect")
    home = tmp_path / "home"
    committed: dict[str, Any] = {}  # answers whose save finished before the kill (the next prompt showed)
    args = ["start", str(MINI), "--title", "crash test"]
    for target, how in KILLS:
        run = Run(args, home, tmp_path)
        in_flight: Prompt | None = None
        while True:
            prompt = run.next_prompt()
            if run.submitted and run.submitted[-1].step:  # the previous answer was saved before this prompt
                committed[run.submitted[-1].step] = expected_value(run.submitted[-1])
            if prompt.name == target:
                if how == "typing":
                    run.child.send(prompt.partial)
                    time.sleep(0.3)
                elif how == "saving":
                    run.answer(prompt)
                    in_flight = prompt
                run.kill()
                break
            run.answer(prompt)

        integrity, answers, status = journal_state(home)
        assert integrity == "ok", (target, how)
        assert status == "in-progress"
        for step_id, value in committed.items():
            assert answers.get(step_id) == value, (target, how, step_id, answers)
        if in_flight is not None and in_flight.step in answers:  # saved whole, or not at all
            assert answers[in_flight.step] == expected_value(in_flight)
            committed[in_flight.step] = expected_value(in_flight)
        assert set(answers) <= set(committed) | {in_flight.step if in_flight else None}, (
            target, how, answers, "".join(run.screen)[-3000:]
        )
        args = ["resume"]

    run = Run(["resume"], home, tmp_path)
    while True:  # the last resume goes on to the end
        prompt = run.next_prompt()
        run.answer(prompt)
        if prompt.name == "finish":
            break
    assert run.finish() == 0
    integrity, answers, status = journal_state(home)
    assert integrity == "ok"
    assert status == "completed"
    for prompt in PROMPTS:
        if prompt.step:
            assert answers[prompt.step] == expected_value(prompt), prompt.step


@pytest.mark.pty
def test_resume_after_a_kill_starts_at_the_first_unanswered_step(tmp_path: Path):
    pytest.importorskip("pexpect")
    home = tmp_path / "home"
    run = Run(["start", str(MINI), "--title", "resume point"], home, tmp_path)
    for name in ("severity", "what_happened", "affected_count"):
        prompt = run.next_prompt()
        assert prompt.name == name
        run.answer(prompt)
    assert run.next_prompt().name == "noticed_at"
    run.kill()
    resumed = Run(["resume"], home, tmp_path)
    assert resumed.next_prompt().name == "noticed_at"
    screen = "".join(resumed.screen)
    assert "it broke" in screen  # what was already answered is shown
    resumed.kill()


# --- two runs, one journal ------------------------------------------------------------

ANSWERS = {
    "severity": "major",
    "what_happened": "The nightly export mailed every invoice to the wrong client.",
    "contributing_factors": "The address mapping was not checked after the migration.",
    "responsibility": "I ran the migration without checking the mapping. That was my mistake.",
    "channels": ["email"],
    "apology_sent": {"state": "done"},
    "fixed": True,
    "prevention_actions": [{"what": "Check the mapping", "owner": "Sam", "due": "2026-12-01"}],
    "lesson": "Check a migration on a sample first.",
}


def _start_together(home: Path, answers: Path, count: int, titles: list[str]) -> list[subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEA_CULPA_")}
    env.update(MEA_CULPA_HOME=str(home), MEA_CULPA_CONFIG=str(home.parent / "config"), NO_COLOR="1")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mea_culpa", "start", str(MINI), "--answers", str(answers), "--no-input",
             "--title", titles[n % len(titles)]],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for n in range(count)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def test_two_runs_into_one_new_journal_at_the_same_moment_both_complete(tmp_path: Path):
    """Both race to create the journal's schema too; neither sees "database is locked"."""
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump(ANSWERS), encoding="utf-8")
    home = tmp_path / "home"
    for _ in range(2):
        results = _start_together(home, answers, 2, ["first run", "second run"])
        for result in results:
            assert result.returncode == 0, result.stderr
            assert "locked" not in result.stderr and "busy" not in result.stderr
            assert "Traceback" not in result.stderr
    conn = sqlite3.connect(home / "journal.sqlite3")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT id, status FROM sessions ORDER BY id").fetchall()
    finally:
        conn.close()
    assert len(rows) == 4 and {status for _, status in rows} == {"completed"}


def test_runs_with_the_same_title_at_the_same_moment_keep_every_session(tmp_path: Path):
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump(ANSWERS), encoding="utf-8")
    home = tmp_path / "home"
    results = _start_together(home, answers, 4, ["same title"])
    assert all(r.returncode == 0 for r in results)
    ids = [r.stdout.strip().splitlines()[-1] for r in results]
    assert len(set(ids)) == 4, ids
    conn = sqlite3.connect(home / "journal.sqlite3")
    try:
        kept = {row[0] for row in conn.execute("SELECT id FROM sessions")}
    finally:
        conn.close()
    assert kept == set(ids)


# --- exports are written whole or not at all ---------------------------------------------


@pytest.mark.parametrize("existing", [None, "the old report\n"], ids=["new file", "replacing a file"])
def test_a_crash_while_writing_an_export_never_leaves_half_a_file(tmp_path: Path, monkeypatch, existing: str | None):
    files = pytest.importorskip("mea_culpa.files", reason="mea_culpa.files.write_atomic is written by another engineer")
    from mea_culpa.errors import StorageError

    target = tmp_path / "report.md"
    if existing is not None:
        target.write_text(existing, encoding="utf-8")

    def crash(src: Any, dst: Any) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", crash)
    monkeypatch.setattr(os, "link", crash)
    with pytest.raises(StorageError, match="cannot write"):
        files.write_atomic(target, "# Report\n" + "line\n" * 100_000, force=True)
    monkeypatch.undo()
    if existing is None:
        assert not target.exists()
    else:
        assert target.read_text(encoding="utf-8") == existing
    assert sorted(p.name for p in tmp_path.iterdir()) == (["report.md"] if existing else [])


def test_an_export_killed_mid_write_leaves_the_old_file_or_none(tmp_path: Path):
    """A real process, SIGKILLed while it writes a large export: the target holds the old
    text or the whole new one, never part of it."""
    pytest.importorskip("mea_culpa.files")
    target = tmp_path / "report.md"
    target.write_text("old\n", encoding="utf-8")
    new = "new\n" * 2_000_000
    script = (
        "import sys, pathlib; from mea_culpa.files import write_atomic\n"
        "print('ready', flush=True)\n"
        f"write_atomic(pathlib.Path({str(target)!r}), 'new\\n' * 2_000_000, force=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=30)
    text = target.read_text(encoding="utf-8")
    assert text in ("old\n", new)
