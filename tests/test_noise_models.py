"""Pixel noise models p(x | s) of DivNoising: densities, the variance floor, the bootstrap fit."""

from __future__ import annotations

import math

import pytest
import torch

from vaerepro.models.noise_models import (
    QUANTISATION_VARIANCE,
    GaussianNoiseModel,
    SignalDependentGaussianNoiseModel,
    fit_signal_dependent_variance,
)


def ramps(batch: int, channels: int, size: int, seed: int) -> torch.Tensor:
    """Linear ramps in random directions, spanning about [0.02, 0.98]: (batch, channels, size, size)."""
    generator = torch.Generator().manual_seed(seed)
    coordinates = torch.linspace(-1, 1, size)
    angle = torch.rand(batch, channels, 1, 1, generator=generator) * 2 * math.pi
    ramp = 0.5 + 0.48 * (
        torch.cos(angle) * coordinates.view(1, 1, 1, -1) + torch.sin(angle) * coordinates.view(1, 1, -1, 1)
    )
    return ramp.clamp(0.02, 0.98)


def noisy_version(signal: torch.Tensor, slope: torch.Tensor, intercept: torch.Tensor, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    variance = slope.view(1, -1, 1, 1) * signal + intercept.view(1, -1, 1, 1)
    return signal + variance.sqrt() * torch.randn(signal.shape, generator=generator)


def test_gaussian_log_prob_matches_torch_normal():
    generator = torch.Generator().manual_seed(0)
    signal = torch.rand(2, 3, 5, 5, generator=generator)
    noisy = signal + 0.1 * torch.randn(signal.shape, generator=generator)
    model = GaussianNoiseModel(25 / 255)
    expected = torch.distributions.Normal(signal, 25 / 255).log_prob(noisy)
    assert model.log_prob(noisy, signal).shape == (2, 3, 5, 5)
    torch.testing.assert_close(model.log_prob(noisy, signal), expected, rtol=1e-5, atol=1e-5)


def test_signal_dependent_log_prob_matches_torch_normal_per_channel():
    model = SignalDependentGaussianNoiseModel(2)
    model.set_parameters(torch.tensor([0.01, 0.002]), torch.tensor([0.0004, 0.001]))
    generator = torch.Generator().manual_seed(1)
    signal = torch.rand(3, 2, 4, 4, generator=generator)
    noisy = signal + 0.05 * torch.randn(signal.shape, generator=generator)
    scale = torch.sqrt(
        torch.tensor([0.01, 0.002]).view(1, 2, 1, 1) * signal + torch.tensor([0.0004, 0.001]).view(1, 2, 1, 1)
    )
    torch.testing.assert_close(model.log_prob(noisy, signal), torch.distributions.Normal(signal, scale).log_prob(noisy))


def test_log_prob_is_differentiable_in_the_signal():
    model = SignalDependentGaussianNoiseModel(1)
    model.set_parameters(torch.tensor([0.01]), torch.tensor([0.001]))
    signal = torch.full((1, 1, 2, 2), 0.4, requires_grad=True)
    model.log_prob(torch.full((1, 1, 2, 2), 0.5), signal).sum().backward()
    assert signal.grad is not None and torch.isfinite(signal.grad).all() and signal.grad.abs().sum() > 0


def test_variance_is_floored_at_the_quantisation_variance():
    model = SignalDependentGaussianNoiseModel(1)
    model.set_parameters(torch.tensor([0.01]), torch.tensor([-0.02]))
    variance = model.variance(torch.tensor([0.0, 1.0, 3.0]).view(1, 1, 1, 3))
    assert variance[0, 0, 0, 0] == pytest.approx(QUANTISATION_VARIANCE)
    assert variance[0, 0, 0, 2] == pytest.approx(0.01)
    assert torch.isfinite(model.log_prob(torch.zeros(1, 1, 1, 3), torch.zeros(1, 1, 1, 3))).all()


@pytest.mark.parametrize("radius", [1, 2])
def test_bootstrap_fit_from_noisy_data_alone_recovers_slope_and_intercept(radius):
    slope, intercept = torch.tensor([0.01, 0.003]), torch.tensor([0.0004, 0.002])
    signal = ramps(8, 2, 64, seed=0)
    noisy = noisy_version(signal, slope, intercept, seed=1)
    fitted_slope, fitted_intercept = fit_signal_dependent_variance(noisy, radius=radius)
    torch.testing.assert_close(fitted_slope, slope, rtol=0.1, atol=0.0)
    torch.testing.assert_close(fitted_intercept, intercept, rtol=0.0, atol=2.5e-4)


def test_fit_with_a_pseudo_clean_signal_recovers_slope_and_intercept():
    slope, intercept = torch.tensor([0.02]), torch.tensor([0.001])
    signal = ramps(6, 1, 64, seed=2)
    fitted_slope, fitted_intercept = fit_signal_dependent_variance(
        noisy_version(signal, slope, intercept, seed=3), signal
    )
    torch.testing.assert_close(fitted_slope, slope, rtol=0.1, atol=0.0)
    torch.testing.assert_close(fitted_intercept, intercept, rtol=0.0, atol=3e-4)


@pytest.mark.parametrize(("radius", "block"), [(1, 8), (2, 16)])
def test_fit_of_constant_noise_on_a_textured_image_is_robust_to_edges(radius, block):
    """Piecewise-constant blocks: the ring mean fails next to edges, the homogeneous half copes.

    With ``block``-pixel blocks, 1 - (block - 2 radius)^2 / block^2 = 44% of the pixels have
    rings that cross an edge.
    """
    generator = torch.Generator().manual_seed(4)
    blocks = torch.rand(8, 1, 128 // block, 128 // block, generator=generator)
    signal = torch.nn.functional.interpolate(blocks, scale_factor=block, mode="nearest")
    noisy = signal + 0.05 * torch.randn(signal.shape, generator=generator)
    fitted_slope, fitted_intercept = fit_signal_dependent_variance(noisy, radius=radius)
    variance_at = fitted_slope * torch.tensor([0.1, 0.5, 0.9]) + fitted_intercept
    torch.testing.assert_close(variance_at.sqrt(), torch.full((3,), 0.05), rtol=0.1, atol=0.0)


def test_radius_two_sees_noise_that_is_correlated_with_the_nearest_neighbours():
    """Noise blurred with a 3-tap kernel (lag-1 correlation 2/3): radius 1 misses much of it."""
    generator = torch.Generator().manual_seed(8)
    white = torch.randn(6, 1, 66, 66, generator=generator, dtype=torch.float64)
    taps = torch.tensor([1.0, 1.0, 1.0], dtype=torch.float64) / 3**0.5
    kernel = (taps.view(3, 1) * taps.view(1, 3)).view(1, 1, 3, 3) / 3**0.5  # unit-variance output
    noise = torch.nn.functional.conv2d(white, kernel)
    noisy = 0.5 + 0.03 * noise / noise.std()
    near = fit_signal_dependent_variance(noisy, radius=1)[1].sqrt().item()
    far = fit_signal_dependent_variance(noisy, radius=2)[1].sqrt().item()
    assert near < 0.75 * 0.03
    assert far == pytest.approx(0.03, rel=0.2)


def test_a_line_falling_towards_the_bright_end_is_not_extrapolated_to_no_noise():
    """Variance 7e-4 - 1e-3 s on signals in [0.02, 0.6] (noise fading towards bright values, as
    CC15's red channel): the unconstrained line reaches zero at s = 0.7; the fit keeps the
    falling trend inside the data and stays at or above half the quietest bin's variance
    (about 1e-4 / 2) up to s = 1. The price: pinned at s = 1, the line tilts inside the data
    (its variance about 35 % high at s = 0.1, 17 % in standard deviation)."""
    signal = 0.02 + 0.58 * ramps(8, 1, 64, seed=6)
    slope, intercept = torch.tensor([-1e-3]), torch.tensor([7e-4])
    fitted_slope, fitted_intercept = fit_signal_dependent_variance(
        noisy_version(signal, slope, intercept, seed=7), signal
    )
    assert fitted_slope.item() < 0
    true_at = intercept + slope * torch.tensor([0.1, 0.3])
    torch.testing.assert_close(fitted_intercept + fitted_slope * torch.tensor([0.1, 0.3]), true_at, rtol=0.4, atol=0.0)
    at_one = (fitted_intercept + fitted_slope).item()
    assert at_one >= 0.5 * 0.5 * (7e-4 - 1e-3 * 0.6)
    assert at_one > 10 * QUANTISATION_VARIANCE


def test_a_line_rising_from_below_zero_is_pinned_at_the_dark_end():
    """Pure shot noise seen only on bright signals ([0.5, 0.98]): the fitted line may not
    extrapolate to (almost) no noise at s = 0; it is pinned at half the quietest bin's variance
    and still rises (slope > 0)."""
    signal = 0.5 + 0.5 * ramps(8, 1, 64, seed=9)
    slope, intercept = torch.tensor([2e-3]), torch.tensor([-9e-4])
    fitted_slope, fitted_intercept = fit_signal_dependent_variance(
        noisy_version(signal, slope, intercept, seed=10), signal
    )
    quietest = (slope * 0.51 + intercept).item()
    assert fitted_slope.item() > 0
    assert fitted_intercept.item() == pytest.approx(quietest / 2, rel=0.3)


def test_fit_on_tiny_data_falls_back_to_a_constant_variance():
    generator = torch.Generator().manual_seed(5)
    noisy = 0.5 + 0.1 * torch.randn(1, 1, 8, 8, generator=generator)
    slope, intercept = fit_signal_dependent_variance(noisy)
    assert slope.item() == 0.0
    assert 0.003 < intercept.item() < 0.03


def test_fit_stores_buffers_that_survive_a_state_dict_round_trip():
    model = SignalDependentGaussianNoiseModel(2)
    assert not model.is_fitted
    with pytest.raises(RuntimeError, match="not fitted"):
        model.variance(torch.zeros(1, 2, 1, 1))
    signal = ramps(4, 2, 32, seed=6)
    model.fit(noisy_version(signal, torch.tensor([0.01, 0.01]), torch.tensor([0.001, 0.001]), seed=7))
    assert model.is_fitted
    restored = SignalDependentGaussianNoiseModel(2)
    restored.load_state_dict(model.state_dict())
    assert restored.is_fitted
    torch.testing.assert_close(restored.slope, model.slope)
    torch.testing.assert_close(restored.intercept, model.intercept)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="sigma must be a positive"):
        GaussianNoiseModel(0.0)
    with pytest.raises(ValueError, match="expected 2 slopes"):
        SignalDependentGaussianNoiseModel(2).set_parameters(torch.tensor([0.1]), torch.tensor([0.1]))
    with pytest.raises(ValueError, match="differ in shape"):
        GaussianNoiseModel(0.1).log_prob(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 3))
