"""`mea-culpa draft`: render a message from a session, check it, store it, print it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from mea_culpa.journal import Journal
    from mea_culpa.playbook.model import Message, Playbook
    from mea_culpa.run.session import Plan, Session


def draft(
    session: str | None = typer.Argument(
        None, help="The session id, or the start of it. Default: the latest session.", show_default=False
    ),
    message: str | None = typer.Option(
        None, "--message", "-m", metavar="ID", help="The message to draft, e.g. customer-apology. Default: choose from a list."
    ),
    tone: str = typer.Option("warm", "--tone", metavar="TONE", help="warm, formal or light (light only for small mistakes)."),
    phase: str | None = typer.Option(
        None, "--phase", metavar="PHASE", help="For a status update: investigating, identified, monitoring or resolved."
    ),
    edit: bool = typer.Option(False, "--edit", help="Open the draft in $VISUAL or $EDITOR and keep your edited text too."),
    output: Path | None = typer.Option(None, "--output", "-o", metavar="FILE", help="Write the draft to this file instead of stdout."),
    force: bool = typer.Option(False, "--force", help="Let --output replace an existing file."),
    mark_sent: bool = typer.Option(
        False, "--mark-sent", help="Record that you sent the latest draft of --message (and --phase); drafts nothing."
    ),
    copy: bool = typer.Option(False, "--copy", help="Also put the draft on the clipboard."),
    email: bool = typer.Option(False, "--email", help="Also open it as a new message in your mail program (a mailto: link)."),
    post: str | None = typer.Option(
        None, "--post", metavar="slack|webhook:URL",
        help="Also post it (a status update or a note for the team) to Slack or a webhook, after showing it and asking.",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --post: post without asking (for scripts)."),
    playbooks: list[Path] | None = typer.Option(
        None, "--playbooks", metavar="DIR", help="A folder of playbooks to search first (repeatable)."
    ),
    database: str | None = typer.Option(
        None, "--database", metavar="URL", help="The journal to use (default: $MEA_CULPA_DATABASE_URL, else your own file)."
    ),
) -> None:
    """Draft a message from a session's answers: an apology, a status update, a follow-up,
    a blameless note for the team, a personal note or a short public post.

    The draft goes to stdout (or --output); its apology-check score and findings go to
    stderr. Every draft, and your edited version with --edit, is kept in the session.

    Drafting is not sending: once a draft has gone out, say so with --mark-sent, which
    settles the follow-up it was owed (see `mea-culpa actions`).

    \b
    --copy, --email and --post send it from here, and the session records what went out
    (how, where, when): a posted status update counts as sent, and the next one falls due
    from that moment. The Slack webhook comes from `mea-culpa config set slack-webhook`
    (the system keyring) or MEA_CULPA_SLACK_WEBHOOK.

    \b
    Examples:
      mea-culpa draft --message status-update --phase investigating | pbcopy
      mea-culpa draft --message status-update --phase investigating --post slack
      mea-culpa draft --message customer-apology --email
      mea-culpa draft --message follow-up --mark-sent
    """
    from mea_culpa.cli import send
    from mea_culpa.cli.run import utf8_text
    from mea_culpa.errors import UsageError
    from mea_culpa.journal import open_journal
    from mea_culpa.messages import drafting as messages
    from mea_culpa.playbook.catalog import playbook_for_session
    from mea_culpa.run.session import plan as session_plan

    if mark_sent:
        if edit or output is not None or copy or email or post:
            raise UsageError("--mark-sent records a draft you sent; it drafts nothing, so it takes no --edit, --output, --copy, --email or --post")
        _mark_sent(None if session is None else utf8_text(session, "SESSION"), message, phase, database)
        return
    if output is not None:  # refused before any work: an existing file without --force, a folder…
        from mea_culpa.files import check_output

        check_output(output, force=force)
    sending = send.prepare(copy=copy, email=email, post=post, yes=yes)
    editor = _editor() if edit else []
    with open_journal(database, create=False) as journal:
        current = journal.load(journal.resolve(None if session is None else utf8_text(session, "SESSION")))
        playbook, changed = playbook_for_session(current, tuple(playbooks or ()))
        if changed:
            _say(f"note: playbook {playbook.id!r} changed since this session started; drafting from the current version")
        plan = session_plan(playbook, current)  # worked out once, for choosing and for drafting
        chosen = _pick_message(playbook, current, message, plan)
        send.check_message(sending, chosen)
        phase = _pick_phase(chosen, phase)
        rendered = messages.render(playbook, current, chosen.id, tone=tone, phase=phase, plan_=plan)
        audience = messages.check_audience(chosen)
        result = _check(rendered.text, audience, chosen)
        current = _store(journal, current, chosen, tone, phase, rendered.text, result, edited=False)
        text, edited = rendered.text, False
        if edit:
            try:
                edited_text = _edit(text, editor)
            except KeyboardInterrupt:  # Ctrl-C, SIGTERM, SIGHUP while the editor was open
                from mea_culpa.errors import Interrupted

                raise Interrupted(f"Stopped. The draft as rendered is kept in session {current.id}; the edits are not.") from None
            if edited_text is None or edited_text.strip() == text.strip():
                _say("no changes in the editor; the draft is kept as it was rendered")
            else:
                text, edited = (edited_text if edited_text.endswith("\n") else edited_text + "\n"), True
                result = _check(text, audience, chosen)
                current = _store(journal, current, chosen, tone, phase, text, result, edited=True)
    if output is not None:
        from mea_culpa.files import write_atomic

        write_atomic(output, text, force=force)
        _say(f"wrote {output}")
    else:
        from mea_culpa.cli.output import data

        data(text)
        sys.stdout.flush()
    # The check reads as a note on the draft, so it comes after it: in a terminal, where
    # both streams share the screen, the score is never above the text it scores.
    _report(chosen, tone, phase, current.id, result, edited=edited)

    if sending is not None:
        sys.stdout.flush()  # the draft and its check first: a question about posting it comes after them
        send.deliver(sending, database=database, session=current, message=chosen, phase=phase, text=text,
                     on_screen=output is None and sys.stdout.isatty())
    from mea_culpa.cli import reminder

    reminder.overdue(database)


def _mark_sent(session_id: str | None, message: str | None, phase: str | None, database: str | None) -> None:
    """Record that the latest draft of a message (and phase) went out."""
    from mea_culpa.errors import UsageError
    from mea_culpa.journal import open_journal
    from mea_culpa.run.session import mark_sent, utc_now

    if message is None:
        raise UsageError("name the message you sent with --message, e.g. --message follow-up --mark-sent")
    with open_journal(database, create=False) as journal:
        current = journal.load(journal.resolve(session_id))
        drafts = [d for d in current.drafts if d.message_id == message and (phase is None or d.phase == phase)]
        if not drafts:
            which = f"{message} ({phase})" if phase else message
            raise UsageError(
                f"session {current.id} has no {which} draft to mark sent",
                hint=f"draft it first: mea-culpa draft {current.id} --message {message}" + (f" --phase {phase}" if phase else ""),
            )
        sent = drafts[-1]
        current, change = mark_sent(current, sent, now=utc_now())
        journal.apply(current, change)
    what = " · ".join(p for p in (sent.message_id, sent.phase, "edited" if sent.edited else "") if p)
    _say(f"marked sent: {what} (drafted {sent.created_at.replace('T', ' ').replace('Z', ' UTC')}) in session {current.id}")


def _say(line: str) -> None:
    typer.echo(line, err=True)


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _choose(title: str, choices: list[tuple[str, str]]) -> str | None:
    """Ask at the terminal (cli/prompts.py's chooser); None where there is none to ask on."""
    if not _interactive():
        return None
    from mea_culpa.cli.prompts import choose

    picked = choose(title, choices)
    return picked if isinstance(picked, str) else None


def _pick_message(playbook: Playbook, session: Session, wanted: str | None, plan: Plan) -> Message:
    from mea_culpa.errors import UsageError
    from mea_culpa.messages import drafting as messages

    if wanted is not None:
        return messages.find_message(playbook, wanted)
    offered = messages.available(playbook, session, plan)
    if not offered:
        raise UsageError(f"playbook {playbook.id!r} offers no messages for this session")
    picked = _choose("Which message?", [(m.id, m.title) for m in offered])
    if picked is None:
        raise UsageError(f"choose a message with --message: {', '.join(m.id for m in offered)}")
    return messages.find_message(playbook, picked)


def _pick_phase(message: Message, phase: str | None) -> str | None:
    from mea_culpa.errors import UsageError
    from mea_culpa.messages import drafting as messages

    valid = messages.phases_for(message)
    if phase is not None or not valid:
        return phase
    picked = _choose("Which phase?", [(p, p) for p in valid])
    if picked is None:
        raise UsageError(f"the {message.id} message needs --phase: {', '.join(valid)}")
    return picked


def _check(text: str, audience: str, message: Message) -> Any:
    """The check's result: an apology is scored as one; a message that informs or asks
    (a status update, a public post, a request) only for the phrases that would hurt it."""
    from mea_culpa.apology import check_text

    return check_text(text, audience, kind="notice" if _informs(message) else "apology")


def _store(
    journal: Journal, session: Session, message: Message, tone: str, phase: str | None, text: str, result: Any, *, edited: bool
) -> Session:
    from mea_culpa.run.session import Draft, add_draft, utc_now

    record = Draft(
        message_id=message.id,
        tone=tone,
        text=text,
        created_at=utc_now(),
        phase=phase,
        edited=edited,
        score=result.score if result is not None else None,
        findings=tuple(f.to_dict() for f in result.findings) if result is not None else (),
    )
    session, change = add_draft(session, record)
    journal.apply(session, change)
    return session


def _report(message: Message, tone: str, phase: str | None, session_id: str, result: Any, *, edited: bool) -> None:
    what = " · ".join(p for p in (message.id, tone, phase, "edited" if edited else "") if p)
    _say(f"{what} · kept in session {session_id}")
    if result is None:
        return
    _say(f"{'message' if result.kind == 'notice' else 'apology'} check: {result.score}/100")
    if not _informs(message):
        for tip in list(getattr(result, "tips", ()))[:3]:
            _say(f"  tip: {tip}")
    for f in result.findings:
        line = f"  {f.line}:{f.column} {f.level} [{f.category}] “{f.match}”: {f.message}"
        if f.suggestion:
            line += f" ({f.suggestion})"
        _say(line)


def _informs(message: Message) -> bool:
    """Status updates, public posts and requests (such as asking a wrong recipient to delete
    a message) inform or ask; the missing parts of an apology are no fault there."""
    from mea_culpa.messages import drafting as messages

    return bool(messages.phases_for(message)) or message.audience == "public" or message.template in messages.REQUEST_TEMPLATES


def _terminal() -> dict[str, Any]:
    """Streams for the editor: the terminal itself when stdout is piped elsewhere."""
    if sys.stdout.isatty() or not os.path.exists("/dev/tty"):
        return {}
    try:
        tty = open("/dev/tty", "r+b", buffering=0)  # noqa: SIM115 - closed by the caller
    except OSError:
        return {}
    return {"stdin": tty, "stdout": tty}


def _editor() -> list[str]:
    """The command of the user's editor ($VISUAL, then $EDITOR), checked before drafting."""
    import shlex

    from mea_culpa.errors import UsageError

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    command = shlex.split(editor, posix=os.name != "nt") if editor else []
    if not command:
        raise UsageError("--edit needs an editor: set VISUAL or EDITOR, e.g. export EDITOR=nano")
    return command


def _edit(text: str, command: list[str]) -> str | None:
    """The text after the user edited it in their editor; None if they could not."""
    import subprocess
    import tempfile

    from mea_culpa.cli.run import stop_signals_as_interrupt

    # SIGTERM and SIGHUP (a closed terminal) stop the editing like Ctrl-C, so that the
    # folder with the draft is removed on the way out instead of left behind.
    with tempfile.TemporaryDirectory(prefix="mea-culpa-") as folder, stop_signals_as_interrupt():
        path = Path(folder) / "draft.txt"
        path.write_text(text, encoding="utf-8")
        streams = _terminal()
        try:
            done = subprocess.run([*command, str(path)], check=False, **streams)
        except OSError as exc:
            _say(f"cannot start the editor {command[0]!r} ({exc.strerror or exc}); the draft is kept as it was rendered")
            return None
        finally:
            for stream in set(streams.values()):
                stream.close()
        if done.returncode != 0:
            _say(f"the editor exited with status {done.returncode}; the draft is kept as it was rendered")
            return None
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _say(f"cannot read the edited draft ({exc}); the draft is kept as it was rendered")
            return None
