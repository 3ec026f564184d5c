"""Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004, IEEE TIP 13(4), Eq. 13).

``SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))``
with local statistics from an 11x11 Gaussian window (sigma 1.5), ``C1 = (0.01 L)^2``,
``C2 = (0.03 L)^2`` and L = ``data_range``. Convention pinned to scikit-image's
``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=L)``, which is what the tests compare against:

* local moments from ``scipy.ndimage.gaussian_filter(sigma=1.5, truncate=3.5,
  mode="reflect")`` (an 11-tap kernel), population (not sample) covariance;
* the mean SSIM map is averaged after cropping the 5-pixel border the window overhangs;
* no automatic downsampling (Wang's MATLAB script downsamples images larger than 256 px;
  scikit-image, and therefore this, does not);
* RGB: the mean of the three per-channel SSIMs (:func:`ssim`); or on BT.601 Y
  (:func:`ssim_y`). Images smaller than 11x11 are refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vaerepro.metrics.images import as_image_pair, check_window_fits, luminance_y

SSIM_CONVENTION = (
    "ssim-wang2004: gaussian 11x11 sigma=1.5 (truncate 3.5, reflect), K1=0.01, K2=0.03, "
    "population covariance, 5-px border cropped, no downsampling (= skimage gaussian_weights=True, "
    "use_sample_covariance=False); RGB = mean over channels"
)
SSIM_Y_CONVENTION = "ssim-wang2004 (as SSIM_CONVENTION) on bt601-studio-swing-y"

GAUSSIAN_SIGMA = 1.5
_TRUNCATE = 3.5  # int(3.5 * 1.5 + 0.5) = 5: radius 5, an 11-tap window as in Wang et al.
WINDOW_SIZE = 11
K1 = 0.01
K2 = 0.03


def ssim_map_mean(first: np.ndarray, second: np.ndarray, data_range: float) -> float:
    """Mean SSIM of two float64 (H, W) planes on [0, data_range] (the core of Eq. 13)."""
    # Lazily: scipy.ndimage costs ~140 ms, and the training stages import this module without measuring SSIM.
    from scipy import ndimage

    def blur(plane: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(plane, sigma=GAUSSIAN_SIGMA, truncate=_TRUNCATE, mode="reflect")

    mean_first, mean_second = blur(first), blur(second)
    # Population moments: E[xy] - E[x]E[y] with the window's normalised weights.
    variance_first = blur(first * first) - mean_first * mean_first
    variance_second = blur(second * second) - mean_second * mean_second
    covariance = blur(first * second) - mean_first * mean_second
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    numerator = (2 * mean_first * mean_second + c1) * (2 * covariance + c2)
    denominator = (mean_first**2 + mean_second**2 + c1) * (variance_first + variance_second + c2)
    similarity = numerator / denominator
    pad = (WINDOW_SIZE - 1) // 2
    return float(similarity[pad:-pad, pad:-pad].mean(dtype=np.float64))


def ssim(output: Any, reference: Any, *, data_range: float | None = None) -> float:
    """Mean SSIM; for (H, W, 3) RGB the mean of the per-channel values, for (H, W) the plane's."""
    output_values, reference_values, peak = as_image_pair(output, reference, data_range)
    check_window_fits(output_values.shape, WINDOW_SIZE, "SSIM")
    if output_values.ndim == 2:
        return ssim_map_mean(output_values, reference_values, peak)
    per_channel = [ssim_map_mean(output_values[..., c], reference_values[..., c], peak) for c in range(3)]
    return float(np.mean(per_channel))


def ssim_y(output: Any, reference: Any, *, data_range: float | None = None) -> float:
    """Mean SSIM on the BT.601 Y channel of two (H, W, 3) RGB images."""
    output_values, reference_values, peak = as_image_pair(output, reference, data_range, require="rgb")
    check_window_fits(output_values.shape, WINDOW_SIZE, "SSIM")
    return ssim_map_mean(luminance_y(output_values, peak), luminance_y(reference_values, peak), peak)
