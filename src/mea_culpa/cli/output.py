"""Data on standard output: nothing a terminal would act on, and a reader that leaves early
(`mea-culpa export | head`) is no error.

`export`, `draft`, `list`, `show`, `validate`, `schema` and `check` write data that is
often piped. Text from playbooks, templates and answers may carry escape sequences, so
what goes out passes `safe_for_terminal` (JSON and YAML arrive with them already written as
escapes, which it leaves alone). When the reader closes the pipe, the command stops and
exits 0, as `cat` and `grep` do: typer itself would turn the broken pipe into exit 1.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])


def data(text: str) -> None:
    """Write `text` to standard output as it is, less any escape sequence or control
    character but newline and tab."""
    from mea_culpa.text.terminal import safe_for_terminal

    typer.echo(safe_for_terminal(text), nl=False)


def data_console(**options: Any) -> Any:
    """A rich Console for data on standard output (`show`, `check`): when the reader
    leaves, it lets the command end as `pipe_safe` says, where rich itself would exit 1
    (`Console.on_broken_pipe` is rich's hook for this)."""
    from rich.console import Console

    class DataConsole(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            raise BrokenPipeError

    return DataConsole(**options)


def _reader_left() -> None:
    # Whatever is still buffered for standard output must go somewhere when Python
    # flushes it at exit; the pipe is gone, so send it nowhere.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor (a test's capture)
        pass


def pipe_safe(command: F) -> F:
    """A command that writes data: a broken pipe ends it quietly with exit 0."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BrokenPipeError:
            _reader_left()
            raise typer.Exit(0) from None

    return run  # type: ignore[return-value]
