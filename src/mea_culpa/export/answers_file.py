"""The export as a YAML answers file: `start --answers FILE --no-input` replays it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mea_culpa.playbook.model import Playbook
from mea_culpa.run.session import Session, plan
from mea_culpa.text.terminal import safe_for_terminal


def answers_data(playbook: Playbook, session: Session, *, include_sensitive: bool = False) -> tuple[dict[str, Any], list[str]]:
    """The answers to replay (step id -> value; actions as {state, reason}), in playbook
    order, and the ids of the sensitive answers left out."""
    plan_ = plan(playbook, session)
    answers: dict[str, Any] = {}
    left_out = []
    for stage in plan_.stages:
        for planned in stage.steps:
            rec = planned.record
            if rec is None or not planned.applicable:
                continue
            if planned.step.sensitive and not include_sensitive:
                left_out.append(planned.step.id)
                continue
            if rec.state == "answered":
                if rec.value is None:
                    continue
                value = rec.value
                if isinstance(value, list):  # optional fields left empty need not be spelled out
                    value = [{k: v for k, v in i.items() if v is not None} if isinstance(i, Mapping) else i for i in value]
                answers[planned.step.id] = value
            else:
                answers[planned.step.id] = {"state": rec.state, **({"reason": rec.reason} if rec.reason else {})}
    return answers, left_out


def to_yaml(playbook: Playbook, session: Session, *, include_sensitive: bool = False) -> str:
    """An answers file that `mea-culpa start PLAYBOOK --answers FILE --no-input` replays."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        # Readable blocks for multi-line text; but YAML reads a NEL (U+0085) or a CR as a
        # line break in every style but the double-quoted one, which escapes them.
        if "\x85" in value or "\r" in value:
            style: str | None = '"'
        else:
            style = "|" if "\n" in value.strip("\n") else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    answers, left_out = answers_data(playbook, session, include_sensitive=include_sensitive)
    # A comment ends at a newline: a title with one would start YAML of its own.
    title = " ".join(safe_for_terminal(session.title).split())
    header = [
        f"# mea-culpa answers from session {session.id} ({title})",
        f"# playbook {playbook.id}, version {playbook.version}",
        f"# replay with: mea-culpa start {playbook.id} --answers FILE --no-input",
    ]
    if left_out:
        header.append(
            f"# sensitive answers left out: {', '.join(left_out)}; "
            "export with --include-sensitive to keep them (a replay will ask for them)"
        )
    elif include_sensitive and any(s.sensitive for s in playbook.steps):
        header.append("# sensitive answers are included: keep this file private")
    document: dict[str, Any] = {"playbook": playbook.id, "session": session.id}
    skipped = {s.stage.kind: s.record.reason for s in plan(playbook, session).stages if s.state == "skipped" and s.record}
    if skipped:
        document["skipped_stages"] = skipped  # replayed: each is skipped when reached, with its reason
    document["answers"] = answers
    body = yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=10_000)
    return "\n".join(header) + "\n" + body


