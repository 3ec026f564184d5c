"""Peak signal-to-noise ratio.

``PSNR = 10 log10(MAX^2 / MSE)`` with the MSE taken in float64 over **all pixels and all
channels** at once (not a mean of per-channel PSNRs), MAX = ``data_range`` (255 for uint8,
1 for [0, 1] floats). Identical images have MSE 0 and PSNR ``math.inf``; the batched summary
(:mod:`vaerepro.metrics.batched`) counts those rather than hiding them.

:func:`psnr_y` is the same on BT.601 studio-swing luminance (see
:mod:`vaerepro.metrics.images`), the restoration literature's "PSNR (Y)".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaerepro.metrics.images import as_image_pair, luminance_y

PSNR_CONVENTION = (
    "psnr-float64-mse-all-pixels-channels; MAX=data_range (255 uint8, 1 on [0,1]); identical images -> inf"
)
PSNR_Y_CONVENTION = "psnr-float64 on bt601-studio-swing-y; MAX=data_range"


def psnr_from_mse(mse: float, data_range: float) -> float:
    """``10 log10(data_range^2 / mse)``; ``inf`` when ``mse == 0``."""
    if mse < 0 or not math.isfinite(mse):
        raise ValueError(f"MSE must be finite and non-negative, got {mse}")
    if mse == 0.0:
        return math.inf
    return float(10.0 * math.log10(data_range * data_range / mse))


def psnr(output: Any, reference: Any, *, data_range: float | None = None) -> float:
    """PSNR in dB of ``output`` against ``reference``, (H, W) or (H, W, 3), same shape.

    ``data_range`` is required for float images and implied (255) for uint8.
    """
    output_values, reference_values, peak = as_image_pair(output, reference, data_range)
    mse = float(np.mean((output_values - reference_values) ** 2))
    return psnr_from_mse(mse, peak)


def psnr_y(output: Any, reference: Any, *, data_range: float | None = None) -> float:
    """PSNR in dB on the BT.601 Y channel of two (H, W, 3) RGB images."""
    output_values, reference_values, peak = as_image_pair(output, reference, data_range, require="rgb")
    difference = luminance_y(output_values, peak) - luminance_y(reference_values, peak)
    return psnr_from_mse(float(np.mean(difference**2)), peak)
