"""The playbook format, declared once: pydantic models that validate a playbook's data,
give the JSON Schema (`mea-culpa schema`), and are the frozen values a run works with.

Reading a file (YAML with marks, errors as file:line:col, the checks a shape cannot express)
is loading.py. The vocabulary (stage kinds, step types, the conventional step ids that the
built-in templates read) lives here, beside the models that use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import pydantic
from pydantic import BaseModel, ConfigDict, PrivateAttr, Strict, model_validator

from mea_culpa.paths import builtin_templates_dir, check_relative, resolve_inside

StageKind = Literal["facts", "cause", "own", "apologize", "fix", "prevent", "move-on"]
StepType = Literal["text", "long-text", "choice", "multi-choice", "yes-no", "number", "date", "datetime", "list", "action"]
FieldType = Literal["text", "long-text", "choice", "yes-no", "number", "date"]
Audience = Literal["customer", "internal", "personal", "public"]
Channel = Literal["email", "status-page", "social", "chat", "letter", "phone", "in-person", "document"]
Tone = Literal["warm", "formal", "light"]
StepAudience = Literal["public", "team"]  # who may read a step's answer in an export

STAGE_KINDS: tuple[str, ...] = get_args(StageKind)
STEP_TYPES: tuple[str, ...] = get_args(StepType)
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
AUDIENCES: tuple[str, ...] = get_args(Audience)
CHANNELS: tuple[str, ...] = get_args(Channel)
TONES: tuple[str, ...] = get_args(Tone)
ACTION_STATES: tuple[str, ...] = ("done", "skipped", "blocked", "later")
STAGE_TITLES: dict[str, str] = {
    "facts": "Collect the facts",
    "cause": "Understand the cause",
    "own": "Own it",
    "apologize": "Apologize",
    "fix": "Fix it",
    "prevent": "Prevent it",
    "move-on": "Move on",
}
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
        "fix_done", "fix_status", "repair", "make_good", "next_update_minutes", "resolved_at",
        # prevent
        "prevention_actions", "prevention_summary",
        # move on
        "lesson", "still_to_tell", "keep_record",
    }
)
ID_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"
STEP_ID_PATTERN = r"[a-z][a-z0-9_]*"
SCHEMA_URL = "https://mea-culpa.invalid/schema/playbook.json"  # editors read the local file; see `mea-culpa schema`

# What a pattern mismatch tells the author, by the model's title and the field's key.
PATTERN_HINTS: dict[tuple[str, str], str] = {
    ("playbook", "id"): "use kebab-case: lowercase words joined by -",
    ("playbook", "tags"): "use kebab-case",
    ("step", "id"): "use lowercase letters, digits and _ starting with a letter (templates read it as a name)",
    ("field", "id"): "use lowercase letters, digits and _",
    ("message", "id"): "use kebab-case, e.g. customer-apology",
    ("message", "phases"): "use kebab-case",
}

# --- the value types ----------------------------------------------------------------------

Text = Annotated[str, pydantic.Field(min_length=1)]  # after the surrounding spaces are stripped
Flag = Annotated[bool, Strict()]  # `true`/`false` only: "yes" in quotes is text, not a flag
Count = Annotated[int, Strict(), pydantic.Field(ge=0)]
Number = Annotated[float, Strict()]  # a whole number is a number too
KebabId = Annotated[str, pydantic.Field(pattern=f"^(?:{ID_PATTERN})$")]
StepId = Annotated[str, pydantic.Field(pattern=f"^(?:{STEP_ID_PATTERN})$")]
Expression = Annotated[str, pydantic.Field(min_length=1, description="A sandboxed Jinja expression over earlier answers.")]


def _number_as_text(value: Any) -> Any:
    """`version: 2` or a choice `3` is meant as text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value


# Text that may be written as a number in YAML.
TextOrNumber = Annotated[str, pydantic.BeforeValidator(_number_as_text, json_schema_input_type=str | float)]


def _plain_default(value: Any) -> Any:
    if isinstance(value, dict):
        raise pydantic_core_error("default_type", "expected a plain value or a list, found a mapping")
    return value


def pydantic_core_error(kind: str, message: str) -> Exception:
    """An error that pydantic reports as it is, at the place being validated."""
    from pydantic_core import PydanticCustomError

    return PydanticCustomError(kind, message)


Default = Annotated[
    Any,
    pydantic.AfterValidator(_plain_default),
    pydantic.WithJsonSchema(
        {"type": ["string", "number", "boolean", "array", "null"],
         "description": "Pre-filled answer; text may use {{ earlier_step_id }}."}
    ),
]


class _Model(BaseModel):
    """What every part of a playbook shares: frozen, no unknown keys, spaces trimmed, and an
    empty key (`help:` with nothing after it) the same as a key left out."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True, validate_by_name=False)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


# --- the models ---------------------------------------------------------------------------


class Choice(_Model):
    """One option of a choice step: what is stored, what the user sees, a line of help."""

    model_config = ConfigDict(title="choice")

    value: Annotated[TextOrNumber, pydantic.Field(min_length=1, max_length=100,
                                                  description="What is stored and what expressions compare with.")]
    label: Annotated[str, pydantic.Field(min_length=1, max_length=300, description="What the user sees.")]
    help: Annotated[str, pydantic.Field(description="One line shown under the choice.")] = ""
    exclusive: Annotated[Flag, pydantic.Field(description="In a multi-choice step: this choice cannot be ticked with another (\"Nobody else\").")] = False

    @model_validator(mode="before")
    @classmethod
    def _label_defaults_to_value(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("label") is None and isinstance(data.get("value"), (str, int, float)):
            return {**data, "label": str(data["value"])}
        return data


def _choice_from_text(value: Any) -> Any:
    """A choice written as plain text is its own value and label."""
    if isinstance(value, (Choice, dict)):
        return value
    if isinstance(value, str):
        return {"value": value, "label": value}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"value": str(value), "label": str(value)}
    raise pydantic_core_error("choice_type", f"expected text or a mapping, found {type_name(value)}")


ChoiceItem = Annotated[
    Choice,
    pydantic.BeforeValidator(_choice_from_text, json_schema_input_type=Annotated[str, pydantic.Field(min_length=1, max_length=100)] | Choice),
]
Choices = Annotated[tuple[ChoiceItem, ...], pydantic.Field(min_length=2)]


class Validation(_Model):
    """What an answer must satisfy beyond its type (lengths, a pattern, a range)."""

    model_config = ConfigDict(title="validate")

    min_length: Annotated[Count | None, pydantic.Field(description="Shortest accepted text.")] = None
    max_length: Annotated[Annotated[int, Strict(), pydantic.Field(ge=1)] | None, pydantic.Field(description="Longest accepted text.")] = None
    pattern: Annotated[str | None, pydantic.Field(min_length=1, max_length=200, description="A regular expression the whole text must match.")] = None
    min: Annotated[Number | None, pydantic.Field(description="Smallest accepted number.")] = None
    max: Annotated[Number | None, pydantic.Field(description="Largest accepted number.")] = None
    message: Annotated[str, pydantic.Field(description="What to tell the user when the answer does not fit.")] = ""


class Field(_Model):
    """One column of a list step (e.g. what / owner / due of an action item)."""

    model_config = ConfigDict(title="field")

    id: StepId
    prompt: Text
    type: Annotated[FieldType, pydantic.Field(description="The kind of answer for this column.")] = "text"
    required: Flag = True
    choices: Choices = ()
    help: str = ""


class Step(_Model):
    """One question or to-do of a stage."""

    model_config = ConfigDict(title="step")

    id: Annotated[StepId, pydantic.Field(description="Unique in the playbook; templates and `when` read the answer by this name.")]
    type: Annotated[StepType, pydantic.Field(description="Which kind of answer the step asks for.")]
    prompt: Annotated[Text, pydantic.Field(description="The question or the to-do, as the user sees it.")]
    help: Annotated[str, pydantic.Field(description="A line or two shown under the prompt.")] = ""
    default: Default = None
    required: Annotated[Flag, pydantic.Field(description="Whether an answer is needed (default true).")] = True
    choices: Annotated[Choices, pydantic.Field(description="For choice and multi-choice steps.")] = ()
    when: Annotated[Expression | None, pydantic.Field(description="The step is asked only when this sandboxed expression over earlier answers is true.")] = None
    validation: Annotated[Validation, pydantic.Field(alias="validate", description="Simple checks on an answer; a failing answer is explained and asked again.")] = Validation()
    sensitive: Annotated[Flag, pydantic.Field(description="Redacted in exports unless --include-sensitive.")] = False
    audience: Annotated[StepAudience, pydantic.Field(
        description="Who may read the answer: `public` (the default) or only the `team`; `export --audience public` leaves team steps out."
    )] = "public"
    fields: Annotated[tuple[Field, ...], pydantic.Field(min_length=1, description="For list steps: the columns of each item.")] = ()
    min_items: Count | None = None
    max_items: Annotated[int, Strict(), pydantic.Field(ge=1)] | None = None
    action_items: Annotated[Flag, pydantic.Field(description="For list steps: each item is a prevention action (fields what, owner, due) that the journal tracks.")] = False

    # the stage the step belongs to: set by its Stage, not written in the playbook
    _stage: str = PrivateAttr("")

    @property
    def stage(self) -> str:
        """The kind of the stage this step belongs to."""
        return self._stage

    def choice_label(self, value: Any) -> str:
        for choice in self.choices:
            if choice.value == value:
                return choice.label
        return str(value)

    def column(self, field: Field) -> Step:
        """One column of this list step as a step of its own, to ask and check its answer."""
        # built from parts already validated, under an id no playbook can use (it has a dot)
        probe = Step.model_construct(id=f"{self.id}.{field.id}", type=field.type, prompt=field.prompt,
                                     required=field.required, choices=field.choices, help=field.help)
        probe._stage = self._stage
        return probe


class Stage(_Model):
    """One of the seven stages, with its guidance and its steps."""

    model_config = ConfigDict(title="stage")

    kind: Annotated[StageKind, pydantic.Field(alias="stage", description="Which of the seven stages this is; stages keep this order.")]
    # defaults (not validated) are what a broken file gets: a stage of an unknown kind, a message without an id
    title: Annotated[Text, pydantic.Field(description="Shown in the stage header; defaults to the stage's usual name.")] = ""
    guidance: Annotated[str, pydantic.Field(description="Markdown: why this stage matters, in a few plain sentences.")] = ""
    when: Expression | None = None
    steps: Annotated[tuple[Step, ...], pydantic.Field(description="The questions and to-dos of this stage.")]

    @model_validator(mode="before")
    @classmethod
    def _title_defaults_to_the_usual_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("title") is None and isinstance(data.get("stage"), str) and data["stage"] in STAGE_TITLES:
            return {**data, "title": STAGE_TITLES[data["stage"]]}
        return data

    @model_validator(mode="after")
    def _own_the_steps(self) -> Stage:
        for step in self.steps:
            step._stage = self.kind
        return self

    @property
    def number(self) -> int:
        """1-based position of this kind among the seven stages."""
        return STAGE_KINDS.index(self.kind) + 1


class Message(_Model):
    """A message the playbook can draft: its template, audience, channel and tones."""

    model_config = ConfigDict(title="message")

    id: KebabId
    title: Text
    template: Annotated[str, pydantic.Field(min_length=1, max_length=200, description="A .j2 template file beside the playbook, or a built-in template name; defaults to the id.")] = ""
    audience: Audience = "customer"
    channel: Channel = "email"
    when: Annotated[Expression | None, pydantic.Field(description="Offer the message only when this expression is true.")] = None
    tones: Annotated[tuple[Tone, ...], pydantic.Field(min_length=1)] = TONES  # type: ignore[assignment]
    phases: Annotated[tuple[KebabId, ...], pydantic.Field(description="For staged messages such as status updates.")] = ()
    summary: str = ""

    @model_validator(mode="before")
    @classmethod
    def _template_defaults_to_the_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("template") is None and isinstance(data.get("id"), str):
            return {**data, "template": data["id"]}
        return data


class Playbook(_Model):
    """A mea-culpa playbook: the stages of recovering from one kind of mistake, in order,
    and the messages it offers to draft."""

    model_config = ConfigDict(title="playbook")

    id: Annotated[KebabId, pydantic.Field(description="How users name the playbook.")]
    title: Text
    summary: Annotated[Text, pydantic.Field(description="One line: which mistakes this playbook is for.")]
    version: Annotated[TextOrNumber, pydantic.Field(min_length=1)]
    tags: tuple[KebabId, ...] = ()
    intro: Annotated[str, pydantic.Field(description="Markdown shown before the first stage.")] = ""
    stages: Annotated[tuple[Stage, ...], pydantic.Field(min_length=1)]
    messages: tuple[Message, ...] = ()

    # where it was read from, and a hash of its text (a session notes which version it ran)
    _path: Path | None = PrivateAttr(None)
    _content_hash: str = PrivateAttr("")

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def content_hash(self) -> str:
        return self._content_hash

    def located(self, path: Path | None, content_hash: str) -> Playbook:
        """This playbook, noted as read from `path` with text of `content_hash`."""
        self._path, self._content_hash = path, content_hash
        return self

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
        """The playbook as plain data in the format's own keys (`show --json`), with where it was read from."""
        return {**self.model_dump(mode="json", by_alias=True), "path": str(self.path) if self.path else None}


def type_name(value: Any) -> str:
    """What kind of YAML value this is, in the words an error message uses."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def find_template(name: str, playbook_folder: Path | None) -> Path | None:
    """The template file a playbook names (`apology` or `apology.j2`): beside the playbook
    first, then the built-ins. Only `.j2` files are templates, so that a playbook cannot
    make a draft of some other file that happens to sit in its folder. Raises PathEscape
    for names that would leave those folders."""
    check_relative(name)
    candidate = name if name.endswith(".j2") else f"{name}.j2"
    for root in template_roots(playbook_folder):
        found = resolve_inside(root, candidate)
        if found is not None and found.is_file():
            return found
    return None


# The most a template may hold: hand-written text (the longest built-in is under 4 kB).
MAX_TEMPLATE_BYTES = 100_000


def template_roots(playbook_folder: Path | None) -> list[Path]:
    """The folders templates are read from: the playbook's own, then the built-ins."""
    return ([playbook_folder] if playbook_folder else []) + [builtin_templates_dir()]


def read_template(root: Path, name: str) -> tuple[str, Any]:
    """The text of template `name` below `root` and the status of the file read (for
    "changed since?"). Opened once, without following any link below `root`, checked to
    be a regular file of at most MAX_TEMPLATE_BYTES (files.read_below); raises
    files.NotReadable with the reason, "no such file" when it is not there."""
    from mea_culpa.files import NotReadable, read_below

    check_relative(name)
    raw, info = read_below(root, name, max_bytes=MAX_TEMPLATE_BYTES)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotReadable(f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from None
    return text.replace("\r\n", "\n"), info


def template_at(path: Path, playbook_folder: Path | None) -> tuple[Path, str]:
    """The template folder `path` (as find_template gives it) lies in, and its name there."""
    for root in template_roots(playbook_folder):
        try:
            return root, path.relative_to(root).as_posix()
        except ValueError:
            continue
    raise ValueError(f"{path} is outside the template folders")
