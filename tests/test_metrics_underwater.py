"""UCIQE and UIQM: hand-computed components on constant, two-tone and ramp images."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vaerepro.metrics.batched import uciqe_batch, uiqm_batch
from vaerepro.metrics.uciqe import lab_8bit, stretchlim_contrast, uciqe
from vaerepro.metrics.uiqm import trimmed_mean, uiqm


def srgb_gray_lightness_8bit(value: int) -> int:
    """L8 = round(L* 255/100) of an sRGB gray, from the CIE formula (Y = linearised value)."""
    unit = value / 255
    linear = unit / 12.92 if unit <= 0.04045 else ((unit + 0.055) / 1.055) ** 2.4
    f = linear ** (1 / 3) if linear > 216 / 24389 else (24389 / 27 * linear + 16) / 116
    return math.floor((116 * f - 16) * 2.55 + 0.5)


# --- UCIQE ------------------------------------------------------------------------------


def test_lab_8bit_encoding_of_reference_colours():
    # sRGB red in CIELab (D50, Bradford): (54.29, 80.81, 69.89) -> 8-bit (138, 209, 198).
    assert lab_8bit(np.array([1.0, 0.0, 0.0])).tolist() == [138.0, 209.0, 198.0]
    assert lab_8bit(np.array([1.0, 1.0, 1.0])).tolist() == [255.0, 128.0, 128.0]
    assert lab_8bit(np.array([0.0, 0.0, 0.0])).tolist() == [0.0, 128.0, 128.0]


def test_uciqe_of_a_constant_gray_image():
    result = uciqe(np.full((10, 10, 3), 128, np.uint8))
    lightness = srgb_gray_lightness_8bit(128) / 255
    chroma = math.hypot(128 / 255, 128 / 255)  # a8 = b8 = 128 (the +128 offset is kept)
    saturation = chroma / math.hypot(chroma, lightness)
    assert result["sigma_c"] == pytest.approx(0.0, abs=1e-7)  # float rounding of mean(C)/C
    assert result["contrast_l"] == 1.0  # flat luminance: MATLAB stretchlim returns [0, 1]
    assert result["mean_saturation"] == pytest.approx(saturation, rel=1e-9)
    assert result["uciqe"] == pytest.approx(0.2745 * 1.0 + 0.2576 * saturation, rel=1e-7)


def test_uciqe_luminance_contrast_uses_the_1_and_99_percent_limits():
    # 100 pixels: 2 dark (sRGB 50), 96 mid (128), 2 light (200): low = L8(50), high = L8(200).
    values = np.array([50] * 2 + [128] * 96 + [200] * 2, np.uint8)
    image = np.repeat(values.reshape(10, 10, 1), 3, axis=2)
    expected = (srgb_gray_lightness_8bit(200) - srgb_gray_lightness_8bit(50)) / 255
    assert uciqe(image)["contrast_l"] == pytest.approx(expected, rel=1e-9)
    # 1 dark pixel of 100 is exactly 1%: cdf(dark) = 0.01 is not > 0.01, so low is the mid level.
    values = np.array([50] * 1 + [128] * 97 + [200] * 2, np.uint8)
    image = np.repeat(values.reshape(10, 10, 1), 3, axis=2)
    expected = (srgb_gray_lightness_8bit(200) - srgb_gray_lightness_8bit(128)) / 255
    assert uciqe(image)["contrast_l"] == pytest.approx(expected, rel=1e-9)


def test_stretchlim_contrast_direct():
    assert stretchlim_contrast(np.array([0.0] * 50 + [1.0] * 50)) == pytest.approx(1.0)
    assert stretchlim_contrast(np.full(20, 0.3)) == 1.0


def test_uciqe_chroma_term_of_a_two_tone_image():
    image = np.zeros((10, 10, 3), np.uint8)
    image[:5] = (255, 0, 0)  # Lab8 (138, 209, 198)
    image[5:] = (128, 128, 128)  # Lab8 (137, 128, 128)
    chroma = np.array([math.hypot(209, 198) / 255, math.hypot(128, 128) / 255])
    sigma_c = math.sqrt(np.mean(np.abs(1 - (chroma.mean() / chroma) ** 2)))
    lightness = np.array([138, srgb_gray_lightness_8bit(128)]) / 255
    saturation = np.mean(chroma / np.hypot(chroma, lightness))
    result = uciqe(image)
    assert result["sigma_c"] == pytest.approx(sigma_c, rel=1e-9)
    assert result["mean_saturation"] == pytest.approx(saturation, rel=1e-6)
    assert result["contrast_l"] == pytest.approx(1 / 255)  # L8 137 and 138
    assert result["uciqe"] == pytest.approx(0.4680 * sigma_c + 0.2745 / 255 + 0.2576 * saturation, rel=1e-6)


def test_uciqe_float_input_equals_uint8_input():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (12, 14, 3), dtype=np.uint8)
    assert uciqe(image / 255.0, data_range=1.0)["uciqe"] == pytest.approx(uciqe(image)["uciqe"], rel=1e-12)


# --- UIQM -------------------------------------------------------------------------------


def test_trimmed_mean_keeps_the_reference_codes_off_by_one():
    # K = 10: T_L = ceil(1) = 1, T_R = floor(1) = 1, weight 1/8, sums sorted[2:9] (7 values).
    assert trimmed_mean(np.arange(10.0)) == pytest.approx(sum(range(2, 9)) / 8)


def test_uiqm_of_a_constant_gray_image_is_zero():
    result = uiqm(np.full((20, 20, 3), 120, np.uint8))
    assert result["uicm"] == 0.0 and result["uism"] == 0.0 and result["uiconm"] == 0.0 and result["uiqm"] == 0.0


def test_uiqm_components_of_a_constant_colour_image():
    result = uiqm(np.tile(np.array([200, 100, 50], np.uint8), (20, 20, 1)))
    # RG = 100, YB = (200 + 100)/2 - 50 = 100 everywhere; K = 400, T_L = T_R = 40,
    # trimmed mean = 100 * 319/320, variance = (100/320)^2.
    mean = 100 * 319 / 320
    variance = (100 / 320) ** 2
    uicm = -0.0268 * math.sqrt(2 * mean**2) + 0.1586 * math.sqrt(2 * variance)
    ratio = (200 - 50) / (200 + 50)
    uiconm = -ratio * math.log(ratio)  # identical in every 10x10 block
    assert result["uicm"] == pytest.approx(uicm, rel=1e-12)
    assert result["uism"] == 0.0
    assert result["uiconm"] == pytest.approx(uiconm, rel=1e-12)
    assert result["uiqm"] == pytest.approx(0.0282 * uicm + 3.5753 * uiconm, rel=1e-12)
    assert "funie-gan" in result["convention"]


def test_uism_of_a_horizontal_ramp():
    # x[i, j] = 10 + 5j. Sobel (reflect border): 40 inside, 20 on the first/last column;
    # scaled to max 255 -> 255 and 127.5. Edge map = scaled * x. Blocks (cols 0-9): max
    # 255*55, min 127.5*10 -> ratio 11; (cols 10-19): max 255*100, min 127.5*105 -> 40/21.
    # EME = 2/(2*2) * 2 * (log 11 + log(40/21)); same in each gray channel.
    ramp = np.tile(10 + 5 * np.arange(20, dtype=np.uint8), (20, 1))
    image = np.repeat(ramp[..., None], 3, axis=2)
    eme = math.log(11) + math.log(40 / 21)
    assert uiqm(image)["uism"] == pytest.approx((0.299 + 0.587 + 0.144) * eme, rel=1e-12)


def test_uiqm_ignores_pixels_beyond_whole_blocks_and_scales_float_input():
    rng = np.random.default_rng(1)
    image = rng.integers(1, 256, (25, 23, 3), dtype=np.uint8)
    full, float_version = uiqm(image), uiqm(image / 255.0, data_range=1.0)
    assert float_version["uiqm"] == pytest.approx(full["uiqm"], rel=1e-9)
    cropped = uiqm(np.ascontiguousarray(image[:20, :20]))
    assert cropped["uiconm"] == pytest.approx(full["uiconm"], rel=1e-12)


@pytest.mark.parametrize("metric", [uiqm, uciqe])
def test_underwater_metrics_need_rgb_and_reject_bad_input(metric):
    with pytest.raises(ValueError, match="grayscale"):
        metric(np.zeros((20, 20), np.uint8))
    with pytest.raises(ValueError, match="NaN or Inf"):
        metric(np.full((20, 20, 3), np.inf), data_range=1.0)
    with pytest.raises(ValueError, match="outside its data range"):
        metric(np.full((20, 20, 3), 2.0), data_range=1.0)


def test_uiqm_rejects_images_smaller_than_a_block():
    with pytest.raises(ValueError, match="at least 10x10"):
        uiqm(np.zeros((9, 30, 3), np.uint8))


def test_batched_no_reference_metrics_report_components():
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (3, 20, 20, 3), dtype=np.uint8)
    summary = uiqm_batch(images)
    assert summary["per_image"] == pytest.approx([uiqm(image)["uiqm"] for image in images])
    assert set(summary["components"]) == {"uicm", "uism", "uiconm"}
    assert uciqe_batch(list(images))["components"]["sigma_c"]["mean"] >= 0
    with pytest.raises(ValueError, match="empty"):
        uiqm_batch([])
