"""Two audiences for one record: the team's document keeps everything; the public one
(`export --audience public`) is the same document without what was meant for the team.

Left out of the public document (docs/export.md has the table):
- the drafts of messages not written for the public: the internal note, and letters to one
  customer or colleague (their audience is `internal`, `customer` or `personal`);
- the contributing factors (the `contributing_factors` step), and every step the playbook
  marks `audience: team`; what such a step's answer says is blotted out of the drafts that
  stay, as a sensitive answer is;
- owners' names (of action items, and the owner field of any list) and the session's author;
- the notes left on skipped, blocked or postponed steps and skipped stages;
- the record of where drafts were sent (webhook addresses, the clipboard).

Pure, like the rest of export/: a document in, a document out.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from mea_culpa.playbook.model import Playbook

AUDIENCES = ("team", "public")
FACTORS_STEP = "contributing_factors"  # the journal's conventional id (journal/upkeep.py)
PUBLIC_MESSAGES = ("public",)  # message audiences the public may read
REDACTED = "[redacted]"  # as document.REDACTED


def check(audience: str) -> str:
    from mea_culpa.errors import UsageError

    name = audience.strip().lower()
    if name not in AUDIENCES:
        raise UsageError(f"there is no audience {audience!r}; choose team (everything) or public")
    return name


def team_only(playbook: Playbook) -> set[str]:
    """The ids of the steps only the team reads."""
    return {step.id for step in playbook.steps if step.audience == "team" or step.id == FACTORS_STEP}


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        text = value.strip().rstrip(".")
        return [text] if len(text) >= 3 else []
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _texts(v)]
    return []


def public_document(playbook: Playbook, data: Mapping[str, Any]) -> dict[str, Any]:
    """The document (`document.session_data`) as the public may read it."""
    out = copy.deepcopy(dict(data))
    hidden = team_only(playbook)
    blotted: list[str] = []
    for stage in out["stages"]:
        kept = []
        for step in stage["steps"]:
            if step["id"] in hidden:
                blotted += _texts(step["answer"])
                continue
            step["reason"] = ""
            step["answer"] = _without_owners(step["answer"])
            kept.append(step)
        stage["steps"] = kept
        stage["reason"] = ""
    audiences = {m.id: m.audience for m in playbook.messages}
    out["messages"] = [m for m in out["messages"] if audiences.get(m["message"]) in PUBLIC_MESSAGES]
    secrets = sorted(set(blotted), key=len, reverse=True)
    for m in out["messages"]:
        m["text"] = _blot(m["text"], secrets)
    out["actions"] = [{**a, "owner": None} for a in out["actions"]]
    out["author"] = None
    out["sent"] = []
    out["audience"] = "public"
    return out


def _blot(text: str, secrets: list[str]) -> str:
    """`text` with each secret (any letter case) as [redacted], as sensitive answers are."""
    for secret in secrets:
        text = re.sub(re.escape(secret), REDACTED, text, flags=re.IGNORECASE)
    return text


def _without_owners(answer: Any) -> Any:
    """A list answer without the owner of each item."""
    if isinstance(answer, list):
        return [{k: v for k, v in item.items() if k != "owner"} if isinstance(item, Mapping) else item for item in answer]
    return answer
