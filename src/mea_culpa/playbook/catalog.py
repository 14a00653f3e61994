"""Finding playbooks along the search path, and resolving what the user named.

Listing reads each file shallowly (id, title, summary, stage count) without Jinja, so
`mea-culpa list` stays fast; resolving a playbook validates it fully.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mea_culpa.errors import MeaCulpaError, NotFound, UsageError
from mea_culpa.paths import PlaybookSource, playbook_search_path

if TYPE_CHECKING:
    from mea_culpa.playbook.model import Playbook


def load(path: Path, *, templates: bool = True, template_names: bool = True) -> Playbook:
    """Full validation (loading.load); imported only when a playbook is really
    loaded: `list` reads files shallowly and need not pay for the validator."""
    from mea_culpa.playbook.loading import load as full_load

    return full_load(path, templates=templates, template_names=template_names)


PLAYBOOK_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class Entry:
    """A playbook file found on the search path, read shallowly."""

    id: str
    title: str
    summary: str
    stages: int
    path: Path
    origin: str
    problem: str = ""  # set when the file could not be read; `validate` gives the details
    shadowed_by: str | None = None  # the origin of the entry that hides this one
    tags: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "summary": self.summary,
            "stages": self.stages,
            "source": self.origin,
            "path": str(self.path),
            "tags": list(self.tags),
        }
        if self.shadowed_by:
            out["shadowed_by"] = self.shadowed_by
        if self.problem:
            out["problem"] = self.problem
        return out


def _files(folder: Path) -> Iterable[Path]:
    """Playbook files in a folder: `*.yaml` at the top, or `<name>/playbook.yaml` for a
    playbook that keeps its own templates beside it."""
    found = []
    try:  # a folder on the path that cannot be read (another user's, say) holds nothing for us
        if not folder.is_dir():
            return []
        for child in sorted(folder.iterdir()):
            if child.is_file() and child.suffix in PLAYBOOK_SUFFIXES:
                found.append(child)
            elif child.is_dir():
                for name in ("playbook.yaml", "playbook.yml"):
                    if (child / name).is_file():
                        found.append(child / name)
                        break
    except OSError:
        return []
    return found


def _read_plain(path: Path) -> Any:
    """The file's data for listing: read by yamlfile like any playbook (bounded in size
    before and after aliases are expanded, in depth, plain data only), not yet validated.
    Problems raise YamlProblems."""
    from mea_culpa import yamlfile

    return yamlfile.load(path).data


def _read_shallow(path: Path, origin: str) -> Entry:
    from mea_culpa import yamlfile

    fallback = path.parent.name if path.stem == "playbook" else path.stem
    try:
        data = _read_plain(path)
    except yamlfile.YamlProblems as exc:
        return Entry(fallback, "", "", 0, path, origin, problem=exc.diagnostics[0].message)
    if not isinstance(data, dict):
        return Entry(fallback, "", "", 0, path, origin, problem="not a playbook (expected a mapping)")
    stages = data.get("stages")
    tags = data.get("tags")
    return Entry(
        id=str(data.get("id") or fallback),
        title=str(data.get("title") or ""),
        summary=str(data.get("summary") or "").strip(),
        stages=len(stages) if isinstance(stages, list) else 0,
        path=path,
        origin=origin,
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
    )


_TOP_ID = re.compile(r"""(?m)^id:[ \t]*(["']?)([a-z0-9]+(?:-[a-z0-9]+)*)\1[ \t]*(?:#.*)?$""")


def _quick_id(path: Path) -> str | None:
    """A playbook's id from its top-level `id:` line, without parsing the YAML (None when
    the line is not in the plain form, and the file must be read properly)."""
    from mea_culpa.files import NotReadable, read_file
    from mea_culpa.yamlfile import MAX_BYTES

    try:  # a regular file within the playbook limit, or the full reading says what is wrong
        head = read_file(path, max_bytes=MAX_BYTES)[:65536].decode("utf-8-sig", errors="replace")
    except NotReadable:
        return None
    match = _TOP_ID.search(head)
    return match.group(2) if match else None


def entries(extra: tuple[Path, ...] = (), *, include_shadowed: bool = True) -> list[Entry]:
    """Every playbook on the search path, earliest source first; later duplicates of an id
    are marked as shadowed."""
    out: list[Entry] = []
    winner: dict[str, Entry] = {}
    for source in playbook_search_path(extra):
        for path in _files(source.path):
            entry = _read_shallow(path, source.origin)
            if entry.id in winner:
                entry = replace(entry, shadowed_by=f"{winner[entry.id].origin} ({winner[entry.id].path})")
                if include_shadowed:
                    out.append(entry)
                continue
            winner[entry.id] = entry
            out.append(entry)
    return out


def _looks_like_path(name: str) -> bool:
    return "/" in name or "\\" in name or name.endswith(PLAYBOOK_SUFFIXES) or name.startswith(".")


def resolve(name: str, extra: tuple[Path, ...] = (), *, templates: bool = True, template_names: bool = True) -> Playbook:
    """The playbook the user named: a file path, or an id on the search path (validated;
    see `playbook.load` for `templates`)."""
    if _looks_like_path(name):
        path = Path(name).expanduser()
        try:
            missing = not path.exists()
        except OSError:  # a name too long, say: reading it says what is wrong, on one line
            missing = False
        if missing:
            raise NotFound(f"no playbook file {name!r}", hint="give a path to a .yaml file, or an id from: mea-culpa list")
        return load(path, templates=templates, template_names=template_names)
    # The first file on the search path with this id wins, as in `list`; most files say
    # their id on a plain line, so they need not be parsed to be skipped.
    for source in playbook_search_path(extra):
        for path in _files(source.path):
            found = _quick_id(path)
            if found is None:
                found = _read_shallow(path, source.origin).id
            if found == name:
                return load(path, templates=templates, template_names=template_names)
    import difflib

    ids = [e.id for e in entries(extra, include_shadowed=False)]
    close = difflib.get_close_matches(name, ids, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise NotFound(f"no playbook {name!r} on the search path", hint=f"{hint}see them all with: mea-culpa list")


def playbook_for_session(session: Any, extra: tuple[Path, ...] = (), *, templates: bool = False) -> tuple[Playbook, bool]:
    """The playbook a session was run with, and whether it changed since (content hash).
    Prefers the file it was started from; falls back to its id on the search path.
    Templates are only found, not analysed (see `playbook.load`): a draft reports a bad
    template when it renders it."""
    path = Path(session.playbook_path) if session.playbook_path else None
    playbook = None
    problem: MeaCulpaError | None = None
    if path is not None and path.is_file():
        try:
            playbook = load(path, templates=templates)
        except MeaCulpaError as exc:
            problem = exc
    if playbook is None:
        try:
            playbook = resolve(session.playbook_id, extra, templates=templates)
        except NotFound:
            if problem is not None:  # the file is there, but no longer valid: say why
                raise problem from None
            raise UsageError(
                f"the playbook {session.playbook_id!r} of session {session.id} can no longer be found",
                hint="put it back on the search path, or pass its folder with --playbooks DIR",
            ) from None
    return playbook, playbook.content_hash != session.playbook_hash


def sources(extra: tuple[Path, ...] = ()) -> list[PlaybookSource]:
    """The search path, for `list --verbose` and error hints."""
    return playbook_search_path(extra)
