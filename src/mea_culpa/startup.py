"""Start-up shortcuts for typer, so that `--help`, `--version` and `list` answer at once.

typer 0.29 does two costly things before it runs any command: it turns every registered
command into a click command (reading each signature), and it coerces every parameter
through a pydantic adapter that it builds, importing pydantic, even for values it passes
through unchanged. Both are avoided here where the result is provably the same;
`tests/test_startup_imports.py` checks that the output and the values agree with typer's
own, so that a typer release that changes these internals fails a test rather than a
user. Numbers: docs/performance.md and benchmarks/RESULTS.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

import typer


def keep_pydantic_lazy() -> None:
    """Spare commands the import of pydantic where typer would not need it.

    typer 0.29 coerces every parameter that is not a flag through a pydantic TypeAdapter,
    and builds it (importing pydantic: 40 ms or more, as much as typer itself) before it
    looks at the value: even for an option left unset, which its own `coerce()` maps to
    None (or `()`) without the adapter; for a str or an in-range int, which the adapter
    hands back as is; for a Path, which it makes with `Path(text)` before typer's own
    `coerce_cli_path` checks; and for a list of those, item by item. For those values a
    stand-in does exactly that for the one call; anything else (choices, parsers, files,
    tuples, other types) goes through typer unchanged.
    `tests/test_startup_imports.py` checks both ways agree. Without typer's seam this
    does nothing (commands are just slower).
    """
    try:
        from typer._param_types import coerce_cli_path
        from typer.core import _TyperParameter
    except ImportError:  # pragma: no cover - another typer layout
        return
    original = getattr(_TyperParameter, "process_value", None)
    if original is None or not hasattr(_TyperParameter, "get_runtime_param"):  # pragma: no cover
        return

    def as_is(value: object, param: object, ctx: object) -> object:
        return value

    def item_converter(annotation: object, info: Any, value: object) -> Callable[[object, object, object], object] | None:
        if annotation is str and type(value) is str:
            return as_is
        if annotation is int and type(value) is int:  # in range: neither a bound nor clamping changes it
            low, high = getattr(info, "min", None), getattr(info, "max", None)
            return as_is if (low is None or value >= low) and (high is None or value <= high) else None
        if annotation is Path and getattr(info, "path_type", None) is None and isinstance(value, (str, Path)):

            def to_path(text: object, param: object, ctx: object) -> object:
                path = Path(text) if type(text) is str else text  # what pydantic's Path does with text
                return coerce_cli_path(path, info, path_type=Path, param=param, ctx=ctx)  # type: ignore[arg-type]

            return to_path
        return None

    def converter(param: _TyperParameter, value: object) -> Callable[[object, object, object], object] | None:
        """How typer would coerce `value` for `param` without pydantic, or None if it needs it."""
        if value is None:
            return as_is
        desc = getattr(param, "type_descriptor", None)
        info = getattr(desc, "parameter_info", None)
        if desc is None or info is None or getattr(info, "parser", None) is not None:
            return None
        if getattr(desc, "file_annotation", None) is not None:
            return None
        if not (param.multiple or param.nargs == -1):
            return item_converter(desc.annotation, info, value) if param.nargs == 1 else None
        # a repeatable option or a variadic argument: typer gives a list of its items, each
        # coerced as a single value of the list's item type
        if get_origin(desc.annotation) is not list or not isinstance(value, (list, tuple)):
            return None
        (item_type,) = get_args(desc.annotation) or (None,)
        items = [item_converter(item_type, info, item) for item in value]
        if any(item is None for item in items):
            return None

        def each(values: object, param: object, ctx: object) -> object:
            return [convert(v, param, ctx) for convert, v in zip(items, values, strict=True)]  # type: ignore[call-overload]

        return each

    class StandIn:
        """Takes the place of typer's RuntimeParam for one value."""

        def __init__(self, convert: Callable[[object, object, object], object]) -> None:
            self.convert = convert

        def coerce(self, value: object, param: _TyperParameter, ctx: object) -> object:
            if value is None:  # as typer's RuntimeParam.coerce
                return () if param.multiple or param.nargs == -1 else None
            return self.convert(value, param, ctx)

    def process_value(self: _TyperParameter, ctx: object, value: object) -> object:
        convert = converter(self, value) if getattr(self, "_runtime_param", False) is None else None
        if convert is None:
            return original(self, ctx, value)
        self._runtime_param = StandIn(convert)  # type: ignore[assignment]
        try:
            return original(self, ctx, value)
        finally:
            self._runtime_param = None

    _TyperParameter.process_value = process_value  # type: ignore[method-assign]


def _command_name(info: typer.models.CommandInfo) -> str:
    return info.name or typer.main.get_command_name(info.callback.__name__)  # type: ignore[union-attr]


def _stand_in(callback: Callable[..., object]) -> Callable[[], None]:
    """A function with `callback`'s name and docstring and no parameters, for listing."""

    def stand_in() -> None:  # pragma: no cover - never invoked: it only lists a command
        raise AssertionError("a help-only stand-in was invoked")

    stand_in.__name__ = callback.__name__
    stand_in.__doc__ = callback.__doc__
    return stand_in


def _without_parameters(info: typer.models.CommandInfo) -> typer.models.CommandInfo:
    """A copy of a command that keeps its name and help text but has no parameters."""
    import copy

    listed = copy.copy(info)
    listed.callback = _stand_in(info.callback)  # type: ignore[arg-type]
    return listed


def _group_without_parameters(info: typer.models.TyperInfo) -> typer.models.TyperInfo:
    """A copy of a command group that keeps its name and help text, with no parameters
    and no subcommands (the top-level help lists only the group itself)."""
    import copy

    def plain(callback: object) -> object:
        return _stand_in(callback) if callable(callback) else callback  # a DefaultPlaceholder stays

    listed = copy.copy(info)
    listed.callback = plain(info.callback)  # type: ignore[assignment]
    if info.typer_instance is not None:
        sub = copy.copy(info.typer_instance)
        sub.registered_commands, sub.registered_groups = [], []
        sub.info = copy.copy(sub.info)
        sub.info.callback = plain(sub.info.callback)  # type: ignore[assignment]
        if sub.registered_callback is not None:
            sub.registered_callback = copy.copy(sub.registered_callback)
            sub.registered_callback.callback = plain(sub.registered_callback.callback)  # type: ignore[assignment]
        listed.typer_instance = sub
    return listed


def app_for(app: typer.Typer, args: list[str]) -> typer.Typer:
    """The app with only what these arguments need, for typer to build.

    Before it parses anything, typer turns every registered command into a click command,
    reading each function's signature and evaluating its annotations: for all of them
    that costs a fifth of `import typer`. A command run by name needs only itself,
    `--version` needs none, and the top-level help needs each command's name and help
    text, which copies without parameters carry. Anything unusual (an unknown option, a
    name that is no command) gets the whole app, so typer's own errors and suggestions
    stay as they are.
    """
    import copy

    view = copy.copy(app)  # registered_* are replaced below, never mutated: `app` stays whole
    for arg in args:
        if arg in ("-h", "--help"):  # the top-level help (eager: it wins over a later command)
            return _listing(app, view)
        if arg == "--version":  # eager: answered before any command
            view.registered_commands, view.registered_groups = [], []
            return view
        if arg == "--debug":
            continue
        if arg.startswith("-"):
            return app
        commands = [c for c in app.registered_commands if _command_name(c) == arg]
        groups = [g for g in app.registered_groups if g.name == arg]
        if not commands and not groups:
            return app
        view.registered_commands, view.registered_groups = commands, groups
        return view
    if not args:  # no_args_is_help
        return _listing(app, view)
    return app


def _listing(app: typer.Typer, view: typer.Typer) -> typer.Typer:
    view.registered_commands = [_without_parameters(c) for c in app.registered_commands]
    view.registered_groups = [_group_without_parameters(g) for g in app.registered_groups]
    return view
