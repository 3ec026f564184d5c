"""Deterministic, seeded, resumable batches of random crops from (degraded, clean) image pairs.

Restoration models train on patches (whole 600×400 or 512×512 images do not fit in a batch
on a CPU, and the papers train on crops too). The batch at step ``s`` is a pure function of
``(seed, s)``, as in :class:`~vaerepro.training.batches.BatchStream`: image indices follow
the same epoch permutations, and the crop corner and horizontal flip of each item are drawn
from ``default_rng([seed, 2, s])``. The same crop is cut from the input and its reference.
"""

from __future__ import annotations

import numpy as np
import torch

from vaerepro.training.batches import BatchStream


class CropPairStream:
    """Batches ``{"image": degraded (B, C, S, S), "target": clean (B, C, S, S)}``, floats in [0, 1].

    Args:
        inputs, targets: uint8 (N, H, W, C) arrays of the same shape.
        crop_size: S; at most min(H, W).
        batch_size: B.
        seed: data-order and crop seed.
        with_targets: include ``"target"`` (False for unsupervised models, which must never
            see the clean images).
    """

    def __init__(
        self,
        inputs: np.ndarray,
        targets: np.ndarray,
        *,
        crop_size: int,
        batch_size: int,
        seed: int,
        with_targets: bool = True,
    ) -> None:
        if inputs.shape != targets.shape:
            raise ValueError(f"inputs {inputs.shape} and targets {targets.shape} must have the same shape")
        self._order = BatchStream(inputs, batch_size=batch_size, seed=seed)  # validates dtype/shape/seed
        height, width = inputs.shape[1:3]
        if not 1 <= crop_size <= min(height, width):
            raise ValueError(f"crop_size {crop_size} does not fit the {height}x{width} training images")
        self.inputs, self.targets = inputs, targets
        self.crop_size, self.batch_size, self.seed = crop_size, batch_size, seed
        self.with_targets = with_targets

    def __len__(self) -> int:
        return len(self.inputs)

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        indices = self._order.indices(step)
        rng = np.random.default_rng([self.seed, 2, step])
        height, width = self.inputs.shape[1:3]
        tops = rng.integers(0, height - self.crop_size + 1, size=self.batch_size)
        lefts = rng.integers(0, width - self.crop_size + 1, size=self.batch_size)
        flips = rng.random(self.batch_size) < 0.5
        arrays = {"image": self.inputs, "target": self.targets} if self.with_targets else {"image": self.inputs}
        batch = {}
        for key, source in arrays.items():
            crops = np.empty((self.batch_size, self.crop_size, self.crop_size, source.shape[-1]), dtype=np.uint8)
            for item, (index, top, left, flip) in enumerate(zip(indices, tops, lefts, flips, strict=True)):
                crop = source[index, top : top + self.crop_size, left : left + self.crop_size]
                crops[item] = crop[:, ::-1] if flip else crop
            values = crops.astype(np.float32) / np.float32(255)
            batch[key] = torch.from_numpy(values).permute(0, 3, 1, 2).contiguous()
        return batch
