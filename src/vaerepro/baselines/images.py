"""Input checks for the baselines: float images in [0, 1], H×W×C."""

from __future__ import annotations

import numpy as np


def check_unit_image(image: np.ndarray, *, rgb: bool = False, allow_outside: bool = False) -> np.ndarray:
    """Return ``image`` as float64 H×W×C; reject wrong rank, channels, NaN/Inf, or range."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] not in (1, 3):
        raise ValueError(f"expected an H×W×C image with C = 1 or 3, got shape {array.shape}")
    if rgb and array.shape[-1] != 3:
        raise ValueError(f"this baseline needs an RGB image, got {array.shape[-1]} channel(s)")
    if array.dtype == np.uint8:
        raise ValueError("expected a float image in [0, 1]; divide uint8 images by 255 first")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise ValueError("image contains NaN or Inf")
    if not allow_outside and (array.min() < 0 or array.max() > 1):
        raise ValueError(f"image values must lie in [0, 1], got [{array.min():.3g}, {array.max():.3g}]")
    return array
