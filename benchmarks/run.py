"""The mea-culpa benchmark: what a user feels, side by side with a peer, every run cold.

The peer is `copier --help` (a Python command line of the same family: questionary
prompts, Jinja templates, YAML answers files), installed in the
benchmark's own virtual environment (benchmarks/out/peer-venv, made on the first run and
reused), never in the project's. Every round runs every figure once, in a shuffled order,
copier included, so a busy machine moves both sides of a ratio. A warm-up round first runs
each figure once untimed: it checks that the command works and lets Python write the
bytecode (.pyc) of the installed packages, as on any user's machine.

Every run is cold: it gets fresh folders (MEA_CULPA_HOME copied afresh from a prepared
home whose journal already holds what the command needs, and empty HOME, XDG cache,
config and data folders), so nothing a previous run left can help the next one.

Scale: `history`, `actions` and `stats` at 10,000 sessions against 100 in the home, and at
100,000 against 1,000 in a store named by URL (MEA_CULPA_DATABASE_URL, nothing copied):
a SQLite file always; with --postgres, databases on a throwaway PostgreSQL server started
from the machine's binaries the way the tests start one (tests/postgres_server.py).

    .venv/bin/python benchmarks/run.py                    # 15 rounds; prints the table
    .venv/bin/python benchmarks/run.py --quick            # 5 rounds: a smoke test
    .venv/bin/python benchmarks/run.py --only help,terminal --rounds 30
    .venv/bin/python benchmarks/run.py --postgres --write-results   # what RESULTS.md holds
    .venv/bin/python benchmarks/run.py --only postgres --postgres --quick
    .venv/bin/python benchmarks/run.py --database-url postgresql://me@db.example/team

Standard library, pexpect (the test extra), and mea-culpa's own SQLAlchemy and psycopg for the
PostgreSQL stores. Every timed run goes to benchmarks/out/results.json.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import io
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
PEER_VENV = OUT / "peer-venv"
RESULTS_MD = HERE / "RESULTS.md"
ANSWERS = REPO / "tests" / "data" / "answers"
MAKE_JOURNAL = HERE / "make_journal.py"
BIN = "Scripts" if os.name == "nt" else "bin"
SCRIPT = Path(sys.executable).parent / ("mea-culpa.exe" if os.name == "nt" else "mea-culpa")

# How the suite drives the real prompts; the benchmark walks them the same way.
sys.path.insert(0, str(REPO / "tests"))
from terminal_helpers import ENTER, Terminal, plain, question, walk  # noqa: E402

ROUNDS, QUICK_ROUNDS = 15, 5
PEER = "peer"  # the key of `copier --help`, the reference of every command's ratio
PEER_PACKAGE = "copier"
PEER_TARGET = 0.8  # every command: at most this many times `copier --help`
KEYSTROKE_TARGET_MS = 50.0  # in a terminal: an answer to the next question drawn, median of a walk
SCALE_TARGET = 1.5  # history/actions/stats: the large journal against the small one
LINEAR_SLACK = 1.5  # check: cost per extra KB at 10->100 KB against 1->10 KB
NEGLIGIBLE_GROWTH = 0.10  # ...or 100 KB costs at most 10% more than 1 KB: nothing to fit
CHECK_KB = (1, 10, 100)
JOURNALS = (100, 10_000)  # the home's SQLite journal
STORE_JOURNALS = (1_000, 100_000)  # the stores' journals: SQLite always, PostgreSQL with --postgres or --database-url
PG_DATABASE = "mea_culpa"  # --postgres: the throwaway server's database, beside which the sized ones are made
JOURNAL_COMMANDS = ("history", "actions", "stats")
DRAFT_MESSAGE = "customer-apology"
JOURNAL_FILES = ("journal.sqlite3", "journal.sqlite3-wal", "journal.sqlite3-shm")  # all a prepared home keeps
WALKED = "general"  # the playbook walked in the pseudo-terminal
TITLE_PROMPT = "A short name for this session"  # the first question `start PLAYBOOK` asks
TIMEOUT = 1800  # seconds for one untimed preparation (100,000 sessions take some minutes)
RUN_TIMEOUT = 120  # seconds for one timed command
QUESTION_TIMEOUT = 30  # seconds for one question to be drawn

# Variables that would change what is measured: bytecode writing stays on (a user's install
# has its .pyc files, in the usual places), and nothing of the caller's mea-culpa set-up leaks in.
DROPPED_ENV = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONDEVMODE",
    "PYTHONTRACEMALLOC",
    "PYTHONWARNINGS",
    "PYTHONINSPECT",
    "PYTHONVERBOSE",
    "PYTHONSTARTUP",
    "MEA_CULPA_HOME",
    "MEA_CULPA_CONFIG",
    "MEA_CULPA_PATH",
    "MEA_CULPA_DEBUG",
    "MEA_CULPA_DATABASE_URL",
    "MEA_CULPA_USER",
    "VISUAL",
    "EDITOR",
)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rel(path: Path | str) -> str:
    try:
        return str(Path(path).relative_to(REPO))
    except ValueError:
        return str(path)


def last_line(text: str) -> str:
    lines = [line.strip() for line in plain(text).strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else "no output"


def failure(proc: subprocess.CompletedProcess[str], what: str) -> str:
    return f"{what} exited {proc.returncode}: {last_line(proc.stderr or proc.stdout)}"


# --- where a journal lives ----------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """Where the journals of the scale figures live, named by a database URL (what
    MEA_CULPA_DATABASE_URL names): `sized` is the journal of one size beside it, which
    `create` makes ready for make_journal.py to fill and `remove` takes away again."""

    url: str
    prefix: str  # of its figures' keys: "sqlite-", "postgres-" (--postgres) or "db-" (--database-url)
    shown: str  # in the figures' labels: "SQLite", "PostgreSQL"

    @property
    def engine(self) -> str:
        return self.url.partition(":")[0].split("+")[0]

    def sqlite_file(self) -> Path | None:
        """The file a sqlite:///FILE URL names (SQLAlchemy's spelling: four slashes for an
        absolute path), made absolute; None for other engines."""
        scheme, sep, rest = self.url.partition("://")
        if self.engine != "sqlite" or not sep or not rest.startswith("/") or len(rest) < 2:
            return None
        return Path(rest[1:].split("?")[0]).resolve()

    def database(self) -> str:
        """A server's database name (the URL's path)."""
        return urlsplit(self.url).path.lstrip("/")

    def sized(self, sessions: int) -> Store:
        """The journal of `sessions` sessions: for SQLite a file beside the one named
        (team.sqlite3 -> team-100000.sqlite3); for a server a database of its own beside
        the one named, on the same server (team -> team_bench_100000)."""
        file = self.sqlite_file()
        if file is not None:
            scheme = self.url.partition("://")[0]
            sized = file.with_name(f"{file.stem}-{sessions}{file.suffix or '.sqlite3'}")
            return replace(self, url=f"{scheme}:///{sized}")
        parts = urlsplit(self.url)
        return replace(self, url=urlunsplit(parts._replace(path=f"/{self.database()}_bench_{sessions}")))

    def create(self, base: Store) -> str:
        """Make this sized store ready to be filled: a server's database is made afresh
        (CREATE DATABASE, which the URL's user must be allowed), through a connection to
        the `base` one; a SQLite file is made by make_journal.py. Returns a problem, or ""."""
        if self.sqlite_file() is not None:
            return ""
        if not re.fullmatch(r"[A-Za-z0-9_]+", self.database()):
            return f"{self.database()!r} is not a database name the benchmark makes (letters, digits, _)"
        return base.on_server(f'DROP DATABASE IF EXISTS "{self.database()}" WITH (FORCE)', f'CREATE DATABASE "{self.database()}"')

    def remove(self, base: Store) -> None:
        """Take the sized journal away (a file and its log, or a database)."""
        file = self.sqlite_file()
        if file is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{file}{suffix}").unlink(missing_ok=True)
        else:
            base.on_server(f'DROP DATABASE IF EXISTS "{self.database()}" WITH (FORCE)')

    def on_server(self, *statements: str) -> str:
        """Run statements that cannot run in a transaction on the server, connected to this
        store's database. Returns a problem, or ""."""
        from sqlalchemy import create_engine
        from sqlalchemy.exc import SQLAlchemyError

        from mea_culpa.journal.engine import locate

        engine = create_engine(locate(self.url).url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                for statement in statements:
                    conn.exec_driver_sql(statement)
        except SQLAlchemyError as exc:
            what = statements[-1].split('"')[0].strip()
            return f"{what} on {self.masked()}: {str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}"
        finally:
            engine.dispose()
        return ""

    def env(self) -> dict[str, str]:
        return {"MEA_CULPA_DATABASE_URL": self.url}

    def masked(self) -> str:
        """The URL with any password hidden, for notes and the JSON."""
        parts = urlsplit(self.url)
        if parts.password:
            return self.url.replace(f":{parts.password}@", ":***@", 1)
        return self.url


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[tuple[Store | None, str]]:
    """A PostgreSQL server of the machine's own binaries for this run only, started as the
    test suite starts one (tests/postgres_server.py: a private folder, a Unix socket, no
    TCP port; under root, as a system user), stopped and removed at the end: (the store of
    its database `mea_culpa`, a note), or (None, why it could not start)."""
    import postgres_server

    try:
        server = postgres_server.start()
    except postgres_server.Unavailable as exc:
        yield None, str(exc)
        return
    try:
        url = server.create_database(PG_DATABASE)
        import psycopg

        with server.admin() as conn:
            version = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]
        yield Store(url, "postgres-", "PostgreSQL"), (
            f"PostgreSQL {version} ({server.bindir}), a throwaway server on a Unix socket, started in"
            f" {server.started_in:.1f} s, fsync off (nothing here measures writes), psycopg {psycopg.__version__}"
        )
    finally:
        with contextlib.suppress(postgres_server.Unavailable, OSError, subprocess.SubprocessError):
            server.stop()
        server.remove()


# --- what is timed ------------------------------------------------------------------------


@dataclass
class Figure:
    key: str
    label: str
    argv: list[str]
    ref: str | None = PEER  # the figure its ratio is taken against (None: none)
    limit: float | None = PEER_TARGET  # the ratio's target (None: for information)
    template: Path | None = None  # the prepared home, copied afresh before every run (None: an empty one)
    store: Store | None = None  # a journal outside the home
    terminal: bool = False  # run in a pseudo-terminal and walked to the end
    ok_codes: tuple[int, ...] = (0,)  # the exit codes of a run that did its work
    reason: str = ""  # why it could not be measured ("" when it was)
    runs: list[float] = field(default_factory=list)  # wall-clock seconds (terminal: to the first question)
    cpu: list[float] = field(default_factory=list)  # the child's user + system CPU seconds
    walks: list[list[tuple[str, float]]] = field(default_factory=list)  # terminal: (question, seconds after the answer before)

    @property
    def measured(self) -> bool:
        return not self.reason and bool(self.runs)

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)


@dataclass
class Bench:
    """The prepared work: folders, environment, command line, the figures and the notes."""

    work: Path
    env: dict[str, str]
    cli: list[str]
    peer: list[str]
    peer_version: str
    wanted: Callable[[str], bool]  # is this figure's key selected?
    commands: set[str] = field(default_factory=set)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    book: Any = None  # the walked playbook's steps, for the terminal figure
    made: list[tuple[Store, Store]] = field(default_factory=list)  # (a sized store, its base): removed at the end

    def offer(self, key: str, label: str, args: Sequence[str], command: str | None, problem: str = "", **kw: Any) -> None:
        """Add a figure if it is wanted: `mea-culpa ARGS`, or the reason it cannot run
        (`problem`, or no `command` in this build)."""
        if not self.wanted(key):
            return
        if command is not None and command not in self.commands:
            problem = f"no `{command}` command in this build"
        if problem:
            self.figures.append(Figure(key, label, [], reason=problem, **kw))
        else:
            self.figures.append(Figure(key, label, [*self.cli, *args], **kw))

    @contextlib.contextmanager
    def sandbox(self, template: Path | None = None, store: Store | None = None) -> Iterator[tuple[Path, dict[str, str]]]:
        """Fresh folders for one run: (its working folder, its environment). The home is a
        copy of `template` (or empty); HOME and the XDG folders are empty."""
        run = self.work / "run"
        shutil.rmtree(run, ignore_errors=True)
        home = run / "mea-culpa"
        if template is not None:
            shutil.copytree(template, home, symlinks=True)
        else:
            home.mkdir(parents=True)
        for name in ("home", "cache", "config", "data", "cwd"):
            (run / name).mkdir()
        env = dict(
            self.env,
            HOME=str(run / "home"),
            XDG_CACHE_HOME=str(run / "cache"),
            XDG_CONFIG_HOME=str(run / "config"),
            XDG_DATA_HOME=str(run / "data"),
            MEA_CULPA_HOME=str(home),
        )
        if store is not None:
            env.update(store.env())
        yield run / "cwd", env

    def run(self, argv: Sequence[str], home: Path) -> subprocess.CompletedProcess[str]:
        """Run a command untimed, for the preparation, in `home` itself (kept), and capture it."""
        with self.sandbox() as (cwd, env):
            env["MEA_CULPA_HOME"] = str(home)
            return subprocess.run(
                list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT
            )

    def mea_culpa(self, args: Sequence[str], home: Path) -> subprocess.CompletedProcess[str]:
        return self.run([*self.cli, *args], home)


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(COLUMNS="100", LINES="40", NO_COLOR="1")
    return env


def listed_commands(help_text: str) -> set[str]:
    """The command names in the `Commands:` section of `mea-culpa --help`."""
    names, inside = set(), False
    for line in help_text.splitlines():
        if line.strip().lower().startswith("commands"):
            inside = True
        elif inside and line.startswith("  ") and line.strip():
            names.add(line.split()[0])
        elif inside and line.strip() and not line.startswith(" "):
            inside = False
    return names


def apology_text(size: int) -> str:
    """About `size` bytes of realistic apology prose (including phrases the rules flag)."""
    sentences = [
        "I am sorry that your order arrived late and that you had to chase us for it.",
        "This was my mistake: I approved the shipment without checking the address.",
        "We apologize for any inconvenience this may have caused.",
        "Mistakes were made in the handover between our warehouse and the courier.",
        "You trusted us with an important delivery and we let you down.",
        "To make it right, we have refunded the shipping cost and sent a replacement today.",
        "From now on every change of address is checked by a second person before dispatch.",
        "If anyone was offended by our reply, that was never our intention.",
        "I will call you on Friday to confirm that everything arrived as it should.",
        "Our systems are usually very reliable, so this was an unusual situation.",
        "Thank you for telling us so clearly what went wrong; it helped us fix it quickly.",
        "I understand how frustrating it is to wait for something you were promised.",
    ]
    rng = random.Random(size)
    paragraphs, total = [], 0
    while total < size:
        paragraph = " ".join(rng.sample(sentences, 4))
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    text = "\n\n".join(paragraphs)
    cut = text.rfind(". ", 0, size)
    return (text[: cut + 1] if cut > size // 2 else text[:size]) + "\n"


# --- preparation --------------------------------------------------------------------------


def choose_cli() -> list[str]:
    if SCRIPT.exists():
        return [str(SCRIPT)]  # what a user runs
    return [sys.executable, "-m", "mea_culpa"]


def ensure_peer() -> tuple[list[str], str]:
    """copier in its own virtual environment, made on the first run: (its command, its version)."""
    script = PEER_VENV / BIN / PEER_PACKAGE
    if not script.exists():
        log(f"installing {PEER_PACKAGE} in {rel(PEER_VENV)} (once)")
        for argv in (
            [sys.executable, "-m", "venv", "--clear", str(PEER_VENV)],
            [str(PEER_VENV / BIN / "python"), "-m", "pip", "install", "--disable-pip-version-check", PEER_PACKAGE],
        ):
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
            if proc.returncode:
                raise SystemExit(f"cannot install the peer: {failure(proc, ' '.join(argv[1:4]))}")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    if proc.returncode:
        raise SystemExit(f"the peer does not run: {failure(proc, f'{PEER_PACKAGE} --version')}")
    return [str(script), "--help"], last_line(proc.stdout)


def largest_playbook(bench: Bench, home: Path) -> tuple[str, str]:
    """The built-in playbook with the most steps that has an answers file; ("", reason) if none."""
    proc = bench.mea_culpa(["list", "--json"], home)
    if proc.returncode:
        return "", failure(proc, "list --json")
    best, best_steps = "", -1
    for entry in json.loads(proc.stdout):
        if entry.get("source") != "built-in" or not (ANSWERS / f"{entry['id']}.yaml").is_file():
            continue
        steps = playbook_steps(bench, entry["id"], home)
        if steps is not None and len(steps) > best_steps:
            best, best_steps = entry["id"], len(steps)
    if not best:
        return "", f"no built-in playbook has an answers file in {rel(ANSWERS)}"
    return best, f"{best_steps} steps"


def playbook_steps(bench: Bench, playbook: str, home: Path) -> list[SimpleNamespace] | None:
    """A playbook's steps as `mea-culpa show --json` gives them, in the shape the suite's
    `walk` reads (id, type, prompt, choices, fields)."""
    proc = bench.mea_culpa(["show", playbook, "--json"], home)
    if proc.returncode:
        return None

    def item(data: dict[str, Any]) -> SimpleNamespace:
        return SimpleNamespace(
            id=data.get("id", ""),
            type=data.get("type", "text"),
            prompt=data.get("prompt", ""),
            choices=data.get("choices") or [],
            fields=[item(f) for f in data.get("fields") or []],
        )

    return [item(step) for stage in json.loads(proc.stdout).get("stages", []) for step in stage.get("steps", [])]


def start_args(playbook: str) -> list[str]:
    return ["start", playbook, "--answers", str(ANSWERS / f"{playbook}.yaml"), "--no-input"]


def build_journal(bench: Bench, sessions: int, where: Path | Store, base: Store | None = None) -> str:
    """Fill a journal with make_journal.py (untimed): the home `where`, or the store it
    names (made first, beside `base`). Returns a problem, or ""."""
    if isinstance(where, Store):
        assert base is not None
        problem = where.create(base)
        if problem:
            return problem
        bench.made.append((where, base))
        args, file, shown = ["--database-url", where.url, "--force"], where.sqlite_file(), f"({where.shown}) at {where.masked()}"
    else:
        args, file, shown = ["--home", str(where)], where / "journal.sqlite3", "in the home"
    started = time.perf_counter()
    proc = bench.run([sys.executable, str(MAKE_JOURNAL), "--sessions", str(sessions), *args], bench.work)
    if proc.returncode:
        return failure(proc, "make_journal.py")
    size = f", {file.stat().st_size / 1e6:.1f} MB" if file is not None and file.exists() else ""
    bench.notes.append(f"journal of {sessions:,} sessions {shown} built in {time.perf_counter() - started:.1f} s{size}")
    return ""


def prepare(work: Path, wanted: Callable[[str], bool], stores: Sequence[Store]) -> Bench:
    for name in ("templates", "texts"):
        (work / name).mkdir(parents=True)
    peer, peer_version = ensure_peer()
    bench = Bench(work=work, env=child_env(), cli=choose_cli(), peer=peer, peer_version=peer_version, wanted=wanted)
    (work / "templates" / "scratch").mkdir()
    bench.figures.append(Figure(PEER, f"{PEER_PACKAGE} --help (the peer)", peer, ref=None, limit=None))
    proc = bench.mea_culpa(["--help"], work / "templates" / "scratch")
    bench.commands = listed_commands(proc.stdout)
    if proc.returncode or not bench.commands:
        raise SystemExit(f"mea-culpa --help does not work here: {failure(proc, 'mea-culpa --help')}")
    bench.offer("help", "mea-culpa --help", ["--help"], None)
    bench.offer("list", "mea-culpa list", ["list"], "list")
    prepare_runs(bench)
    prepare_checks(bench)
    for n in JOURNALS:
        prepare_journals(bench, n, JOURNALS[0], None)
    for store in stores:
        for n in STORE_JOURNALS:
            prepare_journals(bench, n, STORE_JOURNALS[0], store)
    return bench


def prepare_runs(bench: Bench) -> None:
    """A returning user's home: one complete non-interactive run of the largest built-in,
    whose session is then drafted and exported; `start` runs in it again, and so does the
    walk in a pseudo-terminal (`start general` to its first question, then to the end)."""
    if not any(bench.wanted(k) for k in ("start", "draft", "export", "terminal")):
        return
    scratch, home = bench.work / "templates" / "scratch", bench.work / "templates" / "start"
    home.mkdir()
    playbook, why = largest_playbook(bench, scratch)
    session, problem = "", ("" if playbook else why)
    if playbook:
        bench.notes.append(f"largest built-in playbook: {playbook} ({why}); answers {rel(ANSWERS / (playbook + '.yaml'))}")
        proc = bench.mea_culpa(start_args(playbook), home)
        problem = failure(proc, f"start {playbook}") if proc.returncode else ""
        session = last_line(proc.stdout)
        keep_only_journal(bench, home)
    label = f"mea-culpa start {playbook or '<largest>'} --answers … --no-input"
    bench.offer("start", label, start_args(playbook), "start", problem, template=home)
    for key, args in (("draft", ["--message", DRAFT_MESSAGE]), ("export", ["-f", "md"])):
        bench.offer(key, f"mea-culpa {key} <session> {' '.join(args)}", [key, session, *args], key,
                    problem and f"no session to {key}: {problem}", template=home)

    steps = playbook_steps(bench, WALKED, scratch) if bench.wanted("terminal") else None
    bench.book = SimpleNamespace(steps=steps or [])
    if importlib.util.find_spec("pexpect") is None:
        problem = problem or "pexpect is not installed (pip install -e '.[test]')"
    elif not steps:
        problem = problem or f"`mea-culpa show {WALKED} --json` gives no steps"
    bench.offer("terminal", f"mea-culpa start {WALKED}, in a terminal: first question drawn", ["start", WALKED],
                "start", problem, terminal=True, template=home)


def keep_only_journal(bench: Bench, home: Path) -> None:
    """Leave in a prepared home only the journal: whatever else the preparation wrote there
    (a cache) would make every timed run warm."""
    extra = sorted(p.name for p in home.iterdir() if p.name not in JOURNAL_FILES)
    for name in extra:
        path = home / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    if extra:
        bench.notes.append(f"removed from the prepared home what the preparation left beside the journal: {', '.join(extra)}")


def prepare_checks(bench: Bench) -> None:
    """The apology check at three sizes: 1 KB against the peer, the three for linear growth."""
    smallest = f"check-{CHECK_KB[0]}kb"
    for kb in CHECK_KB:
        key = f"check-{kb}kb"
        if not bench.wanted(key):
            continue
        text = bench.work / "texts" / f"apology-{kb}kb.txt"
        text.write_text(apology_text(kb * 1024), encoding="utf-8")
        ref, limit = (PEER, PEER_TARGET) if key == smallest else (smallest, None)
        # exit 1: the text was checked and has findings (it carries phrases the rules flag)
        bench.offer(key, f"mea-culpa check <{kb} KB file>", ["check", str(text)], "check", ref=ref, limit=limit,
                    ok_codes=(0, 1))


def prepare_journals(bench: Bench, n: int, small: int, store: Store | None) -> None:
    """history, actions and stats on a journal of `n` sessions: the home's, or a store's
    (its journal of that size, named by URL; nothing is copied for a run). The large
    journal is judged against the small one; the home's small one is also a user figure,
    judged against the peer."""
    short, prefix = size_key(n), store.prefix if store is not None else ""
    if not any(bench.wanted(f"{prefix}{c}-{short}") for c in JOURNAL_COMMANDS):
        return
    where: Path | Store
    if store is None:
        where = bench.work / "templates" / f"journal-{short}"
        where.mkdir()
    else:
        where = store.sized(n)
    problem = build_journal(bench, n, where, store)
    if isinstance(where, Path):
        keep_only_journal(bench, where)
    for name in JOURNAL_COMMANDS:
        ref: str | None = f"{prefix}{name}-{size_key(small)}"
        limit: float | None = SCALE_TARGET
        if n == small:
            ref, limit = (None, None) if store is not None else (PEER, PEER_TARGET)
        label = f"mea-culpa {name} ({n:,} sessions{', ' + store.shown if store is not None else ''})"
        bench.offer(f"{prefix}{name}-{short}", label, [name], name, problem, ref=ref, limit=limit,
                    template=where if isinstance(where, Path) else None, store=where if isinstance(where, Store) else None)


def size_key(sessions: int) -> str:
    return f"{sessions // 1000}k" if sessions >= 1000 else str(sessions)


# --- timing -------------------------------------------------------------------------------


def run_process(bench: Bench, fig: Figure) -> tuple[int, float, float | None]:
    """One timed run: (exit code, wall seconds, the child's CPU seconds or None)."""
    with bench.sandbox(fig.template, fig.store) as (cwd, env):
        started = time.perf_counter()
        child = subprocess.Popen(
            fig.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if not hasattr(os, "wait4"):
            code = child.wait(timeout=RUN_TIMEOUT)
            return code, time.perf_counter() - started, None
        # wait4 also gives the child's own CPU time, which other load disturbs less; it has
        # no timeout, so a watchdog ends a command that hangs (its run then fails: killed)
        watchdog = threading.Timer(RUN_TIMEOUT, child.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            watchdog.cancel()
        elapsed = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        return child.returncode, elapsed, usage.ru_utime + usage.ru_stime


def said(bench: Bench, fig: Figure) -> tuple[int, str]:
    """One untimed run that keeps what the command said, for the warm-up."""
    with bench.sandbox(fig.template, fig.store) as (cwd, env):
        proc = subprocess.run(fig.argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=RUN_TIMEOUT)
    return proc.returncode, proc.stderr or proc.stdout


class TimedChild:
    """A pexpect child that notes, for each question drawn, how long after the answer
    before it: the time from `send` to the `expect` that found the next question."""

    def __init__(self, child: Any) -> None:
        self.child = child
        self.sent_at: float | None = None
        self.latencies: list[tuple[str, float]] = []

    @property
    def after(self) -> Any:
        return self.child.after

    def send(self, keys: str) -> None:
        self.child.send(keys)
        self.sent_at = time.perf_counter()

    def expect(self, pattern: Any, timeout: float = -1) -> int:
        index = int(self.child.expect(pattern, timeout=timeout))
        found = time.perf_counter()
        if self.sent_at is not None and isinstance(self.child.after, str):  # not the end of the program
            shown = plain(self.child.after).lstrip("?: ").split(" (↑↓")[0].strip()
            self.latencies.append((shown, found - self.sent_at))
        self.sent_at = None
        return index


def process_cpu(pid: int) -> float | None:
    """The user + system CPU seconds a running process has used so far (Linux; 1/100 s steps)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def run_terminal(bench: Bench, fig: Figure) -> tuple[float, float | None, list[tuple[str, float]]]:
    """Start the walk in a 40x120 pseudo-terminal: (seconds to the first question drawn,
    CPU seconds by then, the walk's later questions with their seconds after each answer).

    prompt_toolkit asks the terminal where the cursor is and waits for an answer that a
    pexpect terminal never gives; PROMPT_TOOLKIT_NO_CPR spares it that, as the suite does."""
    import pexpect

    with bench.sandbox(fig.template, fig.store) as (cwd, env):
        env.update(TERM="xterm-256color", PROMPT_TOOLKIT_NO_CPR="1", COLUMNS="120", LINES="40")
        transcript = io.StringIO()
        started = time.perf_counter()
        child = pexpect.spawn(fig.argv[0], fig.argv[1:], env=env, cwd=str(cwd), dimensions=(40, 120),
                              encoding="utf-8", timeout=QUESTION_TIMEOUT)
        try:
            child.delaybeforesend = None  # every send waits for its question already
            child.logfile_read = transcript
            try:
                child.expect(question(TITLE_PROMPT))
            except pexpect.ExceptionPexpect:
                raise RuntimeError(f"the first question ({TITLE_PROMPT!r}) was not drawn: {last_line(transcript.getvalue())}") from None
            first = time.perf_counter() - started
            cpu = process_cpu(child.pid)
            timed = TimedChild(child)
            timed.send(ENTER)  # keep the suggested title
            try:
                walk(Terminal(timed), bench.book, timeout=QUESTION_TIMEOUT)
            except pexpect.ExceptionPexpect:
                raise RuntimeError(f"the walk stopped: {last_line(transcript.getvalue())}") from None
            child.close()
            if child.exitstatus != 0:
                raise RuntimeError(f"exited {child.exitstatus}: {last_line(transcript.getvalue())}")
            return first, cpu, timed.latencies
        finally:
            if child.isalive():
                child.terminate(force=True)


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def measure(bench: Bench, rounds: int, rng: random.Random) -> None:
    live = [f for f in bench.figures if not f.reason]
    log(f"warm-up round: {len(live)} figures")
    for fig in rng.sample(live, len(live)):
        try:
            if fig.terminal:
                run_terminal(bench, fig)
            else:
                code, text = said(bench, fig)
                if code not in fig.ok_codes:
                    fig.reason = f"exited {code}: {last_line(text)}"
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            fig.reason = str(exc)
    live = [f for f in live if not f.reason]
    before = load_average()
    for number in range(1, rounds + 1):
        started = time.perf_counter()
        for fig in rng.sample(live, len(live)):
            if fig.reason:
                continue
            try:
                if fig.terminal:
                    elapsed, cpu, latencies = run_terminal(bench, fig)
                    fig.walks.append(latencies)
                else:
                    code, elapsed, cpu = run_process(bench, fig)
                    if code not in fig.ok_codes:
                        fig.reason = f"exited {code} in round {number}"
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                fig.reason = f"round {number}: {exc}"
                continue
            fig.runs.append(elapsed)
            if cpu is not None:
                fig.cpu.append(cpu)
        log(f"round {number}/{rounds}: {time.perf_counter() - started:.1f} s")
    after, cpus = load_average(), os.cpu_count() or 1
    if before is not None and after is not None:
        busy = max(before, after) - 1 > cpus * 0.5  # the benchmark itself keeps one CPU busy
        bench.notes.append(
            f"load average {before:.2f} before, {after:.2f} after, on {cpus} CPUs"
            + (": other work was running, so trust the CPU ratios more than the wall-clock ones" if busy else "")
        )


# --- verdicts -----------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    label: str
    median_ms: float | None
    ratio: float | None
    cpu_ratio: float | None
    of: str  # what the ratio is of
    target: str
    result: str  # pass, FAIL, info, reference, or "n/a: why"


def slopes(t: Sequence[float], sizes: Sequence[float]) -> tuple[float, float, float | None]:
    """Cost per extra KB from the first size to the second and from the second to the third,
    and their ratio (None when the first is not positive)."""
    low = (t[1] - t[0]) / (sizes[1] - sizes[0])
    high = (t[2] - t[1]) / (sizes[2] - sizes[1])
    return low, high, (high / low if low > 0 else None)


def fast_quarter(values: Sequence[float]) -> float:
    """The lower quartile: what a command costs when other load leaves it alone, steadier
    than the single fastest run."""
    if len(values) < 2:
        return min(values)
    return statistics.quantiles(values, n=4, method="inclusive")[0]


def bootstrap_growth(samples: Sequence[Sequence[float]], sizes: Sequence[float], n: int = 2000) -> list[float] | None:
    """A 90% interval for the slope ratio, resampling each size's runs (None if too few)."""
    if any(len(x) < 5 for x in samples):
        return None
    rng = random.Random(8)
    ratios = []
    for _ in range(n):
        _, _, growth = slopes([fast_quarter(rng.choices(x, k=len(x))) for x in samples], sizes)
        ratios.append(growth if growth is not None else float("inf"))
    ratios.sort()
    return [round(ratios[int(0.05 * n)], 2), round(ratios[int(0.95 * n) - 1], 2)]


def verdicts(bench: Bench) -> tuple[list[Row], dict[str, Any]]:
    figs = {f.key: f for f in bench.figures}
    rows: list[Row] = []
    extra: dict[str, Any] = {}

    for fig in bench.figures:
        ref = figs.get(fig.ref) if fig.ref else None
        of = "" if ref is None else ("copier --help" if ref.key == PEER else ref.label.removeprefix("mea-culpa "))
        target = "—" if fig.limit is None else f"≤ {fig.limit:g}× {of}"
        if not fig.measured:
            rows.append(Row(fig.key, fig.label, None, None, None, of, target, f"n/a: {fig.reason or 'no runs'}"))
            continue
        median_ms = fig.median * 1000
        if ref is None:
            rows.append(Row(fig.key, fig.label, median_ms, None, None, of, target, "reference"))
        elif not ref.measured:
            rows.append(Row(fig.key, fig.label, median_ms, None, None, of, target, f"n/a: no {of} to compare with"))
        else:
            ratio = fig.median / ref.median
            cpu_ratio = fig.cpu_median / ref.cpu_median if fig.cpu and ref.cpu else None
            result = "info" if fig.limit is None else ("pass" if ratio <= fig.limit else "FAIL")
            rows.append(Row(fig.key, fig.label, median_ms, ratio, cpu_ratio, of, target, result))
        if fig.terminal:
            rows.append(keystroke_row(bench, fig, extra))

    checks = [figs[k] for k in (f"check-{kb}kb" for kb in CHECK_KB) if k in figs and figs[k].measured]
    if len(checks) == len(CHECK_KB):
        rows.append(check_growth_row(bench, checks, extra))
    return rows, extra


def keystroke_row(bench: Bench, fig: Figure, extra: dict[str, Any]) -> Row:
    """The median, over the questions of a walk, of the time from an answer to the next
    question drawn; the row shows the median of the walks' medians."""
    label = f"mea-culpa start {WALKED}, in a terminal: next question after an answer (median of a walk)"
    target = f"≤ {KEYSTROKE_TARGET_MS:g} ms"
    walks = [w for w in fig.walks if w]
    if not walks:
        return Row("keystroke", label, None, None, None, "", target, "n/a: no walk finished")
    per_walk = [statistics.median(s for _, s in w) * 1000 for w in walks]
    median = statistics.median(per_walk)
    by_question: dict[str, list[float]] = {}
    for w in walks:
        for shown, seconds in w:
            by_question.setdefault(shown, []).append(seconds * 1000)
    slowest = sorted(((statistics.median(v), q) for q, v in by_question.items()), reverse=True)[:3]
    extra["keystroke"] = {
        "per_walk_median_ms": [round(x, 2) for x in per_walk],
        "questions_per_walk": [len(w) for w in walks],
        "slowest_ms": {q: round(ms, 1) for ms, q in slowest},
    }
    bench.notes.append("the questions slowest to appear after an answer (median ms): "
                       + "; ".join(f"{q!r} {ms:.0f}" for ms, q in slowest))
    return Row("keystroke", label, median, None, None, "", target, "pass" if median <= KEYSTROKE_TARGET_MS else "FAIL")


def check_growth_row(bench: Bench, checks: list[Figure], extra: dict[str, Any]) -> Row:
    """`check` stays linear: the cost per extra KB from 10 to 100 KB against that from 1 to 10 KB.

    Judged on CPU time where there is one, and on each size's fastest quarter of runs: the
    1->10 KB step is some tens of milliseconds, while other load on a shared machine spreads
    even CPU times that much, and only ever adds time (why timeit reports the fastest run)."""
    sizes = [len(Path(c.argv[-1]).read_bytes()) / 1024 for c in checks]
    basis = "cpu" if all(c.cpu for c in checks) else "wall"
    samples = [c.cpu if basis == "cpu" else c.runs for c in checks]
    t = [fast_quarter(x) * 1000 for x in samples]
    low, high, growth = slopes(t, sizes)
    negligible = t[2] - t[0] <= NEGLIGIBLE_GROWTH * t[0]
    ok = negligible or (growth is not None and growth <= LINEAR_SLACK)
    spread = bootstrap_growth(samples, sizes)
    wall = [c.median * 1000 for c in checks]
    extra["check"] = {
        "kb": [round(x, 2) for x in sizes],
        "median_ms": [round(x, 2) for x in wall],
        "growth_basis": basis,
        "marginal_ms_per_kb": {"1-10": round(low, 4), "10-100": round(high, 4)},
        "growth": growth,
        "growth_90pct_interval": spread,
        "growth_negligible": negligible,
    }
    interval = f" (90% bootstrap interval {spread[0]:.2f}–{spread[1]:.2f})" if spread else ""
    bench.notes.append(
        "check: " + ", ".join(f"{kb:.0f} KB {x:.1f} ms" for kb, x in zip(sizes, wall, strict=True))
        + f"; cost per extra KB in {basis} time (fastest quarter): {low:.2f} ms from 1 to 10 KB,"
        f" {high:.2f} ms from 10 to 100 KB{interval}"
    )
    label = f"mea-culpa check: ms per extra KB, 10→100 KB over 1→10 KB ({basis.upper() if basis == 'cpu' else basis} time, fastest quarter)"
    return Row("check-growth", label, None, growth, None, "slope 1→10 KB", f"≤ {LINEAR_SLACK:g} (linear: 1)",
               "pass" if ok else "FAIL")


# --- reporting ----------------------------------------------------------------------------


def table(rows: list[Row]) -> str:
    lines = ["| figure | median ms | ratio (CPU) | target | result |", "|---|---:|---:|---|---|"]
    for r in rows:
        median = f"{r.median_ms:.1f}" if r.median_ms is not None else "—"
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}" + (f" ({r.cpu_ratio:.2f})" if r.cpu_ratio is not None else "")
        lines.append(f"| {r.label} | {median} | {ratio} | {r.target} | {r.result} |")
    return "\n".join(lines)


def machine(bench: Bench) -> dict[str, str]:
    try:
        uname = subprocess.run(["uname", "-a"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        uname = " ".join(platform.uname())
    cpu = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    from importlib import metadata

    versions = []
    for dist in ("mea-culpa", "typer", "rich", "PyYAML", "Jinja2", "questionary", "prompt_toolkit", "pydantic", "SQLAlchemy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{dist} {metadata.version(dist)}")
    try:
        git = ["git", "-C", str(REPO)]
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=True).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    return {
        "uname": uname,
        "cpu": f"{cpu} ({os.cpu_count()} logical CPUs)",
        "python": f"{platform.python_implementation()} {platform.python_version()} ({sys.executable})",
        "packages": ", ".join(versions),
        "peer": f"{bench.peer_version} (in {rel(PEER_VENV)}, Python {venv_python(PEER_VENV)})",
        "commit": commit,
    }


def venv_python(venv: Path) -> str:
    """The Python version a virtual environment was made with, from its pyvenv.cfg."""
    with contextlib.suppress(OSError):
        for line in (venv / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("version", "version_info"):
                return value.strip()
    return "unknown"


def results_md(data: dict[str, Any], text: str) -> str:
    m = data["machine"]
    failing = [r for r in data["figures"] if r["result"] == "FAIL"]
    unmeasured = [r for r in data["figures"] if str(r["result"]).startswith("n/a")]
    lines = [
        "# Benchmark results",
        "",
        "Written by `benchmarks/run.py --write-results`; run it again rather than editing this file.",
        "How it measures, and how to read it: `docs/performance.md`.",
        "",
        f"- date: {data['date']}",
        f"- machine: `{m['uname']}`",
        f"- CPU: {m['cpu']}",
        f"- Python: {m['python']}",
        f"- packages: {m['packages']}",
        f"- peer: {m['peer']}",
        f"- commit: {m['commit']}",
        f"- method: {data['method']}",
        *([f"- a partial run: only {', '.join(data['only'])}"] if data["only"] else []),
        f"- the full run took {data['took_s'] / 60:.1f} minutes",
        "",
        text,
        "",
        *[f"- {n}" for n in data["notes"]],
        "",
    ]
    if failing:
        lines.append("Targets missed: " + "; ".join(f"{r['label']} ({r['target']})" for r in failing) + ".")
    elif not unmeasured:
        lines.append("Every target holds.")
    if unmeasured:
        lines.append("Not measured: " + "; ".join(f"{r['label']} ({r['result']})" for r in unmeasured) + ".")
    return "\n".join(lines) + "\n"


def figure_data(row: Row, fig: Figure | None) -> dict[str, Any]:
    data: dict[str, Any] = {k: v for k, v in vars(row).items()}
    if fig is None:
        return data
    data["argv"] = [rel(a) if a.startswith(str(REPO)) else a for a in fig.argv]
    if fig.store is not None:
        data["store"] = fig.store.masked()
    data["runs_ms"] = [round(x * 1000, 3) for x in fig.runs]
    if fig.cpu:
        data["cpu_ms"] = [round(x * 1000, 3) for x in fig.cpu]
    if fig.walks:
        data["walks"] = [[[q, round(s * 1000, 3)] for q, s in w] for w in fig.walks]
    return data


PREFIXES = ("sqlite-", "postgres-", "db-")  # the stores' figures: always, --postgres, --database-url


def figure_keys(prefixes: Sequence[str]) -> list[str]:
    keys = ["help", "list", "start", "draft", "export", "terminal", *(f"check-{kb}kb" for kb in CHECK_KB)]
    keys += [f"{c}-{size_key(n)}" for n in JOURNALS for c in JOURNAL_COMMANDS]
    keys += [f"{p}{c}-{size_key(n)}" for p in prefixes for n in STORE_JOURNALS for c in JOURNAL_COMMANDS]
    return keys


def selection(only: list[str], prefixes: Sequence[str]) -> set[str]:
    """The figures to run: those named (or prefixed) by --only, and what their ratios need."""
    keys = figure_keys(prefixes)
    chosen = {k for k in keys if not only or any(k == p or k.startswith(p) for p in only)}
    for key in list(chosen):  # a large journal is judged against the small one; check's growth needs all three
        for big, small in ((size_key(JOURNALS[1]), size_key(JOURNALS[0])), (size_key(STORE_JOURNALS[1]), size_key(STORE_JOURNALS[0]))):
            if key.endswith(f"-{big}"):
                chosen.add(key.removesuffix(big) + small)
        if key.startswith("check-"):
            chosen.update(f"check-{kb}kb" for kb in CHECK_KB)
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, help=f"timed rounds after the warm-up (default {ROUNDS})")
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: {QUICK_ROUNDS} rounds")
    parser.add_argument("--only", help="comma-separated figure keys or prefixes: " + ", ".join(figure_keys(PREFIXES)))
    sizes = " and ".join(f"{n:,}" for n in STORE_JOURNALS)
    parser.add_argument("--postgres", action="store_true",
                        help=f"also run {', '.join(JOURNAL_COMMANDS)} at {sizes} sessions on PostgreSQL: a throwaway server from"
                        " the machine's binaries (as the tests start one), removed at the end")
    parser.add_argument("--database-url", metavar="URL",
                        help=f"also run {', '.join(JOURNAL_COMMANDS)} at {sizes} sessions in this store: sqlite:///FILE (files"
                        " beside it) or postgresql://user@host/db (databases db_bench_N on that server: the user needs CREATEDB);"
                        " removed at the end unless --keep")
    parser.add_argument("--seed", type=int, help="seed of the shuffled order (default: random; recorded in the JSON)")
    parser.add_argument("--json", type=Path, default=OUT / "results.json", help="where every run goes (default benchmarks/out/results.json)")
    parser.add_argument("--write-results", action="store_true", help="also rewrite benchmarks/RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (homes, journals, texts)")
    args = parser.parse_args(argv)

    rounds = args.rounds or (QUICK_ROUNDS if args.quick else ROUNDS)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    given: Store | None = None
    if args.database_url:
        given = Store(args.database_url, "db-", "--database-url")
        if not urlsplit(given.url).scheme or given.engine not in ("sqlite", "postgresql", "postgres"):
            parser.error(f"--database-url: {given.masked()!r} is not a sqlite:///FILE or postgresql://user@host/db URL")
        given = replace(given, shown="SQLite, --database-url" if given.engine == "sqlite" else "PostgreSQL, --database-url")
    prefixes = ["sqlite-", *(["postgres-"] if args.postgres else []), *(["db-"] if given else [])]
    only = [p.strip() for p in args.only.split(",") if p.strip()] if args.only else []
    chosen = selection(only, prefixes)
    if not chosen:
        parser.error(f"--only {args.only}: no figure has that name; choose from {', '.join(figure_keys(prefixes))}")
    if importlib.util.find_spec("mea_culpa") is None:
        parser.error(f"mea_culpa is not importable by {sys.executable}; run with the venv: .venv/bin/python benchmarks/run.py")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    OUT.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="mea-culpa-bench-"))
    (work / "journals").mkdir()
    stores = [Store(f"sqlite:///{work / 'journals' / 'journal.sqlite3'}", "sqlite-", "SQLite")]
    with contextlib.ExitStack() as cleanup:
        notes = []
        if args.postgres:
            server, note = cleanup.enter_context(throwaway_postgres())
            if server is None:
                raise SystemExit(f"--postgres: {note}")
            stores.append(server)
            notes.append(note)
        stores += [given] if given is not None else []
        bench = None
        try:
            bench = prepare(work, chosen.__contains__, stores)
            bench.notes += notes
            measure(bench, rounds, random.Random(seed))
            rows, extra = verdicts(bench)
        finally:
            if args.keep:
                log(f"kept {work}" + (" and the journals built for --database-url" if given else ""))
            else:
                for sized, base in bench.made if bench is not None else []:
                    if base is given:
                        sized.remove(base)
                shutil.rmtree(work, ignore_errors=True)
    took = time.perf_counter() - began

    method = (
        f"{rounds} rounds after a warm-up round; each round runs every figure once in a shuffled order (seed {seed}),"
        f" the peer `{PEER_PACKAGE} --help` among them; a figure is the median of its rounds, its ratio that median over"
        " the peer's (in brackets: the same ratio of median CPU times, user + system of the command). Every run is cold:"
        " a new process through the console script, a fresh copy of a prepared home (MEA_CULPA_HOME), empty HOME and"
        " XDG folders, no cache anywhere; only the installed packages' .pyc files are warm, as on any user's machine."
        f" The terminal figures spawn `mea-culpa start {WALKED}` in a 40x120 pseudo-terminal (pexpect,"
        " PROMPT_TOOLKIT_NO_CPR=1): the time to the first question's text being drawn, then a walk answering every"
        " question, timed from each answer sent to the next question's text drawn"
    )
    figures = {f.key: f for f in bench.figures}
    data: dict[str, Any] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(bench),
        "method": method,
        "rounds": rounds,
        "seed": seed,
        "quick": bool(args.quick),
        "only": only,
        "took_s": round(took, 1),
        "command": bench.cli,
        "figures": [figure_data(r, figures.get(r.key)) for r in rows],
        "notes": bench.notes,
        **extra,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    text = table(rows)
    print(text)
    print()
    for note in bench.notes:
        print(f"- {note}")
    fails = [r.label for r in rows if r.result == "FAIL"]
    print(f"\n{len(fails)} target(s) missed" + (": " + "; ".join(fails) if fails else "")
          + f". Took {took / 60:.1f} minutes. Every run: {rel(args.json)}")
    if args.write_results:
        RESULTS_MD.write_text(results_md(data, text), encoding="utf-8")
        print(f"wrote {rel(RESULTS_MD)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
