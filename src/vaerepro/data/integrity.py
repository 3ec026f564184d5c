"""Checksums and atomic file writes for the dataset layer.

Rules (DESIGN.md, data policy): a file is verified before it is used; a file that fails
verification is moved aside (never deleted, never used); nothing is ever written under
its final name until it is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from vaerepro.data.errors import ChecksumMismatch

CHUNK_BYTES = 1 << 20


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def file_digests(path: Path, algorithms: tuple[str, ...] = ("sha256", "md5")) -> dict[str, str]:
    """Hex digests of a file for each named algorithm, reading it once."""
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def bytes_digest(data: bytes, algorithm: str = "sha256") -> str:
    return hashlib.new(algorithm, data).hexdigest()


def move_aside(path: Path, actual_digest: str) -> Path:
    """Rename a rejected file to ``<name>.rejected-<digest[:12]>`` beside it and return the new path."""
    destination = path.with_name(f"{path.name}.rejected-{actual_digest[:12]}")
    os.replace(path, destination)
    return destination


def verify_file(
    path: Path,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    display_name: str | None = None,
    move_aside_on_mismatch: bool = True,
) -> dict[str, str]:
    """Check a file against the expected digests; on mismatch move it aside and raise.

    Returns the file's digests (``sha256`` and ``md5``) on success.

    Raises:
        ChecksumMismatch: naming the file and showing the expected and actual digest.
    """
    digests = file_digests(path)
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected is not None and digests[algorithm] != expected.lower():
            moved = move_aside(path, digests["sha256"]) if move_aside_on_mismatch else None
            raise ChecksumMismatch(
                display_name or str(path),
                algorithm,
                expected.lower(),
                digests[algorithm],
                str(moved) if moved else None,
            )
    return digests


@contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary directory beside ``final``; on success it replaces ``final``.

    On any exception the temporary directory is removed and ``final`` is left as it was,
    so an interrupted stage never leaves a half-written output that looks complete.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    temporary.chmod(0o777 & ~_umask())  # mkdtemp creates 0700; outputs should be readable like any file
    try:
        yield temporary
        if final.exists():
            shutil.rmtree(final)
        os.replace(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


@contextmanager
def atomic_file(final: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``final``; it is renamed to ``final`` only on success."""
    final.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary_name = tempfile.mkstemp(prefix=f".{final.name}.partial-", dir=final.parent)
    temporary = Path(temporary_name)
    temporary.chmod(0o666 & ~_umask())  # mkstemp creates 0600
    try:
        with os.fdopen(descriptor, mode) as handle:
            yield handle
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically, with sorted keys so equal content gives equal bytes (stable DVC hashes)."""
    with atomic_file(path, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")
