"""The playbook format: its YAML shape, loading and full validation.

A playbook is the users' public interface, so validation reports every problem of a file
at once, each with `file:line:col: key.path: message`, and the JSON Schema that editors
use is generated from the same description (`FORMAT`). The models it builds live in
model.py.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from mea_culpa.playbook import schema as s
from mea_culpa import yamlfile
from mea_culpa.errors import Diagnostic, PlaybookError, quoted
from mea_culpa.paths import PathEscape, check_relative, resolve_inside
from mea_culpa.playbook.model import (
    AUDIENCES,
    CHANNELS,
    CONTEXT_NAMES,
    FIELD_TYPES,
    ID_PATTERN,
    SCHEMA_URL,
    STAGE_KINDS,
    STAGE_TITLES,
    STEP_ID_PATTERN,
    STEP_TYPES,
    TONES,
    VOCABULARY,
    Choice,
    Field,
    Message,
    Playbook,
    Stage,
    Step,
    Validation,
    find_template,
)

# --- the YAML shape (validation + JSON Schema from one description) ------------------

_TEXT = s.Str(min_length=1)
_CHOICE = s.OneOf(
    (
        s.Str(min_length=1, max_length=100, doc="A choice whose value and label are the same text."),
        s.Obj(
            "choice",
            {
                "value": s.Prop(
                    s.Str(min_length=1, max_length=100, coerce_numbers=True, doc="What is stored and what expressions compare with."),
                    True,
                ),
                "label": s.Prop(s.Str(min_length=1, max_length=300, doc="What the user sees.")),
                "help": s.Prop(s.Str(doc="One line shown under the choice.")),
            },
        ),
    ),
    doc="A choice: plain text, or a mapping with value, label and help.",
)
_VALIDATE = s.Obj(
    "validate",
    {
        "min_length": s.Prop(s.Num(integer=True, minimum=0, doc="Shortest accepted text.")),
        "max_length": s.Prop(s.Num(integer=True, minimum=1, doc="Longest accepted text.")),
        "pattern": s.Prop(s.Str(min_length=1, max_length=200, doc="A regular expression the whole text must match.")),
        "min": s.Prop(s.Num(doc="Smallest accepted number.")),
        "max": s.Prop(s.Num(doc="Largest accepted number.")),
        "message": s.Prop(s.Str(doc="What to tell the user when the answer does not fit.")),
    },
    doc="Simple checks on an answer; a failing answer is explained and asked again.",
)
_FIELD = s.Obj(
    "field",
    {
        "id": s.Prop(s.Str(pattern=STEP_ID_PATTERN, pattern_hint="use lowercase letters, digits and _"), True),
        "prompt": s.Prop(_TEXT, True),
        "type": s.Prop(s.Str(enum=FIELD_TYPES, doc="The kind of answer for this column.")),
        "required": s.Prop(s.Bool()),
        "choices": s.Prop(s.Arr(_CHOICE, min_items=2)),
        "help": s.Prop(s.Str()),
    },
    doc="One column of a list step.",
)
_STEP = s.Obj(
    "step",
    {
        "id": s.Prop(
            s.Str(
                pattern=STEP_ID_PATTERN,
                pattern_hint="use lowercase letters, digits and _ starting with a letter (templates read it as a name)",
                doc="Unique in the playbook; templates and `when` read the answer by this name.",
            ),
            True,
        ),
        "type": s.Prop(s.Str(enum=STEP_TYPES, doc="Which kind of answer the step asks for."), True),
        "prompt": s.Prop(s.Str(min_length=1, doc="The question or the to-do, as the user sees it."), True),
        "help": s.Prop(s.Str(doc="A line or two shown under the prompt.")),
        "default": s.Prop(s.Anything(doc="Pre-filled answer; text may use {{ earlier_step_id }}.")),
        "required": s.Prop(s.Bool(doc="Whether an answer is needed (default true).")),
        "choices": s.Prop(s.Arr(_CHOICE, min_items=2, doc="For choice and multi-choice steps.")),
        "when": s.Prop(s.Str(min_length=1, doc="A sandboxed Jinja expression over earlier answers; the step is asked only when it is true.")),
        "validate": s.Prop(_VALIDATE),
        "sensitive": s.Prop(s.Bool(doc="Redacted in exports unless --include-sensitive.")),
        "fields": s.Prop(s.Arr(_FIELD, min_items=1, doc="For list steps: the columns of each item.")),
        "min_items": s.Prop(s.Num(integer=True, minimum=0)),
        "max_items": s.Prop(s.Num(integer=True, minimum=1)),
        "action_items": s.Prop(s.Bool(doc="For list steps: each item is a prevention action (fields what, owner, due) that the journal tracks.")),
    },
    doc="One question or to-do.",
)
_STAGE = s.Obj(
    "stage",
    {
        "stage": s.Prop(s.Str(enum=STAGE_KINDS, doc="Which of the seven stages this is; stages keep this order."), True),
        "title": s.Prop(s.Str(min_length=1, doc="Shown in the stage header; defaults to the stage's usual name.")),
        "guidance": s.Prop(s.Str(doc="Markdown: why this stage matters, in a few plain sentences.")),
        "when": s.Prop(s.Str(min_length=1, doc="A sandboxed Jinja expression over earlier answers.")),
        "steps": s.Prop(s.Arr(_STEP, doc="The questions and to-dos of this stage."), True),
    },
    doc="One of the seven stages.",
)
_MESSAGE = s.Obj(
    "message",
    {
        "id": s.Prop(s.Str(pattern=ID_PATTERN, pattern_hint="use kebab-case, e.g. customer-apology"), True),
        "title": s.Prop(s.Str(min_length=1), True),
        "template": s.Prop(s.Str(min_length=1, max_length=200, doc="A .j2 template file beside the playbook, or a built-in template name; defaults to the id.")),
        "audience": s.Prop(s.Str(enum=AUDIENCES)),
        "channel": s.Prop(s.Str(enum=CHANNELS)),
        "when": s.Prop(s.Str(min_length=1, doc="Offer the message only when this expression is true.")),
        "tones": s.Prop(s.Arr(s.Str(enum=TONES), min_items=1)),
        "phases": s.Prop(s.Arr(s.Str(pattern=ID_PATTERN), doc="For staged messages such as status updates.")),
        "summary": s.Prop(s.Str()),
    },
    doc="A message the playbook offers to draft.",
)
FORMAT = s.Obj(
    "playbook",
    {
        "id": s.Prop(s.Str(pattern=ID_PATTERN, pattern_hint="use kebab-case: lowercase words joined by -", doc="How users name the playbook."), True),
        "title": s.Prop(s.Str(min_length=1), True),
        "summary": s.Prop(s.Str(min_length=1, doc="One line: which mistakes this playbook is for."), True),
        "version": s.Prop(s.Str(min_length=1, coerce_numbers=True), True),
        "tags": s.Prop(s.Arr(s.Str(pattern=ID_PATTERN, pattern_hint="use kebab-case"))),
        "intro": s.Prop(s.Str(doc="Markdown shown before the first stage.")),
        "stages": s.Prop(s.Arr(_STAGE, min_items=1), True),
        "messages": s.Prop(s.Arr(_MESSAGE)),
    },
    doc="A mea-culpa playbook: the stages of recovering from one kind of mistake.",
)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the playbook format, for editors and the YAML language server."""
    schema = FORMAT.json_schema()
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_URL, "title": "mea-culpa playbook", **schema}


# --- loading ------------------------------------------------------------------------


def load(path: Path, *, display: str | None = None, templates: bool = True) -> Playbook:
    """Load and fully validate a playbook file; PlaybookError carries every problem.

    With `templates=False` the message templates are only found, not analysed: the
    analysis compiles every template (a quarter of a second), which `validate` and `show`
    pay, while a run does not need it and a draft reports a bad template when it renders."""
    shown = display or str(path)
    try:
        text = yamlfile.read_text(path, display=shown)
    except yamlfile.YamlProblems as exc:
        raise PlaybookError(exc.diagnostics) from None
    return loads(text, shown, path=path, templates=templates)


def loads(text: str, display: str, *, path: Path | None = None, templates: bool = True) -> Playbook:
    """Validate playbook text (see `load`)."""
    try:
        doc = yamlfile.parse(text, display)
    except yamlfile.YamlProblems as exc:
        raise PlaybookError(exc.diagnostics) from None
    if doc.data is None:
        raise PlaybookError([Diagnostic(display, 0, 0, "", "the file is empty; start from `mea-culpa new NAME`")])
    ctx = s.Context(doc)
    _control_characters(doc, ctx)
    data = s.validate(FORMAT, doc, ctx)
    playbook = None
    if isinstance(data, dict):
        playbook = _build(data, path, hashlib.sha256(text.encode()).hexdigest())
        _Semantics(doc, ctx, data, playbook, templates=templates).run()
    if ctx.problems:
        ctx.problems.sort(key=lambda d: (d.line, d.column))
        raise PlaybookError(ctx.problems)
    assert playbook is not None
    return playbook


# C0 controls but tab and newline, DEL, C1 controls: in a playbook they can only be there
# to rewrite the user's terminal (colours, cursor moves, the title, the clipboard).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _control_characters(doc: yamlfile.Document, ctx: s.Context) -> None:
    for key, text in yamlfile.walk_strings(doc.data):
        found = _CONTROL.search(text)
        if found:
            ctx.problem(
                key,
                f"contains the control character U+{ord(found.group()):04X}; playbooks are plain text "
                "(a control character could rewrite the terminal)",
            )


def _choices(raw: list[Any] | None) -> tuple[Choice, ...]:
    out = []
    for item in raw or []:
        if isinstance(item, str):
            out.append(Choice(item, item))
        elif "value" in item:  # one without a value is reported by the shape check
            out.append(Choice(str(item["value"]), item.get("label") or str(item["value"]), item.get("help", "")))
    return tuple(out)


def _build(data: dict[str, Any], path: Path | None, content_hash: str) -> Playbook:
    stages = []
    for raw_stage in data.get("stages", []):
        if "stage" not in raw_stage:
            continue
        kind = raw_stage["stage"]
        steps = []
        for raw in raw_stage.get("steps", []):
            if "id" not in raw or "type" not in raw or "prompt" not in raw:
                continue
            v = raw.get("validate", {})
            steps.append(
                Step(
                    id=raw["id"],
                    type=raw["type"],
                    prompt=raw["prompt"].strip(),
                    stage=kind,
                    help=raw.get("help", "").strip(),
                    default=raw.get("default"),
                    required=raw.get("required", True),
                    choices=_choices(raw.get("choices")),
                    when=raw.get("when"),
                    validate=Validation(v.get("min_length"), v.get("max_length"), v.get("pattern"), v.get("min"), v.get("max"), v.get("message", "")),
                    sensitive=raw.get("sensitive", False),
                    fields=tuple(
                        Field(f["id"], f["prompt"], f.get("type", "text"), f.get("required", True), _choices(f.get("choices")), f.get("help", ""))
                        for f in raw.get("fields", [])
                        if "id" in f and "prompt" in f
                    ),
                    min_items=raw.get("min_items"),
                    max_items=raw.get("max_items"),
                    action_items=raw.get("action_items", False),
                )
            )
        stages.append(Stage(kind, raw_stage.get("title") or STAGE_TITLES[kind], raw_stage.get("guidance", "").strip(), raw_stage.get("when"), tuple(steps)))
    messages = tuple(
        Message(
            id=m["id"],
            title=m["title"],
            template=m.get("template", m["id"]),
            audience=m.get("audience", "customer"),
            channel=m.get("channel", "email"),
            when=m.get("when"),
            tones=tuple(m.get("tones", TONES)),
            phases=tuple(m.get("phases", ())),
            summary=m.get("summary", ""),
        )
        for m in data.get("messages", [])
        if "id" in m and "title" in m
    )
    # Built even when top-level keys failed their checks, so that the semantic checks
    # still run and the user sees every problem of the file at once.
    return Playbook(
        id=data.get("id", ""),
        title=data.get("title", ""),
        summary=data.get("summary", "").strip(),
        version=data.get("version", ""),
        tags=tuple(data.get("tags", ())),
        stages=tuple(stages),
        messages=messages,
        intro=data.get("intro", "").strip(),
        path=path,
        content_hash=content_hash,
    )


_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}]\)[+*{]")


class _Semantics:
    """The checks a shape cannot express: order, uniqueness, names, templates."""

    def __init__(self, doc: yamlfile.Document, ctx: s.Context, data: dict[str, Any], playbook: Playbook, *, templates: bool = True) -> None:
        self.doc, self.ctx, self.data, self.playbook = doc, ctx, data, playbook
        self.templates = templates

    def problem(self, key: yamlfile.Key, message: str) -> None:
        self.ctx.problem(key, message)

    def run(self) -> None:
        self._stages()
        known = self._steps()
        self._messages(known)

    def _stages(self) -> None:
        last = -1
        seen: dict[str, int] = {}
        for i, raw in enumerate(self.data.get("stages", [])):
            kind = raw.get("stage")
            if kind not in STAGE_KINDS:
                continue
            index = STAGE_KINDS.index(kind)
            if kind in seen:
                self.problem(("stages", i, "stage"), f"stage {kind!r} appears twice (also stages[{seen[kind]}]); merge their steps")
            elif index < last:
                self.problem(
                    ("stages", i, "stage"),
                    f"stage {kind!r} comes after {STAGE_KINDS[last]!r}; stages keep the order {' → '.join(STAGE_KINDS)}",
                )
            seen[kind] = i
            last = max(last, index)

    def _names_ok(self, key: yamlfile.Key, names: set[str], earlier: dict[str, str], everything: set[str], what: str) -> None:
        for name in sorted(names - CONTEXT_NAMES - {"true", "false", "none", "True", "False", "None"}):
            if name in earlier:
                continue
            if name in everything:
                self.problem(key, f"{what} uses {name!r}, which is only asked later; it can use answers from earlier steps")
            else:
                close = difflib.get_close_matches(name, list(everything), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.problem(key, f"{what} uses {name!r}, but no step has that id{hint}")

    def _steps(self) -> set[str]:
        from mea_culpa.playbook import expressions

        everything = {step.id for step in self.playbook.steps}
        earlier: dict[str, str] = {}
        first_key: dict[str, yamlfile.Key] = {}
        for si, raw_stage in enumerate(self.data.get("stages", [])):
            stage_when = raw_stage.get("when")
            if stage_when:
                self._expression(("stages", si, "when"), stage_when, earlier, everything, "when")
            for i, raw in enumerate(raw_stage.get("steps", [])):
                key: yamlfile.Key = ("stages", si, "steps", i)
                step_id = raw.get("id")
                if step_id in CONTEXT_NAMES:
                    self.problem(key + ("id",), f"{step_id!r} is a reserved name in templates; choose another id")
                if step_id in first_key:
                    self.problem(key + ("id",), f"duplicate step id {step_id!r} (first used at {yamlfile.dotted(first_key[step_id])}); ids are unique in a playbook")
                elif step_id:
                    first_key[step_id] = key
                if raw.get("when"):
                    self._expression(key + ("when",), raw["when"], earlier, everything, "when")
                self._step_shape(key, raw)
                default = raw.get("default")
                if expressions.is_template(default):
                    try:
                        found = expressions.analyze_template(default, short=True)
                    except expressions.ExpressionSyntaxError as exc:
                        self.problem(key + ("default",), f"the template does not parse: {exc}")
                    else:
                        for refusal in found.refused[:1]:
                            self.problem(key + ("default",), f"refused: {refusal}")
                        self._names_ok(key + ("default",), set(found.names), earlier, everything, "the default")
                if step_id:
                    earlier[step_id] = raw.get("type", "")
        return everything

    def _expression(self, key: yamlfile.Key, source: str, earlier: dict[str, str], everything: set[str], what: str) -> None:
        from mea_culpa.playbook import expressions

        try:
            found = expressions.analyze_expression(source)
        except expressions.ExpressionSyntaxError as exc:
            self.problem(key, f"the expression {quoted(source)} does not parse: {exc}")
            return
        for refusal in found.refused[:1]:  # one line per expression: the first way it reaches out
            self.problem(key, f"refused: {refusal}")
        self._names_ok(key, set(found.names), earlier, everything, what)

    def _step_shape(self, key: yamlfile.Key, raw: dict[str, Any]) -> None:
        kind = raw.get("type")
        if kind is None:
            return
        has_choices = bool(raw.get("choices"))
        if kind in ("choice", "multi-choice") and not has_choices:
            self.problem(key, f"a {kind} step needs `choices`")
        if kind not in ("choice", "multi-choice") and "choices" in raw:
            self.problem(key + ("choices",), f"only choice and multi-choice steps have choices (this one is {kind})")
        if kind == "list" and not raw.get("fields"):
            self.problem(key, "a list step needs `fields` (the columns of each item, e.g. what / owner / due)")
        if kind != "list":
            for name in ("fields", "action_items"):
                if name in raw:
                    self.problem(key + (name,), f"only list steps have `{name}` (this one is {kind})")
        if kind not in ("list", "multi-choice"):
            for name in ("min_items", "max_items"):
                if name in raw:
                    self.problem(key + (name,), f"only list and multi-choice steps have `{name}`")
        if raw.get("min_items") is not None and raw.get("max_items") is not None and raw["min_items"] > raw["max_items"]:
            self.problem(key + ("min_items",), "min_items is larger than max_items")
        if raw.get("action_items"):
            field_ids = {f.get("id") for f in raw.get("fields", [])}
            missing = [f for f in ("what", "owner", "due") if f not in field_ids]
            if missing:
                self.problem(key + ("fields",), f"action items need the fields {', '.join(missing)}")
        for f_index, f in enumerate(raw.get("fields", [])):
            if f.get("type") == "choice" and not f.get("choices"):
                self.problem(key + ("fields", f_index), "a choice field needs `choices`")
        validate = raw.get("validate", {})
        text_kinds = ("text", "long-text")
        for name in ("min_length", "max_length", "pattern"):
            if name in validate and kind not in text_kinds:
                self.problem(key + ("validate", name), f"`{name}` applies to text steps (this one is {kind})")
        for name in ("min", "max"):
            if name in validate and kind != "number":
                self.problem(key + ("validate", name), f"`{name}` applies to number steps (this one is {kind})")
        pattern = validate.get("pattern")
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                self.problem(key + ("validate", "pattern"), f"not a valid regular expression: {exc}")
            else:
                if _NESTED_QUANTIFIER.search(pattern):
                    self.problem(key + ("validate", "pattern"), "nested repetition like (a+)+ can take forever on some answers; simplify the pattern")
        if "default" in raw and raw["default"] is not None:
            self._default_fits(key + ("default",), kind, raw)

    def _default_fits(self, key: yamlfile.Key, kind: str, raw: dict[str, Any]) -> None:
        from mea_culpa.playbook.answers import AnswerProblem, coerce

        default = raw["default"]
        if isinstance(default, str) and ("{{" in default or "{%" in default):
            return
        step = self.playbook.step(raw.get("id", ""))
        if step is None or kind in ("list", "action"):
            if kind in ("list", "action"):
                self.problem(key, f"{kind} steps take no default")
            return
        try:
            coerce(step, default)
        except AnswerProblem as exc:
            self.problem(key, f"the default does not fit: {exc}")

    def _messages(self, known: set[str]) -> None:
        seen: dict[str, int] = {}
        for i, raw in enumerate(self.data.get("messages", [])):
            key: yamlfile.Key = ("messages", i)
            mid = raw.get("id")
            if mid in seen:
                self.problem(key + ("id",), f"duplicate message id {mid!r}")
            elif mid:
                seen[mid] = i
            if raw.get("when"):
                self._expression(key + ("when",), raw["when"], {k: "" for k in known}, known, "when")
            if mid is None:
                continue
            template = raw.get("template", mid)
            try:
                path = find_template(template, self.playbook.folder)
            except PathEscape as exc:
                self.problem(key + ("template",), str(exc))
                continue
            if path is None:
                if _is_other_file(template, self.playbook.folder):
                    self.problem(key + ("template",), f"{quoted(template)} is not a template: only .j2 files are (e.g. {mid}.j2)")
                else:
                    self.problem(key + ("template",), f"no template {quoted(template)} beside the playbook or among the built-ins")
                continue
            if self.templates:
                self._template_names(key + ("template",), path, known)

    def _template_names(self, key: yamlfile.Key, path: Path, known: set[str]) -> None:
        """Check a message template and every template it includes, imports or extends:
        each parses, names only known answers, stays inside the template folders and asks
        nothing of the sandbox that it would refuse."""
        from mea_culpa.playbook import expressions

        env = _template_environment()
        globals_ = set(env.globals)
        todo = [(path, path.name)]
        seen: set[Path] = set()
        while todo and len(seen) < 100:
            current, shown = todo.pop(0)
            if current in seen:
                continue
            seen.add(current)
            try:
                source = yamlfile.read_text(current)
                found = expressions.analyze_template(source, env)
            except yamlfile.YamlProblems as exc:
                self.problem(key, f"template {shown}: {exc.diagnostics[0].message}")
                continue
            except expressions.ExpressionSyntaxError as exc:
                self.problem(key, f"template {shown} does not parse: {exc}")
                continue
            for refusal in found.refused[:1]:
                self.problem(key, f"template {shown}: refused: {refusal}")
            # an included template also sees the names its includer sets ({% with %}, loops),
            # so only the message's own template is held to the known answers
            names = found.names if current == path else frozenset()
            for name in sorted(names - CONTEXT_NAMES - VOCABULARY - globals_ - known):
                self.problem(key, f"template {shown} uses {name!r}, but no step has that id; add the step or choose another template")
            for included in found.includes:
                if included is None:
                    self.problem(key, f"template {shown}: refused: it includes a template chosen by an expression; name the file")
                    continue
                try:
                    target = _find_include(included, self.playbook.folder)
                except PathEscape as exc:
                    self.problem(key, f"template {shown}: refused: the include {exc}")
                    continue
                if target is None:
                    self.problem(key, f"template {shown}: the include {quoted(included)} is neither beside the playbook nor built in")
                else:
                    todo.append((target, included))


@lru_cache(maxsize=1)
def _template_environment() -> Any:
    """A sandbox that knows every filter a message template may use, to read templates."""
    from mea_culpa.playbook.expressions import make_environment

    env = make_environment()
    try:
        from mea_culpa.messages.drafting import FILTERS as message_filters
    except ImportError:  # pragma: no cover - messages.py is part of the package
        message_filters = {}
    env.filters.update(message_filters)
    return env


def _is_other_file(name: str, playbook_folder: Path | None) -> bool:
    """Whether `name` (not a .j2 name) is some other file beside the playbook."""
    if name.endswith(".j2") or playbook_folder is None:
        return False
    try:
        found = resolve_inside(playbook_folder, name)
    except PathEscape:
        return False
    return found is not None and found.is_file()


def _find_include(name: str, playbook_folder: Path | None) -> Path | None:
    """A template named by `{% include %}`, `{% import %}` or `{% extends %}`: as the
    renderer resolves it (the playbook's folder, then the built-ins), `.j2` files only."""
    check_relative(name)
    if not name.endswith(".j2"):
        raise PathEscape(f"{quoted(name)} is not a .j2 template; only templates can be included")
    return find_template(name, playbook_folder)
