"""Who is writing: the author a new session records, and the holder a lease names.

The name is MEA_CULPA_USER when set, else git's `user.name` (what a team already calls
each other in its commits), else the login name.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import socket
import subprocess

USER_ENV = "MEA_CULPA_USER"


def current_user() -> str:
    """The name of the person running mea-culpa."""
    name = os.environ.get(USER_ENV, "").strip()
    if name:
        return name
    git = shutil.which("git")
    if git:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            found = subprocess.run(
                [git, "config", "--get", "user.name"], capture_output=True, text=True, timeout=5,
                stdin=subprocess.DEVNULL,
            )
            if found.returncode == 0 and found.stdout.strip():
                return found.stdout.strip()
    with contextlib.suppress(Exception):  # getpass raises OSError, or KeyError without a passwd entry
        return getpass.getuser()
    return "unknown"


def this_host() -> str:
    return socket.gethostname() or "localhost"


def is_running(pid: int) -> bool:
    """Whether a process with this id is alive on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, and someone else's
    except OSError:
        return False
    return True
