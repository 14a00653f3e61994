"""Small on-disk caches under the home, for work whose result depends only on its input.

Used where start-up time matters: the shallow reading of playbook files for `list`, the
analysis of templates, and the code Jinja compiles. Each cache is one file, read once per
process and written once at exit (whole, through a temporary file and a rename). A cache
that cannot be read is empty; one that cannot be written only costs the time it saves.
"""

from __future__ import annotations

import atexit
import contextlib
import marshal
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any


def _json_loads(data: bytes) -> Any:
    import json

    return json.loads(data.decode("utf-8"))


def _json_dumps(value: Any) -> bytes:
    import json

    return json.dumps(value).encode("utf-8")


_FORMATS: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes]]] = {
    "json": (_json_loads, _json_dumps),
    "marshal": (marshal.loads, marshal.dumps),
}


@lru_cache(maxsize=1)  # the code does not change while it runs
def code_stamp() -> str:
    """A fingerprint of mea-culpa's own code (every module's size and modification time):
    a cache filled by other code, an older release or an edited checkout, is not read.
    A few dozen stat calls, well under a millisecond."""
    package = Path(__file__).resolve().parent
    parts = []
    for folder in (package, *(p for p in package.iterdir() if p.is_dir() and (p / "__init__.py").exists())):
        for entry in os.scandir(folder):
            if entry.name.endswith(".py"):
                info = entry.stat()
                parts.append(f"{folder.name}/{entry.name}:{info.st_size}:{info.st_mtime_ns}")
    return ",".join(sorted(parts))


@lru_cache(maxsize=8)
def module_stamp(name: str) -> str:
    """A fingerprint of an installed library (its top file's size and modification time),
    found without importing it: an upgrade rewrites the file, and so the stamp."""
    from importlib.util import find_spec

    try:
        spec = find_spec(name)
        info = os.stat(spec.origin) if spec is not None and spec.origin else None
    except (ImportError, OSError, ValueError):
        info = None
    return f"{name}:{info.st_size}:{info.st_mtime_ns}" if info is not None else f"{name}:absent"


def stamp(*libraries: str) -> str:
    """What a cached result depends on besides its own input: mea-culpa's version and code,
    the Python that runs it, and the installed `libraries` that took part."""
    import sys

    from mea_culpa import __version__

    parts = [__version__, f"{sys.hexversion:x}", sys.implementation.cache_tag, *map(module_stamp, libraries), code_stamp()]
    return "/".join(parts)


class DiskCache:
    """A mapping kept in `<home>/cache/<name>`, tagged so that another version's file is
    ignored rather than misread. Values must suit the format (JSON data, or code objects
    and plain data for marshal)."""

    _open: dict[str, DiskCache] = {}

    def __init__(self, name: str, *, version: str, fmt: str = "json") -> None:
        from mea_culpa.paths import home

        self.path: Path = home() / "cache" / name
        self.version = version
        self.load_bytes, self.dump_bytes = _FORMATS[fmt]
        self.entries: dict[str, Any] | None = None
        self.dirty = False

    @classmethod
    def named(cls, name: str, *, version: str, fmt: str = "json") -> DiskCache:
        """The process's one instance of a cache (per home: a process that moves its home,
        as the tests do, gets the new home's); it is saved when the process exits."""
        from mea_culpa.paths import home

        where = str(home() / "cache" / name)
        cache = cls._open.get(where)
        if cache is None or cache.version != version:
            cache = cls._open[where] = cls(name, version=version, fmt=fmt)
            atexit.register(cache.save)
        return cache

    def _trusted(self) -> bool:
        """Whether the file and its folder are this user's own and nobody else can write
        them: a cache of compiled code in a shared home must not be a way to plant code."""
        if not hasattr(os, "getuid"):
            return False  # no POSIX ownership to tell (Windows): the cache is not read back
        try:
            for st in (self.path.parent.stat(), self.path.stat()):
                if st.st_uid != os.getuid() or st.st_mode & 0o022:
                    return False
        except OSError:
            return False
        return True

    def _data(self) -> dict[str, Any]:
        if self.entries is None:
            self.entries = {}
            if not self._trusted():
                return self.entries
            try:
                data = self.load_bytes(self.path.read_bytes())
            except (OSError, ValueError, EOFError, TypeError):
                return self.entries
            if isinstance(data, dict) and data.get("version") == self.version and isinstance(data.get("entries"), dict):
                self.entries = data["entries"]
        return self.entries

    def get(self, key: str) -> Any:
        return self._data().get(key)

    def put(self, key: str, value: Any) -> None:
        self._data()[key] = value
        self.dirty = True

    def get_for(self, key: str, content: bytes) -> Any:
        """What `put_for` stored under `key` from exactly these bytes (a file's content as it
        is now), or None: a file changed in any way, even keeping its size and time, misses."""
        entry = self.get(key)
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == content:
            return entry[1]
        return None

    def put_for(self, key: str, content: bytes, value: Any) -> None:
        """Store `value`, made from a file whose bytes are `content`, under `key`. The bytes
        are compared whole rather than hashed: exact, and cheaper than loading a hash
        library for files of a few kilobytes."""
        self.put(key, (content, value))

    def save(self) -> None:
        if not self.dirty or self.entries is None:
            return
        self.dirty = False
        import tempfile

        try:
            payload = self.dump_bytes({"version": self.version, "entries": self.entries})
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(payload)
                os.replace(tmp, self.path)  # two runs saving at once: the last whole file wins
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except (OSError, ValueError):
            pass
