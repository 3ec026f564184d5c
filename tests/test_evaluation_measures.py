"""Sharpness and active units against hand-computed values."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as functional

from vaerepro.evaluation.latent import active_units
from vaerepro.evaluation.sharpness import laplacian_energy


def test_constant_image_has_zero_energy():
    assert laplacian_energy(torch.full((2, 3, 8, 8), 0.3)).tolist() == [0.0, 0.0]


def test_single_bright_pixel_by_hand():
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, 2, 2] = 1.0
    # Valid 3x3 responses (centres at rows/cols 1..3): -4 at the centre, +1 at its 4
    # neighbours, 0 at the 4 diagonal centres → energy = (16 + 4·1) / 9.
    assert laplacian_energy(image).item() == pytest.approx(20 / 9)


def test_blur_lowers_energy():
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 32, 32, generator=generator)
    kernel = torch.ones(3, 1, 3, 3) / 9
    blurred = functional.conv2d(functional.pad(image, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
    assert laplacian_energy(blurred).item() < 0.2 * laplacian_energy(image).item()


def test_sharpness_rejects_bad_input():
    with pytest.raises(ValueError, match="3x3"):
        laplacian_energy(torch.zeros(1, 1, 2, 8))
    with pytest.raises(ValueError, match="NaN"):
        laplacian_energy(torch.full((1, 1, 4, 4), float("nan")))


def test_active_units_by_hand():
    means = torch.tensor([[0.0, 1.0, 5.0], [0.0, -1.0, 5.05], [0.0, 1.0, 4.95], [0.0, -1.0, 5.0]], dtype=torch.float64)
    result = active_units(means)
    # Population variances: 0, 1, 0.00125 → one active unit at threshold 0.01.
    assert result["active"] == 1 and result["total"] == 3
    assert result["activity"][1] == pytest.approx(1.0)
    assert result["activity"][2] == pytest.approx(0.00125)


def test_active_units_needs_two_inputs():
    with pytest.raises(ValueError):
        active_units(torch.zeros(1, 4))
