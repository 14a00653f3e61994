"""Validated playbooks kept between runs, so that `start`, `resume`, `draft` and `export`
do not parse and validate the same file every time.

Validating the largest built-in costs a run about 45 ms (the YAML parser, the format
check, the analysis of every `when` and default); reading it back costs under one. A
stored playbook is used only when everything its validation looked at is unchanged: the
playbook's own bytes, and every template file it looked for, found or not (its bytes,
following links), so that a template added beside the playbook, edited or removed is
noticed. Bytes are compared whole (`DiskCache.get_for`), a few hundred kilobytes for all
the built-ins. The store is tagged with
mea-culpa's code, Python's version, Jinja's and PyYAML's, so an upgrade or an edited
checkout starts afresh.

Entries are pickled Playbook objects in a marshal file (one pickle per entry, so that a
run unpickles only its own playbook). Like the other caches it is read back only when the
file and its folder are this user's own and nobody else can write them (cache.DiskCache).
`validate` and `show` never use it: they always check the file itself.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mea_culpa.playbook.model import Playbook

# Bump when the shape of what is stored changes without a change of code (never so far).
_LAYOUT = "2"


def load(path: Path, *, templates: bool = True) -> Playbook:
    """`playbook.load(path, templates=...)`, from the store when nothing it read changed.

    A playbook stored after the full check also serves a load that only finds its
    templates (`draft` and `export` after `start`): passing the one implies the other, and
    the playbook built is the same."""
    try:
        data = path.read_bytes()
    except OSError:
        data = None  # let the full load report it, in its words
    where = os.path.abspath(path)
    key = f"{'full' if templates else 'found'}\0{where}"
    store = _store() if data is not None else None
    if store is not None and data is not None:
        for candidate in (key,) if templates else (key, f"full\0{where}"):
            found = _stored(store.get_for(candidate, data))
            if found is not None:
                # as named this time: the same file may be reached by another relative path
                return found if found.path == path else dataclasses.replace(found, path=path)
    from mea_culpa.paths import recording_probes
    from mea_culpa.playbook.model import load as full_load

    with recording_probes() as probes:
        book = full_load(path, templates=templates)
    if store is not None and data is not None:
        _remember(store, key, data, probes, book)
    return book


def _store() -> Any:
    from mea_culpa.cache import DiskCache, stamp

    return DiskCache.named("playbooks.marshal", version=f"{_LAYOUT}/{stamp('jinja2', 'yaml')}", fmt="marshal")


def _signature(path: Path) -> tuple[str, bytes | None]:
    """Where a probed path leads and what is there now (None when nothing is)."""
    try:
        real = os.path.realpath(path)
        with open(real, "rb") as handle:
            return real, handle.read()
    except (OSError, ValueError):
        return "", None


def _stored(entry: Any) -> Playbook | None:
    import pickle

    if entry is None:
        return None
    try:
        probes, pickled = entry
        for probe, real, content in probes:
            if _signature(Path(probe)) != (real, content):
                return None
        book: Playbook = pickle.loads(pickled)  # noqa: S301 - this user's own private cache (see module doc)
        return book
    except Exception:  # noqa: BLE001 - a damaged or foreign entry is only a miss
        return None


def _remember(store: Any, key: str, data: bytes, probes: list[Path], book: Playbook) -> None:
    import pickle

    try:
        pickled = pickle.dumps(book, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - a value pickle cannot hold: simply not stored
        return
    # absolute, so that a later run from another folder checks the same files
    signed = [(os.path.abspath(p), *_signature(p)) for p in dict.fromkeys(probes)]
    store.put_for(key, data, (signed, pickled))
