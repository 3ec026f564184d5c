"""Locating and checking pytorch-fid's FID Inception weights (never downloaded here).

The weights are the TensorFlow ``inception-2015-12-05`` graph that FID (Heusel et al. 2017)
and the Inception Score (Salimans et al. 2016) were defined with, as ported by pytorch-fid:
``pt_inception-2015-12-05-6726825d.pth``. Resolution order:

1. an explicit path argument;
2. the ``VAEREPRO_INCEPTION_WEIGHTS`` environment variable;
3. the torch hub cache, ``torch.hub.get_dir()/checkpoints/pt_inception-2015-12-05-6726825d.pth``
   (where pytorch-fid itself would have downloaded it; honours ``$TORCH_HOME``).

The first source that is *given* is used; a missing file raises
:class:`InceptionWeightsNotFound` naming that path (no silent fall-through to another
file, and never random weights). The file's SHA-256 must start with ``6726825d``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

WEIGHTS_FILE_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_ENVIRONMENT_VARIABLE = "VAEREPRO_INCEPTION_WEIGHTS"
EXPECTED_SHA256_PREFIX = "6726825d"

_digest_cache: dict[tuple[str, int, int], str] = {}


class InceptionWeightsNotFound(FileNotFoundError):
    """The FID Inception weights file is absent; evaluation reports FID/IS as not measured."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        super().__init__(f"FID Inception weights not found at {self.path}")

    def __str__(self) -> str:  # FileNotFoundError would otherwise format errno-style
        return self.args[0]


def default_hub_weights_path() -> Path:
    """``torch.hub.get_dir()/checkpoints/<file>`` (torch imported lazily: it is slow to import)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE_NAME


def resolve_inception_weights_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The weights file to use (explicit > environment variable > torch hub cache); must exist."""
    if path is not None:
        candidate = Path(path).expanduser()
    elif os.environ.get(WEIGHTS_ENVIRONMENT_VARIABLE):
        candidate = Path(os.environ[WEIGHTS_ENVIRONMENT_VARIABLE]).expanduser()
    else:
        candidate = default_hub_weights_path()
    if not candidate.is_file():
        raise InceptionWeightsNotFound(candidate)
    return candidate


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


def verify_inception_weights(path: str | os.PathLike[str], expected_prefix: str = EXPECTED_SHA256_PREFIX) -> str:
    """Check the file's SHA-256 starts with ``expected_prefix``; returns the full digest."""
    actual = sha256_of_file(path)
    if not actual.startswith(expected_prefix.lower()):
        raise ValueError(
            f"FID Inception weights at {path} have sha256 {actual}, expected one starting with {expected_prefix} "
            f"(the pytorch-fid file {WEIGHTS_FILE_NAME}); refusing to compute FID/IS with other weights"
        )
    return actual
