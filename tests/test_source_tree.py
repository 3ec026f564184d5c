"""Archives are read safely: escaping members are refused, corrupt archives named."""

from __future__ import annotations

import io
import tarfile
import zipfile

import pytest

from vaerepro.data.errors import CorruptArchive, UnsafeArchiveMember
from vaerepro.data.source_tree import check_member_name, open_tree


@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/passwd", "C:/windows/x", "a\\..\\..\\x"])
def test_escaping_member_names_are_refused(name):
    with pytest.raises(UnsafeArchiveMember):
        check_member_name(name, "archive.zip")


def test_zip_with_traversal_member_is_refused(tmp_path):
    path = tmp_path / "bad.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("ok/1.png", b"fine")
        archive.writestr("../../escape.png", b"evil")
    with pytest.raises(UnsafeArchiveMember, match="escape"):
        open_tree(path)
    assert not (tmp_path.parent / "escape.png").exists()


def test_tar_with_traversal_member_is_refused(tmp_path):
    path = tmp_path / "bad.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(UnsafeArchiveMember):
        open_tree(path)


def test_tar_with_symlink_member_is_refused(tmp_path):
    path = tmp_path / "link.tar"
    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("data/passwd")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        archive.addfile(info)
    with pytest.raises(UnsafeArchiveMember, match="link"):
        open_tree(path)


def test_truncated_tar_is_a_clear_error(tmp_path):
    good = tmp_path / "good.tar.gz"
    with tarfile.open(good, "w:gz") as archive:
        data = bytes(range(256)) * 400
        info = tarfile.TarInfo("a/b.bin")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(CorruptArchive, match="truncated.tar.gz"):
        open_tree(truncated)


def test_corrupt_zip_is_a_clear_error(tmp_path):
    path = tmp_path / "corrupt.zip"
    path.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(CorruptArchive, match="corrupt.zip"):
        open_tree(path)


def test_directory_and_zip_list_the_same_names(tmp_path):
    root = tmp_path / "tree"
    (root / "x").mkdir(parents=True)
    (root / "x" / "1.png").write_bytes(b"one")
    (root / "2.png").write_bytes(b"two")
    with zipfile.ZipFile(tmp_path / "tree.zip", "w") as archive:
        archive.writestr("x/", b"")
        archive.writestr("x/1.png", b"one")
        archive.writestr("2.png", b"two")
    directory, zipped = open_tree(root), open_tree(tmp_path / "tree.zip")
    assert directory.names() == zipped.names() == ["2.png", "x/1.png"]
    assert directory.read("x/1.png") == zipped.read("x/1.png") == b"one"
