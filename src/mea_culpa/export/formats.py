"""A session as text to share or keep: Markdown, HTML, JSON or a replayable YAML answers
file, for the team or the public. The one entry point of the export layer."""

from __future__ import annotations

import json
from collections.abc import Mapping

from mea_culpa.errors import UsageError
from mea_culpa.export.document import session_data
from mea_culpa.playbook.model import Playbook
from mea_culpa.run.session import Session
from mea_culpa.text.terminal import json_for_terminal, safe_for_terminal

FORMATS = ("md", "html", "json", "yaml")
ALIASES = {"markdown": "md", "htm": "html", "yml": "yaml"}


def normalise_format(fmt: str) -> str:
    """The export format named by `fmt` (md, html, json, yaml, or an alias such as yml)."""
    name = fmt.strip().lower().lstrip(".")
    name = ALIASES.get(name, name)
    if name not in FORMATS:
        raise UsageError(f"there is no export format {fmt!r}; choose md, html, json or yaml")
    return name


def format_for_path(name: str) -> str | None:
    """The format a file name's suffix suggests (`report.html` -> html), or None."""
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    suffix = ALIASES.get(suffix, suffix)
    return suffix if suffix in FORMATS else None


def export_session(
    playbook: Playbook,
    session: Session,
    fmt: str,
    *,
    include_sensitive: bool = False,
    action_status: Mapping[tuple[str, str], str] | None = None,
    all_drafts: bool = False,
    audience: str = "team",
) -> str:
    """The session as Markdown, HTML, JSON or YAML text (see docs/export.md), for the
    team (everything) or the public (export/audience.py)."""
    from mea_culpa.export import audience as audiences

    # Exports are printed and read in terminals, so none carries an escape sequence: JSON
    # and YAML keep every character of the answers, written as escapes; Markdown and HTML,
    # text for people, leave the controls out (newlines and tabs stay).
    name = normalise_format(fmt)
    public = audiences.check(audience) == "public"
    if public and name == "yaml":
        raise UsageError("an answers file replays the whole session, so it is the team's: export --format yaml without --audience public")
    if public and include_sensitive:
        raise UsageError("a public export never holds sensitive answers; leave out --include-sensitive")
    if name == "yaml":
        from mea_culpa.export.answers_file import to_yaml

        return to_yaml(playbook, session, include_sensitive=include_sensitive)
    data = session_data(playbook, session, include_sensitive=include_sensitive, action_status=action_status,
                        all_drafts=all_drafts)
    if public:
        data = audiences.public_document(playbook, data)
    if name == "json":
        return json_for_terminal(json.dumps(data, ensure_ascii=False, indent=2)) + "\n"
    if name == "html":
        from mea_culpa.export.html import to_html

        return safe_for_terminal(to_html(playbook, data))
    from mea_culpa.export.markdown import to_markdown

    return safe_for_terminal(to_markdown(playbook, data))
