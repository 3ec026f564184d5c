"""Conversions between prepared uint8 arrays and model tensors, in batches."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from vaerepro.pixels import to_uint8


def to_model_input(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 (B, H, W, C) → float32 (B, C, H, W) in [0, 1] on ``device``."""
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"expected uint8 (B, H, W, C) images, got {images.dtype} {images.shape}")
    # Prepared arrays are read-only memory maps; torch wants a writable buffer.
    tensor = torch.from_numpy(np.array(images, copy=True, order="C")).to(device)
    return tensor.permute(0, 3, 1, 2).float().div_(255.0)


def to_uint8_images(tensor: torch.Tensor) -> np.ndarray:
    """float (B, C, H, W) in [0, 1] → uint8 (B, H, W, C) by :func:`vaerepro.pixels.to_uint8` (on the tensor's device)."""
    return to_uint8(tensor).permute(0, 2, 3, 1).cpu().numpy()


def batches(array: np.ndarray, batch_size: int, limit: int | None = None) -> Iterator[np.ndarray]:
    """Consecutive slices of ``array`` (first ``limit`` items when given)."""
    count = len(array) if limit is None else min(limit, len(array))
    for start in range(0, count, batch_size):
        yield np.asarray(array[start : min(start + batch_size, count)])
