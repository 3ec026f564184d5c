"""Classical baselines: hand-checkable properties and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from vaerepro.baselines.denoise import bm3d_denoise, estimate_noise_sigma, nl_means_denoise
from vaerepro.baselines.enhance import auto_gamma, clahe, gray_world, histogram_equalization


def smooth_image(size: int = 64) -> np.ndarray:
    ramp = np.linspace(0.2, 0.8, size)
    return np.stack(
        [np.add.outer(ramp, ramp) / 2, np.tile(ramp, (size, 1)), np.tile(ramp[:, None], (1, size))], axis=-1
    )


def test_noise_sigma_estimate_is_close_on_a_smooth_image():
    rng = np.random.default_rng(0)
    noisy = smooth_image(128) + rng.normal(0, 0.05, (128, 128, 3))
    assert estimate_noise_sigma(noisy) == pytest.approx(0.05, rel=0.15)


@pytest.mark.parametrize("denoiser", [bm3d_denoise, nl_means_denoise])
def test_denoisers_reduce_error(denoiser):
    rng = np.random.default_rng(1)
    clean = smooth_image(48)
    noisy = clean + rng.normal(0, 0.08, clean.shape)
    denoised = denoiser(noisy)
    assert denoised.shape == clean.shape
    assert np.mean((denoised - clean) ** 2) < 0.3 * np.mean((noisy - clean) ** 2)


def test_bm3d_grayscale_keeps_channel_axis():
    rng = np.random.default_rng(2)
    clean = smooth_image(32)[..., :1]
    assert bm3d_denoise(clean + rng.normal(0, 0.05, clean.shape), sigma=0.05).shape == clean.shape


def test_auto_gamma_maps_uniform_gray_to_half():
    dark = np.full((8, 8, 3), 0.1)
    assert auto_gamma(dark).mean() == pytest.approx(0.5, abs=1e-6)


def test_gray_world_equalises_channel_means():
    tinted = smooth_image() * np.array([0.4, 0.8, 1.0])
    balanced = gray_world(tinted)
    means = balanced.reshape(-1, 3).mean(axis=0)
    assert means.max() - means.min() < 1e-9


@pytest.mark.parametrize("enhancer", [clahe, histogram_equalization])
def test_equalisers_stretch_a_dark_image(enhancer):
    rng = np.random.default_rng(3)
    dark = rng.uniform(0.0, 0.2, (64, 64, 3))
    enhanced = enhancer(dark)
    assert enhanced.shape == dark.shape and enhanced.min() >= 0 and enhanced.max() <= 1
    assert enhanced.max(axis=-1).std() > dark.max(axis=-1).std()


@pytest.mark.parametrize(
    ("function", "image", "message"),
    [
        (gray_world, np.zeros((4, 4, 1)), "RGB"),
        (auto_gamma, np.full((4, 4, 3), 2.0), r"\[0, 1\]"),
        (clahe, np.zeros((4, 4, 3), np.uint8), "uint8"),
        (bm3d_denoise, np.full((4, 4, 3), np.nan), "NaN"),
        (histogram_equalization, np.zeros((4, 4)), "H×W×C"),
    ],
)
def test_bad_input(function, image, message):
    with pytest.raises(ValueError, match=message):
        function(image)
