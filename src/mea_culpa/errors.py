"""The one exception family: every refusal carries a user-ready line and an exit code."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """What the process tells its caller. Documented in the README."""

    OK = 0
    FAILED = 1  # a check failed, or the environment refused (disk, permissions, journal)
    BAD_INPUT = 2  # the user's input or usage is wrong: fix it and run again
    INTERRUPTED = 130  # Ctrl-C, SIGTERM or a closed terminal; the session is saved


class MeaCulpaError(Exception):
    """Base of every error a user may see. `str(err)` is the line to print."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def lines(self) -> list[str]:
        """The lines to show the user, most important first."""
        return [self.message] + ([self.hint] if self.hint else [])


class UsageError(MeaCulpaError):
    """A command was called with arguments that cannot work."""

    exit_code = ExitCode.BAD_INPUT


class NotFound(UsageError):
    """A playbook, session, template or file the user named does not exist."""


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a file, with the place it was found."""

    path: str
    line: int  # 1-based; 0 when the problem concerns the whole file
    column: int  # 1-based; 0 when unknown
    key: str  # dotted key path, e.g. "stages[2].steps[0].when"; "" for the file itself
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.line:
            where += f":{self.line}:{self.column or 1}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class PlaybookError(MeaCulpaError):
    """A playbook file is not valid. Carries every problem found, not just the first."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        first = str(self.diagnostics[0]) if self.diagnostics else "invalid playbook"
        super().__init__(first)

    def lines(self) -> list[str]:
        return [str(d) for d in self.diagnostics]


class AnswersError(MeaCulpaError):
    """Answers given (from a file, the command line or a journal) do not fit the playbook."""

    exit_code = ExitCode.BAD_INPUT

    def __init__(self, problems: Iterable[str], *, source: str = "answers", hint: str | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        super().__init__(f"{source}: " + "; ".join(self.problems), hint=hint)

    def lines(self) -> list[str]:
        return [f"{self.source}: {p}" for p in self.problems] + ([self.hint] if self.hint else [])


class TemplateError(MeaCulpaError):
    """A message template cannot be rendered from this session."""

    exit_code = ExitCode.BAD_INPUT


class SecurityError(MeaCulpaError):
    """A playbook, expression or template tried something the sandbox forbids."""

    exit_code = ExitCode.BAD_INPUT


class StorageError(MeaCulpaError):
    """The journal or an output file could not be read or written."""

    exit_code = ExitCode.FAILED


class CheckFailed(MeaCulpaError):
    """An apology check or validation ran and found the text below the bar."""

    exit_code = ExitCode.FAILED


class Interrupted(MeaCulpaError):
    """The user stopped the run (Ctrl-C, SIGTERM, SIGHUP); what was answered is saved."""

    exit_code = ExitCode.INTERRUPTED


def quoted(value: object) -> str:
    """A value inside a one-line message: quoted, escaped, shortened."""
    text = repr(value)
    return text if len(text) <= 62 else text[:60] + "…" + text[-1]
