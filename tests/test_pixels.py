"""The one float → uint8 conversion (vaerepro.pixels.to_uint8): round half to even, clipped, and
bit-identical to each conversion it replaced (so no saved image or recorded metric changed)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaerepro.data.degradations.checks import finish
from vaerepro.evaluation.tensors import to_uint8_images
from vaerepro.metrics.gt_mean import _mean_gray, match_reference_mean
from vaerepro.pixels import to_uint8


def hard_values(dtype) -> np.ndarray:
    """[0, 1] values at and next to every half grey level, out-of-range values and random ones."""
    halves = (np.arange(-2, 258) + 0.5) / 255.0
    near = np.concatenate([np.nextafter(halves, -np.inf), halves, np.nextafter(halves, np.inf)])
    extremes = np.array([-np.inf, -1.0, -0.0, 0.0, 1.0, 1.0 + 1e-7, 2.0, np.inf])
    random = np.random.default_rng(0).uniform(-0.1, 1.1, 100_000)
    return np.concatenate([near, extremes, random]).astype(dtype)


def test_rounding_is_half_to_even_and_clipped():
    assert to_uint8(np.array([0.5, 1.5, 2.5, 254.5, -3.0, 300.0]) / 255.0).tolist() == [0, 2, 2, 254, 0, 255]
    assert to_uint8(np.array([0.5, 1.5, 127.5, 255.4, -0.4]), peak=255.0).tolist() == [0, 2, 128, 255, 0]
    tensor = torch.tensor([0.5, 1.5, 2.5, 300.0, -3.0]) / 255.0
    assert to_uint8(tensor).dtype == torch.uint8 and to_uint8(tensor).tolist() == [0, 2, 2, 255, 0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_matches_the_replaced_restoration_quantize_and_crop_conversion(dtype):
    values = hard_values(dtype)
    before = np.clip(np.rint(np.asarray(values, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(to_uint8(values), before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_0_255_scale_matches_the_replaced_degradation_finish(dtype):
    values = hard_values(dtype) * dtype(255)
    before = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(finish(values, quantize=True), before)
    assert finish(values, quantize=False).dtype == np.float32


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.float64])
def test_tensor_is_converted_in_its_own_dtype_as_before(dtype):
    values = torch.from_numpy(hard_values(np.float64)[:-100_000]).reshape(1, 1, -1, 4).to(dtype).requires_grad_()
    before = values.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    np.testing.assert_array_equal(to_uint8_images(values), before)


def test_gt_mean_matches_the_replaced_requantisation():
    rng = np.random.default_rng(1)
    for _ in range(50):
        output = rng.integers(0, 256, size=(9, 7, 3), dtype=np.uint8)
        reference = rng.integers(0, 256, size=(9, 7, 3), dtype=np.uint8)
        scale = _mean_gray(reference) / _mean_gray(output)
        scaled = np.clip(output.astype(np.float64) / 255.0 * scale, 0.0, 1.0)
        np.testing.assert_array_equal(match_reference_mean(output, reference), np.rint(scaled * 255.0).astype(np.uint8))
