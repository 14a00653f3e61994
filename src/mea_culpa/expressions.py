"""Sandboxed Jinja: `when` conditions, templated defaults and the shared template filters.

Playbooks come from other people. Everything a playbook can make Jinja do runs in
Jinja's SandboxedEnvironment, with extra limits on the arithmetic that can exhaust memory
(`'x' * 10**9`, `2 ** 10**9`) and on recursion. jinja2 is imported here, and only when an
expression or a template is actually used, so that `--help` and `list` stay fast.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mea_culpa.errors import SecurityError, TemplateError

if TYPE_CHECKING:
    from jinja2 import BaseLoader
    from jinja2.sandbox import SandboxedEnvironment

MAX_SEQUENCE = 10_000  # longest string or list that `*` may build
MAX_POWER = 1_000  # largest exponent `**` may use
MAX_OUTPUT = 200_000  # characters a single template may produce


class ExpressionSyntaxError(Exception):
    """An expression or template that does not parse; `str()` is the user's message."""


# --- filters and tests shared by expressions and message templates ------------------


def sentence_list(items: Any, conjunction: str = "and") -> str:
    """["a", "b", "c"] -> "a, b and c"; a single string is returned as it is."""
    if items is None:
        return ""
    if isinstance(items, str):
        return items
    words = [str(i).strip() for i in items if i is not None and str(i).strip()]
    if len(words) <= 1:
        return "".join(words)
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"


def _as_datetime(value: Any) -> dt.date | dt.datetime | None:
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip().replace("Z", "+00:00")
        for parse in (dt.datetime.fromisoformat, dt.date.fromisoformat):
            try:
                return parse(text)
            except ValueError:
                continue
    return None


def human_date(value: Any) -> str:
    """2026-03-03 -> "Tuesday 3 March 2026" (text that is not a date is returned unchanged)."""
    when = _as_datetime(value)
    if when is None:
        return "" if value is None else str(value)
    return f"{when:%A} {when.day} {when:%B %Y}"


def human_datetime(value: Any) -> str:
    """2026-03-03T14:30 -> "Tuesday 3 March 2026 at 14:30" (dates alone as human_date)."""
    when = _as_datetime(value)
    if not isinstance(when, dt.datetime):
        return human_date(value)
    return f"{human_date(when)} at {when:%H:%M}"


def human_time(value: Any) -> str:
    """2026-03-03T14:30 -> "14:30"; other text unchanged."""
    when = _as_datetime(value)
    if isinstance(when, dt.datetime):
        return f"{when:%H:%M}"
    return "" if value is None else str(value)


def sentence(value: Any) -> str:
    """User text as a sentence: trimmed, first letter capital, ending in punctuation."""
    text = "" if value is None else str(value).strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…\"')" else text + "."


def clause(value: Any) -> str:
    """User text to continue a sentence: trimmed, trailing full stop removed, first letter
    lowered unless it starts an acronym or a name like "I"."""
    text = "" if value is None else str(value).strip().rstrip(".")
    if len(text) > 1 and text[0].isupper() and not text[1].isupper() and not text.startswith("I "):
        text = text[0].lower() + text[1:]
    return text


_BLAME = re.compile(
    r"\b(?:human error|user error|operator error|(?:his|her|their|[A-Z][a-z]+'s) (?:fault|mistake|error|carelessness)"
    r"|careless(?:ness)?|lazy|stupid|incompetent|sloppy|should have known|the (?:intern|new (?:guy|girl|hire))"
    r"|(?:he|she) (?:forgot|didn't|did not|failed|messed|screwed|ignored)"
    # a capitalised name doing the failing ("Sam forgot"), but not "We forgot" or "Nobody checked"
    r"|\b(?!(?:We|I|They|It|Someone|Somebody|Nobody|No one|Everyone|Everybody|The|This|That|Our|You|One|Each|Nothing)\b)"
    r"[A-Z][a-z]+ (?:forgot|failed to|didn't|did not|messed up|screwed up|ignored|should have))",
)


def is_blaming(value: Any) -> bool:
    """True when text pins the mistake on a person ("human error", "Sam forgot", "careless")."""
    if value is None:
        return False
    if isinstance(value, (list, tuple)):
        return any(is_blaming(v) for v in value)
    if isinstance(value, dict):
        return any(is_blaming(v) for v in value.values())
    return bool(_BLAME.search(str(value)))


FILTERS = {
    "sentence_list": sentence_list,
    "human_date": human_date,
    "human_datetime": human_datetime,
    "human_time": human_time,
    "sentence": sentence,
    "clause": clause,
}
TESTS = {"blaming": is_blaming}


# --- the sandbox ---------------------------------------------------------------------


def _limited_sandbox() -> type[SandboxedEnvironment]:
    from jinja2.sandbox import SandboxedEnvironment

    class LimitedSandbox(SandboxedEnvironment):
        """Jinja's sandbox plus limits on the operators that can exhaust memory or time."""

        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**":
                if isinstance(right, (int, float)) and abs(right) > MAX_POWER:
                    raise SecurityError(f"refused: exponent {right} is larger than {MAX_POWER}")
                return left**right
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and len(seq) * count > MAX_SEQUENCE:
                    raise SecurityError(f"refused: repeating a value {count} times builds more than {MAX_SEQUENCE:,} items")
            return left * right

    return LimitedSandbox


def make_environment(loader: BaseLoader | None = None, *, strict: bool = True) -> SandboxedEnvironment:
    """A sandboxed Jinja environment with the project's filters and tests."""
    from jinja2 import StrictUndefined, Undefined

    env = _limited_sandbox()(
        loader=loader,
        undefined=StrictUndefined if strict else Undefined,
        autoescape=False,  # drafts are plain text; the HTML export escapes on its own
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    return env


@lru_cache(maxsize=1)
def _env() -> SandboxedEnvironment:
    return make_environment()


@lru_cache(maxsize=512)
def _compile_expression(source: str) -> Any:
    from jinja2 import TemplateSyntaxError

    try:
        return _env().compile_expression(source, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(exc.message or "does not parse") from None


def expression_names(source: str) -> set[str]:
    """The variable names an expression reads (raises ExpressionSyntaxError if it does not parse)."""
    from jinja2 import TemplateSyntaxError, meta, nodes
    from jinja2.parser import Parser

    env = _env()
    try:
        parser = Parser(env, source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("unexpected text after the expression", parser.stream.current.lineno)
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(exc.message or "does not parse") from None
    tree = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr)], lineno=1)
    tree.set_environment(env)
    return set(meta.find_undeclared_variables(tree))


def template_names(source: str, env: SandboxedEnvironment | None = None) -> set[str]:
    """The variable names a template string reads (raises ExpressionSyntaxError)."""
    from jinja2 import TemplateSyntaxError, meta

    env = env or _env()
    try:
        tree = env.parse(source)
        # find_undeclared_variables compiles the tree, which is where unknown filters fail
        return set(meta.find_undeclared_variables(tree))
    except TemplateSyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno and exc.lineno > 1 else ""
        raise ExpressionSyntaxError(f"{exc.message or 'does not parse'}{where}") from None


def is_template(value: Any) -> bool:
    """True when a string default needs rendering."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _guarded(call: Any, what: str) -> Any:
    from jinja2 import TemplateError as JinjaError
    from jinja2 import UndefinedError
    from jinja2.exceptions import SecurityError as JinjaSecurityError

    try:
        return call()
    except SecurityError:
        raise
    except JinjaSecurityError as exc:
        raise SecurityError(f"{what}: refused by the sandbox: {exc}") from None
    except UndefinedError as exc:
        raise TemplateError(f"{what}: {exc.message}") from None
    except JinjaError as exc:
        raise TemplateError(f"{what}: {exc.message or exc}") from None
    except OverflowError as exc:
        raise SecurityError(f"{what}: refused: {exc}") from None
    except RecursionError:
        raise SecurityError(f"{what}: refused: recursion too deep") from None
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, KeyError, IndexError) as exc:
        raise TemplateError(f"{what}: {type(exc).__name__}: {exc}") from None


def evaluate(source: str, context: Mapping[str, Any], *, what: str = "expression") -> Any:
    """The value of a sandboxed expression over `context`."""
    try:
        compiled = _compile_expression(source)
    except ExpressionSyntaxError as exc:
        raise TemplateError(f"{what}: does not parse: {exc}") from None
    def run() -> Any:
        from jinja2 import Undefined

        result = compiled(**context)
        if isinstance(result, Undefined):
            result._fail_with_undefined_error()  # the sandbox's "unsafe" marker raises here
        return result

    return _guarded(run, what)


def condition(source: str, context: Mapping[str, Any], *, what: str = "when") -> bool:
    """Whether a `when` expression holds."""
    return bool(evaluate(source, context, what=what))


def render_string(source: str, context: Mapping[str, Any], *, what: str = "template") -> str:
    """Render a small template string (a templated default) in the sandbox."""
    def run() -> str:
        return _env().from_string(source).render(**context)

    out = _guarded(run, what)
    if len(out) > MAX_OUTPUT:
        raise SecurityError(f"{what}: refused: output longer than {MAX_OUTPUT:,} characters")
    return str(out)
