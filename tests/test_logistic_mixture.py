"""Discretised logistic mixture (models/logistic_mixture.py): values against a hand computation,
a proper distribution over the 8-bit bins, finite gradients, and samples on the 8-bit grid."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaerepro.models.logistic_mixture import (
    logistic_mixture_log_likelihood,
    mixture_parameter_count,
    sample_logistic_mixture,
)

HUGE_NEGATIVE = -1e4


def pack(logits, means, log_scales, coefficients=None) -> torch.Tensor:
    """Parameters (B, P, H, W) from logits (B, K, H, W), means/log-scales (B, C, K, H, W) and
    raw coefficients (B, 3, K, H, W): the layout the module docstring states."""
    batch, channels, k, height, width = means.shape
    parts = [
        logits,
        means.reshape(batch, channels * k, height, width),
        log_scales.reshape(batch, channels * k, height, width),
    ]
    if coefficients is not None:
        parts.append(coefficients.reshape(batch, 3 * k, height, width))
    return torch.cat(parts, dim=1)


def sigmoid(u: float) -> float:
    return 1.0 / (1.0 + math.exp(-u))


def logistic_bin_log_probability(k: int, mean: float, scale: float) -> float:
    """log P(bin k) of Logistic(mean, scale) on [-1, 1], by the PixelCNN++ recipe, in float64."""
    x = 2 * k / 255 - 1
    if k == 0:
        return math.log(sigmoid((x + 1 / 255 - mean) / scale))
    if k == 255:
        return math.log(1 - sigmoid((x - 1 / 255 - mean) / scale))
    mass = sigmoid((x + 1 / 255 - mean) / scale) - sigmoid((x - 1 / 255 - mean) / scale)
    if mass > 1e-5:
        return math.log(mass)
    u = (x - mean) / scale
    return u - math.log(scale) - 2 * math.log1p(math.exp(u)) + math.log(2 / 255)


def test_parameter_counts():
    assert mixture_parameter_count(3, 10) == 100
    assert mixture_parameter_count(1, 10) == 30
    with pytest.raises(ValueError, match="1- or 3-channel"):
        mixture_parameter_count(2, 10)
    with pytest.raises(ValueError, match="expected|needs"):
        logistic_mixture_log_likelihood(torch.zeros(1, 3, 2, 2), torch.zeros(1, 29, 2, 2), 3)


def test_one_rgb_component_is_a_product_of_coupled_discretised_logistics():
    # Four pixels, two components; the second is switched off by a huge negative logit.
    levels = np.array([[0, 255, 17, 128], [3, 250, 0, 99], [255, 128, 40, 0]])  # (C, pixels)
    mean = np.array([[-0.9, 0.95, -0.7, 0.1], [-0.8, 0.9, -1.0, -0.3], [0.9, 0.2, -0.6, -0.95]])
    log_scale = np.array([[-2.0, -1.5, -3.0, -1.0], [-2.5, -2.0, -1.0, -1.2], [-1.8, -2.2, -2.0, -0.5]])
    raw_coefficients = np.array([[0.3, -0.5, 1.2, 0.0], [-0.7, 0.4, 0.2, 0.9], [0.5, 0.8, -1.1, -0.3]])
    expected = 0.0
    for pixel in range(4):
        x = 2 * levels[:, pixel] / 255 - 1
        c = np.tanh(raw_coefficients[:, pixel])
        means = [
            mean[0, pixel],
            mean[1, pixel] + c[0] * x[0],
            mean[2, pixel] + c[1] * x[0] + c[2] * x[1],
        ]
        for channel in range(3):
            expected += logistic_bin_log_probability(
                int(levels[channel, pixel]), means[channel], math.exp(log_scale[channel, pixel])
            )

    def two_components(values: np.ndarray, other: float) -> torch.Tensor:
        first = torch.tensor(values, dtype=torch.float32).view(1, 3, 1, 1, 4)
        return torch.cat([first, torch.full_like(first, other)], dim=2)  # (1, 3, 2, 1, 4)

    logits = torch.tensor([0.0, HUGE_NEGATIVE]).view(1, 2, 1, 1).expand(1, 2, 1, 4)
    parameters = pack(
        logits,
        two_components(mean, 0.0),
        two_components(log_scale, 0.0),
        two_components(raw_coefficients, 0.0),
    )
    target = torch.tensor(levels / 255, dtype=torch.float32).view(1, 3, 1, 4)
    result = logistic_mixture_log_likelihood(target, parameters, num_mixtures=2)
    assert result.shape == (1,)
    assert float(result) == pytest.approx(expected, abs=2e-4)


def test_a_bin_far_in_the_tail_uses_density_times_bin_width():
    level, mean, log_scale = 200, -0.6, -3.0  # about 230 scales from the mean: mass ~ 1e-100
    parameters = torch.tensor([0.0, mean, log_scale]).view(1, 3, 1, 1)
    result = logistic_mixture_log_likelihood(torch.full((1, 1, 1, 1), level / 255), parameters, 1)
    expected = logistic_bin_log_probability(level, mean, math.exp(log_scale))
    assert expected < math.log(1e-5)
    assert float(result) == pytest.approx(expected, rel=1e-5)


def test_log_scales_are_clamped_at_minus_seven():
    target = torch.full((1, 1, 1, 1), 100 / 255)
    clamped = logistic_mixture_log_likelihood(target, torch.tensor([0.0, 0.1, -7.0]).view(1, 3, 1, 1), 1)
    below = logistic_mixture_log_likelihood(target, torch.tensor([0.0, 0.1, -30.0]).view(1, 3, 1, 1), 1)
    assert torch.equal(clamped, below)


def every_level(bins: int = 256) -> torch.Tensor:
    return torch.arange(bins, dtype=torch.float32) / (bins - 1)


def test_the_256_bins_of_a_grey_pixel_sum_to_one():
    generator = torch.Generator().manual_seed(0)
    k = 4
    means = torch.rand(1, 1, k, 1, 1, generator=generator) * 2 - 1
    log_scales = torch.rand(1, 1, k, 1, 1, generator=generator) * 3 - 5
    logits = torch.randn(1, k, 1, 1, generator=generator)
    parameters = pack(logits, means, log_scales).expand(256, -1, -1, -1)
    target = every_level().view(256, 1, 1, 1)
    total = logistic_mixture_log_likelihood(target, parameters, k).exp().sum()
    assert float(total) == pytest.approx(1.0, abs=1e-5)


def random_rgb_parameters(k: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    means = torch.rand(1, 3, k, 1, 1, generator=generator) * 2 - 1
    log_scales = torch.rand(1, 3, k, 1, 1, generator=generator) * 2 - 4
    coefficients = torch.randn(1, 3, k, 1, 1, generator=generator)
    logits = torch.randn(1, k, 1, 1, generator=generator)
    return logits, means, log_scales, coefficients


def test_the_green_and_blue_bins_of_an_rgb_pixel_sum_to_the_red_marginal():
    # Summing P(r, g, b) over all 256 × 256 values of (g, b) leaves sum_i pi_i P_i(r): the
    # coupling moves the G and B means but each conditional still sums to one.
    k, red_level = 3, 70
    logits, means, log_scales, coefficients = random_rgb_parameters(k, torch.Generator().manual_seed(1))
    parameters = pack(logits, means, log_scales, coefficients)
    levels = every_level()
    green, blue = torch.meshgrid(levels, levels, indexing="ij")
    target = torch.stack([torch.full_like(green, red_level / 255), green, blue], dim=-1).view(-1, 3, 1, 1)
    total = logistic_mixture_log_likelihood(target, parameters.expand(target.shape[0], -1, -1, -1), k).exp().sum()
    weights = torch.softmax(logits.flatten().double(), 0).numpy()
    expected = sum(
        weights[i]
        * math.exp(logistic_bin_log_probability(red_level, float(means[0, 0, i]), math.exp(float(log_scales[0, 0, i]))))
        for i in range(k)
    )
    assert float(total) == pytest.approx(expected, rel=1e-4)


def test_all_rgb_values_of_a_pixel_sum_to_one_on_a_coarse_grid():
    bins, k = 16, 3
    logits, means, log_scales, coefficients = random_rgb_parameters(k, torch.Generator().manual_seed(2))
    parameters = pack(logits, means, log_scales, coefficients)
    levels = every_level(bins)
    red, green, blue = torch.meshgrid(levels, levels, levels, indexing="ij")
    target = torch.stack([red, green, blue], dim=-1).view(-1, 3, 1, 1)
    log_p = logistic_mixture_log_likelihood(target, parameters.expand(target.shape[0], -1, -1, -1), k, bins=bins)
    assert float(log_p.exp().sum()) == pytest.approx(1.0, abs=1e-5)


def test_gradients_are_finite_even_for_extreme_parameters():
    generator = torch.Generator().manual_seed(3)
    parameters = (torch.randn(2, 30, 4, 4, generator=generator) * 20).requires_grad_()
    target = torch.randint(0, 256, (2, 3, 4, 4), generator=generator).float() / 255
    log_p = logistic_mixture_log_likelihood(target, parameters, 3)
    assert torch.isfinite(log_p).all()
    log_p.sum().backward()
    assert torch.isfinite(parameters.grad).all()


def on_8bit_grid(images: torch.Tensor) -> bool:
    return bool(((images * 255 - torch.round(images * 255)).abs() < 1e-4).all())


def test_samples_are_8bit_images_reproducible_from_a_seed():
    parameters = torch.randn(3, 30, 5, 5, generator=torch.Generator().manual_seed(4))
    first = sample_logistic_mixture(parameters, 3, torch.Generator().manual_seed(7))
    second = sample_logistic_mixture(parameters, 3, torch.Generator().manual_seed(7))
    other = sample_logistic_mixture(parameters, 3, torch.Generator().manual_seed(8))
    assert first.shape == (3, 3, 5, 5)
    assert torch.equal(first, second) and not torch.equal(first, other)
    assert first.min() >= 0 and first.max() <= 1 and on_8bit_grid(first)
    grey = sample_logistic_mixture(parameters[:, :9], 3, torch.Generator().manual_seed(7), channels=1)
    assert grey.shape == (3, 1, 5, 5) and on_8bit_grid(grey)


def test_samples_with_tiny_scales_land_on_the_means_bin():
    # Scale exp(-7) ≈ 9e-4 against a half bin of 1/255 ≈ 3.9e-3: 97% of draws fall in the mean's
    # bin, and none can leave it by more than 2 levels (|logistic noise| <= 11.5 scales here).
    generator = torch.Generator().manual_seed(5)
    levels = torch.randint(0, 256, (1, 3, 1, 40, 40), generator=generator)
    means = (2 * levels / 255 - 1).float()
    log_scales = torch.full_like(means, -7.0)
    parameters = pack(torch.zeros(1, 1, 40, 40), means, log_scales, torch.zeros_like(means))
    samples = sample_logistic_mixture(parameters, 1, torch.Generator().manual_seed(6))
    drawn = torch.round(samples * 255).long()
    assert (drawn - levels[:, :, 0]).abs().max() <= 2
    assert float((drawn == levels[:, :, 0]).float().mean()) > 0.9


def test_samples_pick_components_by_their_weights_and_couple_green_to_red():
    # Two components with tiny scales at red = -0.5 and +0.5, weights 1/4 and 3/4; green has
    # mean 0 and coefficient tanh(a) = 0.4 on red, so green lands at 0.4 × red.
    size = 100
    means = torch.zeros(1, 3, 2, size, size)
    means[:, 0, 0], means[:, 0, 1] = -0.5, 0.5
    log_scales = torch.full_like(means, -7.0)
    coefficients = torch.zeros_like(means)
    coefficients[:, 0] = math.atanh(0.4)
    logits = torch.log(torch.tensor([0.25, 0.75])).view(1, 2, 1, 1).expand(1, 2, size, size)
    samples = sample_logistic_mixture(
        pack(logits, means, log_scales, coefficients), 2, torch.Generator().manual_seed(9)
    )
    red = samples[:, 0] * 2 - 1
    assert float((red > 0).float().mean()) == pytest.approx(0.75, abs=0.02)
    green = samples[:, 1] * 2 - 1
    assert torch.allclose(green, 0.4 * red, atol=3 * 2 / 255)
