"""UIQM, underwater image quality measure (Panetta, Gao & Agaian 2016, IEEE JOE 41(3), Eq. 16).

``UIQM = 0.0282 UICM + 0.2953 UISM + 3.5753 UIConM``, in the variant of the FUnIE-GAN
evaluation code (Islam et al. 2020, ``Evaluation/uqim_utils.py``), which most underwater
enhancement papers use. Its departures from the paper are kept on purpose, so numbers are
comparable with that literature:

* **UICM** (paper Eq. 4): ``RG = R - G``, ``YB = (R + G)/2 - B`` on the [0, 255] scale;
  asymmetric alpha-trimmed mean with ``alpha_L = alpha_R = 0.1``: sort, ``T_L = ceil(0.1 K)``,
  ``T_R = floor(0.1 K)``, weight ``1/(K - T_L - T_R)`` but summing sorted values
  ``[T_L + 1, K - T_R)`` (0-based), one fewer than the weight assumes (the code's off-by-one);
  ``s^2`` is the mean squared deviation of *all* K values from that mean.
  ``UICM = -0.0268 sqrt(mu_RG^2 + mu_YB^2) + 0.1586 sqrt(s_RG^2 + s_YB^2)``.
* **UISM** (Eqs. 7-9): per channel, Sobel magnitude (``scipy.ndimage.sobel`` along both axes,
  ``reflect`` border) rescaled so its maximum is 255, times the channel itself; EME over
  10x10 blocks (the image cropped to whole blocks), ``EME = 2/(k1 k2) sum log(max/min)``
  (natural log) with blocks whose min or max is 0 contributing 0; channel weights
  ``0.299, 0.587, 0.144`` — **0.144** for blue is the code's value (the paper says 0.114).
  A channel with no edges at all (the code divides 0 by 0 there and returns NaN) counts 0.
* **UIConM** (Eq. 15 without PLIP arithmetic): over 10x10 blocks spanning all three channels,
  ``r = (max - min)/(max + min)``, ``UIConM = -1/(k1 k2) sum r log r`` (blocks with r = 0 or
  max + min = 0 contribute 0).

FUnIE-GAN's measuring script resizes every image to 256x256 first; that is a property of
their evaluation pipeline, not of the metric, and is not done here. Arithmetic is float64
(the original accumulates in float32; the difference is ~1e-6 relative).
Input: (H, W, 3) RGB, uint8, or float on [0, data_range] (scaled to [0, 255]); at least 10x10.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaerepro.metrics.images import as_image, check_window_fits

UIQM_WEIGHTS = (0.0282, 0.2953, 3.5753)
UISM_CHANNEL_WEIGHTS = (0.299, 0.587, 0.144)  # FUnIE-GAN code; the paper's blue weight is 0.114
UICM_WEIGHTS = (-0.0268, 0.1586)
BLOCK_SIZE = 10
TRIM_FRACTION = 0.1
UIQM_CONVENTION = (
    "uiqm-panetta-2016 funie-gan-evaluation-variant: 0.0282*UICM + 0.2953*UISM + 3.5753*UIConM; "
    "[0,255] scale, alpha-trim 0.1/0.1 with the code's off-by-one, sobel max-normalised to 255, "
    "10x10 blocks cropped, UISM blue weight 0.144, UIConM on RGB blocks without PLIP, no resize; "
    "edge-free channel -> 0 (code: NaN)"
)


def trimmed_mean(values: np.ndarray) -> float:
    """FUnIE-GAN's asymmetric alpha-trimmed mean (alpha 0.1 each side) of a 1-D array."""
    ordered = np.sort(values.astype(np.float64))
    count = ordered.size
    trim_low = math.ceil(TRIM_FRACTION * count)
    trim_high = math.floor(TRIM_FRACTION * count)
    weight = 1.0 / (count - trim_low - trim_high)
    return weight * float(ordered[trim_low + 1 : count - trim_high].sum())


def uicm(rgb: np.ndarray) -> float:
    """Colourfulness of float64 (H, W, 3) RGB on [0, 255]."""
    red, green, blue = (rgb[..., channel].ravel() for channel in range(3))
    red_green = red - green
    yellow_blue = (red + green) / 2.0 - blue
    mean_rg, mean_yb = trimmed_mean(red_green), trimmed_mean(yellow_blue)
    variance_rg = float(np.mean((red_green - mean_rg) ** 2))
    variance_yb = float(np.mean((yellow_blue - mean_yb) ** 2))
    weight_mean, weight_spread = UICM_WEIGHTS
    return weight_mean * math.sqrt(mean_rg**2 + mean_yb**2) + weight_spread * math.sqrt(variance_rg + variance_yb)


def _blocks(plane: np.ndarray, block_size: int) -> np.ndarray:
    """(k2, k1, block, block[, C]) view of the image cropped to whole blocks."""
    rows, columns = plane.shape[0] // block_size, plane.shape[1] // block_size
    cropped = plane[: rows * block_size, : columns * block_size]
    shaped = cropped.reshape(rows, block_size, columns, block_size, *plane.shape[2:])
    return np.moveaxis(shaped, 2, 1)


def enhancement_measure(plane: np.ndarray, block_size: int = BLOCK_SIZE) -> float:
    """EME: ``2/(k1 k2) sum log(max/min)`` over blocks; blocks with a zero max or min add 0."""
    blocks = _blocks(plane, block_size)
    maxima = blocks.max(axis=(2, 3))
    minima = blocks.min(axis=(2, 3))
    valid = (minima != 0.0) & (maxima != 0.0)
    ratios = np.log(maxima[valid] / minima[valid])
    return 2.0 / maxima.size * float(ratios.sum())


def sobel_edge_map(channel: np.ndarray) -> np.ndarray:
    """Sobel magnitude scaled to a maximum of 255, multiplied by the channel (FUnIE-GAN UISM)."""
    # Lazily: scipy.ndimage costs ~140 ms, and the training stages import this module without measuring UIQM.
    from scipy import ndimage

    magnitude = np.hypot(ndimage.sobel(channel, 0), ndimage.sobel(channel, 1))
    peak = magnitude.max()
    if peak == 0.0:  # no edges: the original divides by zero (NaN); no sharpness is 0
        return np.zeros_like(channel)
    return magnitude * (255.0 / peak) * channel


def uism(rgb: np.ndarray) -> float:
    """Sharpness of float64 (H, W, 3) RGB on [0, 255]."""
    return float(
        sum(
            weight * enhancement_measure(sobel_edge_map(rgb[..., channel]))
            for channel, weight in enumerate(UISM_CHANNEL_WEIGHTS)
        )
    )


def uiconm(rgb: np.ndarray, block_size: int = BLOCK_SIZE) -> float:
    """Contrast of float64 (H, W, 3) RGB: ``-1/(k1 k2) sum r log r``, r = (max-min)/(max+min) per RGB block."""
    blocks = _blocks(rgb, block_size)
    maxima = blocks.max(axis=(2, 3, 4))
    minima = blocks.min(axis=(2, 3, 4))
    spread, total = maxima - minima, maxima + minima
    valid = (spread != 0.0) & (total != 0.0)
    ratio = spread[valid] / total[valid]
    return -1.0 / maxima.size * float(np.sum(ratio * np.log(ratio)))


def uiqm(image: Any, *, data_range: float | None = None) -> dict[str, float | str]:
    """UIQM of one (H, W, 3) RGB image with its components.

    Returns ``{"uiqm", "uicm", "uism", "uiconm", "convention"}``.
    """
    values, peak = as_image(image, data_range, require="rgb")
    check_window_fits(values.shape, BLOCK_SIZE, "UIQM")
    rgb = values * (255.0 / peak)
    colourfulness, sharpness, contrast = uicm(rgb), uism(rgb), uiconm(rgb)
    c1, c2, c3 = UIQM_WEIGHTS
    return {
        "uiqm": c1 * colourfulness + c2 * sharpness + c3 * contrast,
        "uicm": colourfulness,
        "uism": sharpness,
        "uiconm": contrast,
        "convention": UIQM_CONVENTION,
    }
