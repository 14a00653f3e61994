"""Sending a draft from where the person is: the clipboard, the mail program (a `mailto:`
link), a Slack incoming webhook, or any webhook that takes a JSON POST.

Adapters only: each returns what it did or raises a SendError (one line, and what to do);
nothing here prints or asks. The command line shows the preview, asks before posting, and
records what went out (run.session.record_sent). The libraries that do the work (pyperclip,
slack-sdk, keyring, webbrowser) are imported only on the path that sends.

Secrets: a Slack webhook's URL is a password (anyone holding it can post to the channel).
It comes from MEA_CULPA_SLACK_WEBHOOK or the system keyring, never from a playbook or an
answers file, and only its masked form (`mask_url`) is shown or stored.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

from mea_culpa.errors import ExitCode, MeaCulpaError, UsageError

if TYPE_CHECKING:
    from mea_culpa.run.session import Session

SLACK_ENV = "MEA_CULPA_SLACK_WEBHOOK"
SLACK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
KEYRING_SERVICE = "mea-culpa"
SECRETS = {"slack-webhook": "the Slack incoming webhook's URL"}  # what `config` may keep in the keyring
RECIPIENT_STEP = "recipient_email"  # the conventional step whose answer addresses the mail
# Mail programs cut long links: Outlook on Windows stops at 2,083 characters (the limit of
# the browser engine it shares), and some Linux mail programs receive the link on a command
# line with its own limits. A bound a little under the lowest of these keeps every
# character of the draft or none: past it, the body goes to the clipboard instead.
MAILTO_LIMIT = 2_000
TIMEOUT_S = 10  # a webhook that has not answered by then is reported, not waited for
POSTABLE_AUDIENCES = ("internal", "public")  # who a channel post may be written for

_SUBJECT = re.compile(r"\ASubject:[ \t]*(?P<subject>[^\n]*)\n\n?", re.IGNORECASE)
_ADDRESS = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z_-]*[0-9]{0,2}")  # services, hooks, api, v1


class SendError(MeaCulpaError):
    """A draft could not go where it was sent. The draft itself is kept in the session."""

    exit_code = ExitCode.FAILED


class NoClipboard(SendError):
    """This machine has no clipboard that a program can write (no xclip, xsel, wl-copy…)."""


class NoKeyring(SendError):
    """This machine has no system keyring to keep a secret in."""


# --- where a post goes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """Where `--post` sends: Slack (a webhook URL kept as a secret) or another webhook."""

    kind: str  # slack | webhook
    url: str
    source: str = ""  # where the URL came from, for messages: the keyring, MEA_CULPA_SLACK_WEBHOOK, the command line

    @property
    def shown(self) -> str:
        """The URL with its secret parts masked: what is shown and stored. All of a Slack
        webhook's path past `/services/` is its secret, whatever it looks like."""
        return mask_url(self.url, secret_path=self.kind == "slack")

    @property
    def name(self) -> str:
        return "Slack" if self.kind == "slack" else urlsplit(self.url).hostname or "the webhook"


def parse_target(spec: str) -> Target:
    """`slack` (the webhook from MEA_CULPA_SLACK_WEBHOOK or the keyring) or `webhook:URL`."""
    text = spec.strip()
    if text.lower() == "slack":
        url, source = slack_webhook()
        return Target("slack", url, source)
    kind, sep, url = text.partition(":")
    if sep and kind.lower() == "webhook":
        return Target("webhook", check_url(url.strip(), "--post webhook:URL"), "the command line")
    raise UsageError(f"--post {spec!r}: post to `slack` or to `webhook:URL` (e.g. webhook:https://status.example.com/hooks/…)")


def check_url(url: str, what: str) -> str:
    """A webhook URL that can be posted to: http(s) with a host, and https unless the host
    is this machine (a local relay), so that the token in it never crosses a network in clear."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError:
        raise UsageError(f"{what}: {mask_url(url)!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UsageError(f"{what}: {mask_url(url)!r} is not an http(s) URL", hint="a webhook URL looks like https://hooks.slack.com/services/…")
    if parts.scheme == "http" and not _loopback(host):
        raise UsageError(f"{what}: {mask_url(url)!r} would send the webhook's secret unencrypted; use https://")
    return url


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _looks_secret(segment: str) -> bool:
    """A path segment that may be an id or a token: not a plain word, or a long one."""
    return bool(segment) and (not _WORD.fullmatch(segment) or len(segment) > 20)


def mask_url(url: str, *, secret_path: bool = False) -> str:
    """The URL with what may be secret masked: a password, the values of the query, and
    the path from the first segment that looks like an id or a token on (with
    `secret_path`, from the second segment on): the last segment as ***, the others by
    their first letter (`https://hooks.slack.com/services/T…/B…/***`)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "***"
    if not parts.scheme or not host:
        return "***" if url.strip() else ""
    user = f"{parts.username}:***@" if parts.password is not None else (f"{parts.username}@" if parts.username else "")
    segments = parts.path.split("/")
    named = [i for i, segment in enumerate(segments) if segment]
    if secret_path or parts.hostname in SLACK_HOSTS:
        first = named[1] if len(named) > 1 else None
    else:
        first = next((i for i, segment in enumerate(segments) if _looks_secret(segment)), None)
    if first is not None:
        last = named[-1]
        for index in range(first, last + 1):
            if segments[index]:
                segments[index] = "***" if index == last else segments[index][0] + "…"
    query = "&".join(f"{pair.partition('=')[0]}=***" for pair in parts.query.split("&") if pair) if parts.query else ""
    return urlunsplit(SplitResult(parts.scheme, f"{user}{host}{port}", "/".join(segments), query, "***" if parts.fragment else ""))


# --- the Slack webhook: from the environment or the keyring --------------------------------


def slack_webhook() -> tuple[str, str]:
    """(URL, where it came from): MEA_CULPA_SLACK_WEBHOOK, else the system keyring."""
    from_env = os.environ.get(SLACK_ENV, "").strip()
    if from_env:
        return check_url(from_env, SLACK_ENV), SLACK_ENV
    try:
        stored = read_secret("slack-webhook")
    except NoKeyring:
        stored = None
    if stored:
        return check_url(stored, "the Slack webhook in the keyring"), "the system keyring"
    raise UsageError(
        "no Slack webhook is set",
        hint=f"store one with: mea-culpa config set slack-webhook (or set {SLACK_ENV})",
    )


def _keyring() -> Any:
    import keyring
    from keyring.errors import KeyringError

    return keyring, KeyringError


def read_secret(key: str) -> str | None:
    """The secret kept in the system keyring under `key`, or None."""
    keyring, failure = _keyring()
    try:
        value = keyring.get_password(KEYRING_SERVICE, key)
    except failure as exc:
        raise _no_keyring(exc) from None
    return str(value) if value else None


def store_secret(key: str, value: str) -> str:
    """Keep a secret in the system keyring; returns the keyring's name."""
    keyring, failure = _keyring()
    try:
        keyring.set_password(KEYRING_SERVICE, key, value)
    except failure as exc:
        raise _no_keyring(exc) from None
    return _keyring_name(keyring)


def delete_secret(key: str) -> bool:
    """Remove a secret from the system keyring; False when there was none."""
    keyring, failure = _keyring()
    from keyring.errors import PasswordDeleteError

    try:
        keyring.delete_password(KEYRING_SERVICE, key)
    except PasswordDeleteError:
        return False
    except failure as exc:
        raise _no_keyring(exc) from None
    return True


def _keyring_name(keyring: Any) -> str:
    backend = keyring.get_keyring()
    return str(getattr(backend, "name", type(backend).__name__))


def _no_keyring(exc: Exception) -> NoKeyring:
    detail = str(exc).split(".")[0].strip() or type(exc).__name__
    return NoKeyring(
        f"the system keyring cannot be used here ({detail})",
        hint=f"set {SLACK_ENV} in the environment instead",
    )


# --- posting ---------------------------------------------------------------------------------


def can_post(message_audience: str, channel: str, phased: bool) -> bool:
    """Whether a message is written for a channel post: a status update, a note for the
    team, a public post. A letter to one customer or colleague is not."""
    return phased or message_audience in POSTABLE_AUDIENCES or channel in ("chat", "status-page", "social")


def slack_text(text: str) -> str:
    """The draft as Slack's `text`: &, < and > escaped, as Slack asks, so that an answer
    holding `<!channel>` or `<https://…|a link>` is shown as typed, never acted on."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def payload(target: Target, text: str, *, session_id: str, message_id: str, phase: str | None) -> dict[str, Any]:
    """What is posted: Slack takes `text`; any other webhook gets `text` with the session,
    the message and the phase, for status pages and chat tools that file updates."""
    if target.kind == "slack":
        return {"text": slack_text(text.rstrip("\n"))}
    return {"text": text.rstrip("\n"), "session": session_id, "message": message_id, "phase": phase}


def post(target: Target, body: Mapping[str, Any], *, timeout: int = TIMEOUT_S) -> None:
    """POST `body` as JSON to the target. Raises SendError with one line saying what went
    wrong (refused, unreachable, no answer) and whether it may have arrived anyway.

    Through slack-sdk's WebhookClient for Slack and other webhooks alike: one transport,
    with its proxy settings (HTTPS_PROXY), TLS and HTTP errors returned as responses. Its
    retry is limited to failures to connect, where nothing was delivered: a post that broke
    off after it was sent is reported rather than sent twice."""
    import logging
    import ssl
    from http.client import HTTPException
    from urllib.error import URLError

    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
    from slack_sdk.webhook import WebhookClient

    # slack-sdk logs a failure at ERROR; with no logging set up, Python would print that
    # on stderr (URL and all) beside our one line. Its records stop here.
    logger = logging.getLogger("mea_culpa.sending")
    logger.setLevel(logging.CRITICAL)
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    client = WebhookClient(
        target.url, timeout=timeout, logger=logger, retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1, error_types=[URLError])],
    )
    where = f"{target.name} ({target.shown})" if target.kind == "slack" else target.shown
    try:
        response = client.send_dict(dict(body))
    except URLError as exc:
        raise SendError(f"cannot reach {where}: {_reason(exc.reason)}; nothing was posted") from None
    except TimeoutError:  # socket.timeout is TimeoutError since Python 3.10
        raise SendError(f"{where} did not answer within {timeout} s; it may have arrived: look before posting again") from None
    except (ConnectionError, HTTPException, ssl.SSLError) as exc:
        raise SendError(f"the connection to {where} broke off ({_reason(exc)}); it may have arrived: look before posting again") from None
    if not 200 <= response.status_code < 300:
        advice = _refusal_advice(target, response.status_code, response.body)
        raise SendError(f"{where} refused the post (HTTP {response.status_code}{_said(response.body)}); {advice}")
    if target.kind == "slack" and response.body.strip() not in ("ok", ""):
        raise SendError(f"Slack did not take the post ({_said(response.body).strip(' :')}); nothing was posted")


def _reason(reason: object) -> str:
    import socket

    if isinstance(reason, socket.gaierror):
        return "its name does not resolve (no network, or a wrong host)"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "no answer (timed out)"
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return str(text).strip()


def _said(body: str) -> str:
    text = " ".join(str(body or "").split())
    return f": {text[:80]}" if text else ""


def _refusal_advice(target: Target, status: int, body: str) -> str:
    said = (body or "").strip()
    if target.kind == "slack" and (status in (403, 404, 410) or said in ("invalid_token", "no_service", "channel_is_archived")):
        return "nothing was posted: the webhook is no longer valid (store a new one with: mea-culpa config set slack-webhook)"
    if status == 429:
        return "nothing was posted: too many posts at once, try again in a minute"
    if status >= 500:
        return "nothing was posted, as far as it says: try again later"
    return "nothing was posted"


# --- the clipboard -------------------------------------------------------------------------


def copy(text: str) -> None:
    """Put the text on the clipboard. NoClipboard (one line, and what would give one) when
    the machine has none a program can write, such as a server without a display."""
    import pyperclip

    try:
        pyperclip.copy(text)
    except pyperclip.PyperclipException:
        hint = "install xclip, xsel or wl-clipboard" if sys.platform.startswith("linux") else None
        raise NoClipboard("there is no clipboard on this machine to copy to", hint=hint) from None


# --- mail ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mail:
    """A draft as the parts of an email, and the `mailto:` link that carries them."""

    to: str | None
    subject: str | None
    body: str
    link: str  # with the body when it fits within MAILTO_LIMIT, else without it
    length: int  # of the link with the body

    @property
    def whole(self) -> bool:
        """Whether the link carries the body (else it was too long, and the body travels apart)."""
        return self.length <= MAILTO_LIMIT


def split_subject(text: str) -> tuple[str | None, str]:
    """A draft's `Subject: …` first line (email drafts start with one) and the body."""
    match = _SUBJECT.match(text)
    if not match:
        return None, text
    return match.group("subject").strip() or None, text[match.end():]


def recipient(session: Session) -> str | None:
    """The address the answers give (the `recipient_email` step), when it is one address."""
    record = session.steps.get(RECIPIENT_STEP)
    value = record.value if record is not None and record.state == "answered" else None
    if isinstance(value, str) and _ADDRESS.fullmatch(value.strip()):
        return value.strip()
    return None


def mail(text: str, to: str | None = None) -> Mail:
    """The `mailto:` link for a draft (RFC 6068: UTF-8, percent-encoded, lines ending in
    CRLF). Past MAILTO_LIMIT characters the body is left out of the link."""

    def encode(value: str) -> str:
        return quote(value, safe="")

    subject, body = split_subject(text)
    body = body.rstrip("\n") + "\n"
    address = quote(to, safe="@") if to else ""
    fields = [f"subject={encode(subject)}"] if subject else []
    head = f"mailto:{address}"
    with_body = head + "?" + "&".join([*fields, "body=" + encode(body.replace("\n", "\r\n"))])
    if len(with_body) <= MAILTO_LIMIT:
        return Mail(to, subject, body, with_body, len(with_body))
    return Mail(to, subject, body, head + ("?" + "&".join(fields) if fields else ""), len(with_body))


def can_open_links() -> bool:
    """Whether a link can be handed to a program the person sees. On Linux and the BSDs
    without a display, Python's webbrowser would fall back to a text browser in this very
    terminal (lynx, w3m), which is no mail program: there the link is printed instead,
    unless BROWSER names what to use."""
    if os.environ.get("BROWSER"):
        return True
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def open_link(link: str) -> bool:
    """Hand the link to the person's mail program through the standard webbrowser module;
    False when nothing could be started."""
    if not can_open_links():
        return False
    import webbrowser

    try:
        return bool(webbrowser.open(link))
    except webbrowser.Error:
        return False
