"""Writing output files: all or nothing, never over an existing file without --force, and
one clear line when the system refuses."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from mea_culpa import files
from mea_culpa.errors import StorageError, UsageError


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_writes_the_text_as_utf8(tmp_path):
    target = tmp_path / "report.md"
    files.write_atomic(target, "Café ☕\nline two\n")
    assert target.read_bytes() == "Café ☕\nline two\n".encode()
    assert leftovers(tmp_path) == []


def test_refuses_to_overwrite_without_force(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("keep me", encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        files.write_atomic(target, "new")
    assert str(caught.value) == f"{target} exists; pass --force to overwrite"
    assert target.read_text(encoding="utf-8") == "keep me"
    assert leftovers(tmp_path) == []


def test_force_replaces_the_file_and_keeps_its_permissions(tmp_path):
    target = tmp_path / "report.md"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    files.write_atomic(target, "new", force=True)
    assert target.read_text(encoding="utf-8") == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_new_file_gets_ordinary_permissions_not_the_temp_files(tmp_path):
    target = tmp_path / "report.md"
    old = os.umask(0o022)
    try:
        files.write_atomic(target, "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_file_that_appears_meanwhile_is_not_replaced(tmp_path, monkeypatch):
    target = tmp_path / "report.md"
    real_link = os.link

    def racing_link(src, dst):
        Path(dst).write_text("someone else's", encoding="utf-8")
        return real_link(src, dst)

    monkeypatch.setattr(files.os, "link", racing_link)
    with pytest.raises(UsageError, match="exists; pass --force"):
        files.write_atomic(target, "mine")
    assert target.read_text(encoding="utf-8") == "someone else's"
    assert leftovers(tmp_path) == []


def test_works_where_hard_links_are_not_supported(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(files.os, "link", no_links)
    files.write_atomic(tmp_path / "report.md", "x")
    assert (tmp_path / "report.md").read_text(encoding="utf-8") == "x"
    assert leftovers(tmp_path) == []


def test_a_full_disk_is_one_line_and_leaves_nothing_behind(tmp_path, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(StorageError) as caught:
        files.write_atomic(tmp_path / "report.md", "x")
    assert str(caught.value) == f"cannot write {tmp_path / 'report.md'}: No space left on device"
    assert not (tmp_path / "report.md").exists()
    assert leftovers(tmp_path) == []


def test_a_folder_without_permission_is_one_line(tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", denied)
    with pytest.raises(StorageError, match=r"^cannot write .*report\.md: Permission denied$"):
        files.write_atomic(tmp_path / "report.md", "x")


def test_a_missing_folder_is_named(tmp_path):
    with pytest.raises(StorageError, match="the folder .*nowhere does not exist"):
        files.write_atomic(tmp_path / "nowhere" / "report.md", "x")


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(UsageError, match="is a folder; name a file to write"):
        files.write_atomic(tmp_path, "x", force=True)


def test_a_relative_name_writes_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files.write_atomic(Path("here.txt"), "x")
    assert (tmp_path / "here.txt").read_text(encoding="utf-8") == "x"
