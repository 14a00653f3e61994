"""`draft --copy / --email / --post`: the face of sending. It checks what was asked before
anything is drafted, shows what will be posted and asks first, hands the draft to the
adapters of messages/sending.py, says in one line what happened, and records what went
out in the session (run.session.record_sent).

Talk goes to stderr; the draft itself stays on stdout (or in --output), as without sending.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from mea_culpa.messages.sending import Target
    from mea_culpa.playbook.model import Message
    from mea_culpa.run.session import Sent, Session


@dataclass(frozen=True)
class Sending:
    """What `draft` was asked to do with the draft besides printing it."""

    copy: bool
    email: bool
    post: Target | None
    ask: bool  # ask before posting (no --yes)


def _say(line: str) -> None:
    typer.echo(line, err=True)


def prepare(*, copy: bool, email: bool, post: str | None, yes: bool) -> Sending | None:
    """Check the sending options before drafting, so that a missing webhook or a missing
    terminal to confirm on stops the command before anything is written."""
    if not (copy or email or post):
        return None
    from mea_culpa.errors import UsageError
    from mea_culpa.messages import sending

    target = sending.parse_target(post) if post else None
    if target is not None and not yes and not sys.stdin.isatty():
        raise UsageError("--post shows the draft and asks before it sends, and there is no terminal to ask on; add --yes to post without asking")
    return Sending(copy, email, target, ask=not yes)


def check_message(plan: Sending | None, message: Message) -> None:
    """Refuse to post a letter to one person into a channel (before it is drafted)."""
    if plan is None or plan.post is None:
        return
    from mea_culpa.errors import UsageError
    from mea_culpa.messages import drafting, sending

    if not sending.can_post(message.audience, message.channel, bool(drafting.phases_for(message))):
        raise UsageError(
            f"the {message.id} message is written to one {message.audience} reader, not for a channel; "
            "send it with --email or --copy"
        )


def deliver(plan: Sending, *, database: str | None, session: Session, message: Message, phase: str | None,
            text: str, on_screen: bool) -> None:
    """Copy, open in the mail program and post the draft as asked, recording each in the
    session. `on_screen`: the draft was just printed on the terminal (else the preview of a
    post shows it on stderr)."""
    from mea_culpa.run.session import Sent, utc_now

    drafted_at = session.drafts[-1].created_at
    done: list[Sent] = []

    def note(how: str, where: str) -> None:
        done.append(Sent(message.id, how, where, text, utc_now(), drafted_at, phase))

    try:
        if plan.copy and _copy(text, on_screen):
            note("clipboard", "clipboard")
        if plan.email:
            _email(text, session, on_screen, note)
        if plan.post is not None:
            _post(plan, plan.post, session, message, phase, text, on_screen, note)
    finally:
        if done:
            _record(database, session.id, done)


def _record(database: str | None, session_id: str, items: list[Sent]) -> None:
    from mea_culpa.journal import open_journal
    from mea_culpa.run.session import record_sent

    with open_journal(database, create=False) as journal:
        current = journal.load(session_id)
        for item in items:
            current, change = record_sent(current, item)
            journal.apply(current, change)


def _where_draft_is(on_screen: bool) -> str:
    return "the draft is printed above" if on_screen else "the draft is on standard output"


def _copy(text: str, on_screen: bool) -> bool:
    from mea_culpa.messages import sending

    try:
        sending.copy(text)
    except sending.NoClipboard as exc:
        advice = f" ({exc.hint})" if exc.hint else ""
        _say(f"{exc.message}{advice}; {_where_draft_is(on_screen)}")
        return False
    _say("copied to the clipboard")
    return True


def _email(text: str, session: Session, on_screen: bool, note: Callable[[str, str], None]) -> None:
    from mea_culpa.messages import sending

    mail = sending.mail(text, sending.recipient(session))
    to = f" to {mail.to}" if mail.to else ""
    if not mail.whole:
        try:
            sending.copy(mail.body)
            copied = "the body is on the clipboard instead: paste it into the message"
            note("clipboard", "clipboard")
        except sending.NoClipboard:
            copied = "and there is no clipboard: copy the body from the draft " + ("above" if on_screen else "on standard output")
        _say(f"the draft is too long for a mail link ({mail.length:,} characters; mail programs cut links past "
             f"{sending.MAILTO_LIMIT:,}); {copied}")
    if sending.open_link(mail.link):
        subject = f", subject \u201c{mail.subject}\u201d" if mail.subject else ""
        _say(f"opened a message{to} in your mail program{subject}")
        note("email", f"mailto:{mail.to}" if mail.to else "mail program")
    else:
        _say(f"no mail program can be opened here; open this link to write the message: {mail.link}")


def _post(plan: Sending, target: Target, session: Session, message: Message, phase: str | None, text: str,
          on_screen: bool, note: Callable[[str, str], None]) -> None:
    from mea_culpa.messages import sending

    what = message.id + (f" ({phase})" if phase else "")
    if plan.ask:
        if not on_screen:
            _say(f"--- the {what} to post ---")
            _say(text.rstrip("\n"))
            _say("---")
        shown = "the draft above" if on_screen else "it"
        if not typer.confirm(f"Post {shown} to {target.name} at {target.shown}?", default=False, err=True):
            _say(f"Nothing was posted; the draft is kept in session {session.id}.")
            return
    body = sending.payload(target, text, session_id=session.id, message_id=message.id, phase=phase)
    try:
        sending.post(target, body)
    except sending.SendError as exc:
        raise sending.SendError(f"{exc.message}; the draft is kept in session {session.id}") from None
    _say(f"posted the {what} to {target.name} ({target.shown}); recorded in session {session.id}")
    note("slack" if target.kind == "slack" else "webhook", target.shown)
