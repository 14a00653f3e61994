"""The plain subset of playbook expressions, evaluated without Jinja.

Nearly every `when` and templated default is plain: names, constants, comparisons,
`and`/`or`/`not`, `a if c else b`, `~`, mapping items and the project's own filters and
tests. Importing Jinja costs as much as the rest of a run's start-up, so expressions.py
derives a small tree of lists, strings and numbers from Jinja's parse of each one (once:
the tree is kept with the analysis in the on-disk cache) and this module evaluates it.

The evaluator answers only when its answer is Jinja's. Whatever it is not sure of — a
name not in the context, a value that is not plain data, a key that is missing, an error
of any kind, a size limit — raises, and the caller asks Jinja, which gives the reference
value or the reference error. It never does what Jinja's sandbox would refuse: it reads
items of plain mappings, compares, joins text within MAX_OUTPUT and calls the project's
filters and tests and four string filters; it reaches no attribute and calls nothing
else. Each step takes time linear in the values it meets, and a whole evaluation that runs
past BUDGET_SECONDS hands over to Jinja too, so the sandbox's time limit still holds.

The tree (FORMAT, kept in the analysis cache's version):

- expression: `["const", v]`, `["list", [e…]]`, `["tuple", [e…]]`, `["name", n]`,
  `["attr", e, key]`, `["item", e, key]`, `["and", e, e]`, `["or", e, e]`, `["not", e]`,
  `["neg", e]`, `["pos", e]`, `["compare", e, [[op, e]…]]`, `["cond", test, yes, no]`,
  `["concat", [e…]]`, `["test", name, e, [arg…]]`, `["filter", name, e, [arg…]]`;
- short template: `["template", body]`, a body being a list of `["text", s]`,
  `["out", e]` and `["if", [[test, body]…], else_body]`.
"""

from __future__ import annotations

import datetime as dt
import operator
import time
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from mea_culpa.playbook.expressions import FILTERS, MAX_OUTPUT, MAX_SECONDS, TESTS

FORMAT = 1  # the shape of the tree above; a change makes the cached trees another version's
# Time the evaluator may take before it hands over to Jinja (whose own limit then applies).
# The built-in conditions take microseconds; only a hostile one over huge answers comes near.
BUDGET_SECONDS = MAX_SECONDS / 4
# How deep a tree may nest. Jinja turns each level into about one level of parentheses (of
# indentation, for an `{% if %}`) in the Python it compiles, and Python refuses 200 of those
# (100 indents): a deeper tree is one Jinja fails on. The built-ins nest less than 10 deep.
MAX_DEPTH = 50

Plain = list[Any]


class NotPlain(Exception):
    """Outside the plain subset, or not sure to give Jinja's answer: ask Jinja."""


def _soft_str(value: Any) -> str:
    # markupsafe.soft_str, which Jinja's string filters apply to their input
    return value if isinstance(value, str) else str(value)


# Jinja's own filters and tests that are this simple, written out as Jinja 3.1 has them.
_JINJA_FILTERS: dict[str, Callable[..., Any]] = {
    "lower": lambda value: _soft_str(value).lower(),
    "upper": lambda value: _soft_str(value).upper(),
    "trim": lambda value, chars=None: _soft_str(value).strip(chars),
    "length": len,
}
_JINJA_TESTS: dict[str, Callable[..., bool]] = {
    # A value the evaluator holds is never Jinja's Undefined (see _fetched), so it is defined.
    "defined": lambda value: True,
    "undefined": lambda value: False,
    "none": lambda value: value is None,
    "true": lambda value: value is True,
    "false": lambda value: value is False,
}
_FILTERS: dict[str, Callable[..., Any]] = {**_JINJA_FILTERS, **FILTERS}  # the project's win, as in the sandbox
_TESTS: dict[str, Callable[..., bool]] = {**_JINJA_TESTS, **TESTS}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "gt": operator.gt,
    "lteq": operator.le, "gteq": operator.ge,
    "in": lambda item, container: item in container,
    "notin": lambda item, container: item not in container,
}
# The values a context may give: what answers and session facts are made of. Anything
# else (Jinja's Undefined, Markup, some object) might behave differently in Jinja.
_PLAIN_TYPES = frozenset({type(None), bool, int, float, str, list, tuple, dict, dt.date, dt.datetime})
_CONSTANT_TYPES = frozenset({type(None), bool, int, float, str})
# Names Jinja's compiled code binds itself (`self` is the template), whatever the context says.
_SPECIAL_NAMES = frozenset({"self", "loop", "caller", "varargs", "kwargs", "super"})


# --- from Jinja's parse to the plain form ------------------------------------------------
# Jinja's nodes are told apart by class name, so that this module never imports Jinja.


def from_expression(node: Any) -> Plain | None:
    """The plain form of a parsed Jinja expression; None when any part of it is outside the subset."""
    try:
        return _shallow(_expression(node))
    except (NotPlain, RecursionError):
        return None


def from_template(tree: Any) -> Plain | None:
    """The plain form of a parsed short template (a templated default); None when any
    part of it is outside the subset."""
    try:
        return _shallow(["template", _body(tree.body)])
    except (NotPlain, RecursionError):
        return None


def _shallow(tree: Plain) -> Plain:
    """`tree`, if it nests at most MAX_DEPTH lists deep (counted a level at a time)."""
    level = [tree]
    for _ in range(MAX_DEPTH):
        level = [child for node in level for child in node if isinstance(child, list)]
        if not level:
            return tree
    raise NotPlain("nested too deeply for Jinja to compile")


def _expression(node: Any) -> Plain:
    translate = _TRANSLATE.get(type(node).__name__)
    if translate is None:
        raise NotPlain(type(node).__name__)
    return translate(node)


def _constant(node: Any) -> Any:
    if type(node).__name__ != "Const" or type(node.value) not in _CONSTANT_TYPES:
        raise NotPlain("not a constant")
    return node.value


def _loaded(node: Any) -> Any:
    if getattr(node, "ctx", "load") != "load":
        raise NotPlain("a name that is assigned")
    return node


def _name(node: Any) -> Plain:
    if _loaded(node).name in _SPECIAL_NAMES:
        raise NotPlain(node.name)
    return ["name", node.name]


def _attr(node: Any) -> Plain:
    # `x.key` reads the item only when `key` is not an attribute of a dict (`x.items` is the method)
    if hasattr(dict, _loaded(node).attr):
        raise NotPlain(node.attr)
    return ["attr", _expression(node.node), node.attr]


def _item(node: Any) -> Plain:
    return ["item", _expression(_loaded(node).node), _constant(node.arg)]


def _call(kind: str, known: Mapping[str, Any]) -> Callable[[Any], Plain]:
    """A filter or test: one the subset knows, on a plain value, with constant arguments."""

    def translate(node: Any) -> Plain:
        if node.name not in known or node.node is None or node.kwargs or node.dyn_args or node.dyn_kwargs:
            raise NotPlain(f"{kind} {node.name}")
        return [kind, node.name, _expression(node.node), [_constant(arg) for arg in node.args]]

    return translate


def _compare(node: Any) -> Plain:
    if not node.ops or any(op.op not in _COMPARE for op in node.ops):
        raise NotPlain("an operator outside the subset")
    return ["compare", _expression(node.expr), [[op.op, _expression(op.expr)] for op in node.ops]]


def _cond(node: Any) -> Plain:
    if node.expr2 is None:  # `a if c` alone is Undefined when c is false
        raise NotPlain("an if without an else")
    return ["cond", _expression(node.test), _expression(node.expr1), _expression(node.expr2)]


_TRANSLATE: dict[str, Callable[[Any], Plain]] = {
    "Const": lambda node: ["const", _constant(node)],
    "List": lambda node: ["list", [_expression(item) for item in node.items]],
    "Tuple": lambda node: ["tuple", [_expression(item) for item in _loaded(node).items]],
    "Name": _name,
    "Getattr": _attr,
    "Getitem": _item,
    "And": lambda node: ["and", _expression(node.left), _expression(node.right)],
    "Or": lambda node: ["or", _expression(node.left), _expression(node.right)],
    "Not": lambda node: ["not", _expression(node.node)],
    "Neg": lambda node: ["neg", _expression(node.node)],
    "Pos": lambda node: ["pos", _expression(node.node)],
    "Compare": _compare,
    "CondExpr": _cond,
    "Concat": lambda node: ["concat", [_expression(part) for part in node.nodes]],
    "Test": _call("test", _TESTS),
    "Filter": _call("filter", _FILTERS),
}


def _body(nodes: list[Any]) -> Plain:
    out: Plain = []
    for node in nodes:
        kind = type(node).__name__
        if kind == "Output":
            out.extend(["text", child.data] if type(child).__name__ == "TemplateData" else ["out", _expression(child)]
                       for child in node.nodes)
        elif kind == "If":
            out.append(_if(node))
        else:
            raise NotPlain(kind)
    return out


def _if(node: Any) -> Plain:
    branches = [[_expression(node.test), _body(node.body)]]
    for elif_ in node.elif_:
        if elif_.elif_ or elif_.else_:  # Jinja's parser never nests them; anything else is not plain
            raise NotPlain("a nested elif")
        branches.append([_expression(elif_.test), _body(elif_.body)])
    return ["if", branches, _body(node.else_)]


# --- evaluating the plain form -----------------------------------------------------------


class _Run(NamedTuple):
    context: Mapping[str, Any]
    deadline: float  # time.monotonic() after which Jinja is asked instead


def evaluate(tree: Plain, context: Mapping[str, Any]) -> Any:
    """The value of a plain expression over `context`, as Jinja gives it. Raises NotPlain,
    or whatever error the evaluation meets, when Jinja must answer instead."""
    return _value(tree, _start(context))


def render(tree: Plain, context: Mapping[str, Any]) -> str:
    """A plain short template rendered over `context`, as Jinja renders it (raises like evaluate)."""
    out: list[str] = []
    _emit(tree[1], _start(context), out)
    text = "".join(out)
    if len(text) > MAX_OUTPUT:
        raise NotPlain("the output is over the sandbox's limit")
    return text


def _start(context: Mapping[str, Any]) -> _Run:
    # Jinja takes the context as keyword arguments of a method: each name must be text,
    # and `self` is taken.
    if "self" in context or not set(map(type, context)) <= {str}:
        raise NotPlain("a context Jinja would not take")
    return _Run(context, time.monotonic() + BUDGET_SECONDS)


def _value(tree: Plain, run: _Run) -> Any:
    # Each step is linear in the values it meets, but a long expression over a long answer
    # can repeat them many times: past the budget, Jinja answers, under its time limit.
    if time.monotonic() > run.deadline:
        raise NotPlain("slower than the plain evaluator's budget")
    return _EVALUATE[tree[0]](tree, run)


def _fetched(value: Any) -> Any:
    if type(value) not in _PLAIN_TYPES:
        raise NotPlain(f"a {type(value).__name__} value")
    return value


def _lookup_name(tree: Plain, run: _Run) -> Any:
    if tree[1] not in run.context:  # Jinja would look among its globals, or fail
        raise NotPlain(f"no {tree[1]!r} in the context")
    return _fetched(run.context[tree[1]])


def _lookup_item(tree: Plain, run: _Run) -> Any:
    mapping = _value(tree[1], run)
    if type(mapping) is not dict or tree[2] not in mapping:
        raise NotPlain("not an item of a mapping")
    return _fetched(mapping[tree[2]])


def _compare_chain(tree: Plain, run: _Run) -> Any:
    # Python's chained comparison, which Jinja compiles to: `a < b < c` is `a < b and b < c`
    left = _value(tree[1], run)
    result: Any = True
    for op, operand in tree[2]:
        right = _value(operand, run)
        result = _COMPARE[op](left, right)
        if not result:
            return result
        left = right
    return result


def _concat(tree: Plain, run: _Run) -> str:
    # the sandbox's `~`: str() of each part, refused when the text would pass MAX_OUTPUT
    texts = [_soft_str(_value(part, run)) for part in tree[1]]
    if sum(len(text) for text in texts) > MAX_OUTPUT:
        raise NotPlain("`~` over the sandbox's limit")
    return "".join(texts)


_EVALUATE: dict[str, Callable[[Plain, _Run], Any]] = {
    "const": lambda tree, run: tree[1],
    "list": lambda tree, run: [_value(item, run) for item in tree[1]],
    "tuple": lambda tree, run: tuple(_value(item, run) for item in tree[1]),
    "name": _lookup_name,
    "attr": _lookup_item,
    "item": _lookup_item,
    "and": lambda tree, run: _value(tree[1], run) and _value(tree[2], run),
    "or": lambda tree, run: _value(tree[1], run) or _value(tree[2], run),
    "not": lambda tree, run: not _value(tree[1], run),
    "neg": lambda tree, run: -_value(tree[1], run),
    "pos": lambda tree, run: +_value(tree[1], run),
    "compare": _compare_chain,
    "cond": lambda tree, run: _value(tree[2], run) if _value(tree[1], run) else _value(tree[3], run),
    "concat": _concat,
    "test": lambda tree, run: _TESTS[tree[1]](_value(tree[2], run), *tree[3]),
    "filter": lambda tree, run: _FILTERS[tree[1]](_value(tree[2], run), *tree[3]),
}


def _emit(body: Plain, run: _Run, out: list[str]) -> None:
    for part in body:
        if part[0] == "text":
            out.append(part[1])
        elif part[0] == "out":
            out.append(str(_value(part[1], run)))  # Jinja prints a value as str(value): None is "None"
        else:
            _emit(_chosen(part, run), run, out)


def _chosen(part: Plain, run: _Run) -> Plain:
    """The body an `{% if %}…{% elif %}…{% else %}` renders."""
    for test, body in part[1]:
        if _value(test, run):
            return list(body)
    return list(part[2])
