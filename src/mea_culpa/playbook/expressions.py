"""Sandboxed Jinja: `when` conditions, templated defaults and the shared template filters.

Playbooks come from other people. Everything a playbook can make Jinja do runs in
Jinja's ImmutableSandboxedEnvironment, with more walls (docs/security.md lists them):
only a short list of methods of text, lists and mappings; limits on everything that can
build a large value (`*`, `**`, `+`, `%`, `~`, the filters that pad or repeat, the output
itself); a time limit; and a static check that refuses the known escape routes
(`__class__`, `.format`, `|attr`, includes that leave the folder) before anything runs.
jinja2 is imported here, and only when an expression or a template is actually used, so
that `--help` and `list` stay fast. Jinja is the one evaluator: `when` conditions, templated
defaults, validators and message templates all run in the same sandbox.
"""

from __future__ import annotations

import re
import signal
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mea_culpa.errors import SecurityError, TemplateError, quoted
from mea_culpa.text.filters import FILTERS, TESTS
from mea_culpa.text.terminal import safe_for_terminal

if TYPE_CHECKING:
    from jinja2 import BaseLoader
    from jinja2.sandbox import SandboxedEnvironment

MAX_SEQUENCE = 10_000  # longest string or list that `*` may build, and the most items a filter may add
MAX_POWER = 1_000  # largest exponent `**` may use
MAX_INT_BITS = 10_000  # largest whole number (in bits, about 3,000 digits) that `*` and `**` may build
MAX_OUTPUT = 200_000  # characters a single template, or any text built inside one, may hold
MAX_WIDTH = 1_000  # widest padding a format (`%`, |format, |center, |indent) may ask for
MAX_SECONDS = 2.0  # time an expression or a template may run (where a timer is available)


class ExpressionSyntaxError(Exception):
    """An expression or template that does not parse; `str()` is the user's message."""


# --- time limit ----------------------------------------------------------------------

_timer = {"armed": False}


@contextmanager
def time_limit(seconds: float, error: Any) -> Iterator[None]:
    """Raise `error(message)` inside the block if it runs longer than `seconds`.

    A real-time timer (SIGALRM) interrupts even a runaway loop or regular expression. It
    exists only on POSIX and only in the main thread; there, and when a timer is already
    running (nested use, or the host program's own), the block runs without a limit."""
    usable = (
        not _timer["armed"]
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if usable:
        try:
            usable = signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        except (OSError, ValueError):  # pragma: no cover - defensive
            usable = False
    if not usable:
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise error(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    _timer["armed"] = True
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)
        _timer["armed"] = False


def _refused(message: str) -> Exception:
    # Jinja's own SecurityError, so that every caller that renders a template (this module,
    # messages.py) reports a limit as "refused by the sandbox" with its own context.
    from jinja2.exceptions import SecurityError as JinjaSecurityError

    return JinjaSecurityError(message)


@contextmanager
def sandbox_time_limit(seconds: float = MAX_SECONDS) -> Iterator[None]:
    """`time_limit` for rendering: a runaway template is refused by the sandbox."""
    with time_limit(seconds, _refused):
        yield


# --- the limits on building values ---------------------------------------------------

# The methods a template may call on plain data. Everything else (str.format, ljust,
# center, zfill, expandtabs, replace, join, encode, int.to_bytes…) either reaches into
# Python or builds a value as large as an argument asks for.
_SAFE_METHODS: tuple[tuple[type, frozenset[str]], ...] = (
    (
        str,
        frozenset(
            {
                "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha", "isascii",
                "isdecimal", "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "lower", "lstrip",
                "partition", "removeprefix", "removesuffix", "rfind", "rindex", "rpartition", "rsplit", "rstrip",
                "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper",
            }
        ),
    ),
    (dict, frozenset({"get", "items", "keys", "values"})),
    (list, frozenset({"count", "index"})),
    (tuple, frozenset({"count", "index"})),
    (int, frozenset({"bit_length"})),
    (float, frozenset({"is_integer"})),
)
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_size(size: int, what: str) -> None:
    if size > MAX_OUTPUT:
        raise _refused(f"{what} would build {size:,} characters or items; the limit is {MAX_OUTPUT:,}")


def size_of(value: Any, limit: int = MAX_OUTPUT) -> int:
    """About how much text `value` becomes when it is printed, joined or turned into a
    string: the characters of its strings plus its items, counting a list every time it is
    repeated or nested. Lists can share their items, so `[[s] * 10_000] * 40` is small in
    memory while its text is gigabytes, built in C where no timer can stop it; so it is
    measured first, and the count stops as soon as it passes `limit` (at most about
    `limit` steps, whatever the value)."""
    total = 0
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, (list, tuple)):
            total += len(item) + 1
            if total <= limit:
                todo.extend(item)
        elif isinstance(item, dict):
            total += len(item) + 1
            if total <= limit:
                todo.extend(item.keys())
                todo.extend(item.values())
        elif isinstance(item, range):
            total += len(item) * 2
        else:
            total += 1
        if total > limit:
            break
    return total


def _check_value_size(value: Any, what: str) -> None:
    size = size_of(value)
    if size > MAX_OUTPUT:
        raise _refused(f"{what} would take more than {MAX_OUTPUT:,} characters or items to write out")


def _check_printf(fmt: str) -> None:
    for match in _PRINTF_SPEC.finditer(fmt.replace("%%", "")):
        for number in match.groups():
            if number == "*":
                raise _refused("a `*` width in a % format is not available; write the width out")
            if number is not None and int(number) > MAX_WIDTH:
                raise _refused(f"a format width of {number} is larger than {MAX_WIDTH:,}")


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "**":
        if isinstance(right, (int, float)) and abs(right) > MAX_POWER:
            raise _refused(f"exponent {right} is larger than {MAX_POWER}")
        whole = isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1
        if whole and left.bit_length() * right > MAX_INT_BITS:
            raise _refused(f"the power would have more than {MAX_INT_BITS:,} bits")
    elif operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and not isinstance(count, bool):
                if len(seq) * count > MAX_SEQUENCE:
                    raise _refused(f"repeating a value {count} times builds more than {MAX_SEQUENCE:,} items")
                # the items of a list are shared, not copied: what counts is the text they hold
                if count > 0 and size_of(seq, MAX_OUTPUT // count + 1) * count > MAX_OUTPUT:
                    raise _refused(f"repeating a value {count} times builds more than {MAX_OUTPUT:,} characters or items")
        if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _refused(f"the product would have more than {MAX_INT_BITS:,} bits")
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            _check_size(len(left) + len(right), "`+`")
            if not isinstance(left, str):
                _check_value_size([left, right], "`+`")
    elif operator == "%" and isinstance(left, str):
        _check_printf(left)
        _check_value_size(right, "`%`")


def _limited_concat(parts: Iterable[str]) -> str:
    """`Environment.concat`: joins a template's output (and every block, macro and
    `{% set %}` buffer), refusing before the text grows past MAX_OUTPUT."""
    out = []
    total = 0
    for part in parts:
        total += len(part)
        if total > MAX_OUTPUT:
            raise _refused(f"the output is longer than {MAX_OUTPUT:,} characters")
        out.append(part)
    return "".join(out)


def _join_limited(parts: tuple[Any, ...], markup: bool) -> str:
    """The `~` operator: like Jinja's str_join / markup_join, with the size checked first."""
    from jinja2.runtime import markup_join

    _check_value_size(parts, "`~`")  # measured before anything is turned into text
    if markup:
        return markup_join(list(parts))
    return "".join(p if isinstance(p, str) else str(p) for p in parts)


def _limited_filters() -> dict[str, Any]:
    """Jinja's filters that can build a value much larger than their input, with limits."""
    from jinja2 import filters as jf
    from jinja2.utils import pass_environment, pass_eval_context

    def width(value: Any, what: str) -> None:
        if isinstance(value, int) and value > MAX_WIDTH:
            raise _refused(f"{what} {value} is larger than {MAX_WIDTH:,}")
        if isinstance(value, str) and len(value) > MAX_WIDTH:
            raise _refused(f"{what} is longer than {MAX_WIDTH:,} characters")

    def center(value: Any, width_: int = 80) -> str:
        width(width_, "a width of")
        return jf.do_center(value, width_)

    def indent(s: Any, width_: int | str = 4, first: bool = False, blank: bool = False) -> str:
        width(width_, "an indent of")
        step = len(width_) if isinstance(width_, str) else int(width_)
        _check_size(len(str(s)) + (str(s).count("\n") + 1) * step, "|indent")
        return jf.do_indent(s, width_, first, blank)

    def format_(value: Any, *args: Any, **kwargs: Any) -> str:
        _check_printf(str(value))
        out = jf.do_format(value, *args, **kwargs)
        _check_size(len(out), "|format")
        return out

    @pass_eval_context
    def replace(eval_ctx: Any, s: Any, old: str, new: str, count: int | None = None) -> str:
        text, old_, new_ = str(s), str(old), str(new)
        hits = text.count(old_) if old_ else len(text) + 1
        if count is not None and isinstance(count, int) and count >= 0:
            hits = min(hits, count)
        _check_size(len(text) + hits * max(0, len(new_) - len(old_)), "|replace")
        return jf.do_replace(eval_ctx, s, old, new, count)

    @pass_eval_context
    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
        items = list(value)
        _check_size(len(str(d)) * max(0, len(items) - 1), "|join")
        # the join itself runs in C, where the time limit cannot stop it: measure first
        _check_value_size(items, "|join")
        out = str(jf.do_join(eval_ctx, items, d, attribute))
        _check_size(len(out), "|join")
        return out

    def batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        if isinstance(linecount, int) and linecount > MAX_SEQUENCE:
            raise _refused(f"|batch of {linecount} is larger than {MAX_SEQUENCE:,}")
        return jf.do_batch(value, linecount, fill_with)

    def slice_(value: Any, slices: int, fill_with: Any = None) -> Any:
        if isinstance(slices, int) and slices > MAX_SEQUENCE:
            raise _refused(f"|slice into {slices} is larger than {MAX_SEQUENCE:,}")
        return jf.do_slice(value, slices, fill_with)

    @pass_eval_context
    def tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
        if isinstance(indent, int) and indent > 16:
            raise _refused(f"|tojson indent {indent} is larger than 16")
        return jf.do_tojson(eval_ctx, value, indent)

    @pass_environment
    def wordwrap(environment: Any, s: str, width_: int = 79, break_long_words: bool = True,
                 wrapstring: str | None = None, break_on_hyphens: bool = True) -> str:
        if wrapstring is not None:
            pieces = len(str(s)) // max(int(width_), 1) + 1
            _check_size(len(str(s)) + pieces * len(str(wrapstring)), "|wordwrap")
        return jf.do_wordwrap(environment, s, width_, break_long_words, wrapstring, break_on_hyphens)

    @pass_environment
    def sum_(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
        if attribute is not None:
            iterable = map(jf.make_attrgetter(environment, attribute), iterable)
        total = start
        for item in iterable:
            _check_binop("+", total, item)
            total = total + item
        return total

    def attr(*args: Any, **kwargs: Any) -> Any:
        raise _refused("the attr filter is not available in playbooks")

    return {
        "center": center, "indent": indent, "format": format_, "replace": replace, "join": join,
        "batch": batch, "slice": slice_, "tojson": tojson, "wordwrap": wordwrap, "sum": sum_, "attr": attr,
    }


# --- the sandbox ---------------------------------------------------------------------


def _limited_sandbox() -> type[SandboxedEnvironment]:
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.nodes import Concat
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class LimitedCodeGenerator(CodeGenerator):
        """Compiles `a ~ b` to a join that checks the size before building the text."""

        def visit_Concat(self, node: Concat, frame: Frame) -> None:
            if frame.eval_ctx.volatile:
                markup = "context.eval_ctx.autoescape"
            else:
                markup = "True" if frame.eval_ctx.autoescape else "False"
            self.write("environment.join_limited((")
            for arg in node.nodes:
                self.visit(arg, frame)
                self.write(", ")
            self.write(f"), {markup})")

    class LimitedSandbox(ImmutableSandboxedEnvironment):
        """Jinja's immutable sandbox, with only plain-data methods and limits on everything
        that can exhaust memory or time."""

        code_generator_class = LimitedCodeGenerator
        intercepted_binops = frozenset({"*", "**", "+", "%"})
        join_limited = staticmethod(_join_limited)

        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            if not super().is_safe_attribute(obj, attr, value):
                return False
            if callable(value):
                for kind, allowed in _SAFE_METHODS:
                    if isinstance(obj, kind):
                        return attr in allowed
            return True

        def wrap_str_format(self, value: Any) -> None:
            return None  # str.format and format_map are simply not available (see _SAFE_METHODS)

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            _check_binop(operator, left, right)
            result = self.binop_table[operator](left, right)
            if operator == "%" and isinstance(result, str):
                _check_size(len(result), "`%`")
            return result

    return LimitedSandbox


# Filters whose work does not grow with the text of their input (they count, pick or
# pass items along without writing them out). Every other filter and test turns its input
# into text somewhere, in C, so its arguments are measured before it runs (`size_guarded`).
_SIZE_FREE_FILTERS = frozenset(
    {
        "length", "count", "first", "last", "default", "d", "random", "select", "reject", "selectattr",
        "rejectattr", "map", "groupby", "dictsort", "batch", "slice", "list", "sort", "unique",
        "reverse", "min", "max", "sum", "join", "abs", "round", "attr",
    }
)


def size_guarded(function: Any, what: str) -> Any:
    """`function` (a filter or a test), refusing arguments too large to write out."""
    import functools

    @functools.wraps(function)  # keeps Jinja's pass_context / pass_eval_context marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_value_size([args, kwargs], what)
        return function(*args, **kwargs)

    return guarded


def _finalize(value: Any) -> Any:
    """Every `{{ }}` value before it is turned into text: refused if too large to write."""
    if not isinstance(value, str):
        _check_value_size(value, "the value printed")
    return value


def make_environment(loader: BaseLoader | None = None, *, strict: bool = True) -> SandboxedEnvironment:
    """A sandboxed Jinja environment with the project's filters, tests and limits."""
    from jinja2 import StrictUndefined, Undefined

    env = _limited_sandbox()(
        loader=None if loader is None else _templates_only(loader),
        undefined=StrictUndefined if strict else Undefined,
        autoescape=False,  # drafts are plain text; the HTML export escapes on its own
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_finalize,
    )
    env.concat = _limited_concat  # type: ignore[method-assign]
    env.globals.pop("lipsum", None)  # lorem ipsum on demand: up to any size, and no use here
    env.filters.update(_limited_filters())
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    for name, function in list(env.filters.items()):
        if name not in _SIZE_FREE_FILTERS:
            env.filters[name] = size_guarded(function, f"|{name}")
    for name, function in list(env.tests.items()):
        env.tests[name] = size_guarded(function, f"`is {name}`")
    return env


def _templates_only(loader: BaseLoader) -> BaseLoader:
    """`loader`, refusing any name that is not a `.j2` template: whatever an include names
    (even one computed while rendering, or in a template changed since it was validated),
    a file beside the playbook that is not a template is never read into a draft."""
    from jinja2 import BaseLoader

    class TemplatesOnly(BaseLoader):
        def get_source(self, environment: Any, template: str) -> Any:
            if not isinstance(template, str) or not template.endswith(".j2"):
                raise _refused(f"{template!r} is not a .j2 template; only templates can be included")
            return loader.get_source(environment, template)

    return TemplatesOnly()


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
    except (RecursionError, SyntaxError):  # SyntaxError: Python's own limit, 200 nested parentheses
        raise ExpressionSyntaxError(_TOO_DEEP) from None


# --- static checks: what a playbook's expressions and templates may say -------------

_TOO_DEEP = "nested too deeply to read; simplify it"


@dataclass(frozen=True)
class Analysis:
    """What an expression or a template reads and refers to, found without running it."""

    names: frozenset[str]  # the variables it reads
    refused: tuple[str, ...]  # constructs the sandbox would refuse, as messages
    includes: tuple[str | None, ...] = ()  # templates it includes/imports/extends (None: a computed name)


@lru_cache(maxsize=1)
def _unsafe_names() -> frozenset[str]:
    from jinja2 import sandbox

    return frozenset(
        sandbox.UNSAFE_FUNCTION_ATTRIBUTES
        | sandbox.UNSAFE_METHOD_ATTRIBUTES
        | sandbox.UNSAFE_GENERATOR_ATTRIBUTES
        | sandbox.UNSAFE_COROUTINE_ATTRIBUTES
        | sandbox.UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
        | {"mro", "format", "format_map"}
    )


def _name_refusal(attr: str) -> str | None:
    if attr.startswith("_"):
        return f"`{attr}` is internal to Python; names starting with _ are not available in playbooks"
    if attr in _unsafe_names():
        return f"`.{attr}` is not available in playbooks"
    return None


# C0 controls but tab and newline, DEL, C1 controls: in a template's text or in a string
# constant ("\x1b]52;…" is the escape character to Jinja) they can only be there to
# rewrite the terminal of whoever reads the draft. Drafts are filtered as well
# (text.terminal); this says so while the playbook is validated.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _control_refusal(node: Any) -> str | None:
    from jinja2 import nodes

    text = node.data if isinstance(node, nodes.TemplateData) else node.value
    found = _CONTROL.search(text) if isinstance(text, str) else None
    if found is None:
        return None
    return (
        f"the text {quoted(text)} contains the control character U+{ord(found.group()):04X}; templates are plain text "
        "(a control character could rewrite the terminal)"
    )


def _refusals(tree: Any, *, short: bool) -> tuple[str, ...]:
    from jinja2 import nodes

    found: list[str] = []
    for node in tree.find_all((nodes.Const, nodes.TemplateData)):
        message = _control_refusal(node)
        if message and message not in found:
            found.append(message)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        message = None
        if isinstance(node, nodes.Getattr):
            message = _name_refusal(node.attr)
        elif isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                message = _name_refusal(node.arg.value)
        elif node.name == "attr":
            message = "the `attr` filter is not available in playbooks (it reaches attributes by name)"
        if message and message not in found:
            found.append(message)
    if short:
        blocks = (nodes.Macro, nodes.CallBlock, nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends, nodes.Block)
        if any(True for _ in tree.find_all(blocks)):
            found.append("a default is a short template: {{ }}, {% if %}, {% for %} and filters; no macros, includes or blocks")
    return tuple(found)


@lru_cache(maxsize=1024)
def analyze_expression(source: str) -> Analysis:
    """The names an expression reads and what in it the sandbox would refuse (raises
    ExpressionSyntaxError if it does not parse)."""
    from jinja2 import TemplateError as JinjaError
    from jinja2 import TemplateSyntaxError, meta, nodes
    from jinja2.parser import Parser

    env = _env()
    try:
        parser = Parser(env, source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("unexpected text after the expression", parser.stream.current.lineno)
        tree = nodes.Template([nodes.Assign(nodes.Name("result", "store"), expr)], lineno=1)
        tree.set_environment(env)
        names = frozenset(meta.find_undeclared_variables(tree))
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(exc.message or "does not parse") from None
    except JinjaError as exc:  # compiling folds constant parts, which can fail as running them would
        raise ExpressionSyntaxError(_one_line(exc.message or exc)) from None
    except (RecursionError, SyntaxError):  # SyntaxError: the Python it compiles to nests too deeply
        raise ExpressionSyntaxError(_TOO_DEEP) from None
    return Analysis(names, _refusals(tree, short=False))


def analyze_template(source: str, env: SandboxedEnvironment | None = None, *, short: bool = False, names: bool = True) -> Analysis:
    """The names a template reads, what the sandbox would refuse, and the templates it
    includes (raises ExpressionSyntaxError). `short`: a templated default, which may not
    define macros or include files. `env` decides which filters exist. `names=False`
    reads only what safety needs (refusals and includes) and leaves the names empty:
    finding them means generating the template's code, the larger part of the cost."""
    return _analyze_template(source, env or _env(), short, names)


@lru_cache(maxsize=512)  # the built-in playbooks share their templates: read each once
def _analyze_template(source: str, env: SandboxedEnvironment, short: bool, with_names: bool = True) -> Analysis:
    from jinja2 import TemplateError as JinjaError
    from jinja2 import TemplateSyntaxError, meta

    try:
        tree = env.parse(source)
        # find_undeclared_variables compiles the tree, which is where unknown filters fail
        names = frozenset(meta.find_undeclared_variables(tree)) if with_names else frozenset()
        includes = tuple(meta.find_referenced_templates(tree))
    except TemplateSyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno and exc.lineno > 1 else ""
        raise ExpressionSyntaxError(f"{exc.message or 'does not parse'}{where}") from None
    except JinjaError as exc:  # compiling folds constant parts, which can fail as running them would
        raise ExpressionSyntaxError(_one_line(exc.message or exc)) from None
    except (RecursionError, SyntaxError):  # SyntaxError: the Python it compiles to nests too deeply
        raise ExpressionSyntaxError(_TOO_DEEP) from None
    return Analysis(names, _refusals(tree, short=short), includes)


@lru_cache(maxsize=256)
def expression_tree(source: str) -> Any:
    """An expression as Jinja's parser reads it (a jinja2.nodes.Expr), for describing it
    in words; raises ExpressionSyntaxError if it does not parse."""
    from jinja2 import TemplateSyntaxError
    from jinja2.parser import Parser

    try:
        parser = Parser(_env(), source, state="variable")
        expr = parser.parse_expression()
        if not parser.stream.eos:
            raise TemplateSyntaxError("unexpected text after the expression", parser.stream.current.lineno)
    except TemplateSyntaxError as exc:
        raise ExpressionSyntaxError(exc.message or "does not parse") from None
    except RecursionError:
        raise ExpressionSyntaxError(_TOO_DEEP) from None
    return expr


def expression_names(source: str) -> set[str]:
    """The variable names an expression reads (raises ExpressionSyntaxError if it does not parse)."""
    return set(analyze_expression(source).names)


def template_names(source: str, env: SandboxedEnvironment | None = None) -> set[str]:
    """The variable names a template string reads (raises ExpressionSyntaxError)."""
    return set(analyze_template(source, env).names)


def is_template(value: Any) -> bool:
    """True when a string default needs rendering."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


# --- running -------------------------------------------------------------------------


def _guarded(call: Any, what: str) -> Any:
    from jinja2 import TemplateError as JinjaError
    from jinja2 import UndefinedError
    from jinja2.exceptions import SecurityError as JinjaSecurityError

    try:
        with sandbox_time_limit():
            return call()
    except SecurityError:
        raise
    except JinjaSecurityError as exc:
        raise SecurityError(f"{what}: refused by the sandbox: {_one_line(exc)}") from None
    except UndefinedError as exc:
        raise TemplateError(f"{what}: {_one_line(exc.message or exc)}") from None
    except JinjaError as exc:
        raise TemplateError(f"{what}: {_one_line(exc.message or exc)}") from None
    except OverflowError as exc:
        raise SecurityError(f"{what}: refused: {_one_line(exc)}") from None
    except RecursionError:
        raise SecurityError(f"{what}: refused: recursion too deep") from None
    except SyntaxError:  # the Python Jinja compiled a template to passes Python's nesting limits
        raise TemplateError(f"{what}: does not parse: {_TOO_DEEP}") from None
    except MemoryError:
        raise SecurityError(f"{what}: refused: it needs more memory than there is") from None
    except (TypeError, ValueError, ZeroDivisionError, AttributeError, KeyError, IndexError) as exc:
        raise TemplateError(f"{what}: {type(exc).__name__}: {_one_line(exc)}") from None


def _one_line(value: Any, limit: int = 300) -> str:
    text = " ".join(str(value).split("\n")).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def evaluate(source: str, context: Mapping[str, Any], *, what: str = "expression") -> Any:
    """The value of a sandboxed expression over `context`."""
    try:
        # guarded too: compiling folds constant parts, which fails as running them would
        # (`-('' if ''.x else 0)` raises Jinja's UndefinedError before anything runs)
        compiled = _guarded(lambda: _compile_expression(source), what)
    except ExpressionSyntaxError as exc:
        raise TemplateError(f"{what}: does not parse: {exc}") from None

    def run() -> Any:
        from jinja2 import Undefined

        result = compiled(**context)
        if isinstance(result, Undefined):
            # a name the context lacks, or the sandbox's marker for an unsafe attribute:
            # the environment's undefined is strict, and turning it into text raises the
            # UndefinedError that says which
            str(result)
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
    # a default is shown in a question and may become an answer: plain text only
    return safe_for_terminal(str(out))
