"""Errors of the dataset layer.

Each error carries everything a user needs to act without reading a traceback: which
file, which checksum was expected, where to put the file, what setting to change.
"""

from __future__ import annotations


class DatasetError(RuntimeError):
    """Base class: something about a dataset's files prevents using it."""


class MissingDatasetFile(DatasetError):
    """A required file is absent and cannot be downloaded (manual source or no local copy)."""


class ChecksumMismatch(DatasetError):
    """A file's bytes differ from the expected checksum; the file was moved aside, not used."""

    def __init__(self, name: str, algorithm: str, expected: str, actual: str, moved_to: str | None):
        self.name, self.algorithm, self.expected, self.actual = name, algorithm, expected, actual
        self.moved_to = moved_to
        where = f"; the file was moved aside to {moved_to} and not used" if moved_to else "; it was not used"
        super().__init__(f"checksum mismatch for {name}: expected {algorithm} {expected}, got {actual}{where}")


class CorruptArchive(DatasetError):
    """An archive or data file cannot be read (truncated, corrupt, wrong format)."""


class UnsafeArchiveMember(DatasetError):
    """An archive member would escape the target directory (absolute path, '..', link)."""


class NoNetwork(DatasetError):
    """A download failed because the host cannot be reached."""
