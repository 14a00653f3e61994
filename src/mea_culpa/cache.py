"""Small on-disk caches under the home, for work whose result depends only on its input.

Used where start-up time matters: the shallow reading of playbook files for `list`, the
analysis of templates, and the code Jinja compiles. Each cache is one file, read once per
process and written once at exit (whole, through a temporary file and a rename). A cache
that cannot be read is empty; one that cannot be written only costs the time it saves.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import marshal
import os
import tempfile
from pathlib import Path
from typing import Any

_FORMATS = {"json": (lambda b: json.loads(b.decode("utf-8")), lambda d: json.dumps(d).encode("utf-8")),
            "marshal": (marshal.loads, marshal.dumps)}


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
        """The process's one instance of a cache; it is saved when the process exits."""
        cache = cls._open.get(name)
        if cache is None:
            cache = cls._open[name] = cls(name, version=version, fmt=fmt)
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

    def save(self) -> None:
        if not self.dirty or self.entries is None:
            return
        self.dirty = False
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
