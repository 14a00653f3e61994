"""Reading a playbook file: YAML with the place of every value, the shape checked by the
models (model.py), and the checks a shape cannot express (order, uniqueness, names,
expressions, templates).

A playbook is the users' public interface, so validation reports every problem of a file
at once, each as `file:line:col: key.path: message`: pydantic's errors are put in the
project's words and placed by the marks yamlfile keeps, and the semantic checks run on the
file's data even where its shape is wrong.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic
from pydantic import BaseModel

from mea_culpa import yamlfile
from mea_culpa.errors import Diagnostic, PlaybookError, quoted
from mea_culpa.paths import PathEscape, check_relative, resolve_inside
from mea_culpa.playbook.model import (
    CONTEXT_NAMES,
    PATTERN_HINTS,
    SCHEMA_URL,
    STAGE_KINDS,
    STEP_ID_PATTERN,
    VOCABULARY,
    Playbook,
    Step,
    find_template,
    type_name,
)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the playbook format, for editors and the YAML language server,
    generated from the models."""
    schema = Playbook.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_URL, **schema, "title": "mea-culpa playbook"}


# --- loading ------------------------------------------------------------------------


def load(path: Path, *, display: str | None = None, templates: bool = True, template_names: bool = True) -> Playbook:
    """Load and fully validate a playbook file; PlaybookError carries every problem.

    With `templates=False` the message templates are only found, not analysed: a draft
    reports a bad template when it renders. With `template_names=False` they are checked
    for what the sandbox refuses and what they include, as a run must before it asks
    anything, but not for the answers they name: that needs their code generated, which
    `validate` and `show` pay, and a draft reports a missing answer by its step."""
    shown = display or str(path)
    try:
        text = yamlfile.read_text(path, display=shown)
    except yamlfile.YamlProblems as exc:
        raise PlaybookError(exc.diagnostics) from None
    return loads(text, shown, path=path, templates=templates, template_names=template_names)


def loads(text: str, display: str, *, path: Path | None = None, templates: bool = True, template_names: bool = True) -> Playbook:
    """Validate playbook text (see `load`)."""
    try:
        doc = yamlfile.parse(text, display)
    except yamlfile.YamlProblems as exc:
        raise PlaybookError(exc.diagnostics) from None
    if doc.data is None:
        raise PlaybookError([Diagnostic(display, 0, 0, "", "the file is empty; start from `mea-culpa new NAME`")])
    problems = Problems(doc)
    _control_characters(doc, problems)
    playbook: Playbook | None = None
    try:
        playbook = Playbook.model_validate(doc.data).located(path, hashlib.sha256(text.encode()).hexdigest())
    except pydantic.ValidationError as exc:
        problems.from_pydantic(Playbook, exc)
    if isinstance(doc.data, dict):
        _Semantics(problems, doc.data, path.parent if path else None, templates=templates, template_names=template_names).run()
    if problems.found:
        raise PlaybookError(sorted(problems.found, key=lambda d: (d.line, d.column)))
    assert playbook is not None  # every shape error is a problem
    return playbook


class Problems:
    """The problems of one document, each placed at its key's line and column."""

    def __init__(self, doc: yamlfile.Document) -> None:
        self.doc = doc
        self.found: list[Diagnostic] = []
        self.keys: set[yamlfile.Key] = set()

    def add(self, key: yamlfile.Key, message: str, *, of_key: bool = False) -> None:
        self.found.append(self.doc.diagnostic(key, message, of_key=of_key))
        self.keys.add(key)

    def from_pydantic(self, model: type[BaseModel], error: pydantic.ValidationError) -> None:
        """pydantic's errors in the project's words (see `explain`)."""
        for item in error.errors(include_url=False):
            key = tuple(item["loc"])
            message, at, of_key = explain(model, item)
            self.add(at if at is not None else key, message, of_key=of_key)


def explain(model: type[BaseModel], error: Any) -> tuple[str, yamlfile.Key | None, bool]:
    """One pydantic error as (message, where if not at its own key, whether at the key itself).

    The messages say what was expected and what was found in YAML's words (text, a list, a
    mapping), and how to fix it where that is known; pydantic's own text is the fallback."""
    loc = tuple(error["loc"])
    kind = error["type"]
    found = error.get("input")
    ctx = error.get("ctx") or {}
    owner, name, annotation = _field_at(model, loc)
    title = _title(owner)
    if kind == "missing":
        return f"missing required key {loc[-1]!r} in {title}", loc[:-1], False
    if kind == "extra_forbidden":
        known = _keys(owner)
        close = difflib.get_close_matches(str(loc[-1])[:100], known, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return f"unknown key {quoted(loc[-1])} in {title}; {hint}", None, True
    if kind == "literal_error":
        options = _literal_options(annotation)
        close = difflib.get_close_matches(str(found)[:100], options, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{quoted(found)} is not one of {', '.join(options)}{hint}", None, False
    if kind == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get((title, name), f"must match {ctx.get('pattern', '')}")
        return f"{quoted(found)} is not valid: {hint}", None, False
    if kind == "string_too_short":
        least = int(ctx.get("min_length", 1))
        return ("must not be empty" if least == 1 else f"must be at least {least} characters"), None, False
    if kind == "string_too_long":
        return f"is {len(str(found))} characters long; the limit is {ctx.get('max_length')}", None, False
    if kind == "too_short":
        least = int(ctx.get("min_length", 1))
        return f"needs at least {least} item{'s' if least > 1 else ''}", None, False
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}", None, False
    expected = _EXPECTED.get(kind)
    if expected:
        return f"expected {expected}, found {type_name(found)}", None, False
    return yamlfile.printable(str(error.get("msg", "not valid")), 300), None, False


# What each of pydantic's type errors expected, in the words of a YAML author.
_EXPECTED = {
    "string_type": "text",
    "bool_type": "true or false",
    "int_type": "a whole number",
    "float_type": "a number",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "dict_type": "a mapping (key: value lines)",
}


def _title(model: type[BaseModel] | None) -> str:
    return str(model.model_config.get("title", "")) if model is not None else ""


def _keys(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _field_at(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[type[BaseModel] | None, str, Any]:
    """Follow `loc` through the models: the model that owns the last key, that key, and
    its annotation (for a list item, the item's)."""
    owner: type[BaseModel] | None = model
    name, annotation = "", None
    for part in loc:
        if isinstance(part, int):
            annotation = _item_type(annotation)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                owner, name = annotation, ""
            continue
        if owner is None:
            break
        info = next((i for n, i in owner.model_fields.items() if (i.alias or n) == part), None)
        if info is None:  # an unknown key: the owner is the model it was found in
            return owner, str(part), None
        name, annotation = str(part), info.annotation
        inner = _bare(annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            owner, name = inner, ""
    return owner, name, annotation


def _bare(annotation: Any) -> Any:
    """The type under Annotated and Optional."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or str(origin) == "<class 'types.UnionType'>":
            options = [a for a in get_args(annotation) if a is not type(None)]
            if len(options) != 1:
                return annotation
            annotation = options[0]
        else:
            return annotation


def _item_type(annotation: Any) -> Any:
    bare = _bare(annotation)
    args = get_args(bare)
    return _bare(args[0]) if get_origin(bare) in (tuple, list) and args else None


def _literal_options(annotation: Any) -> list[str]:
    bare = _bare(annotation)
    if get_origin(bare) in (tuple, list):
        bare = _item_type(bare)
    return [str(a) for a in get_args(bare)] if get_origin(bare) is Literal else []


# C0 controls but tab and newline, DEL, C1 controls: in a playbook they can only be there
# to rewrite the user's terminal (colours, cursor moves, the title, the clipboard).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _control_characters(doc: yamlfile.Document, problems: Problems) -> None:
    for key, text in yamlfile.walk_strings(doc.data):
        found = _CONTROL.search(text)
        if found:
            problems.add(
                key,
                f"contains the control character U+{ord(found.group()):04X}; playbooks are plain text "
                "(a control character could rewrite the terminal)",
            )


# --- the checks a shape cannot express ------------------------------------------------
# They read the file's data as it is (the shape may be wrong in places), so each looks
# only at the values of the kind it expects.


def _mappings(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """The mappings of a list, with their positions; anything else yields nothing."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, dict):
                yield i, item


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


_STEP_ID = re.compile(f"(?:{STEP_ID_PATTERN})")


_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}]\)[+*{]")


class _Semantics:
    """The checks a shape cannot express: order, uniqueness, names, expressions, templates."""

    def __init__(self, problems: Problems, data: dict[str, Any], folder: Path | None, *, templates: bool = True,
                 template_names: bool = True) -> None:
        self.problems, self.data, self.folder = problems, data, folder
        self.templates, self.template_names = templates, template_names

    def problem(self, key: yamlfile.Key, message: str) -> None:
        if key not in self.problems.keys:  # the shape already said what is wrong there
            self.problems.add(key, message)

    def run(self) -> None:
        self._stages()
        known = self._steps()
        self._messages(known)

    def _stages(self) -> None:
        last = -1
        seen: dict[str, int] = {}
        for i, raw in _mappings(self.data.get("stages")):
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

    def _all_steps(self) -> Iterator[tuple[yamlfile.Key, dict[str, Any]]]:
        for si, raw_stage in _mappings(self.data.get("stages")):
            for i, raw in _mappings(raw_stage.get("steps")):
                yield ("stages", si, "steps", i), raw

    def _steps(self) -> set[str]:
        from mea_culpa.playbook import expressions

        everything = {raw["id"] for _, raw in self._all_steps() if isinstance(raw.get("id"), str) and _STEP_ID.fullmatch(raw["id"])}
        earlier: dict[str, str] = {}
        first_key: dict[str, yamlfile.Key] = {}
        for si, raw_stage in _mappings(self.data.get("stages")):
            stage_when = _text(raw_stage.get("when"))
            if stage_when:
                self._expression(("stages", si, "when"), stage_when, earlier, everything, "when")
            for i, raw in _mappings(raw_stage.get("steps")):
                key: yamlfile.Key = ("stages", si, "steps", i)
                step_id = raw.get("id") if isinstance(raw.get("id"), str) else None
                if step_id in CONTEXT_NAMES:
                    self.problem(key + ("id",), f"{step_id!r} is a reserved name in templates; choose another id")
                if step_id in first_key:
                    self.problem(key + ("id",), f"duplicate step id {step_id!r} (first used at {yamlfile.dotted(first_key[step_id])}); ids are unique in a playbook")
                elif step_id:
                    first_key[step_id] = key
                when = _text(raw.get("when"))
                if when:
                    self._expression(key + ("when",), when, earlier, everything, "when")
                self._step_shape(key, raw)
                default = raw.get("default")
                if isinstance(default, str) and expressions.is_template(default):
                    try:
                        found = expressions.analyze_template(default, short=True)
                    except expressions.ExpressionSyntaxError as exc:
                        self.problem(key + ("default",), f"the template does not parse: {exc}")
                    else:
                        for refusal in found.refused[:1]:
                            self.problem(key + ("default",), f"refused: {refusal}")
                        self._names_ok(key + ("default",), set(found.names), earlier, everything, "the default")
                if step_id:
                    earlier[step_id] = str(raw.get("type", ""))
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
        if not isinstance(kind, str):
            return
        has_choices = bool(raw.get("choices"))
        if kind in ("choice", "multi-choice") and not has_choices:
            self.problem(key, f"a {kind} step needs `choices`")
        if kind not in ("choice", "multi-choice") and "choices" in raw:
            self.problem(key + ("choices",), f"only choice and multi-choice steps have choices (this one is {kind})")
        exclusive = [(c_index, c) for c_index, c in _mappings(raw.get("choices")) if c.get("exclusive") is True]
        if kind != "multi-choice":
            for c_index, _ in exclusive:
                self.problem(key + ("choices", c_index, "exclusive"),
                             f"`exclusive` is for the choices of a multi-choice step (this one is {kind}), where it cannot be ticked with another")
        elif exclusive and len(exclusive) == len(raw.get("choices") or ()):
            self.problem(key + ("choices",), "every choice is exclusive: make it a choice step instead")
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
        low, high = raw.get("min_items"), raw.get("max_items")
        if isinstance(low, int) and isinstance(high, int) and low > high:
            self.problem(key + ("min_items",), "min_items is larger than max_items")
        fields = list(_mappings(raw.get("fields")))
        if raw.get("action_items") is True:
            field_ids = {f.get("id") for _, f in fields if isinstance(f.get("id"), str)}
            missing = [f for f in ("what", "owner", "due") if f not in field_ids]
            if missing:
                self.problem(key + ("fields",), f"action items need the fields {', '.join(missing)}")
        for f_index, f in fields:
            if f.get("type") == "choice" and not f.get("choices"):
                self.problem(key + ("fields", f_index), "a choice field needs `choices`")
        validate: dict[str, Any] = raw["validate"] if isinstance(raw.get("validate"), dict) else {}
        text_kinds = ("text", "long-text")
        for name in ("min_length", "max_length", "pattern"):
            if name in validate and kind not in text_kinds:
                self.problem(key + ("validate", name), f"`{name}` applies to text steps (this one is {kind})")
        for name in ("min", "max"):
            if name in validate and kind != "number":
                self.problem(key + ("validate", name), f"`{name}` applies to number steps (this one is {kind})")
        pattern = _text(validate.get("pattern"))
        if pattern:
            try:
                re.compile(pattern)
            except re.error as exc:
                self.problem(key + ("validate", "pattern"), f"not a valid regular expression: {exc}")
            else:
                if _NESTED_QUANTIFIER.search(pattern):
                    self.problem(key + ("validate", "pattern"), "nested repetition like (a+)+ can take forever on some answers; simplify the pattern")
        if raw.get("default") is not None:
            self._default_fits(key + ("default",), kind, raw)

    def _default_fits(self, key: yamlfile.Key, kind: str, raw: dict[str, Any]) -> None:
        from mea_culpa.playbook.answers import AnswerProblem, coerce

        default = raw["default"]
        if isinstance(default, str) and ("{{" in default or "{%" in default):
            return
        if kind in ("list", "action"):
            self.problem(key, f"{kind} steps take no default")
            return
        try:
            step = Step.model_validate(raw)
        except pydantic.ValidationError:
            return  # the step's own shape is wrong, which is reported already
        try:
            coerce(step, default)
        except AnswerProblem as exc:
            self.problem(key, f"the default does not fit: {exc}")

    def _messages(self, known: set[str]) -> None:
        seen: dict[str, int] = {}
        for i, raw in _mappings(self.data.get("messages")):
            key: yamlfile.Key = ("messages", i)
            mid = raw.get("id") if isinstance(raw.get("id"), str) else None
            if mid in seen:
                self.problem(key + ("id",), f"duplicate message id {mid!r}")
            elif mid:
                seen[mid] = i
            when = _text(raw.get("when"))
            if when:
                self._expression(key + ("when",), when, {k: "" for k in known}, known, "when")
            if mid is None:
                continue
            template = raw.get("template", mid)
            if not isinstance(template, str) or not template.strip():
                continue
            try:
                path = find_template(template, self.folder)
            except PathEscape as exc:
                self.problem(key + ("template",), str(exc))
                continue
            if path is None:
                if _is_other_file(template, self.folder):
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
        from mea_culpa.files import NotReadable
        from mea_culpa.playbook import expressions
        from mea_culpa.playbook.model import read_template, template_at

        env = _template_environment()
        globals_ = set(env.globals)
        todo = [(path, path.name)]
        seen: set[Path] = set()
        while todo:
            current, shown = todo.pop(0)
            if current in seen:
                continue
            if len(seen) == MAX_TEMPLATES:
                # every template is read and checked, or the message is refused: a long
                # enough chain must not hide one at its end
                self.problem(
                    key, f"template {shown}: refused: a message may use at most {MAX_TEMPLATES} templates with "
                    "everything they include; combine some"
                )
                return
            seen.add(current)
            try:
                source, _ = read_template(*template_at(current, self.folder))
                found = expressions.analyze_template(source, env, names=self.template_names)
            except NotReadable as exc:
                self.problem(key, f"template {shown}: refused: {exc}")
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
                    target = _find_include(included, self.folder)
                except PathEscape as exc:
                    self.problem(key, f"template {shown}: refused: the include {exc}")
                    continue
                if target is None:
                    self.problem(key, f"template {shown}: the include {quoted(included)} is neither beside the playbook nor built in")
                else:
                    todo.append((target, included))


# The most templates one message may read: its own and everything it includes, imports
# or extends, however deep (the built-ins use at most 4).
MAX_TEMPLATES = 50


@lru_cache(maxsize=1)
def _template_environment() -> Any:
    """The sandbox, with every filter a message template may use, to read templates."""
    from mea_culpa.playbook.expressions import make_environment

    return make_environment()


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
