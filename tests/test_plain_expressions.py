"""The plain subset of playbook expressions (plain_expressions): `when` conditions and
templated defaults evaluated without Jinja, always to Jinja's own answer, and without
importing Jinja at all once the analyses are cached.

Jinja stays the reference: `expressions.evaluate_in_jinja` / `render_in_jinja`. The plain
evaluator may decline (it raises), never differ.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest_hypothesis import examples
from mea_culpa.playbook import answers as answers_mod
from mea_culpa.playbook import expressions
from mea_culpa.playbook import plain_expressions
from mea_culpa.run import session as sm
from mea_culpa.errors import MeaCulpaError, SecurityError
from mea_culpa.paths import builtin_playbooks_dir
from mea_culpa.playbook.model import ACTION_STATES, Playbook, Step, load

ANSWERS = Path(__file__).parent / "data" / "answers"
NOT_PLAIN = object()  # the plain evaluator declined: Jinja answers


# --- the two paths ------------------------------------------------------------------------


def plain_form(kind: str, source: str) -> Any:
    try:
        if kind == "when":
            return expressions.analyze_expression(source).plain
        return expressions.analyze_template(source, short=True).plain
    except Exception:  # as expressions._plain_form: what cannot be analysed is Jinja's to report
        return None


def fast(kind: str, source: str, context: Mapping[str, Any]) -> Any:
    """The plain evaluator's answer alone, or NOT_PLAIN."""
    tree = plain_form(kind, source)
    if tree is None:
        return NOT_PLAIN
    run = plain_expressions.evaluate if kind == "when" else plain_expressions.render
    try:
        return run(tree, context)
    except Exception:
        return NOT_PLAIN


def _answer(run: Any, source: str, context: Mapping[str, Any]) -> Any:
    """The value, or the error it becomes (type and message)."""
    try:
        return run(source, context, what="x")
    except MeaCulpaError as exc:
        return (type(exc), str(exc))


def reference(kind: str, source: str, context: Mapping[str, Any]) -> Any:
    """Jinja's answer."""
    return _answer(expressions.evaluate_in_jinja if kind == "when" else expressions.render_in_jinja, source, context)


def public(kind: str, source: str, context: Mapping[str, Any]) -> Any:
    """What mea-culpa answers (plain first, then Jinja), as `reference` shows it."""
    return _answer(expressions.evaluate if kind == "when" else expressions.render_string, source, context)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (True is not 1, 1.0 is not 1); NaN is NaN."""
    return type(a) is type(b) and repr(a) == repr(b)


def check(kind: str, source: str, context: Mapping[str, Any]) -> Any:
    """The property: the plain answer, when there is one, is Jinja's; mea-culpa's answer is
    Jinja's in every case (value or error). Returns the plain answer."""
    expected = reference(kind, source, context)
    got = fast(kind, source, context)
    if got is not NOT_PLAIN:
        assert same(got, expected), (source, context, got, expected)
    assert same(public(kind, source, context), expected), (source, context)
    return got


# --- the built-in playbooks -------------------------------------------------------------------


@cache
def builtins() -> tuple[Playbook, ...]:
    return tuple(load(path) for path in sorted(builtin_playbooks_dir().glob("*.yaml")))


def sources(playbook: Playbook) -> list[tuple[str, str]]:
    """Every `when` and templated default of a playbook, as (kind, source)."""
    found = [("when", stage.when) for stage in playbook.stages if stage.when]
    found += [("when", step.when) for step in playbook.steps if step.when]
    found += [("default", step.default) for step in playbook.steps if expressions.is_template(step.default)]
    found += [("when", message.when) for message in playbook.messages if message.when]
    return list(dict.fromkeys(found))


@cache
def example_contexts(playbook_id: str) -> tuple[dict[str, Any], ...]:
    """The contexts a run of a built-in with its example answers evaluates its conditions
    and defaults in: the plan before any answer, then after each answer in turn."""
    playbook = next(p for p in builtins() if p.id == playbook_id)
    values = answers_mod.check_all(playbook, answers_mod.load_file(ANSWERS / f"{playbook_id}.yaml"), source="t")
    session, _ = sm.new_session(playbook, session_id=f"2026-11-22-{playbook_id}", title=playbook_id, now="2026-11-22T10:00:00Z")
    contexts = [dict(sm.plan(playbook, session).context)]
    for step in playbook.steps:
        if step.id in values:
            session, _ = sm.set_answer(session, step, values[step.id], now="2026-11-22T10:01:00Z")
            contexts.append(dict(sm.plan(playbook, session).context))
    return tuple(contexts)


def test_every_builtin_when_and_templated_default_has_a_plain_form():
    outside = [(p.id, source) for p in builtins() for kind, source in sources(p) if plain_form(kind, source) is None]
    assert not outside
    assert sum(len(sources(p)) for p in builtins()) > 50  # the playbooks were read


@pytest.mark.parametrize("playbook_id", [p.id for p in builtins()])
def test_the_plain_path_answers_every_builtin_expression_of_an_example_run_as_jinja_does(playbook_id):
    playbook = next(p for p in builtins() if p.id == playbook_id)
    contexts = example_contexts(playbook_id)
    assert len(contexts) > 5
    for context in contexts:
        for kind, source in sources(playbook):
            assert check(kind, source, context) is not NOT_PLAIN, (source, context)


def test_a_plain_form_is_a_small_tree_of_lists_strings_and_numbers():
    assert plain_form("when", "severity != 'none' and session.severity") == [
        "and",
        ["compare", ["name", "severity"], [["ne", ["const", "none"]]]],
        ["attr", ["name", "session"], "severity"],
    ]
    assert plain_form("default", "We {{ 'did' if x else 'did not' }}.\n") == [
        "template",
        [["text", "We "], ["out", ["cond", ["name", "x"], ["const", "did"], ["const", "did not"]]], ["text", ".\n"]],
    ]


# --- random contexts for the built-ins ------------------------------------------------------

WORDS = ["", "x", "none", "send", "Sam forgot", "human error", "we missed it", "2026-03-03", "2026-03-03T14:30", "colleague", "partner"]
TEXT = st.one_of(st.sampled_from(WORDS), st.text(max_size=12))


def answer(step: Step) -> st.SearchStrategy[Any]:
    """Any stored answer to a step, or None (not answered, or not applicable)."""
    values = [c.value for c in step.choices]
    by_type: dict[str, st.SearchStrategy[Any]] = {
        "choice": st.sampled_from(values) if values else TEXT,
        "multi-choice": st.lists(st.sampled_from(values), unique=True) if values else st.lists(TEXT),
        "yes-no": st.booleans(),
        "number": st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=False, allow_infinity=False)),
        "list": st.lists(st.one_of(TEXT, st.dictionaries(st.sampled_from(["what", "owner", "due"]), TEXT, max_size=3)), max_size=3),
        "action": st.fixed_dictionaries({"state": st.sampled_from(ACTION_STATES), "reason": TEXT}),
    }
    return st.one_of(st.none(), by_type.get(step.type, TEXT))


@st.composite
def builtin_case(draw: st.DrawFn) -> tuple[Playbook, dict[str, Any]]:
    playbook = draw(st.sampled_from(range(len(builtins()))).map(lambda i: builtins()[i]))
    context: dict[str, Any] = {step.id: draw(answer(step)) for step in playbook.steps}
    context["session"] = {"id": "s", "title": draw(TEXT), "severity": draw(st.sampled_from([None, "none", "major"])),
                          "happened_at": draw(st.sampled_from([None, "2026-03-03T14:30:00Z"])), "tags": []}
    return playbook, context


@settings(max_examples=examples(slow=True))  # each example checks every expression of a playbook
@given(builtin_case())
def test_every_builtin_expression_over_any_answers_is_jinjas_answer(case):
    playbook, context = case
    for kind, source in sources(playbook):
        check(kind, source, context)


# --- random expressions of the subset ---------------------------------------------------

NAMES = ["a", "b", "c", "session", "missing", "loop"]  # `missing` is never in a context; `loop` is Jinja's
SAFE_TEXT = st.text(alphabet="abcxyz ABXZ-:.0123", max_size=8)
CONSTANTS = st.one_of(
    SAFE_TEXT.map(lambda s: f"'{s}'"),
    st.integers(0, 10**6).map(str),
    st.floats(0, 1e6, allow_nan=False).map(repr),
    st.sampled_from(["true", "false", "none", "True", "None", "'Sam forgot'", "'2026-03-03'"]),
)
LEAVES = st.one_of(CONSTANTS, st.sampled_from(NAMES))
TESTS = ["blaming", "none", "defined", "undefined", "true", "false", "not blaming", "not none", "number", "string"]
FILTERS = ["lower", "upper", "trim", "trim('x')", "length", "human_date", "human_datetime", "human_time", "sentence",
           "clause", "sentence_list", "sentence_list('or')", "default('d')", "first", "string"]  # the last three are not plain


def compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    one = inner.map(lambda e: f"({e})")
    return st.one_of(
        st.tuples(one, st.sampled_from(["and", "or", "==", "!=", "<", ">", "<=", ">=", "in", "not in", "~", "+"]), one)
        .map(" ".join),
        st.tuples(one, st.sampled_from(["<", "=="]), one, st.sampled_from(["<=", "!="]), one).map(" ".join),
        one.map(lambda e: f"not {e}"),
        one.map(lambda e: f"-{e}"),
        st.tuples(one, one, one).map(lambda t: f"{t[0]} if {t[1]} else {t[2]}"),
        st.tuples(one, st.sampled_from(TESTS)).map(lambda t: f"{t[0]} is {t[1]}"),
        st.tuples(one, st.sampled_from(FILTERS)).map(lambda t: f"{t[0]} | {t[1]}"),
        st.lists(inner, max_size=3).map(lambda items: f"[{', '.join(items)}]"),
        st.lists(inner, min_size=1, max_size=3).map(lambda items: f"({', '.join(items)},)"),
        st.tuples(one, st.sampled_from(["x", "y", "items", "severity"])).map(lambda t: f"{t[0]}.{t[1]}"),
        st.tuples(one, st.sampled_from(["'x'", "'items'", "0", "1"])).map(lambda t: f"{t[0]}[{t[1]}]"),
    )


EXPRESSIONS = st.recursive(LEAVES, compound, max_leaves=8)

PLAIN_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(), SAFE_TEXT, st.sampled_from(WORDS),
              st.just(dt.date(2026, 3, 3))),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner),
                            st.dictionaries(st.sampled_from(["x", "y", "items", "severity", 0]), inner, max_size=3)),
    max_leaves=6,
)
CONTEXTS = st.fixed_dictionaries({"a": PLAIN_VALUES, "b": PLAIN_VALUES, "session": PLAIN_VALUES},
                                 optional={"c": PLAIN_VALUES, "loop": PLAIN_VALUES})


@st.composite
def short_templates(draw: st.DrawFn) -> str:
    def body(depth: int) -> str:
        parts = []
        for _ in range(draw(st.integers(0, 3))):
            choice = draw(st.sampled_from(["text", "out", "if"] if depth < 2 else ["text", "out"]))
            if choice == "text":
                parts.append(draw(st.sampled_from(["We ", " did", "\n", "  ", "x{# note #}y", "{% raw %}{{ a }}{% endraw %}"])))
            elif choice == "out":
                parts.append("{{ " + draw(EXPRESSIONS) + " }}")
            else:
                parts.append("{% if (" + draw(EXPRESSIONS) + ") %}" + body(depth + 1))
                for _ in range(draw(st.integers(0, 2))):
                    parts.append("{% elif (" + draw(EXPRESSIONS) + ") %}\n" + body(depth + 1))
                if draw(st.booleans()):
                    parts.append("{% else %}" + body(depth + 1))
                parts.append("{% endif %}\n")
        return "".join(parts)

    return body(0)


@settings(max_examples=examples())
@given(EXPRESSIONS, CONTEXTS)
def test_a_random_expression_of_the_subset_is_jinjas_answer(source, context):
    check("when", source, context)


@settings(max_examples=examples() // 2)  # Jinja compiles each template: the slower half
@given(short_templates(), CONTEXTS)
def test_a_random_short_template_of_the_subset_renders_as_jinja_renders_it(source, context):
    check("default", source, context)


# --- outside the subset: Jinja, as before -----------------------------------------------


@pytest.mark.parametrize(
    "kind, source, context",
    [
        ("default", "{% for x in xs %}{{ x }}, {% endfor %}", {"xs": ["a", "b"]}),
        ("default", "{% set y = x %}{{ y }}", {"x": 1}),
        ("when", "x.items()", {"x": {"a": 1}}),
        ("when", "x | default('y')", {"x": None}),
        ("when", "x.keys", {"x": {"keys": 1}}),  # the dict's method, not the item
        ("when", "x + 1", {"x": 1}),
        ("when", "range(3) | list", {}),
        ("default", "{{ x }}", {"x": "a", "self": 1}),  # Jinja refuses a context with `self`…
        ("when", "x", {"x": "a", 1: 2}),  # …or with a name that is not text
    ],
)
def test_outside_the_subset_jinja_answers_as_before(kind, source, context):
    expected = reference(kind, source, context)
    assert fast(kind, source, context) is NOT_PLAIN
    assert public(kind, source, context) == expected


@pytest.mark.parametrize("source", ["x.__class__", "x['__class__']", "x.mro", "x | attr('__class__')", "x.__class__ == 1 or true"])
def test_what_the_sandbox_refuses_has_no_plain_form_and_fails_in_jinja_as_before(source):
    assert expressions.analyze_expression(source).refused
    assert plain_form("when", source) is None
    expected = reference("when", source, {"x": "text"})
    assert isinstance(expected, tuple)  # an error, as the sandbox words it
    assert public("when", source, {"x": "text"}) == expected


def test_an_unsafe_attribute_is_still_refused_by_the_sandbox():
    with pytest.raises(SecurityError, match="refused by the sandbox"):
        expressions.evaluate("x.__class__", {"x": "text"})


@pytest.mark.parametrize(
    "kind, build, depths",
    [
        ("when", lambda n: "[x ~ " * n + "x" + "]" * n, (5, 12, 13, 66, 67, 100)),
        ("default", lambda n: "{% if x %}" * n + "y" + "{% endif %}" * n, (5, 12, 13, 98, 99, 120)),
    ],
)
def test_an_expression_nested_too_deeply_for_jinja_to_compile_has_no_plain_form(kind, build, depths):
    """Python refuses the code Jinja compiles for 200 nested parentheses (here 67 levels of
    `[x ~ …]`) or 100 indents (99 nested ifs); the plain evaluator would not, so it declines
    well before (MAX_DEPTH)."""
    context = {"x": "x"}
    assert check(kind, build(depths[0]), context) is not NOT_PLAIN
    for n in depths:
        check(kind, build(n), context)
    assert isinstance(reference(kind, build(depths[-1]), context), tuple)  # Jinja does fail there


def test_a_tree_deeper_than_max_depth_has_no_plain_form():
    within = plain_expressions.MAX_DEPTH - 1  # `not` n times over a name nests n + 1 lists
    assert plain_form("when", "not " * within + "x") is not None
    assert plain_form("when", "not " * (within + 1) + "x") is None


def test_a_name_missing_from_the_context_is_left_to_jinja():
    assert fast("when", "nobody", {"a": 1}) is NOT_PLAIN
    assert public("when", "nobody", {"a": 1}) == reference("when", "nobody", {"a": 1})
    assert public("when", "a or nobody", {"a": 1}) == 1  # never read: Jinja says the same


def test_text_over_the_sandbox_limit_is_left_to_jinja_which_refuses_it():
    big = "x" * (expressions.MAX_OUTPUT // 2 + 1)
    assert fast("when", "a ~ a", {"a": big}) is NOT_PLAIN
    assert fast("default", "{{ a }}{{ a }}", {"a": big}) is NOT_PLAIN
    assert public("when", "a ~ a", {"a": big})[0] is SecurityError
    assert public("default", "{{ a }}{{ a }}", {"a": big})[0] is SecurityError


def test_an_evaluation_past_its_time_budget_is_left_to_jinja(monkeypatch):
    monkeypatch.setattr(plain_expressions, "BUDGET_SECONDS", -1.0)
    assert fast("when", "a == 1", {"a": 1}) is NOT_PLAIN
    assert public("when", "a == 1", {"a": 1}) is True


# --- a warm cache: no Jinja at all ------------------------------------------------------------

EVALUATE_ALL = textwrap.dedent(
    """
    import json, sys
    from mea_culpa.playbook import expressions
    out = []
    for kind, source, context in json.load(open(sys.argv[1])):
        run = expressions.condition if kind == "when" else expressions.render_string
        out.append(run(source, context))
    print(json.dumps({"results": out, "jinja2": "jinja2" in sys.modules}))
    """
)


def test_with_the_analyses_cached_the_builtin_conditions_and_defaults_run_without_importing_jinja(tmp_path):
    cases = [
        (kind, source, context)
        for playbook in builtins()
        for context in example_contexts(playbook.id)[-3:]
        for kind, source in sources(playbook)
    ]
    (tmp_path / "cases.json").write_text(json.dumps(cases), encoding="utf-8")
    (tmp_path / "run.py").write_text(EVALUATE_ALL, encoding="utf-8")
    env = {**os.environ, "MEA_CULPA_HOME": str(tmp_path / "home"), "MEA_CULPA_CONFIG": str(tmp_path / "config")}

    def run() -> dict[str, Any]:
        done = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path / "cases.json")],
                              env=env, capture_output=True, text=True, check=True)
        return json.loads(done.stdout)

    cold, warm = run(), run()
    assert cold["jinja2"]  # the first run analyses, with Jinja's parser, and keeps the analyses
    assert not warm["jinja2"]
    assert warm["results"] == cold["results"]
    assert warm["results"] == [
        expressions.condition(source, context) if kind == "when" else expressions.render_string(source, context)
        for kind, source, context in cases
    ]
