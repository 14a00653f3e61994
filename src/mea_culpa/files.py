"""Writing output files safely: all or nothing, and never over a file the user did not
say may go."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from mea_culpa.errors import StorageError, UsageError


def _default_mode() -> int:
    # mkstemp creates files only the owner can read; an exported report should get the
    # permissions any new file would get (0o666 less the umask).
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_folder(folder: Path) -> None:
    # So that the rename itself survives a crash; not possible on every system.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def write_atomic(path: Path, text: str, *, force: bool = False) -> None:
    """Write `text` (UTF-8) to `path` through a temporary file in the same folder, so that
    a reader sees the old file or the new one, never half of one.

    Refuses (UsageError) to replace an existing file unless `force`; any failure of the
    system (disk full, no permission, missing folder) becomes a one-line StorageError."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{path} is a folder; name a file to write")
    if path.exists() and not force:
        raise UsageError(f"{path} exists; pass --force to overwrite")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise StorageError(f"cannot write {path}: the folder {folder} does not exist")
    try:
        mode = path.stat().st_mode & 0o777 if path.exists() else _default_mode()
    except OSError:
        mode = _default_mode()
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {_why(exc)}") from None
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):
            os.chmod(temp, mode)
        if force:
            os.replace(temp, path)
        else:
            _place_new(temp, path)
        _fsync_folder(folder)
    except FileExistsError:
        temp.unlink(missing_ok=True)
        raise UsageError(f"{path} exists; pass --force to overwrite") from None
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise StorageError(f"cannot write {path}: {_why(exc)}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _place_new(temp: Path, path: Path) -> None:
    """Move `temp` to `path` only if `path` still does not exist: a hard link fails when
    the name is taken, so a file created meanwhile is never replaced."""
    try:
        os.link(temp, path)
    except FileExistsError:
        raise
    except OSError:
        # Some file systems have no hard links; check again and rename.
        if path.exists():
            raise FileExistsError(str(path)) from None
        os.replace(temp, path)
        return
    temp.unlink(missing_ok=True)
