"""The command line: parse options, call the core, show the result. The only place that exits.

Kept light on purpose: typer is the only import at the top, every command imports what it
needs when it runs, and help is plain text (no rich) so that `--help`, `--version` and
`list` answer as fast as the interpreter allows.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args, get_origin

import typer

from mea_culpa import __version__
from mea_culpa.errors import ExitCode, MeaCulpaError


def _keep_pydantic_lazy() -> None:
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
            return [convert(v, param, ctx) for convert, v in zip(items, values, strict=True)]  # type: ignore[misc,call-overload]

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


_keep_pydantic_lazy()

app = typer.Typer(
    name="mea-culpa",
    help=(
        "A calm guide through recovering from a mistake: collect the facts, understand the "
        "cause, own it, apologize, fix, prevent, move on.\n\n"
        "\b\nStart here:\n  mea-culpa start            choose a playbook and begin\n"
        "  mea-culpa list             the playbooks you can use"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rich would double the start-up time of --help
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)

PlaybookDirs = typer.Option(
    None,
    "--playbooks",
    metavar="DIR",
    help="Also look for playbooks in DIR, before the usual places (repeatable).",
)


class _State:
    debug = False


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mea-culpa {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback when something fails."),
) -> None:
    _State.debug = debug or _State.debug


def _dirs(playbooks: list[Path] | None) -> tuple[Path, ...]:
    return tuple(playbooks or ())


def _stdout_is_tty() -> bool:
    return sys.stdout.isatty()


# --- read-only playbook commands ---------------------------------------------------------


@app.command("list")
def list_playbooks(
    playbooks: list[Path] | None = PlaybookDirs,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array instead of a table."),
) -> None:
    """List the playbooks on the search path.

    \b
    Search order (an earlier id hides a later one):
      --playbooks DIR, MEA_CULPA_PATH, ./.mea-culpa/playbooks,
      your config folder's playbooks/, then the built-ins.

    \b
    Example:
      mea-culpa list
      mea-culpa list --json
    """
    from mea_culpa import catalog

    entries = catalog.entries(_dirs(playbooks))
    if as_json:
        import json

        typer.echo(json.dumps([e.as_dict() for e in entries], indent=2, ensure_ascii=False))
        return
    if not entries:
        typer.echo("No playbooks found. Create one with: mea-culpa new NAME", err=True)
        return
    rows = [("ID", "TITLE", "STAGES", "SOURCE")]
    notes = []
    for e in entries:
        source = e.origin
        if e.shadowed_by:
            source += " (hidden)"
            notes.append(f"  {e.id} from {e.path} is hidden by the one in {e.shadowed_by}")
        if e.problem:
            source += " (broken)"
            notes.append(f"  {e.path}: {e.problem} (details: mea-culpa validate {e.path})")
        rows.append((e.id, e.title or "-", str(e.stages), source))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        typer.echo(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip())
    if notes:
        typer.echo("\n" + "\n".join(notes), err=True)


@app.command()
def show(
    playbook: str = typer.Argument(..., metavar="ID|FILE", help="A playbook id from `mea-culpa list`, or a file."),
    playbooks: list[Path] | None = PlaybookDirs,
    as_json: bool = typer.Option(False, "--json", help="Print the playbook as JSON data."),
) -> None:
    """Show a playbook: its stages, guidance and steps.

    \b
    Example:
      mea-culpa show service-outage
      mea-culpa show ./my-playbook.yaml --json
    """
    from mea_culpa import catalog

    book = catalog.resolve(playbook, _dirs(playbooks))
    if as_json:
        import json

        typer.echo(json.dumps(book.as_data(), indent=2, ensure_ascii=False))
        return
    from mea_culpa import ui

    ui.show_playbook(book)


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., metavar="FILE...", help="Playbook files to check."),
) -> None:
    """Check playbook files and print every problem as file:line:col: key: message.

    Exit 0 when every file is valid, 2 otherwise.

    \b
    Example:
      mea-culpa validate .mea-culpa/playbooks/*.yaml
    """
    from mea_culpa.errors import PlaybookError
    from mea_culpa.playbook import load

    bad = 0
    for path in files:
        try:
            book = load(path)
        except PlaybookError as exc:
            bad += 1
            for line in exc.lines():
                typer.echo(line)
            count = len(exc.diagnostics)
            typer.echo(f"{path}: {count} problem{'s' if count != 1 else ''}", err=True)
        else:
            typer.echo(f"{path}: ok ({book.id}: {len(book.stages)} stages, {len(book.steps)} steps, {len(book.messages)} messages)", err=True)
    if bad:
        raise typer.Exit(ExitCode.BAD_INPUT)


@app.command()
def schema(
    output: Path | None = typer.Option(None, "-o", "--output", help="Write to FILE instead of standard output."),
    force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists."),
) -> None:
    """Print the JSON Schema of the playbook format, for editors.

    With the YAML language server (VS Code, Neovim, Helix…), put this first line in a
    playbook and the editor completes and checks it:

    \b
      # yaml-language-server: $schema=./playbook.schema.json

    \b
    Example:
      mea-culpa schema -o .mea-culpa/playbooks/playbook.schema.json
    """
    import json

    from mea_culpa.playbook import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    from mea_culpa.files import write_atomic

    write_atomic(output, text, force=force)
    typer.echo(f"wrote {output}", err=True)


@app.command()
def new(
    name: str = typer.Argument(..., help="The new playbook's id, in kebab-case (e.g. late-invoice)."),
    from_: str | None = typer.Option(None, "--from", metavar="ID", help="Start from a copy of this playbook."),
    directory: Path = typer.Option(Path(".mea-culpa/playbooks"), "--dir", help="Where to write it."),
    playbooks: list[Path] | None = PlaybookDirs,
) -> None:
    """Create a new playbook that validates as written, ready to edit. Never overwrites.

    Writes DIR/NAME.yaml and, beside it, playbook.schema.json so that editors complete
    and check the file. Playbooks in ./.mea-culpa/playbooks are found from this folder.

    \b
    Example:
      mea-culpa new late-invoice
      mea-culpa new our-outage --from service-outage
    """
    from mea_culpa import scaffold

    path = scaffold.create(name, directory, from_id=from_, extra=_dirs(playbooks))
    typer.echo(f"created {path}", err=True)
    typer.echo(f"next: edit it, then run  mea-culpa validate {path}  and  mea-culpa start {name}", err=True)


# --- the guided run ----------------------------------------------------------------------


@app.command()
def start(
    playbook: str | None = typer.Argument(None, metavar="[PLAYBOOK]", help="A playbook id or file; without it, choose from a list."),
    title: str | None = typer.Option(None, "--title", help="A short name for what happened (used in the session id)."),
    answers: Path | None = typer.Option(None, "--answers", metavar="FILE", help="Pre-fill answers from a YAML or JSON file (step id: value)."),
    set_: list[str] | None = typer.Option(None, "--set", metavar="ID=VALUE", help="Answer one step on the command line (repeatable; wins over --answers)."),
    no_input: bool = typer.Option(False, "--no-input", help="Ask nothing: every required answer must come from --answers or --set."),
    no_save: bool = typer.Option(False, "--no-save", help="Keep this session in memory only; nothing is written."),
    tag: list[str] | None = typer.Option(None, "--tag", help="Add a tag to the session (repeatable)."),
    playbooks: list[Path] | None = PlaybookDirs,
) -> None:
    """Start a guided run through a playbook. Every answer is saved as you go.

    Ctrl-C stops safely: the session is kept and `mea-culpa resume` continues it.

    \b
    Examples:
      mea-culpa start
      mea-culpa start service-outage --title "checkout down"
      mea-culpa start general --answers answers.yaml --no-input
    """
    from mea_culpa import run_command

    run_command.start(
        playbook, title=title, answers_file=answers, assignments=set_ or [], no_input=no_input,
        no_save=no_save, tags=tuple(tag or ()), extra=_dirs(playbooks),
    )


@app.command()
def resume(
    session: str | None = typer.Argument(None, metavar="[SESSION]", help="A session id (or its start); default: the latest unfinished."),
    answers: Path | None = typer.Option(None, "--answers", metavar="FILE", help="Pre-fill answers from a YAML or JSON file."),
    set_: list[str] | None = typer.Option(None, "--set", metavar="ID=VALUE", help="Answer one step on the command line (repeatable)."),
    no_input: bool = typer.Option(False, "--no-input", help="Ask nothing; finish from the answers given."),
    playbooks: list[Path] | None = PlaybookDirs,
) -> None:
    """Continue an interrupted session exactly where it stopped.

    \b
    Example:
      mea-culpa resume
      mea-culpa resume 2026-11-22-checkout-down
    """
    from mea_culpa import run_command

    run_command.resume(session, answers_file=answers, assignments=set_ or [], no_input=no_input, extra=_dirs(playbooks))


def _register_optional() -> None:
    """Commands that live in their own modules (each imports only typer at the top)."""
    try:
        from mea_culpa.commands.check import check
    except ImportError:  # pragma: no cover - during development only
        pass
    else:
        app.command()(check)
    try:
        from mea_culpa.commands.draft import draft
    except ImportError:  # pragma: no cover
        pass
    else:
        app.command()(draft)
    try:
        from mea_culpa.commands.export import export
    except ImportError:  # pragma: no cover
        pass
    else:
        app.command()(export)
    try:
        from mea_culpa.commands.journal import register
    except ImportError:  # pragma: no cover
        pass
    else:
        register(app)


_register_optional()


# --- the boundary ---------------------------------------------------------------------------


def _print_error(err: MeaCulpaError) -> None:
    from mea_culpa.errors import AnswersError, Interrupted, PlaybookError

    lines = err.lines()
    # file:line:col lines stay grep-able; an interruption is not an error
    plain = isinstance(err, (PlaybookError, AnswersError, Interrupted))
    for i, line in enumerate(lines):
        if plain or i > 0:
            typer.echo(line, err=True)
        else:
            typer.secho(f"error: {line}", err=True, fg=None if os.environ.get("NO_COLOR") else "red")


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


def _app_for(args: list[str]) -> typer.Typer:
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
            return _listing(view)
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
        return _listing(view)
    return app


def _listing(view: typer.Typer) -> typer.Typer:
    view.registered_commands = [_without_parameters(c) for c in app.registered_commands]
    view.registered_groups = [_group_without_parameters(g) for g in app.registered_groups]
    return view


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `mea-culpa` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    _State.debug = "--debug" in args or os.environ.get("MEA_CULPA_DEBUG") == "1"
    try:
        # Without standalone mode, typer returns the code of `raise typer.Exit(code)`.
        code = _app_for(args)(args=args, prog_name="mea-culpa", standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except MeaCulpaError as err:
        if _State.debug:
            raise
        with contextlib.suppress(OSError):  # a closed terminal must not change the exit code
            _print_error(err)
        sys.exit(int(err.exit_code))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # typer's usage errors: unknown option, missing argument…
        show = getattr(exc, "show", None)
        if show:
            show()
        else:  # pragma: no cover - every typer error has show() today
            typer.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("stopped.", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        # `mea-culpa export | head`: the reader left; that is not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except Exception:
        if _State.debug:
            raise
        exc = sys.exc_info()[1]
        typer.echo(
            f"error: internal problem ({type(exc).__name__}: {exc}). This is a bug in mea-culpa; your saved "
            "answers are safe. Run again with --debug to see the details, and please report them.",
            err=True,
        )
        sys.exit(ExitCode.FAILED)
