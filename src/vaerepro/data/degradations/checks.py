"""Input checks shared by the degradations."""

from __future__ import annotations

import numpy as np

from vaerepro.pixels import to_uint8


def check_images(images: np.ndarray, *, rgb: bool = False) -> None:
    """Require uint8 (N, H, W, C) with C in {1, 3} (C = 3 when ``rgb``)."""
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        shape = getattr(images, "shape", None)
        raise ValueError(
            f"expected uint8 images of shape (N, H, W, C), got {getattr(images, 'dtype', type(images))} {shape}"
        )
    channels = images.shape[-1]
    if rgb and channels != 3:
        raise ValueError(f"this degradation needs RGB images (C = 3), got C = {channels}")
    if channels not in (1, 3):
        raise ValueError(f"expected 1 or 3 channels, got {channels}")


def finish(values: np.ndarray, quantize: bool) -> np.ndarray:
    """float32 on the 0–255 scale, or uint8 when ``quantize`` (:func:`vaerepro.pixels.to_uint8`: clipped, rounded half to even)."""
    if quantize:
        return to_uint8(values, peak=255.0)
    return values.astype(np.float32)
