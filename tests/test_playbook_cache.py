"""Stored playbooks (playbook_cache.py): used only while everything validation read is unchanged."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mea_culpa import cache
from mea_culpa.playbook import catalog
from mea_culpa.playbook import playbook_cache
from mea_culpa.errors import PlaybookError
from mea_culpa.playbook.model import load as full_load

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent


def new_process() -> None:
    """Forget what this process holds, as a new run would, after saving it as one does at exit."""
    for store in cache.DiskCache._open.values():
        store.save()
    cache.DiskCache._open.clear()


class Validated(Exception):
    """Raised instead of validating, to tell a load from the store from a fresh one."""


def from_store(path: Path, *, templates: bool = True) -> bool:
    """Whether a new process would take this playbook from the store (the validator is
    replaced by one that refuses to run)."""
    import mea_culpa.playbook.format as fmt

    new_process()
    real = fmt.load

    def refuse(*args: object, **kwargs: object) -> None:
        raise Validated

    fmt.load = refuse  # type: ignore[assignment]
    try:
        playbook_cache.load(path, templates=templates)
    except Validated:
        return False
    finally:
        fmt.load = real
    return True


@pytest.fixture
def own_playbook(tmp_path: Path) -> Path:
    """A built-in playbook in a folder of its own, where templates can appear beside it."""
    folder = tmp_path / "books"
    folder.mkdir()
    target = folder / "general.yaml"
    shutil.copy(REPO / "playbooks" / "general.yaml", target)
    return target


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "playbooks").glob("*.yaml")))
def test_a_stored_builtin_equals_a_fresh_validation(name: str) -> None:
    path = REPO / "playbooks" / f"{name}.yaml"
    first = playbook_cache.load(path)
    assert from_store(path)
    again = playbook_cache.load(path)
    assert again == first == full_load(path)
    assert again.content_hash == first.content_hash and again.path == path


def test_an_edited_playbook_is_validated_again_even_at_the_same_size(own_playbook: Path) -> None:
    playbook_cache.load(own_playbook)
    text = own_playbook.read_text(encoding="utf-8")
    stat = own_playbook.stat()
    edited = text.replace("title: ", "title= ", 1)  # same length, and no longer valid YAML for the key
    assert len(edited) == len(text)
    own_playbook.write_text(edited, encoding="utf-8")
    os.utime(own_playbook, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even the same time stamp
    new_process()
    with pytest.raises(PlaybookError):
        playbook_cache.load(own_playbook)


def test_a_template_added_beside_the_playbook_is_noticed(own_playbook: Path) -> None:
    book = playbook_cache.load(own_playbook)
    template = book.messages[0].template
    name = template if template.endswith(".j2") else f"{template}.j2"
    assert from_store(own_playbook)
    # a template of the same name beside the playbook now wins over the built-in, and it
    # reads a name no step has: validation must see it
    (own_playbook.parent / name).write_text("Dear {{ nobody_answered_this }}\n", encoding="utf-8")
    new_process()
    with pytest.raises(PlaybookError, match="nobody_answered_this"):
        playbook_cache.load(own_playbook)


def test_a_template_changed_or_removed_is_noticed(own_playbook: Path) -> None:
    book = playbook_cache.load(own_playbook)
    template = book.messages[0].template
    name = template if template.endswith(".j2") else f"{template}.j2"
    beside = own_playbook.parent / name
    beside.write_text("Sorry.\n", encoding="utf-8")
    new_process()
    playbook_cache.load(own_playbook)
    assert from_store(own_playbook)
    beside.write_text("Sorry, {{ nobody_answered_this }}.\n", encoding="utf-8")
    new_process()
    with pytest.raises(PlaybookError, match="nobody_answered_this"):
        playbook_cache.load(own_playbook)
    beside.unlink()
    new_process()
    assert playbook_cache.load(own_playbook) == full_load(own_playbook)


def test_a_damaged_store_is_only_a_miss(own_playbook: Path, isolated_home: Path) -> None:
    expected = playbook_cache.load(own_playbook)
    new_process()
    store = isolated_home / "cache" / "playbooks.marshal"
    assert store.exists()
    store.write_bytes(b"\x00not marshal at all")
    assert playbook_cache.load(own_playbook) == expected
    new_process()
    assert playbook_cache.load(own_playbook) == expected  # and it was written afresh
    assert from_store(own_playbook)


def test_a_store_others_can_write_is_not_read(own_playbook: Path, isolated_home: Path) -> None:
    playbook_cache.load(own_playbook)
    new_process()
    store = isolated_home / "cache" / "playbooks.marshal"
    store.chmod(0o666)
    assert not from_store(own_playbook)
    assert playbook_cache.load(own_playbook) == full_load(own_playbook)


def test_found_and_fully_checked_loads_are_kept_apart(own_playbook: Path) -> None:
    """A load that only found the templates must not stand in for one that analysed them."""
    playbook_cache.load(own_playbook, templates=False)
    book = playbook_cache.load(own_playbook)
    template = book.messages[0].template
    name = template if template.endswith(".j2") else f"{template}.j2"
    (own_playbook.parent / name).write_text("{{ nobody_answered_this }}\n", encoding="utf-8")
    new_process()
    assert playbook_cache.load(own_playbook, templates=False).id == book.id  # found, not analysed: fine
    with pytest.raises(PlaybookError, match="nobody_answered_this"):
        playbook_cache.load(own_playbook)


def test_a_missing_file_reports_as_the_validator_does(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError) as from_store:
        playbook_cache.load(tmp_path / "gone.yaml")
    with pytest.raises(PlaybookError) as direct:
        full_load(tmp_path / "gone.yaml")
    assert str(from_store.value) == str(direct.value)


def test_resolving_by_id_uses_the_store(tmp_path: Path) -> None:
    first = catalog.resolve("general")
    new_process()
    assert catalog.resolve("general") == first


def test_a_fully_checked_playbook_serves_a_load_that_only_finds_templates(own_playbook: Path) -> None:
    """`start` checks everything; the `draft` and `export` after it need not validate again."""
    book = playbook_cache.load(own_playbook)
    assert from_store(own_playbook, templates=False)
    assert playbook_cache.load(own_playbook, templates=False) == book


def test_a_stored_playbook_keeps_the_path_it_is_named_by(own_playbook: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same file reached from another folder by another relative path: its folder (where
    its templates are looked for) must be the one that path names."""
    monkeypatch.chdir(own_playbook.parent)
    first = playbook_cache.load(Path("general.yaml"))
    assert first.path == Path("general.yaml")
    elsewhere = own_playbook.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert from_store(Path("../general.yaml"))
    again = playbook_cache.load(Path("../general.yaml"))
    assert again.path == Path("../general.yaml")
    assert again.folder is not None and again.folder.resolve() == own_playbook.parent.resolve()
    assert again == full_load(Path("../general.yaml"))


def test_a_template_beside_a_playbook_named_relatively_is_checked_from_any_folder(own_playbook: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(own_playbook.parent)
    (own_playbook.parent / "customer-apology.j2").write_text("Sorry, {{ recipient_name or 'you' }}.\n", encoding="utf-8")
    playbook_cache.load(Path("general.yaml"))
    elsewhere = own_playbook.parent / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert from_store(Path("../general.yaml"))  # the same files, checked where they are
    (own_playbook.parent / "customer-apology.j2").write_text("Sorry, {{ nobody_answered_this }}.\n", encoding="utf-8")
    new_process()
    with pytest.raises(PlaybookError, match="nobody_answered_this"):
        playbook_cache.load(Path("../general.yaml"))
