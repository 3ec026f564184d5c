"""DiagonalGaussian and the pixel likelihoods against torch.distributions and first principles."""

from __future__ import annotations

import pytest
import torch
from torch import distributions as td

from vaerepro.models.cvae import given_quadrant_mask
from vaerepro.models.distributions import (
    DiagonalGaussian,
    bernoulli_log_likelihood,
    discretized_gaussian_log_likelihood,
    discretized_logistic_log_likelihood,
)
from vaerepro.models.phases import OptimizerGroup, Phase, plan_phases


def gaussians(seed: int = 0) -> tuple[DiagonalGaussian, DiagonalGaussian]:
    generator = torch.Generator().manual_seed(seed)
    first = DiagonalGaussian(torch.randn(5, 3, generator=generator), torch.randn(5, 3, generator=generator))
    second = DiagonalGaussian(torch.randn(5, 3, generator=generator), torch.randn(5, 3, generator=generator))
    return first, second


def as_torch(gaussian: DiagonalGaussian) -> td.Normal:
    return td.Normal(gaussian.mean, gaussian.standard_deviation)


def test_kl_matches_torch_distributions():
    first, second = gaussians()
    standard = td.Normal(torch.zeros(5, 3), torch.ones(5, 3))
    torch.testing.assert_close(first.kl(), td.kl_divergence(as_torch(first), standard))
    torch.testing.assert_close(first.kl(second), td.kl_divergence(as_torch(first), as_torch(second)))


def test_log_prob_matches_torch_distributions_and_broadcasts_samples():
    first, _ = gaussians()
    z = first.sample(num_samples=7)
    assert z.shape == (7, 5, 3)
    torch.testing.assert_close(first.log_prob(z), as_torch(first).log_prob(z))


def test_sample_is_reparameterised_and_generator_seeded():
    mean = torch.zeros(4, 2, requires_grad=True)
    log_variance = torch.zeros(4, 2, requires_grad=True)
    gaussian = DiagonalGaussian(mean, log_variance)
    gaussian.sample().sum().backward()
    assert mean.grad is not None and log_variance.grad is not None
    first = gaussian.sample(torch.Generator().manual_seed(1))
    second = gaussian.sample(torch.Generator().manual_seed(1))
    assert torch.equal(first, second)
    assert torch.equal(gaussian.mode(), mean)


def test_bernoulli_matches_torch_distributions():
    logits = torch.randn(2, 1, 4, 4)
    target = (torch.rand(2, 1, 4, 4) > 0.5).float()
    torch.testing.assert_close(bernoulli_log_likelihood(logits, target), td.Bernoulli(logits=logits).log_prob(target))


@pytest.mark.parametrize("function", [discretized_gaussian_log_likelihood, discretized_logistic_log_likelihood])
@pytest.mark.parametrize(("mean", "log_spread"), [(0.3, -3.0), (0.0, -8.0), (0.999, -6.5), (0.5, 1.0), (1.4, -4.0)])
def test_discretised_likelihoods_are_probabilities_over_the_256_bins(function, mean, log_spread):
    values = torch.arange(256, dtype=torch.float32) / 255
    log_probabilities = function(torch.full((256,), mean), torch.full((256,), log_spread), values)
    assert torch.all(log_probabilities <= 1e-6)
    assert log_probabilities.exp().sum() == pytest.approx(1.0, abs=1e-3)


def test_discretised_gaussian_matches_cdf_difference():
    normal = td.Normal(torch.tensor(0.4), torch.tensor(0.1))
    value = torch.tensor(100 / 255)
    expected = torch.log(normal.cdf(value + 0.5 / 255) - normal.cdf(value - 0.5 / 255))
    result = discretized_gaussian_log_likelihood(torch.tensor(0.4), torch.tensor(0.1).log() * 2, value)
    torch.testing.assert_close(result, expected, rtol=1e-4, atol=1e-5)


def test_quadrant_mask_convention():
    one = given_quadrant_mask((1, 4, 4), 1)[0, 0]
    assert one.tolist() == [[0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0]]  # lower-left given
    two = given_quadrant_mask((1, 4, 4), 2)[0, 0]
    assert two[:, :2].eq(1).all() and two[:, 2:].eq(0).all()  # left half given
    three = given_quadrant_mask((1, 4, 4), 3)[0, 0]
    assert three[2:, 2:].eq(0).all() and three.sum() == 12  # all but lower-right


def test_phase_plan_rejects_inconsistent_phases():
    parameter = torch.nn.Parameter(torch.zeros(1))
    group = (OptimizerGroup("model", (parameter,)),)
    spans = plan_phases([Phase("a", group, steps=3), Phase("b", group)], 10)
    assert [(span.start, span.stop) for span in spans] == [(0, 3), (3, 10)]
    with pytest.raises(ValueError, match="only the last phase"):
        plan_phases([Phase("a", group), Phase("b", group, steps=2)], 10)
    with pytest.raises(ValueError, match="need 12 steps"):
        plan_phases([Phase("a", group, steps=12)], 10)
    with pytest.raises(ValueError, match="no parameters"):
        plan_phases([Phase("a", (OptimizerGroup("model", ()),))], 10)
