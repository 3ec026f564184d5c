"""Deterministic, seeded, resumable batches from in-memory uint8 image arrays.

The batch at step ``s`` is a pure function of ``(seed, s)``: a resumed run asks for step
``s`` and gets exactly the batch an uninterrupted run would have seen. Data order: epoch
``e`` is the permutation ``default_rng([seed, 0, e]).permutation(N)``; the stream walks
through consecutive epochs, so step ``s`` covers positions ``s·B .. s·B + B - 1`` of the
concatenated epochs. Dynamic binarisation draws ``Bernoulli(pixel / 255)`` with
``default_rng([seed, 1, s])``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


class BatchStream:
    """An infinite stream of batches ``{"image": float (B, C, H, W) in [0, 1], "label": long (B,)}``.

    Args:
        images: uint8 (N, H, W, C) array (a ``np.memmap`` works too).
        labels: optional int (N,) array; without it batches have no ``"label"``.
        batch_size: B.
        seed: data-order (and binarisation) seed.
        binarize: replace intensities by Bernoulli samples (dynamically binarised MNIST).
    """

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        *,
        batch_size: int,
        seed: int,
        binarize: bool = False,
    ) -> None:
        if images.dtype != np.uint8 or images.ndim != 4:
            raise ValueError(f"images must be a uint8 (N, H, W, C) array, got {images.dtype} with shape {images.shape}")
        if len(images) == 0:
            raise ValueError("images is empty: nothing to train on")
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"{len(labels)} labels for {len(images)} images")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.images = images
        self.labels = None if labels is None else np.asarray(labels)
        self.batch_size = batch_size
        self.seed = seed
        self.binarize = binarize
        self._permutations: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        """Number of images (one epoch)."""
        return len(self.images)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the model input."""
        _, height, width, channels = self.images.shape
        return (channels, height, width)

    def _permutation(self, epoch: int) -> np.ndarray:
        if epoch not in self._permutations:
            if len(self._permutations) >= 2:
                self._permutations.pop(min(self._permutations))
            self._permutations[epoch] = np.random.default_rng([self.seed, 0, epoch]).permutation(len(self.images))
        return self._permutations[epoch]

    def indices(self, step: int) -> np.ndarray:
        """Dataset indices of the batch at ``step`` (B,)."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        positions = step * self.batch_size + np.arange(self.batch_size)
        epochs, offsets = np.divmod(positions, len(self.images))
        result = np.empty(self.batch_size, dtype=np.int64)
        for epoch in np.unique(epochs):
            chosen = epochs == epoch
            result[chosen] = self._permutation(int(epoch))[offsets[chosen]]
        return result

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        """The batch at ``step`` (CPU tensors)."""
        indices = self.indices(step)
        # Sorted reads are kinder to memory-mapped arrays; restore the random order after.
        order = np.argsort(indices, kind="stable")
        pixels = np.empty((self.batch_size, *self.images.shape[1:]), dtype=np.uint8)
        pixels[order] = self.images[indices[order]]
        if self.binarize:
            rng = np.random.default_rng([self.seed, 1, step])
            values = (rng.random(pixels.shape, dtype=np.float32) < pixels / np.float32(255)).astype(np.float32)
        else:
            values = pixels.astype(np.float32) / np.float32(255)
        batch = {"image": torch.from_numpy(values).permute(0, 3, 1, 2).contiguous()}
        if self.labels is not None:
            batch["label"] = torch.from_numpy(self.labels[indices].astype(np.int64))
        return batch

    def from_step(self, step: int) -> Iterator[dict[str, torch.Tensor]]:
        """Batches ``step``, ``step + 1``, ... forever."""
        while True:
            yield self.batch(step)
            step += 1

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self.from_step(0)
