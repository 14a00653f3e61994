"""A small description language for YAML shapes: one description both validates a
document (reporting every problem with its line) and becomes the JSON Schema editors use.

Kept deliberately tiny: the playbook format needs strings, numbers, booleans, lists,
objects and "one of" - nothing a full schema library would add is worth its import cost
on the start-up path.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mea_culpa.errors import Diagnostic, quoted
from mea_culpa.yamlfile import Document, Key


class Spec:
    """Base of all shape descriptions."""

    doc: str = ""
    kind_name: str = "value"

    def check(self, value: Any, key: Key, ctx: Context) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _with_doc(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.doc:
            schema["description"] = self.doc
        return schema


@dataclass
class Context:
    """Collects problems while a document is checked."""

    doc: Document
    problems: list[Diagnostic] = field(default_factory=list)

    def problem(self, key: Key, message: str, *, of_key: bool = False) -> None:
        self.problems.append(self.doc.diagnostic(key, message, of_key=of_key))


_INVALID = object()  # a value that failed its check; the caller drops it


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@dataclass
class Str(Spec):
    doc: str = ""
    pattern: str | None = None
    pattern_hint: str = ""
    enum: tuple[str, ...] = ()
    min_length: int | None = None
    max_length: int | None = None
    coerce_numbers: bool = False  # e.g. `version: 2` is fine as "2"
    kind_name: str = "text"

    def check(self, value: Any, key: Key, ctx: Context) -> Any:
        if self.coerce_numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            ctx.problem(key, f"expected text, found {_type_name(value)}")
            return _INVALID
        if self.enum and value not in self.enum:
            close = difflib.get_close_matches(value[:100], self.enum, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            ctx.problem(key, f"{quoted(value)} is not one of {', '.join(self.enum)}{hint}")
            return _INVALID
        if self.min_length is not None and len(value.strip()) < self.min_length:
            ctx.problem(key, "must not be empty" if self.min_length == 1 else f"must be at least {self.min_length} characters")
            return _INVALID
        if self.max_length is not None and len(value) > self.max_length:
            ctx.problem(key, f"is {len(value)} characters long; the limit is {self.max_length}")
            return _INVALID
        if self.pattern and not re.fullmatch(self.pattern, value):
            ctx.problem(key, f"{quoted(value)} is not valid: {self.pattern_hint or 'must match ' + self.pattern}")
            return _INVALID
        return value

    def json_schema(self) -> dict[str, Any]:
        types: Any = ["string", "number"] if self.coerce_numbers else "string"
        schema: dict[str, Any] = {"type": types}
        if self.enum:
            schema["enum"] = list(self.enum)
        if self.pattern:
            schema["pattern"] = f"^(?:{self.pattern})$"
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.max_length:
            schema["maxLength"] = self.max_length
        return self._with_doc(schema)


@dataclass
class Num(Spec):
    doc: str = ""
    integer: bool = False
    minimum: float | None = None
    kind_name: str = "number"

    def check(self, value: Any, key: Key, ctx: Context) -> Any:
        ok = isinstance(value, int) if self.integer else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok:
            ctx.problem(key, f"expected {'a whole number' if self.integer else 'a number'}, found {_type_name(value)}")
            return _INVALID
        if self.minimum is not None and value < self.minimum:
            ctx.problem(key, f"must be at least {self.minimum:g}")
            return _INVALID
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        return self._with_doc(schema)


@dataclass
class Bool(Spec):
    doc: str = ""
    kind_name: str = "true/false"

    def check(self, value: Any, key: Key, ctx: Context) -> Any:
        if not isinstance(value, bool):
            ctx.problem(key, f"expected true or false, found {_type_name(value)}")
            return _INVALID
        return value

    def json_schema(self) -> dict[str, Any]:
        return self._with_doc({"type": "boolean"})


@dataclass
class Anything(Spec):
    """Any plain scalar or list of scalars (defaults, whose type depends on the step)."""

    doc: str = ""

    def check(self, value: Any, key: Key, ctx: Context) -> Any:
        if isinstance(value, dict):
            ctx.problem(key, "expected a plain value or a list, found a mapping")
            return _INVALID
        return value

    def json_schema(self) -> dict[str, Any]:
        return self._with_doc({"type": ["string", "number", "boolean", "array", "null"]})


@dataclass
class Arr(Spec):
    items: Spec = field(default_factory=Anything)
    doc: str = ""
    min_items: int = 0
    kind_name: str = "list"

    def check(self, value: Any, key: Key, ctx: Context) -> Any:
        if not isinstance(value, list):
            ctx.problem(key, f"expected a list, found {_type_name(value)}")
            return _INVALID
        if len(value) < self.min_items:
            ctx.problem(key, f"needs at least {self.min_items} item{'s' if self.min_items > 1 else ''}")
        out = [self.items.check(item, key + (i,), ctx) for i, item in enumerate(value)]
        return [item for item in out if item is not _INVALID]

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": self.items.json_schema()}
        if self.min_items:
            schema["minItems"] = self.min_items
        return self._with_doc(schema)


@dataclass
class Prop:
    spec: Spec
    required: bool = False


@dataclass
class Obj(Spec):
    name: str = "object"
    props: Mapping[str, Prop] = field(default_factory=dict)
    doc: str = ""
    kind_name: str = "mapping"

    def check(self, value: Any, key: Key, ctx: Context) -> Any:
        if not isinstance(value, dict):
            ctx.problem(key, f"expected a mapping (key: value lines), found {_type_name(value)}")
            return _INVALID
        out: dict[str, Any] = {}
        for name, item in value.items():
            prop = self.props.get(name)
            if prop is None:
                close = difflib.get_close_matches(str(name)[:100], list(self.props), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(self.props)}"
                ctx.problem(key + (name,), f"unknown key {quoted(name)} in {self.name}; {hint}", of_key=True)
                continue
            if item is None and not prop.required:
                continue  # `help:` with nothing after it means "no help"
            checked = prop.spec.check(item, key + (name,), ctx)
            if checked is not _INVALID:
                out[name] = checked
        for name, prop in self.props.items():
            if prop.required and (name not in value or value[name] is None):
                ctx.problem(key, f"missing required key {name!r} in {self.name}")
        return out

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: p.spec.json_schema() for name, p in self.props.items()},
            "additionalProperties": False,
        }
        required = [name for name, p in self.props.items() if p.required]
        if required:
            schema["required"] = required
        return self._with_doc(schema)


@dataclass
class OneOf(Spec):
    """A value of one of several shapes, told apart by its YAML type (text vs mapping)."""

    options: tuple[Spec, ...] = ()
    doc: str = ""

    def check(self, value: Any, key: Key, ctx: Context) -> Any:
        for option in self.options:
            if isinstance(option, Obj) and isinstance(value, dict):
                return option.check(value, key, ctx)
            if isinstance(option, Str) and isinstance(value, str):
                return option.check(value, key, ctx)
            if isinstance(option, Arr) and isinstance(value, list):
                return option.check(value, key, ctx)
        names = " or ".join(o.kind_name for o in self.options)
        ctx.problem(key, f"expected {names}, found {_type_name(value)}")
        return _INVALID

    def json_schema(self) -> dict[str, Any]:
        return self._with_doc({"anyOf": [o.json_schema() for o in self.options]})


def validate(spec: Spec, doc: Document, ctx: Context) -> Any:
    """Check a whole document against `spec`; problems land in `ctx`."""
    result = spec.check(doc.data, (), ctx)
    return None if result is _INVALID else result

