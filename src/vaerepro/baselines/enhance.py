"""Classical enhancement baselines for low-light and underwater images.

* Gamma correction with the exponent chosen per image so the mean luminance maps to 0.5:
  γ = ln 0.5 / ln(mean Y), output = x^γ (Y: BT.601 luma). A parameter-free version of the
  simplest low-light fix.
* Histogram equalisation (global) and CLAHE (Zuiderveld, "Contrast limited adaptive
  histogram equalization", Graphics Gems IV, 1994) on the HSV value channel, hue and
  saturation kept; scikit-image's implementations, CLAHE with clip limit 0.01 and 8×8 tiles.
* Gray-world white balance (Buchsbaum, J. Franklin Inst. 1980): scale each channel so its
  mean equals the mean over all channels, then clip to [0, 1].

Inputs and outputs are float H×W×3 images in [0, 1].
"""

from __future__ import annotations

import numpy as np

from vaerepro.baselines.images import check_unit_image

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601
CLAHE_CLIP_LIMIT = 0.01


def auto_gamma(image: np.ndarray, target_mean: float = 0.5) -> np.ndarray:
    """x^γ with γ = ln(target) / ln(mean luma), so the mean luma becomes ≈ target."""
    array = check_unit_image(image, rgb=True)
    mean_luma = float(np.clip((array @ LUMA_WEIGHTS).mean(), 1e-4, 1 - 1e-4))
    gamma = np.log(target_mean) / np.log(mean_luma)
    return array**gamma


def _on_value_channel(image: np.ndarray, transform) -> np.ndarray:
    # Lazily, like the skimage imports below: skimage costs ~40 ms, and every stage imports this
    # module (through the model registry) while only the classical baselines call it.
    from skimage.color import hsv2rgb, rgb2hsv

    hsv = rgb2hsv(check_unit_image(image, rgb=True))
    hsv[..., 2] = transform(hsv[..., 2])
    return np.clip(hsv2rgb(hsv), 0.0, 1.0)


def histogram_equalization(image: np.ndarray) -> np.ndarray:
    """Global histogram equalisation of the HSV value channel."""
    from skimage.exposure import equalize_hist

    return _on_value_channel(image, lambda value: equalize_hist(value, nbins=256))


def clahe(image: np.ndarray, clip_limit: float = CLAHE_CLIP_LIMIT) -> np.ndarray:
    """CLAHE of the HSV value channel (8×8 tiles, the given clip limit)."""
    from skimage.exposure import equalize_adapthist

    def transform(value: np.ndarray) -> np.ndarray:
        tiles = (max(1, value.shape[0] // 8), max(1, value.shape[1] // 8))
        return equalize_adapthist(value, kernel_size=tiles, clip_limit=clip_limit, nbins=256)

    return _on_value_channel(image, transform)


def gray_world(image: np.ndarray) -> np.ndarray:
    """Gray-world white balance: equalise the channel means."""
    array = check_unit_image(image, rgb=True)
    channel_means = array.reshape(-1, 3).mean(axis=0)
    if np.any(channel_means <= 0):
        raise ValueError("gray-world needs every channel to have a positive mean")
    return np.clip(array * (channel_means.mean() / channel_means), 0.0, 1.0)
