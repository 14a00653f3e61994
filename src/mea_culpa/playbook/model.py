"""Playbooks: the frozen models a run works with, their vocabulary, and where their
templates are found.

Reading and validating a playbook file (the YAML shape, every check, the JSON Schema)
is format.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mea_culpa.paths import builtin_templates_dir, check_relative, resolve_inside
from mea_culpa.records import frozen

STAGE_KINDS: tuple[str, ...] = ("facts", "cause", "own", "apologize", "fix", "prevent", "move-on")
STAGE_TITLES: dict[str, str] = {
    "facts": "Collect the facts",
    "cause": "Understand the cause",
    "own": "Own it",
    "apologize": "Apologize",
    "fix": "Fix it",
    "prevent": "Prevent it",
    "move-on": "Move on",
}
STEP_TYPES: tuple[str, ...] = (
    "text", "long-text", "choice", "multi-choice", "yes-no", "number", "date", "datetime", "list", "action",
)
FIELD_TYPES: tuple[str, ...] = ("text", "long-text", "choice", "yes-no", "number", "date")
ACTION_STATES: tuple[str, ...] = ("done", "skipped", "blocked", "later")
AUDIENCES: tuple[str, ...] = ("customer", "internal", "personal", "public")
CHANNELS: tuple[str, ...] = ("email", "status-page", "social", "chat", "letter", "phone", "in-person", "document")
TONES: tuple[str, ...] = ("warm", "formal", "light")
# Names every template and expression may read besides the step ids.
CONTEXT_NAMES: frozenset[str] = frozenset(
    {"session", "playbook", "tone", "phase", "audience", "channel", "message", "actions", "stages", "answers", "now"}
)
# The conventional step ids that the built-in message templates read. A playbook provides
# the ones that fit its situation; in a template, one the playbook lacks or the user did
# not answer is simply empty (`{% if repair %}`), and printing it names the missing step.
# Documented in docs/templates.md.
VOCABULARY: frozenset[str] = frozenset(
    {
        # facts
        "severity", "sender_name", "organization", "recipient_name", "what_happened", "who_affected",
        "affected_count", "impact", "happened_at", "noticed_at", "still_happening", "what_is_affected",
        "workaround", "data_lost",
        # cause
        "trigger", "contributing_factors", "system_gap", "explanation",
        # own
        "responsibility",
        # apologize
        "apology_channels",
        # fix
        "fix_done", "fix_status", "repair", "make_good", "next_update_minutes",
        # prevent
        "prevention_actions", "prevention_summary",
        # move on
        "lesson", "still_to_tell", "keep_record",
    }
)
ID_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
STEP_ID_PATTERN = r"[a-z][a-z0-9_]*"
SCHEMA_URL = "https://mea-culpa.invalid/schema/playbook.json"  # editors read the local file; see `mea-culpa schema`


# --- models ---------------------------------------------------------------------------


@frozen
class Choice:
    """One option of a choice step: what is stored, what the user sees, a line of help."""

    value: str
    label: str
    help: str = ""


@frozen
class Validation:
    """What an answer must satisfy beyond its type (lengths, a pattern, a range)."""

    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    min: float | None = None
    max: float | None = None
    message: str = ""


@frozen
class Field:
    """One column of a list step (e.g. what / owner / due of an action item)."""

    id: str
    prompt: str
    type: str = "text"
    required: bool = True
    choices: tuple[Choice, ...] = ()
    help: str = ""


@frozen
class Step:
    """One question or to-do of a stage."""

    id: str
    type: str
    prompt: str
    stage: str
    help: str = ""
    default: Any = None
    required: bool = True
    choices: tuple[Choice, ...] = ()
    when: str | None = None
    validate: Validation = Validation()
    sensitive: bool = False
    fields: tuple[Field, ...] = ()
    min_items: int | None = None
    max_items: int | None = None
    action_items: bool = False

    def choice_label(self, value: Any) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.label
        return str(value)


@frozen
class Stage:
    """One of the seven stages, with its guidance and its steps."""

    kind: str
    title: str
    guidance: str = ""
    when: str | None = None
    steps: tuple[Step, ...] = ()

    @property
    def number(self) -> int:
        """1-based position of this kind among the seven stages."""
        return STAGE_KINDS.index(self.kind) + 1


@frozen
class Message:
    """A message the playbook can draft: its template, audience, channel and tones."""

    id: str
    title: str
    template: str
    audience: str = "customer"
    channel: str = "email"
    when: str | None = None
    tones: tuple[str, ...] = TONES
    phases: tuple[str, ...] = ()
    summary: str = ""


@frozen
class Playbook:
    """A validated playbook: its stages in order and the messages it offers."""

    id: str
    title: str
    summary: str
    version: str
    tags: tuple[str, ...]
    stages: tuple[Stage, ...]
    messages: tuple[Message, ...] = ()
    intro: str = ""
    path: Path | None = None
    content_hash: str = ""

    @property
    def steps(self) -> tuple[Step, ...]:
        return tuple(step for stage in self.stages for step in stage.steps)

    def step(self, step_id: str) -> Step | None:
        for step in self.steps:
            if step.id == step_id:
                return step
        return None

    def message(self, message_id: str) -> Message | None:
        for message in self.messages:
            if message.id == message_id:
                return message
        return None

    @property
    def folder(self) -> Path | None:
        return self.path.parent if self.path else None

    def as_data(self) -> dict[str, Any]:
        """The playbook as plain data (`show --json`)."""

        def choices(items: tuple[Choice, ...]) -> list[dict[str, str]]:
            return [{"value": c.value, "label": c.label, **({"help": c.help} if c.help else {})} for c in items]

        def step(st: Step) -> dict[str, Any]:
            out: dict[str, Any] = {"id": st.id, "type": st.type, "prompt": st.prompt, "required": st.required}
            for name in ("help", "when", "default"):
                if getattr(st, name) not in (None, ""):
                    out[name] = getattr(st, name)
            if st.choices:
                out["choices"] = choices(st.choices)
            if st.fields:
                out["fields"] = [{"id": f.id, "prompt": f.prompt, "type": f.type, "required": f.required} for f in st.fields]
            if st.sensitive:
                out["sensitive"] = True
            if st.action_items:
                out["action_items"] = True
            return out

        return {
            "id": self.id,
            "title": self.title,
            "summary": self.summary,
            "version": self.version,
            "tags": list(self.tags),
            "path": str(self.path) if self.path else None,
            "stages": [
                {"stage": s.kind, "title": s.title, "guidance": s.guidance, **({"when": s.when} if s.when else {}), "steps": [step(x) for x in s.steps]}
                for s in self.stages
            ],
            "messages": [
                {"id": m.id, "title": m.title, "template": m.template, "audience": m.audience, "channel": m.channel, "tones": list(m.tones), **({"when": m.when} if m.when else {}), **({"phases": list(m.phases)} if m.phases else {})}
                for m in self.messages
            ],
        }



# --- loading (playbook_format.py; imported only when a file is really validated) ------


def load(path: Path, *, display: str | None = None, templates: bool = True) -> Playbook:
    """Load and fully validate a playbook file; PlaybookError carries every problem.

    With `templates=False` the message templates are only found, not analysed: the
    analysis compiles every template, which `validate` and `show` pay, while a run does
    not need it and a draft reports a bad template when it renders."""
    from mea_culpa.playbook import format as playbook_format

    return playbook_format.load(path, display=display, templates=templates)


def loads(text: str, display: str, *, path: Path | None = None, templates: bool = True) -> Playbook:
    """Validate playbook text (see `load`)."""
    from mea_culpa.playbook import format as playbook_format

    return playbook_format.loads(text, display, path=path, templates=templates)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the playbook format, for editors and the YAML language server."""
    from mea_culpa.playbook import format as playbook_format

    return playbook_format.json_schema()


def find_template(name: str, playbook_folder: Path | None) -> Path | None:
    """The template file a playbook names (`apology` or `apology.j2`): beside the playbook
    first, then the built-ins. Only `.j2` files are templates, so that a playbook cannot
    make a draft of some other file that happens to sit in its folder. Raises PathEscape
    for names that would leave those folders."""
    check_relative(name)
    candidate = name if name.endswith(".j2") else f"{name}.j2"
    roots = ([playbook_folder] if playbook_folder else []) + [builtin_templates_dir()]
    for root in roots:
        found = resolve_inside(root, candidate)
        if found is not None and found.is_file():
            return found
    return None
