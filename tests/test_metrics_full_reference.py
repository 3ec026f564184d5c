"""PSNR, SSIM and PSNR-B: identities, hand-computed cases, skimage agreement, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vaerepro.metrics.batched import psnr_b_batch, psnr_batch, ssim_batch
from vaerepro.metrics.images import luminance_y
from vaerepro.metrics.psnr import psnr, psnr_y
from vaerepro.metrics.psnr_b import blocking_effect_factor, psnr_b
from vaerepro.metrics.ssim import ssim, ssim_y

WANG_SETTINGS = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def random_pair(shape, seed=0, noise=20.0):
    rng = np.random.default_rng(seed)
    clean = np.clip(np.cumsum(rng.normal(0, 12, shape), axis=1) + 128, 0, 255).astype(np.uint8)
    noisy = np.clip(clean + rng.normal(0, noise, shape), 0, 255).astype(np.uint8)
    return noisy, clean


# --- PSNR -------------------------------------------------------------------------------


def test_psnr_of_identical_images_is_infinite():
    image = np.full((8, 8, 3), 77, np.uint8)
    assert psnr(image, image) == math.inf


def test_psnr_hand_computed_uint8_and_float_scales_agree():
    output, reference = np.full((4, 5), 10, np.uint8), np.zeros((4, 5), np.uint8)
    expected = 10 * math.log10(255**2 / 100)  # MSE = 10^2
    assert psnr(output, reference) == pytest.approx(expected, rel=1e-12)
    assert psnr(output / 255.0, reference / 255.0, data_range=1.0) == pytest.approx(expected, rel=1e-12)


def test_psnr_averages_the_squared_error_over_all_channels():
    reference = np.zeros((6, 6, 3), np.uint8)
    output = reference.copy()
    output[..., 0] = 30  # one channel off by 30: MSE = 900 / 3
    assert psnr(output, reference) == pytest.approx(10 * math.log10(255**2 / 300), rel=1e-12)


def test_psnr_matches_skimage_and_accepts_torch_tensors():
    import torch

    output, reference = random_pair((40, 50, 3))
    expected = peak_signal_noise_ratio(reference, output, data_range=255)
    assert psnr(output, reference) == pytest.approx(expected, rel=1e-12)
    assert psnr(torch.from_numpy(output), torch.from_numpy(reference)) == pytest.approx(expected, rel=1e-12)


def test_luminance_is_bt601_studio_swing():
    white, black = np.full((1, 1, 3), 255.0), np.zeros((1, 1, 3))
    assert luminance_y(white, 255.0)[0, 0] == pytest.approx(235.0)
    assert luminance_y(black, 255.0)[0, 0] == pytest.approx(16.0)
    red = np.array([[[1.0, 0.0, 0.0]]])
    assert luminance_y(red, 1.0)[0, 0] == pytest.approx((16 + 65.481) / 255)


def test_psnr_y_hand_computed():
    reference = np.zeros((4, 4, 3), np.uint8)
    output = np.full((4, 4, 3), 255, np.uint8)  # Y: 16 vs 235
    assert psnr_y(output, reference) == pytest.approx(10 * math.log10(255**2 / 219**2), rel=1e-12)


# --- SSIM -------------------------------------------------------------------------------


def test_ssim_of_identical_images_is_one():
    image, _ = random_pair((32, 32, 3))
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-12)
    assert ssim_y(image, image) == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_constant_images_is_the_luminance_term():
    # No variance anywhere: SSIM = (2ab + C1) / (a^2 + b^2 + C1) with C1 = (0.01 * 255)^2.
    c1 = (0.01 * 255) ** 2
    expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
    assert ssim(np.full((16, 16), 100, np.uint8), np.full((16, 16), 110, np.uint8)) == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize("shape", [(48, 40, 3), (33, 21)])
def test_ssim_matches_skimage_with_wang_settings(shape):
    output, reference = random_pair(shape, seed=3)
    channel_axis = -1 if len(shape) == 3 else None
    expected = structural_similarity(reference, output, data_range=255, channel_axis=channel_axis, **WANG_SETTINGS)
    assert ssim(output, reference) == pytest.approx(expected, rel=1e-12)
    expected_float = structural_similarity(
        reference / 255.0, output / 255.0, data_range=1.0, channel_axis=channel_axis, **WANG_SETTINGS
    )
    assert ssim(output / 255.0, reference / 255.0, data_range=1.0) == pytest.approx(expected_float, rel=1e-10)


def test_ssim_y_matches_skimage_on_the_luminance_plane():
    output, reference = random_pair((30, 36, 3), seed=4)
    y_output, y_reference = luminance_y(output.astype(float), 255.0), luminance_y(reference.astype(float), 255.0)
    expected = structural_similarity(y_reference, y_output, data_range=255, **WANG_SETTINGS)
    assert ssim_y(output, reference) == pytest.approx(expected, rel=1e-12)


def test_ssim_rejects_images_smaller_than_the_window_and_grayscale_for_y():
    small = np.zeros((10, 20), np.uint8)
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(small, small)
    gray = np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError, match="grayscale"):
        ssim_y(gray, gray)


# --- PSNR-B -----------------------------------------------------------------------------


def blocky_image(a: float, b: float, c: float, d: float) -> np.ndarray:
    """16x16 image of four constant 8x8 blocks [[a, b], [c, d]]."""
    return np.block([[np.full((8, 8), a), np.full((8, 8), b)], [np.full((8, 8), c), np.full((8, 8), d)]])


def test_blocking_effect_factor_of_a_synthetic_blocky_image():
    image = blocky_image(10, 30, 60, 70)
    # Boundary pairs: 16 horizontal (N_HB = N_V (N_H/8 - 1) = 16), 16 vertical; no inner differences.
    boundary = (8 * 20**2 + 8 * 10**2 + 8 * 50**2 + 8 * 40**2) / (16 + 16)
    eta = math.log2(8) / math.log2(16)
    assert blocking_effect_factor(image) == pytest.approx(eta * boundary, rel=1e-12)


def test_psnr_b_hand_computed_on_a_blocky_output():
    output = blocky_image(10, 30, 60, 70).astype(np.uint8)
    reference = np.full((16, 16), 40, np.uint8)
    mse = np.mean((output.astype(float) - 40) ** 2)
    bef = 0.75 * (8 * 20**2 + 8 * 10**2 + 8 * 50**2 + 8 * 40**2) / 32
    assert psnr_b(output, reference) == pytest.approx(10 * math.log10(255**2 / (mse + bef)), rel=1e-12)
    # The factor is of the output only: the blocky image as reference does not matter.
    assert psnr_b(reference, output) == pytest.approx(10 * math.log10(255**2 / mse), rel=1e-12)


def test_psnr_b_uses_the_papers_boundary_count_not_the_misplaced_bracket():
    # Only column boundary at 7|8 differs; inner pairs are zero. With the paper's counts
    # D_B = 16 * 1^2 / (16 + 16) = 0.5; with N_V*(N_H/B) - 1 = 31 it would be 16 / (31 + 31).
    image = np.zeros((16, 16))
    image[:, 8:] = 1.0
    assert blocking_effect_factor(image) == pytest.approx(0.75 * 0.5, rel=1e-12)


def test_psnr_b_counts_only_real_boundaries_for_sizes_not_multiple_of_eight():
    image = np.zeros((20, 20))
    image[:, 8:16] = 2.0  # column boundaries at 7|8 and 15|16: 2 x 20 pairs with difference 2
    expected = (math.log2(8) / math.log2(20)) * (2 * 20 * 4) / (2 * 20 + 2 * 20)
    assert blocking_effect_factor(image) == pytest.approx(expected, rel=1e-12)


def test_psnr_b_of_identical_smooth_images_is_infinite_and_equals_psnr_without_blocking():
    flat = np.full((16, 16, 3), 90, np.uint8)
    assert psnr_b(flat, flat) == math.inf
    output, reference = random_pair((24, 24), seed=5, noise=5)
    value = psnr_b(output, reference)
    assert value <= psnr(output, reference) + 1e-12


def test_psnr_b_on_rgb_is_computed_on_y():
    output, reference = random_pair((24, 32, 3), seed=6)
    y_output = luminance_y(output.astype(float), 255.0)
    y_reference = luminance_y(reference.astype(float), 255.0)
    assert psnr_b(output, reference) == pytest.approx(psnr_b(y_output, y_reference, data_range=255.0), rel=1e-12)


def test_psnr_b_rejects_images_not_larger_than_a_block():
    tiny = np.zeros((8, 30), np.uint8)
    with pytest.raises(ValueError, match="larger than one 8x8 block"):
        psnr_b(tiny, tiny)


# --- bad input shared by all full-reference metrics ------------------------------------


@pytest.mark.parametrize("metric", [psnr, ssim, psnr_b])
def test_bad_inputs_raise_value_errors_naming_the_problem(metric):
    good = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError, match="differ"):
        metric(good, np.zeros((16, 17, 3), np.uint8))
    with pytest.raises(ValueError, match="unsupported dtype"):
        metric(good.astype(np.int64), good.astype(np.int64))
    with pytest.raises(ValueError, match="pass data_range"):
        metric(good / 255.0, good / 255.0)
    with pytest.raises(ValueError, match="outside its data range"):
        metric(good + 2.0, good + 0.0, data_range=1.0)
    nan_image = good / 255.0
    nan_image[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        metric(nan_image, good / 255.0, data_range=1.0)
    with pytest.raises(ValueError, match="data_range is 255"):
        metric(good, good, data_range=1.0)
    with pytest.raises(ValueError, match="channel-first"):
        metric(np.zeros((3, 16, 16), np.uint8), np.zeros((3, 16, 16), np.uint8))
    with pytest.raises(ValueError, match="different data ranges|unsupported|pass data_range"):
        metric(good, good / 255.0, data_range=None)


# --- batched ----------------------------------------------------------------------------


def test_batched_psnr_summarizes_per_image_values_and_counts_infinities():
    outputs, references = random_pair((3, 16, 16, 3), seed=7)
    summary = psnr_batch(outputs, references)
    per_image = [psnr(o, r) for o, r in zip(outputs, references, strict=True)]
    assert summary["per_image"] == pytest.approx(per_image)
    assert summary["mean"] == pytest.approx(np.mean(per_image)) and summary["num_images"] == 3
    assert "psnr-float64" in summary["convention"]
    with_identical = psnr_batch([outputs[0], references[1]], [references[0], references[1]])
    assert with_identical["mean"] == math.inf and with_identical["num_infinite"] == 1
    assert with_identical["mean_finite"] == pytest.approx(per_image[0])


def test_batched_metrics_accept_lists_of_different_sizes_and_reject_bad_sets():
    first, second = random_pair((16, 16, 3), seed=8), random_pair((20, 24, 3), seed=9)
    summary = ssim_batch([first[0], second[0]], [first[1], second[1]])
    assert summary["per_image"] == pytest.approx([ssim(*first), ssim(*second)])
    with pytest.raises(ValueError, match="empty"):
        psnr_batch([], [])
    with pytest.raises(ValueError, match="2 outputs but 1 references"):
        psnr_batch([first[0], second[0]], [first[1]])
    with pytest.raises(ValueError, match="image pair 1"):
        psnr_b_batch([first[0], np.zeros((8, 8, 3), np.uint8)], [first[1], np.zeros((8, 8, 3), np.uint8)])
