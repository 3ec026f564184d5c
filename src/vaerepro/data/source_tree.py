"""Read dataset files from a directory, a zip archive or a (compressed) tar archive alike.

Raw datasets are kept as distributed (archives are not extracted onto disk); readers walk
them through this one interface. Every member name is checked: an absolute path, a '..'
component, or a link member makes the whole archive refused (:class:`UnsafeArchiveMember`),
so a malicious archive can never place or read files outside its own tree. A truncated or
corrupt archive raises :class:`CorruptArchive` with the archive's name.
"""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from vaerepro.data.errors import CorruptArchive, UnsafeArchiveMember


def check_member_name(name: str, archive: str) -> str:
    """Return the normalised member name, or raise if it would escape the archive's root."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveMember(f"refusing {archive}: member '{name}' has an absolute path")
    if ".." in path.parts:
        raise UnsafeArchiveMember(f"refusing {archive}: member '{name}' escapes the target directory")
    return str(path)


class SourceTree:
    """A read-only tree of files: ``names()`` lists regular files (posix-style relative paths)."""

    def names(self) -> list[str]:
        raise NotImplementedError

    def read(self, name: str) -> bytes:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> SourceTree:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class DirectoryTree(SourceTree):
    def __init__(self, root: Path):
        self.root = root

    def names(self) -> list[str]:
        return sorted(
            str(path.relative_to(self.root).as_posix())
            for path in self.root.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        )

    def read(self, name: str) -> bytes:
        return (self.root / check_member_name(name, str(self.root))).read_bytes()


class ZipTree(SourceTree):
    def __init__(self, path: Path):
        self.label = path.name
        try:
            self.archive = zipfile.ZipFile(path)
            infos = self.archive.infolist()
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise CorruptArchive(f"cannot read zip archive {path}: {error}") from error
        self._names = {}
        for info in infos:
            name = check_member_name(info.filename, self.label)
            is_symlink = (info.external_attr >> 16) & 0o170000 == 0o120000
            if is_symlink:
                raise UnsafeArchiveMember(f"refusing {self.label}: member '{info.filename}' is a link")
            if not info.is_dir():
                self._names[name] = info

    def names(self) -> list[str]:
        return sorted(self._names)

    def read(self, name: str) -> bytes:
        try:
            return self.archive.read(self._names[name])
        except (zipfile.BadZipFile, OSError, EOFError, KeyError) as error:
            raise CorruptArchive(f"cannot read '{name}' from {self.label}: {error}") from error

    def close(self) -> None:
        self.archive.close()


class TarTree(SourceTree):
    """A tar archive, read in one sequential pass (gzip'ed tars have no random access)."""

    def __init__(self, path: Path):
        self.label = path.name
        self._data: dict[str, bytes] = {}
        try:
            with tarfile.open(path, mode="r:*") as archive:
                for member in archive:
                    name = check_member_name(member.name, self.label)
                    if member.issym() or member.islnk():
                        raise UnsafeArchiveMember(f"refusing {self.label}: member '{member.name}' is a link")
                    if member.isfile():
                        handle = archive.extractfile(member)
                        assert handle is not None  # regular files always have a handle
                        self._data[name] = handle.read()
        except (tarfile.TarError, OSError, EOFError) as error:
            raise CorruptArchive(f"cannot read tar archive {path} (truncated or corrupt?): {error}") from error

    def names(self) -> list[str]:
        return sorted(self._data)

    def read(self, name: str) -> bytes:
        return self._data[name]


def is_archive(path: Path) -> bool:
    suffixes = "".join(path.suffixes[-2:]).lower()
    return path.suffix.lower() in (".zip", ".tar", ".tgz") or suffixes in (".tar.gz", ".tar.bz2", ".tar.xz")


def check_archive_members(path: Path) -> int:
    """Check every member name and type of a zip/tar archive without keeping its data; returns the count.

    ``download@`` calls this before it records an archive as verified, so an archive that would
    escape its tree is refused where it enters the pipeline, not later in ``prepare@``.
    """
    if path.suffix.lower() == ".zip":
        with ZipTree(path) as tree:
            return len(tree.names())
    count = 0
    try:
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive:
                check_member_name(member.name, path.name)
                if member.issym() or member.islnk():
                    raise UnsafeArchiveMember(f"refusing {path.name}: member '{member.name}' is a link")
                count += member.isfile()
    except (tarfile.TarError, OSError, EOFError) as error:
        raise CorruptArchive(f"cannot read tar archive {path} (truncated or corrupt?): {error}") from error
    return count


def open_tree(path: Path) -> SourceTree:
    """Open a directory, ``.zip`` or ``.tar``/``.tar.gz``/``.tgz`` as a :class:`SourceTree`."""
    if path.is_dir():
        return DirectoryTree(path)
    suffixes = "".join(path.suffixes[-2:]).lower()
    if path.suffix.lower() == ".zip":
        return ZipTree(path)
    if path.suffix.lower() in (".tar", ".tgz") or suffixes in (".tar.gz", ".tar.bz2", ".tar.xz"):
        return TarTree(path)
    raise CorruptArchive(f"{path} is neither a directory nor a zip/tar archive")


def iter_files(tree: SourceTree, directory: str, suffixes: tuple[str, ...]) -> Iterator[str]:
    """Member names directly inside ``directory`` (posix path relative to tree) with a given suffix."""
    prefix = directory.rstrip("/") + "/" if directory else ""
    for name in tree.names():
        if name.startswith(prefix) and "/" not in name[len(prefix) :] and name.lower().endswith(suffixes):
            yield name
