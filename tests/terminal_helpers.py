"""Keys and helpers for driving the interactive run: prompt widgets and a real terminal."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

UP = "\x1b[A"
DOWN = "\x1b[B"
ENTER = "\r"
SPACE = " "
BACKSPACE = "\x7f"
CTRL_C = "\x03"
CTRL_U = "\x15"
CTRL_E = "\x05"
ESC_ENTER = "\x1b\r"
CTRL_X_CTRL_E = "\x18\x05"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|[\x08\x07]")


def plain(text: str) -> str:
    """Terminal output without its escape sequences."""
    return _ANSI.sub("", text)


def tiny_editor(tmp_path: Path, text: str) -> str:
    """An $EDITOR that writes `text` into the file it is given, and exits."""
    script = tmp_path / "editor.py"
    script.write_text(
        "import sys\n"
        f"open(sys.argv[1], 'w', encoding='utf-8').write({text!r})\n",
        encoding="utf-8",
    )
    return f"{sys.executable} {script}"


def run_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a child `mea-culpa`: its own home, plain output, a real TERM.

    prompt_toolkit asks the terminal where the cursor is (CPR) and waits a second for an
    answer that a pexpect pseudo-terminal never gives; PROMPT_TOOLKIT_NO_CPR skips that."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEA_CULPA", "VISUAL", "EDITOR"))}
    env.update(MEA_CULPA_HOME=str(home), NO_COLOR="1", TERM="xterm-256color",
               PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="120", LINES="40")
    env.update(extra)
    return env


def spawn(args: list[str], env: dict[str, str], cwd: Path, *, timeout: float = 30) -> Any:
    """`python -m mea_culpa ARGS` in a 40x120 pseudo-terminal."""
    import pexpect

    child = pexpect.spawn(sys.executable, ["-m", "mea_culpa", *args], env=env, cwd=str(cwd),
                          dimensions=(40, 120), encoding="utf-8", timeout=timeout)
    child.delaybeforesend = None  # every send waits for its question already
    return child


SELECT_HINT = r" ?(?:\x1b\[[0-9;]*m)* ?\(↑↓ then Enter\)"


def question(text: str) -> str:
    """A regex for a question as the widgets draw it: "?", maybe a style change, the text."""
    return r"\?(?:\x1b\[[0-9;]*m)* ?(?:\x1b\[[0-9;]*m)*" + re.escape(text)


class Terminal:
    """A `mea-culpa` child in a pseudo-terminal, driven like a person would: wait for a
    question, type the keys. Everything it wrote is kept in `transcript`."""

    def __init__(self, child: Any) -> None:
        import io

        self.child = child
        self._log = io.StringIO()
        child.logfile_read = self._log

    @property
    def transcript(self) -> str:
        return plain(self._log.getvalue())

    def wait(self, pattern: str, *, timeout: float = 30) -> str:
        """Wait for a regex on the screen; returns what matched."""
        self.child.expect(pattern, timeout=timeout)
        return str(self.child.after)

    def answer(self, prompt: str, keys: str) -> None:
        """Wait for the question `prompt`, then type `keys`."""
        self.wait(question(prompt))
        self.child.send(keys)

    def play(self, script: list[tuple[str, str]]) -> None:
        for prompt, keys in script:
            self.answer(prompt, keys)

    def exit_code(self, *, timeout: float = 30) -> int:
        """Wait for the program to end; its exit status (128 + N when killed by signal N)."""
        import pexpect

        self.child.expect(pexpect.EOF, timeout=timeout)
        self.child.close()
        if self.child.signalstatus is not None:
            return 128 + int(self.child.signalstatus)
        return int(self.child.exitstatus)


SENTENCE = "We put it right and wrote down what changes."


def keys_for(kind: str, choices: int = 0) -> str:
    """Keys that give a valid answer to a question of this type, whatever its default."""
    return {
        "choice": (DOWN if choices > 1 else "") + ENTER,
        "multi-choice": SPACE + ENTER,
        "yes-no": "n",
        "action": ENTER,
        "number": CTRL_U + "3" + ENTER,
        "date": CTRL_U + "in 3 days" + ENTER,
        "datetime": CTRL_U + "yesterday 09:00" + ENTER,
        # text: appended to any default, so a default that is itself required survives
        "text": CTRL_E + " " + SENTENCE + ENTER,
        "long-text": " " + SENTENCE + ESC_ENTER,
    }[kind]


def walk(term: Terminal, book: Any, *, timeout: float = 30) -> list[str]:
    """Answer whatever the playbook asks, in whatever order its `when`s produce, continue
    at every review and finish. Returns the ids of the steps answered, in order.

    A question is recognised by "? <its prompt>"; once answered its pattern is dropped, so
    the widget redrawing its line with the answer cannot be taken for a new question."""
    import pexpect

    open_steps = {s.id: s for s in book.steps}
    answered: list[str] = []
    # a select's first drawing ends with its key hint; its last one, with the answer
    fixed = [pexpect.EOF, question("Finish this session?") + SELECT_HINT,
             r": done\. What next\?" + SELECT_HINT, r": \d+ items?\. Anything else\?" + SELECT_HINT]
    while True:
        steps = sorted(open_steps.values(), key=lambda s: -len(s.prompt))
        patterns = fixed + [question(("To do: " if s.type == "action" else "") + s.prompt[:60]) for s in steps]
        index = term.child.expect(patterns, timeout=timeout)
        if index == 0:
            return answered
        if index in (1, 2, 3):
            term.child.send(ENTER)
            continue
        found = steps[index - len(fixed)]
        del open_steps[found.id]
        answered.append(found.id)
        if found.type != "list":
            term.child.send(keys_for(found.type, len(found.choices)))
            continue
        for field in found.fields:
            term.answer(field.prompt, keys_for(field.type, len(field.choices)))
