"""Where things live: the home, the playbook search path and the built-in data.

Every location can be moved by an environment variable, so that tests (and careful users)
can point the whole tool somewhere else with one setting.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "MEA_CULPA_HOME"
PATH_ENV = "MEA_CULPA_PATH"
CONFIG_ENV = "MEA_CULPA_CONFIG"
APP_NAME = "mea-culpa"

_PACKAGE = Path(__file__).resolve().parent


def _builtin_dir(name: str) -> Path:
    # In a wheel the data sits inside the package (hatch force-include); in an editable
    # install or a checkout it sits at the top of the repository, two levels above.
    packaged = _PACKAGE / "_data" / name
    if packaged.is_dir():
        return packaged
    return _PACKAGE.parent.parent / name


def builtin_playbooks_dir() -> Path:
    """The folder holding the playbooks shipped with mea-culpa."""
    return _builtin_dir("playbooks")


def builtin_templates_dir() -> Path:
    """The folder holding the message and export templates shipped with mea-culpa."""
    return _builtin_dir("templates")


def home() -> Path:
    """The folder for all state: the journal and anything else mea-culpa writes."""
    value = os.environ.get(HOME_ENV)
    if value:
        return Path(value).expanduser()
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def make_home() -> Path:
    """The home, created private to the user (0700) if it is not there yet: it holds what
    they typed. Whatever writes under the home creates it through here (folders above it
    get the usual permissions; an existing home is left as it is). Raises OSError."""
    folder = home()
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)  # exist_ok: made meanwhile, by another run
    return folder


def journal_path() -> Path:
    """The SQLite journal file."""
    return home() / "journal.sqlite3"


def user_config_dir() -> Path:
    """The per-user configuration folder; its `playbooks/` is on the search path."""
    value = os.environ.get(CONFIG_ENV)
    if value:
        return Path(value).expanduser()
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


@dataclass(frozen=True, slots=True)
class PlaybookSource:
    """One folder on the playbook search path, and why it is there."""

    path: Path
    origin: str  # "--playbooks", "MEA_CULPA_PATH", "project", "user", "built-in"


def playbook_search_path(extra: tuple[Path, ...] = (), cwd: Path | None = None) -> list[PlaybookSource]:
    """The folders searched for playbooks, earliest first; an earlier id shadows a later one."""
    sources = [PlaybookSource(Path(p).expanduser(), "--playbooks") for p in extra]
    for part in os.environ.get(PATH_ENV, "").split(os.pathsep):
        if part.strip():
            sources.append(PlaybookSource(Path(part).expanduser(), PATH_ENV))
    sources.append(PlaybookSource((cwd or Path.cwd()) / ".mea-culpa" / "playbooks", "project"))
    sources.append(PlaybookSource(user_config_dir() / "playbooks", "user"))
    sources.append(PlaybookSource(builtin_playbooks_dir(), "built-in"))
    return sources


class PathEscape(ValueError):
    """A file name that would leave the folder it must stay in."""


def resolve_inside(root: Path, name: str) -> Path | None:
    """`root/name` if it exists and stays inside `root` (no `..`, no absolute path, no
    symlink out); None if it does not exist; PathEscape if it would leave `root`."""
    check_relative(name)
    shown = _shown(name)
    full = root / name
    try:
        if not full.exists():
            return None
        real_root = root.resolve()
        real = full.resolve()
    except (OSError, RuntimeError, ValueError):  # a name too long, a link loop…: not a file we can use
        return None
    if real != real_root and real_root not in real.parents:
        raise PathEscape(f"{shown} is a link that leads outside its folder; copy the file in instead")
    return full


def check_relative(name: str) -> None:
    """PathEscape unless `name` is a relative path that stays below its folder by its
    spelling alone (no NUL, no absolute path or drive, no `..`)."""
    shown = _shown(name)
    if "\0" in name:
        raise PathEscape(f"{shown} contains a NUL character; name a file inside the playbook's folder")
    if Path(name).is_absolute() or name.startswith(("/", "\\")) or name[1:2] == ":":
        raise PathEscape(f"{shown} is an absolute path; name a file inside the playbook's folder")
    if ".." in Path(name).parts or ".." in name.replace("\\", "/").split("/"):
        raise PathEscape(f"{shown} climbs out with '..'; name a file inside the playbook's folder")


def _shown(name: str, limit: int = 80) -> str:
    text = repr(name)
    return text if len(text) <= limit else text[: limit - 2] + "…'"
