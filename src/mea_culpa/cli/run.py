"""`start` and `resume`: set up a run (playbook, answers, journal, asker), run it, report.

This is the face of the guided run: it decides whether a person can be asked, turns
interruptions into a saved session and a one-line hint, and prints the summary.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import signal
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mea_culpa.errors import Interrupted, UsageError
from mea_culpa.playbook import answers as answers_mod
from mea_culpa.playbook.model import Playbook
from mea_culpa.run import session as sm


def can_ask() -> bool:
    """Whether a person is at a terminal to answer questions."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def utf8_text(value: str, option: str) -> str:
    """`value`, given on the command line for `option`, if it is UTF-8 text. Python keeps
    bytes that are not UTF-8 as lone surrogates, which no journal or file can store."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"U+{code:04X}"
        raise UsageError(f"{option}: not valid UTF-8 ({what}); give it as UTF-8 text") from None
    return value


def parse_assignments(book: Playbook, assignments: Sequence[str]) -> dict[str, Any]:
    """`--set id=value` pairs as raw answers (checked later like any other answer)."""
    out: dict[str, Any] = {}
    for item in assignments:
        utf8_text(item, "--set")
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r}: expected ID=VALUE, e.g. --set severity=minor")
        step = book.step(key.strip())
        raw: Any = value
        if step is not None and step.type == "multi-choice":
            raw = [v.strip() for v in value.split(",") if v.strip()]
        elif step is not None and step.type in ("list", "action") and value.strip()[:1] in "[{":
            from mea_culpa import yamlfile

            try:
                raw = yamlfile.parse(value, f"--set {key}").data
            except yamlfile.YamlProblems as exc:
                raise UsageError(f"--set {key}: {exc.diagnostics[0].message}") from None
        out[key.strip()] = raw
    return out


def prefilled_answers(
    book: Playbook, answers_file: Path | None, assignments: Sequence[str]
) -> tuple[dict[str, tuple[Any, str]], dict[str, str]]:
    """Answers from the file and the command line, checked like typed ones (the command
    line wins over the file), and the stages the file skips, with their reasons. Raises
    AnswersError naming every id that does not fit."""
    out: dict[str, tuple[Any, str]] = {}
    skips: dict[str, str] = {}
    if answers_file is not None:
        raw, raw_skips = answers_mod.read_file(answers_file)
        for key, value in answers_mod.check_all(book, raw, source=str(answers_file)).items():
            out[key] = (value, "file")
        skips = answers_mod.check_skips(book, raw_skips, source=str(answers_file))
    if assignments:
        raw = parse_assignments(book, assignments)
        for key, value in answers_mod.check_all(book, raw, source="--set").items():
            out[key] = (value, "command-line")
    return out, skips


@contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """SIGTERM and SIGHUP (a closed terminal) stop the run like Ctrl-C: saved, resumable."""

    def handler(signum: int, frame: Any) -> None:
        # A question on screen is ended through prompt_toolkit, so that it restores the
        # terminal; raising from inside its event loop would skip that clean-up.
        prompts = sys.modules.get("mea_culpa.cli.prompts")  # only a person is asked a question to stop
        if prompts is None or not prompts.stop_prompt():
            raise KeyboardInterrupt

    previous = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def _keys_reach_the_questions() -> Iterator[None]:
    """Turn the terminal's flow control off for the run. Ctrl-S (skip the rest of a stage)
    pressed in the moment between two questions would otherwise freeze the screen (XOFF)
    until Ctrl-Q, which looks like a hang; the widgets turn it off only while they ask."""
    try:
        import termios
    except ImportError:  # not a POSIX terminal: nothing to turn off
        yield
        return
    try:
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
    except (OSError, ValueError, termios.error):
        yield
        return
    changed = list(saved)
    changed[0] = saved[0] & ~(termios.IXON | termios.IXOFF)  # iflag
    try:
        termios.tcsetattr(fd, termios.TCSANOW, changed)
        yield
    finally:
        with contextlib.suppress(OSError, termios.error):  # the terminal may be gone (SIGHUP)
            termios.tcsetattr(fd, termios.TCSANOW, saved)


class _Unsaved:
    """The store of a run nobody answers (--no-input) or nothing keeps (--no-save):
    nothing typed can be lost, so its steps are not written one by one; a run that is kept
    is written whole when it ends."""

    def apply(self, session: sm.Session, change: sm.Change, *, playbook: Playbook | None = None) -> None:
        pass


def _say(text: str) -> None:
    with contextlib.suppress(OSError):  # the terminal is gone (SIGHUP): the session is saved all the same
        print(text, file=sys.stderr, flush=True)


def _run(book: Playbook, session: sm.Session, journal: Any, asker: Any,
         prefilled: tuple[dict[str, tuple[Any, str]], dict[str, str]], *, saved: bool) -> sm.Session:
    from mea_culpa.messages.quotes import answer_quotes
    from mea_culpa.run.runner import Runner, SaveAndQuit

    answers, skips = prefilled
    runner = Runner(book, session, journal, asker, prefilled=answers, skip_stages=skips, quotes=answer_quotes)
    resume_hint = f"resume with: mea-culpa resume {session.id}" if saved else "nothing was saved (--no-save)"
    try:
        with stop_signals_as_interrupt(), _keys_reach_the_questions():
            return runner.run()
    except SaveAndQuit:
        _say(f"Saved. {resume_hint}")
        raise SystemExit(0) from None
    except (KeyboardInterrupt, EOFError):
        raise Interrupted("Stopped. Everything you answered is saved." if saved else "Stopped.", hint=resume_hint) from None


def start(
    playbook_name: str | None,
    *,
    title: str | None,
    answers_file: Path | None,
    assignments: Sequence[str],
    no_input: bool,
    no_save: bool,
    tags: tuple[str, ...],
    extra: tuple[Path, ...],
    database: str | None = None,
) -> None:
    from mea_culpa.playbook import catalog

    if title is not None:
        utf8_text(title, "--title")
    for tag in tags:
        utf8_text(tag, "--tag")
    interactive = not no_input and can_ask()
    if not interactive and not no_input:
        _say("(no terminal to ask questions: running as with --no-input)")
    asker: Any
    if interactive:
        from mea_culpa.cli.prompts import QuestionaryAsker

        asker = QuestionaryAsker()
    else:
        from mea_culpa.run.asking import NoInputAsker

        asker = NoInputAsker()
    if playbook_name is None:
        if not interactive:
            raise UsageError("no playbook named", hint="name one, e.g.: mea-culpa start general --answers FILE --no-input (see: mea-culpa list)")
        found = catalog.entries(extra, include_shadowed=False)
        for broken in (e for e in found if e.problem):  # one line each; the others can still be chosen
            from mea_culpa.text.terminal import safe_for_terminal

            _say(safe_for_terminal(f"skipped {broken.path}: {broken.problem} (details: mea-culpa validate {broken.path})"))
        choices = [e for e in found if not e.problem]
        if not choices:
            raise UsageError("no playbooks found", hint="create one with: mea-culpa new NAME")
        try:
            playbook_name = asker.choose_playbook(choices)
        except (KeyboardInterrupt, EOFError):
            raise Interrupted("stopped before anything was asked; nothing to save") from None
    # refused before anything is asked: what the sandbox would refuse in the templates too
    book = catalog.resolve(playbook_name, extra, template_names=False)
    prefilled = prefilled_answers(book, answers_file, assignments)  # bad answers: exit 2, journal untouched
    if title is None:
        if interactive:
            from mea_culpa.cli import ui

            ui.intro(book)
            try:
                title = asker.text("A short name for this session (Enter keeps it)", default=book.title).strip() or book.title
            except (KeyboardInterrupt, EOFError):
                raise Interrupted("stopped before anything was asked; nothing to save") from None
        else:
            title = book.title
    elif interactive:
        from mea_culpa.cli import ui

        ui.intro(book)
    # The journal (and SQLAlchemy with it) is opened only now, after the first question:
    # the title is all that could be lost before, and it is typed again in a moment.
    from mea_culpa.journal import open_journal

    today, name = dt.date.today().isoformat(), sm.slug(title)
    session, _ = sm.new_session(book, session_id=f"{today}-{name}", title=title, now=sm.utc_now(), tags=tags)
    if interactive:
        # Each answer is committed to the journal before the next question; the id is
        # claimed by the first write.
        if no_save:
            final = _run(book, session, _Unsaved(), asker, prefilled, saved=False)
        else:
            journal = open_journal(database)
            session = journal.save_as_new(session, today, name, hold=True, playbook=book)
            try:
                final = _run(book, session, journal, asker, prefilled, saved=True)
            finally:
                journal.release(session.id)
    else:
        # Nothing is typed, so nothing can be lost: run in memory, and open the journal
        # only to write the completed session, so that missing answers leave it untouched
        # (and a fresh home without a journal file).
        final = _run(book, session, _Unsaved(), asker, prefilled, saved=False)
        if not no_save:
            final = open_journal(database).save_as_new(final, today, name, playbook=book)
    _finish(book, final, saved=not no_save)


def _finish(book: Playbook, final: sm.Session, *, saved: bool) -> None:
    from mea_culpa.cli import ui

    plan = sm.plan(book, final)
    ui.summary(final, plan, saved=saved, still_open=sm.open_items(book, final))
    keep = final.steps.get("keep_record")
    if saved and keep is not None and keep.value is False:
        ui.notice(f"You chose not to keep this record. Once the messages are sent: mea-culpa forget {final.id}")
    if saved and not sys.stdout.isatty():
        print(final.id)  # the one piece of data, for scripts: id=$(mea-culpa start … --no-input)


def resume(
    session_id: str | None,
    *,
    answers_file: Path | None,
    assignments: Sequence[str],
    no_input: bool,
    extra: tuple[Path, ...],
    database: str | None = None,
    take_over: bool = False,
) -> None:
    from mea_culpa.journal import open_journal

    journal = open_journal(database, create=False)
    resumed = journal.begin_resume(session_id and utf8_text(session_id, "SESSION"), take_over=take_over)  # holds the lease
    try:
        if resumed.restored is not None:
            _say(f"Put back the answers kept in {resumed.restored} while the journal could not be reached.")
        _resume(journal, resumed.session, answers_file=answers_file, assignments=assignments, no_input=no_input, extra=extra)
    finally:
        journal.release(resumed.session.id)


def _resume(journal: Any, session: sm.Session, *, answers_file: Path | None, assignments: Sequence[str], no_input: bool,
            extra: tuple[Path, ...]) -> None:
    from mea_culpa.cli import ui
    from mea_culpa.playbook import catalog

    book, changed = catalog.playbook_for_session(session, extra)
    prefilled = prefilled_answers(book, answers_file, assignments)
    interactive = not no_input and can_ask()
    if not interactive and not no_input:
        _say("(no terminal to ask questions: running as with --no-input)")
    session, change = sm.note_resumed(session, now=sm.utc_now(), detail="playbook changed" if changed else "")
    if interactive:
        from mea_culpa.cli.prompts import QuestionaryAsker

        journal.apply(session, change, playbook=book)
        ui.resumed(session, sm.plan(book, session), changed=changed)
        final = _run(book, session, journal, QuestionaryAsker(), prefilled, saved=True)
    else:
        from mea_culpa.run.asking import NoInputAsker

        if changed:
            ui.notice("The playbook changed since this session started; answers are matched by step id.")
        final = _run(book, session, _Unsaved(), NoInputAsker(), prefilled, saved=False)
        journal.save(final, playbook=book)
    _finish(book, final, saved=True)
