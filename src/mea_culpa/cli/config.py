"""`mea-culpa config set / get / unset`: the secrets sending needs, kept in the system
keyring (macOS Keychain, Windows Credential Locker, the Secret Service on Linux), never in
a file. Today one key: `slack-webhook`.

The value is never taken from the command line, where it would stay in the shell's
history: `set` asks for it without echoing it, or reads it from standard input.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

config_app = typer.Typer(
    no_args_is_help=True, add_completion=False,
    help="Settings kept in the system keyring: the Slack webhook that `draft --post slack` uses.",
)

Key = Annotated[str, typer.Argument(metavar="KEY", help="slack-webhook", show_default=False)]


def _check_key(key: str) -> str:
    from mea_culpa.errors import UsageError
    from mea_culpa.messages.sending import SECRETS

    name = key.strip().lower()
    if name not in SECRETS:
        raise UsageError(f"there is no setting {key!r}; the settings are: {', '.join(SECRETS)}")
    return name


def _say(line: str) -> None:
    typer.echo(line, err=True)


@config_app.command("set")
def config_set(key: Key) -> None:
    """Store a setting in the system keyring. At a terminal it asks for the value without
    showing it; otherwise it reads the first line of standard input.

    \b
    Examples:
      mea-culpa config set slack-webhook
      pass show team/slack-webhook | mea-culpa config set slack-webhook
    """
    import os

    from mea_culpa.errors import UsageError
    from mea_culpa.messages import sending

    name = _check_key(key)
    if sys.stdin.isatty():
        what = sending.SECRETS[name]
        value = typer.prompt(f"{what[0].upper()}{what[1:]} (not shown)", hide_input=True, err=True)
    else:
        value = sys.stdin.readline()
    value = value.strip()
    if not value:
        raise UsageError(f"no value given for {name}; nothing was stored")
    sending.check_url(value, name)
    where = sending.store_secret(name, value)
    _say(f"stored {name} ({sending.mask_url(value)}) in the system keyring ({where})")
    if os.environ.get(sending.SLACK_ENV):
        _say(f"note: {sending.SLACK_ENV} is set in this environment, and wins over the keyring")


@config_app.command("get")
def config_get(
    key: Key,
    reveal: Annotated[bool, typer.Option("--reveal", help="Print the whole value (a secret) on standard output.")] = False,
) -> None:
    """Show a setting, its secret parts masked, and where it comes from.

    \b
    Example:
      mea-culpa config get slack-webhook
    """
    from mea_culpa.errors import MeaCulpaError
    from mea_culpa.messages import sending

    name = _check_key(key)
    try:
        url, source = sending.slack_webhook()
    except MeaCulpaError:
        raise MeaCulpaError(f"{name} is not set", hint="store it with: mea-culpa config set slack-webhook") from None
    typer.echo(url if reveal else sending.mask_url(url))
    _say(f"from {source}")


@config_app.command("unset")
def config_unset(key: Key) -> None:
    """Remove a setting from the system keyring.

    \b
    Example:
      mea-culpa config unset slack-webhook
    """
    import os

    from mea_culpa.messages import sending

    name = _check_key(key)
    if sending.delete_secret(name):
        _say(f"removed {name} from the system keyring")
    else:
        _say(f"{name} was not in the system keyring")
    if os.environ.get(sending.SLACK_ENV):
        _say(f"note: {sending.SLACK_ENV} is still set in this environment")
