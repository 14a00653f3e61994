"""A throwaway PostgreSQL server for the tests, run from the machine's own binaries.

`start()` runs `initdb` and `pg_ctl start` in a fresh folder under the system's temporary
folder and listens only on a Unix socket in that folder (no TCP port, so nothing else on
the machine can reach it and no port can be taken). PostgreSQL refuses to run as root:
under root the folder belongs to a dedicated system user (created once, idempotently) and
the server runs as that user through `runuser`. Each test gets its own database
(`create_database`), made from a template in a few tens of milliseconds.

Where no server binaries are found, `start` raises `Unavailable` with the reason; the
fixture in conftest.py turns that into one skip line, or into a failure when
MEA_CULPA_REQUIRE_POSTGRES=1 (as CI sets it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REQUIRE_ENV = "MEA_CULPA_REQUIRE_POSTGRES"
BINDIR_ENV = "MEA_CULPA_PG_BINDIR"  # where initdb and pg_ctl are, when they are nowhere usual
SERVER_USER = "mea-culpa-pg"  # the system user that runs the server when the tests run as root
SUPERUSER = "postgres"  # the database role initdb creates (trust authentication, socket only)
PORT = 5432  # only names the socket file: the server listens on no TCP port


class Unavailable(Exception):
    """No PostgreSQL server can be started here; the message says why."""


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: $MEA_CULPA_PG_BINDIR, the PATH, `pg_config
    --bindir`, then Debian's /usr/lib/postgresql/N/bin (newest first) and the usual
    prefixes of other systems."""
    candidates: list[Path] = []
    if os.environ.get(BINDIR_ENV):
        candidates.append(Path(os.environ[BINDIR_ENV]))
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            candidates.append(Path(out.stdout.strip()))

    def version(path: str) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path))

    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/local/opt/postgresql*/bin", "/opt/homebrew/opt/postgresql*/bin"):
        candidates += [Path(p) for p in sorted(glob.glob(pattern), key=version, reverse=True)]
    candidates += [Path("/usr/local/pgsql/bin"), Path("/usr/pgsql/bin")]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _ensure_server_user() -> None:
    """Create the system user that runs the server under root, unless it exists already
    (two test runs may both try: the second `useradd` fails, and the user is there)."""
    import pwd

    with contextlib.suppress(KeyError):
        pwd.getpwnam(SERVER_USER)
        return
    useradd = shutil.which("useradd")
    if useradd is None:
        raise Unavailable(f"running as root, and there is no useradd to create the user {SERVER_USER} that PostgreSQL must run as")
    proc = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", SERVER_USER],
        capture_output=True, text=True, timeout=30,
    )
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise Unavailable(f"could not create the system user {SERVER_USER}: {proc.stderr.strip()}") from None


class PostgresServer:
    """One server in its own folder. `url(db)` is what mea-culpa is given."""

    def __init__(self, bindir: Path, folder: Path, run_as: str | None) -> None:
        self.bindir = bindir
        self.folder = folder
        self.data = folder / "data"
        self.log = folder / "server.log"
        self.run_as = run_as

    # --- running the binaries -------------------------------------------------------------

    def _command(self, *args: str) -> list[str]:
        if self.run_as is None:
            return list(args)
        runuser = shutil.which("runuser")
        if runuser is None:
            raise Unavailable("running as root, and there is no runuser to start PostgreSQL as another user")
        return [runuser, "-u", self.run_as, "--", *args]

    def _run(self, *args: str, timeout: float = 60) -> None:
        proc = subprocess.run(self._command(*args), capture_output=True, text=True, timeout=timeout, cwd=self.folder)
        if proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            log = self.log.read_text(errors="replace").strip().splitlines()[-3:] if self.log.exists() else []
            raise Unavailable(f"{Path(args[0]).name} failed: {' / '.join(detail[-2:] + log)}")

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )

    def start(self) -> None:
        # Durability is not what these tests check: without fsync a test database costs
        # milliseconds. The socket lives in the private folder; no TCP port is opened.
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.folder}' -c port={PORT}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=60"
        )
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                  "-o", options, "start", timeout=90)

    def stop(self) -> None:
        """Stop the server at once (open connections are cut, as when a server goes away)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=90)

    def is_running(self) -> bool:
        proc = subprocess.run(self._command(str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"),
                              capture_output=True, text=True, timeout=30, cwd=self.folder)
        return proc.returncode == 0

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    # --- databases ------------------------------------------------------------------------

    def url(self, database: str, *, driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{SUPERUSER}@/{database}?host={self.folder}&port={PORT}"

    @contextlib.contextmanager
    def admin(self) -> Iterator[Any]:
        """A psycopg connection to the `postgres` database, in autocommit (CREATE DATABASE
        cannot run inside a transaction)."""
        import psycopg

        conn = psycopg.connect(host=str(self.folder), port=PORT, user=SUPERUSER, dbname="postgres", autocommit=True)
        try:
            yield conn
        finally:
            conn.close()

    def create_database(self, name: str, *, template: str = "template0") -> str:
        """A new database (a copy of `template`); returns its URL."""
        from psycopg import sql

        with self.admin() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, cutting any connection a test left open."""
        from psycopg import sql

        with self.admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def has_database(self, name: str) -> bool:
        with self.admin() as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def start() -> PostgresServer:
    """Initialise and start a server in a new temporary folder; Unavailable if it cannot be."""
    bindir = find_bindir()
    if bindir is None:
        raise Unavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl) found on PATH, by pg_config or in /usr/lib/postgresql/*/bin;"
            f" install PostgreSQL (Debian: apt-get install postgresql) or set {BINDIR_ENV}"
        )
    try:
        import psycopg  # noqa: F401  (the tests talk to the server through it)
    except ImportError:
        raise Unavailable("psycopg is not installed; install the test extra: pip install -e '.[test]'") from None
    run_as = None
    # A short folder name: a Unix socket path must stay under about 100 bytes.
    folder = Path(tempfile.mkdtemp(prefix="mcpg-", dir="/tmp" if os.path.isdir("/tmp") else None))
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        _ensure_server_user()
        run_as = SERVER_USER
        shutil.chown(folder, user=SERVER_USER, group=SERVER_USER)
    server = PostgresServer(bindir, folder, run_as)
    started = time.monotonic()
    try:
        server.init()
        server.start()
    except (Unavailable, OSError, subprocess.SubprocessError) as exc:
        server.remove()
        raise Unavailable(f"PostgreSQL from {bindir} did not start: {exc}") from None
    server.started_in = time.monotonic() - started  # type: ignore[attr-defined]
    return server
