"""Degradations: same seed → same output; stated statistics; shapes, dtypes, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from vaerepro.data.degradations import (
    add_gaussian_noise,
    add_poisson_gaussian_noise,
    darken,
    jpeg_compress,
    underwater,
)


@pytest.fixture
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(30, 226, size=(4, 32, 48, 3), dtype=np.uint8)


def test_gaussian_noise_is_seeded_and_has_stated_statistics():
    flat = np.full((8, 64, 64, 3), 128, dtype=np.uint8)
    first = add_gaussian_noise(flat, sigma=25, seed=1)
    assert np.array_equal(first, add_gaussian_noise(flat, sigma=25, seed=1))
    assert not np.array_equal(first, add_gaussian_noise(flat, sigma=25, seed=2))
    residual = first - 128.0
    assert first.dtype == np.float32 and first.shape == flat.shape
    # 98,304 samples: standard error of the mean is 25/√n ≈ 0.08, of the std ≈ 0.06.
    assert abs(residual.mean()) < 0.4
    assert residual.std() == pytest.approx(25, abs=0.3)


def test_gaussian_noise_quantized_is_uint8_in_range(images):
    noisy = add_gaussian_noise(images, sigma=50, seed=3, quantize=True)
    assert noisy.dtype == np.uint8 and noisy.shape == images.shape


def test_poisson_gaussian_mean_and_variance():
    gain, read = 0.01, 0.02
    level = np.full((4, 128, 128, 1), 102, dtype=np.uint8)  # x = 0.4
    noisy = add_poisson_gaussian_noise(level, gain, read, seed=5) / 255.0
    x = 102 / 255
    assert noisy.mean() == pytest.approx(x, abs=0.002)
    assert noisy.var() == pytest.approx(gain * x + read**2, rel=0.03)
    assert np.array_equal(noisy, add_poisson_gaussian_noise(level, gain, read, seed=5) / 255.0)


def test_jpeg_is_deterministic_keeps_shape_and_degrades_with_quality(images):
    smooth = np.repeat(np.repeat(images[:, ::4, ::4], 4, axis=1), 4, axis=2)
    high, low = jpeg_compress(smooth, 90), jpeg_compress(smooth, 10)
    assert high.shape == smooth.shape and high.dtype == np.uint8
    assert np.array_equal(high, jpeg_compress(smooth, 90))
    error = lambda out: np.mean((out.astype(float) - smooth) ** 2)  # noqa: E731
    assert 0 < error(high) < error(low)


def test_jpeg_grayscale(images):
    gray = images[..., :1]
    assert jpeg_compress(gray, 75).shape == gray.shape


@pytest.mark.parametrize("quality", [0, 96, 50.5, "90"])
def test_jpeg_rejects_bad_quality(images, quality):
    with pytest.raises(ValueError, match="quality"):
        jpeg_compress(images, quality)


def test_underwater_is_seeded_and_casts_blue_green(images):
    white = np.full((2, 16, 16, 3), 230, dtype=np.uint8)
    first, drawn = underwater(white, seed=4)
    again, _ = underwater(white, seed=4)
    assert np.array_equal(first, again) and first.dtype == np.uint8 and first.shape == white.shape
    assert len(drawn) == 2 and len(drawn[0]["direct_attenuation"]) == 3
    red, green, blue = (first[..., channel].mean() for channel in range(3))
    assert red < green and red < blue  # red is attenuated fastest
    # Farther rows (top) lose more red than nearer rows (bottom).
    assert first[:, 0, :, 0].mean() < first[:, -1, :, 0].mean()


def test_underwater_needs_rgb(images):
    with pytest.raises(ValueError, match="RGB"):
        underwater(images[..., :1], seed=0)


def test_darken_matches_formula_without_noise(images):
    dark = darken(images, exposure=0.2, gamma=2.0, seed=0, quantize=False)
    expected = 0.2 * (images / 255.0) ** 2 * 255
    assert np.allclose(dark, expected, atol=1e-3)


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4, 3), np.uint8), np.zeros((1, 4, 4, 3), np.float32), np.zeros((1, 4, 4, 2), np.uint8)]
)
def test_bad_images_are_rejected(bad):
    with pytest.raises(ValueError):
        add_gaussian_noise(bad, sigma=10, seed=0)


def test_negative_sigma_rejected(images):
    with pytest.raises(ValueError, match="sigma"):
        add_gaussian_noise(images, sigma=-1, seed=0)
