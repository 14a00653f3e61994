"""The command line: parse options, call the core, show the result. The only place that exits.

Kept light on purpose: typer is the only import at the top, every command imports what it
needs when it runs, and help is plain text (no rich) so that `--help`, `--version` and
`list` answer as fast as the interpreter allows.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from mea_culpa import __version__
from mea_culpa.cli.output import pipe_safe
from mea_culpa.errors import ExitCode, MeaCulpaError


class HelpCommand(TyperCommand):
    """A command whose help names its arguments the way man pages do: `[PLAYBOOK]` when
    optional, `FILE...` when repeated, without the Python type beside them (`<list[str]>`
    tells a person nothing). Options name their value with a metavar where they are
    declared."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                pieces.append(_argument_usage(param))
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                if not getattr(param, "hidden", False):
                    extra = "  [required]" if param.required else ""
                    name = _argument_name(param) + ("..." if param.nargs != 1 else "")
                    arguments.append((name, (getattr(param, "help", None) or "") + extra))
            else:
                record = param.get_help_record(ctx)
                if record is not None:
                    options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


def _argument_name(param: Any) -> str:
    return str(param.metavar or param.name.upper())


def _argument_usage(param: Any) -> str:
    name = _argument_name(param)
    if param.nargs != 1:
        name += "..."
    return name if param.required else f"[{name}]"

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

DatabaseOption = typer.Option(
    None,
    "--database",
    metavar="URL",
    help="The journal to use: postgresql://user@host/db for a team's (default: $MEA_CULPA_DATABASE_URL, else your own file).",
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


# --- read-only playbook commands ---------------------------------------------------------


@app.command("list")
@pipe_safe
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
    from mea_culpa.cli.output import data
    from mea_culpa.playbook import catalog

    entries = catalog.entries(_dirs(playbooks))
    if as_json:
        import json

        from mea_culpa.text.terminal import json_for_terminal

        data(json_for_terminal(json.dumps([e.as_dict() for e in entries], indent=2, ensure_ascii=False)) + "\n")
        return
    if not entries:
        typer.echo("No playbooks found. Create one with: mea-culpa new NAME", err=True)
        return
    from mea_culpa.text.terminal import safe_for_terminal

    def cell(text: str) -> str:  # a shallow read is not validated: a title may hold anything
        return " ".join(safe_for_terminal(text).split())

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
        rows.append((cell(e.id), cell(e.title) or "-", str(e.stages), source))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    data("".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]}".rstrip() + "\n" for r in rows))
    if notes:
        typer.echo(safe_for_terminal("\n" + "\n".join(notes)), err=True)


@app.command()
@pipe_safe
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
    from mea_culpa.playbook import catalog

    book = catalog.resolve(playbook, _dirs(playbooks))
    if as_json:
        import json

        from mea_culpa.cli.output import data
        from mea_culpa.text.terminal import json_for_terminal

        data(json_for_terminal(json.dumps(book.as_data(), indent=2, ensure_ascii=False)) + "\n")
        return
    from mea_culpa.cli import ui

    ui.show_playbook(book)


@app.command()
@pipe_safe
def validate(
    files: list[Path] = typer.Argument(..., metavar="FILE", help="Playbook files to check."),
) -> None:
    """Check playbook files: every problem, with its file:line:col.

    Each problem is printed as file:line:col: key: message.

    Exit 0 when every file is valid, 2 otherwise.

    \b
    Example:
      mea-culpa validate .mea-culpa/playbooks/*.yaml
    """
    from mea_culpa.cli.output import data
    from mea_culpa.errors import PlaybookError
    from mea_culpa.playbook.loading import load
    from mea_culpa.text.terminal import safe_for_terminal

    bad = 0
    for path in files:
        try:
            book = load(path)
        except PlaybookError as exc:
            bad += 1
            data("".join(line + "\n" for line in exc.lines()))
            count = len(exc.diagnostics)
            typer.echo(safe_for_terminal(f"{path}: {count} problem{'s' if count != 1 else ''}"), err=True)
        else:
            summary = f"{book.id}: {len(book.stages)} stages, {len(book.steps)} steps, {len(book.messages)} messages"
            typer.echo(safe_for_terminal(f"{path}: ok ({summary})"), err=True)
    if bad:
        raise typer.Exit(ExitCode.BAD_INPUT)


@app.command()
@pipe_safe
def schema(
    output: Path | None = typer.Option(None, "-o", "--output", metavar="FILE", help="Write to FILE instead of standard output."),
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

    from mea_culpa.playbook.loading import json_schema

    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    from mea_culpa.files import write_atomic

    write_atomic(output, text, force=force)
    typer.echo(f"wrote {output}", err=True)


@app.command()
def new(
    name: str = typer.Argument(..., metavar="NAME", help="The new playbook's id, in kebab-case (e.g. late-invoice)."),
    from_: str | None = typer.Option(None, "--from", metavar="ID", help="Start from a copy of this playbook."),
    directory: Path = typer.Option(Path(".mea-culpa/playbooks"), "--dir", metavar="DIR", help="Where to write it."),
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
    from mea_culpa.playbook import scaffold

    path = scaffold.create(name, directory, from_id=from_, extra=_dirs(playbooks))
    typer.echo(f"created {path}", err=True)
    typer.echo(f"next: edit it, then run  mea-culpa validate {path}  and  mea-culpa start {name}", err=True)


# --- the guided run ----------------------------------------------------------------------


@app.command()
def start(
    playbook: str | None = typer.Argument(None, metavar="PLAYBOOK", help="A playbook id or file; without it, choose from a list."),
    title: str | None = typer.Option(None, "--title", metavar="TEXT", help="A short name for what happened (used in the session id)."),
    answers: Path | None = typer.Option(None, "--answers", metavar="FILE", help="Pre-fill answers from a YAML or JSON file (step id: value)."),
    set_: list[str] | None = typer.Option(None, "--set", metavar="ID=VALUE", help="Answer one step on the command line (repeatable; wins over --answers)."),
    no_input: bool = typer.Option(False, "--no-input", help="Ask nothing: every required answer must come from --answers or --set."),
    no_save: bool = typer.Option(False, "--no-save", help="Keep this session in memory only; nothing is written."),
    tag: list[str] | None = typer.Option(None, "--tag", metavar="TAG", help="Add a tag to the session (repeatable)."),
    playbooks: list[Path] | None = PlaybookDirs,
    database: str | None = DatabaseOption,
) -> None:
    """Start a guided run through a playbook. Every answer is saved as you go.

    Ctrl-C stops safely: the session is kept and `mea-culpa resume` continues it.

    \b
    Examples:
      mea-culpa start
      mea-culpa start service-outage --title "checkout down"
      mea-culpa start general --answers answers.yaml --no-input
    """
    from mea_culpa.cli import run as run_command

    run_command.start(
        playbook, title=title, answers_file=answers, assignments=set_ or [], no_input=no_input,
        no_save=no_save, tags=tuple(tag or ()), extra=_dirs(playbooks), database=database,
    )
    if not no_save:
        _remind(database)


@app.command()
def resume(
    session: str | None = typer.Argument(None, metavar="SESSION", help="A session id (or its start); default: the latest unfinished."),
    answers: Path | None = typer.Option(None, "--answers", metavar="FILE", help="Pre-fill answers from a YAML or JSON file."),
    set_: list[str] | None = typer.Option(None, "--set", metavar="ID=VALUE", help="Answer one step on the command line (repeatable)."),
    no_input: bool = typer.Option(False, "--no-input", help="Ask nothing; finish from the answers given."),
    playbooks: list[Path] | None = PlaybookDirs,
    database: str | None = DatabaseOption,
    take_over: bool = typer.Option(False, "--take-over", help="Take the session over from the mea-culpa that has it open."),
) -> None:
    """Continue an interrupted session exactly where it stopped.

    \b
    Example:
      mea-culpa resume
      mea-culpa resume 2026-11-22-checkout-down
    """
    from mea_culpa.cli import run as run_command

    run_command.resume(
        session, answers_file=answers, assignments=set_ or [], no_input=no_input, extra=_dirs(playbooks),
        database=database, take_over=take_over,
    )
    _remind(database)


def _remind(database: str | None) -> None:
    """One quiet line when an action or a promised status update is overdue."""
    from mea_culpa.cli import reminder

    reminder.overdue(database)


def _register_command_modules() -> None:
    """Commands that live in their own modules (each imports only typer at the top)."""
    from mea_culpa.cli import check, config, draft, export, journal

    app.command()(pipe_safe(check.check))
    app.command()(pipe_safe(draft.draft))
    app.command()(pipe_safe(export.export))
    journal.register(app)
    for info in app.registered_commands:  # every command's help names its arguments alike
        if info.cls in (None, TyperCommand):
            info.cls = HelpCommand
    app.add_typer(config.config_app, name="config")


_register_command_modules()


# --- the boundary ---------------------------------------------------------------------------


def _print_error(err: MeaCulpaError) -> None:
    from mea_culpa.errors import AnswersError, Interrupted, PlaybookError
    from mea_culpa.text.terminal import safe_for_terminal

    # A message may quote a file name, a template's words or an answer: never an escape sequence.
    lines = [" ".join(safe_for_terminal(line).split("\n")) for line in err.lines()]
    # file:line:col lines stay grep-able; an interruption is not an error
    plain = isinstance(err, (PlaybookError, AnswersError, Interrupted))
    for i, line in enumerate(lines):
        if plain or i > 0:
            typer.echo(line, err=True)
        else:
            typer.secho(f"error: {line}", err=True, fg=None if os.environ.get("NO_COLOR") else "red")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `mea-culpa` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    _State.debug = "--debug" in args or os.environ.get("MEA_CULPA_DEBUG") == "1"
    try:
        # Without standalone mode, typer returns the code of `raise typer.Exit(code)`.
        code = app(args=args, prog_name="mea-culpa", standalone_mode=False)
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
        problem = sys.exc_info()[1]
        typer.echo(
            f"error: internal problem ({type(problem).__name__}: {problem}). This is a bug in mea-culpa; your saved "
            "answers are safe. Run again with --debug to see the details, and please report them.",
            err=True,
        )
        sys.exit(ExitCode.FAILED)
