"""(degraded, clean) image pairs of a restoration experiment, built from prepared data.

A :class:`~vaerepro.config.PairSource` names a split, the array that becomes the model's
input (``inputs`` as distributed, or clean ``targets``/``images`` to degrade) and an optional
degradation. The clean reference is the split's ``targets`` (``images`` for datasets without
pairs). Degradations are applied once, deterministically (seed from the global seed and the
role), so a training set of synthetic noisy images is fixed, as in the unsupervised
denoising papers, and every evaluation sees the same degraded test images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaerepro.config import PairSource
from vaerepro.data.degradations.spec import Degradation, degrade
from vaerepro.data.prepared import load_split


@dataclass(frozen=True)
class RestorationPairs:
    """uint8 (N, H, W, C) ``inputs`` and ``targets``, N ``names``, and where they came from."""

    inputs: np.ndarray
    targets: np.ndarray
    names: list[str]
    description: str
    variant: str
    dataset_sha256: str

    def __len__(self) -> int:
        return len(self.names)

    def head(self, count: int | None) -> RestorationPairs:
        """The first ``count`` pairs (all when None)."""
        if count is None or count >= len(self):
            return self
        return RestorationPairs(
            self.inputs[:count],
            self.targets[:count],
            self.names[:count],
            self.description,
            self.variant,
            self.dataset_sha256,
        )


def load_pairs(
    prepared: Path, source: PairSource, degradation: Degradation | None, *, seed: int, role: str
) -> RestorationPairs:
    """Build the pairs of one role (``train``, ``test``, ``stress:<tag>``) from a prepared dataset."""
    split = load_split(prepared, source.split)
    reference_key = "targets" if "targets" in split.arrays else "images"
    clean = np.asarray(split[reference_key])
    inputs = degrade(np.asarray(split[source.source]), degradation, seed, role)
    description = f"{split.dataset}/{source.split}: {source.source}"
    description += f" + {degradation.describe()}" if degradation is not None else " as distributed"
    if inputs.shape != clean.shape:
        raise ValueError(f"{description}: inputs {inputs.shape} and references {clean.shape} differ in shape")
    return RestorationPairs(inputs, clean, list(split.names), description, split.variant, split.dataset_sha256)
