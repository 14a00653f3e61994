"""Reading and writing files safely. Reading: one open, the opened file checked (a regular
file, within a size), links not followed where a folder may be shared. Writing: all or
nothing, and never over a file the user did not say may go."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from mea_culpa.errors import StorageError, UsageError

# --- reading ---------------------------------------------------------------------------

# Opening never blocks (a FIFO opens at once, and then reads as what it is: not a file)
# and never makes a terminal ours.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CHUNK = 1 << 16


class NotReadable(Exception):
    """A file that cannot be read as asked; `str()` says why, in words for the user
    ("no such file", "is a FIFO, not a regular file", "file is too large (…)")."""


def describe_mode(mode: int) -> str:
    """What a file of this mode is, in words: "a FIFO (named pipe)", "a character device"…."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a link"
    return "not a regular file"


def _read_opened(fd: int, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """Check what `fd` is (a regular file within `max_bytes`) and read it: at most
    `max_bytes + 1` bytes, so that a file growing while it is read is refused too."""
    info = os.fstat(fd)
    if stat.S_ISDIR(info.st_mode):
        raise NotReadable("is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise NotReadable(f"is {describe_mode(info.st_mode)}, not a regular file")
    if info.st_size > max_bytes:
        raise NotReadable(f"file is too large ({info.st_size:,} bytes; the limit is {max_bytes:,})")
    chunks, total = [], 0
    while total <= max_bytes:
        chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > max_bytes:
        raise NotReadable(f"file is too large (more than {max_bytes:,} bytes; the limit is {max_bytes:,})")
    return b"".join(chunks), info


def _open_failed(exc: OSError, *, link_refused: bool) -> NotReadable:
    if isinstance(exc, FileNotFoundError):
        return NotReadable("no such file")
    if isinstance(exc, IsADirectoryError):
        return NotReadable("is a folder, not a file")
    if link_refused and exc.errno in (errno.ELOOP, errno.EMLINK):  # EMLINK: FreeBSD's O_NOFOLLOW
        return NotReadable("is a link; links are not followed here, so copy the file in instead")
    if exc.errno == errno.ENAMETOOLONG:
        return NotReadable("the name is too long for this system")
    return NotReadable(f"cannot read: {exc.strerror or exc}")


def read_file(path: Path, *, max_bytes: int, follow_links: bool = True) -> bytes:
    """The bytes of a regular file, opened once and checked on what was opened. Refuses
    (NotReadable) a folder, a FIFO, a device or a socket without waiting on it, a file
    over `max_bytes`, and with `follow_links=False` a link."""
    flags = _READ_FLAGS | (0 if follow_links else _NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _open_failed(exc, link_refused=not follow_links) from None
    except ValueError:  # a NUL in the name
        raise NotReadable("the name contains a NUL character") from None
    try:
        return _read_opened(fd, max_bytes)[0]
    except OSError as exc:
        raise NotReadable(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_below(root: Path, relative: str, *, max_bytes: int) -> tuple[bytes, os.stat_result]:
    """The bytes (and status) of `root/relative`, a regular file reached without following
    any link below `root`: each folder on the way and the file itself are opened relative
    to the one before, refusing links. Nothing can swap a link in between a check and the
    read, because nothing is checked apart from the read. `relative` must already be a
    plain relative name (paths.check_relative)."""
    parts = [p for p in relative.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        raise NotReadable("no such file")
    if os.open not in os.supports_dir_fd or not _NOFOLLOW:  # Windows: no openat; refuse the last link at least
        data = read_file(root.joinpath(*parts), max_bytes=max_bytes, follow_links=False)
        return data, os.stat(root.joinpath(*parts))
    try:
        current = os.open(root, os.O_RDONLY | _DIRECTORY)
    except OSError as exc:
        raise _open_failed(exc, link_refused=False) from None
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, os.O_RDONLY | _DIRECTORY | _NOFOLLOW, dir_fd=current)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    raise NotReadable(
                        f"passes through {part!r}, which is a link or not a folder; links are not followed here, so copy the files in instead"
                    ) from None
                raise _open_failed(exc, link_refused=True) from None
            os.close(current)
            current = inner
        try:
            fd = os.open(parts[-1], _READ_FLAGS | _NOFOLLOW, dir_fd=current)
        except OSError as exc:
            raise _open_failed(exc, link_refused=True) from None
        try:
            return _read_opened(fd, max_bytes)
        except OSError as exc:
            raise NotReadable(f"cannot read: {exc.strerror or exc}") from None
        finally:
            os.close(fd)
    finally:
        os.close(current)


# --- writing ---------------------------------------------------------------------------


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


def _shown(path: Path, limit: int = 80) -> str:
    text = str(path)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_output(path: Path, *, force: bool = False) -> str:
    """What writing to `path` would do, checked before any work is done: "new" (no such
    file yet), "replace" (a regular file, and `force` given), or "through" (a character
    device or a FIFO, such as /dev/stdout: written to as it is, never replaced). Raises a
    one-line UsageError for anything else: a folder, a socket, a block device, a name too
    long, an existing file without `force`."""
    try:
        info = os.stat(path)  # through a link: what it names is what would be written
    except FileNotFoundError:
        return "new"
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise UsageError(f"cannot write {_shown(path)}: the name is too long for this system; choose a shorter one") from None
        if exc.errno == errno.ENOTDIR:
            raise StorageError(f"cannot write {_shown(path)}: a part of the path is not a folder") from None
        raise StorageError(f"cannot write {_shown(path)}: {_why(exc)}") from None
    except ValueError:  # a NUL in the name
        raise UsageError(f"cannot write {_shown(path)}: the name contains a NUL character") from None
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{path} is a folder; name a file to write")
    if stat.S_ISCHR(info.st_mode) or stat.S_ISFIFO(info.st_mode):
        return "through"
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"{path} is {describe_mode(info.st_mode)}; name a regular file to write")
    if not force:
        raise UsageError(f"{path} exists; pass --force to overwrite")
    return "replace"


def _write_through(path: Path, text: str) -> None:
    """Write to a character device or a FIFO by opening it: /dev/stdout, a terminal, a
    pipe someone reads. Never waits for a reader that is not there."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise StorageError(f"cannot write {path}: nobody is reading from it") from None
        raise StorageError(f"cannot write {path}: {_why(exc)}") from None
    try:
        os.set_blocking(fd, True)
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
    except OSError as exc:
        raise StorageError(f"cannot write {path}: {_why(exc)}") from None
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str, *, force: bool = False) -> None:
    """Write `text` (UTF-8) to `path` through a temporary file in the same folder, so that
    a reader sees the old file or the new one, never half of one.

    Only a regular file is ever replaced (with `force`); through a link, the file it names
    is replaced and the link stays. A character device or a FIFO (/dev/stdout, a pipe) is
    opened and written to, never replaced. Refuses (UsageError) anything else, and an
    existing file without `force`; any failure of the system (disk full, no permission,
    missing folder) becomes a one-line StorageError."""
    path = Path(path)
    how = check_output(path, force=force)
    if how == "through":
        _write_through(path, text)
        return
    if how == "replace" and path.is_symlink():
        path = Path(os.path.realpath(path))
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise StorageError(f"cannot write {path}: the folder {folder} does not exist")
    try:
        mode = path.stat().st_mode & 0o777 if how == "replace" else _default_mode()
    except OSError:
        mode = _default_mode()
    try:
        fd, temp_name = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=folder)
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
        if how == "replace":
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
