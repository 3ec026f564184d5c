"""Likelihood tools: KL against torch.distributions, IWAE bound vs ELBO, bits/dim, codebooks."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from vaerepro.metrics.likelihood import (
    bits_per_dim_to_nats,
    codebook_usage,
    diagonal_gaussian_kl,
    importance_sampled_nll,
    log_mean_exp,
    nats_to_bits_per_dim,
    negative_elbo,
)


def test_kl_against_standard_normal_matches_torch_distributions():
    generator = torch.Generator().manual_seed(0)
    mean = torch.randn(5, 7, generator=generator, dtype=torch.float64)
    log_variance = torch.randn(5, 7, generator=generator, dtype=torch.float64)
    expected = kl_divergence(Normal(mean, (0.5 * log_variance).exp()), Normal(0.0, 1.0))
    result = diagonal_gaussian_kl(mean, log_variance)
    assert result.shape == mean.shape
    torch.testing.assert_close(result, expected, rtol=1e-12, atol=1e-12)


def test_kl_against_general_gaussian_prior_matches_torch_distributions():
    generator = torch.Generator().manual_seed(1)
    mean, log_variance, prior_mean, prior_log_variance = (
        torch.randn(4, 3, generator=generator, dtype=torch.float64) * 2 for _ in range(4)
    )
    expected = kl_divergence(
        Normal(mean, (0.5 * log_variance).exp()), Normal(prior_mean, (0.5 * prior_log_variance).exp())
    )
    torch.testing.assert_close(
        diagonal_gaussian_kl(mean, log_variance, prior_mean, prior_log_variance), expected, rtol=1e-12, atol=1e-12
    )


def test_kl_is_zero_for_identical_distributions_and_rejects_shape_mismatch():
    mean, log_variance = torch.full((3,), 0.7), torch.full((3,), -1.3)
    assert torch.allclose(diagonal_gaussian_kl(mean, log_variance, mean, log_variance), torch.zeros(3), atol=1e-7)
    with pytest.raises(ValueError, match="differ in shape"):
        diagonal_gaussian_kl(torch.zeros(3), torch.zeros(4))


def test_log_mean_exp_is_stable_and_exact():
    assert log_mean_exp(torch.tensor([1000.0, 1000.0]), dim=0).item() == pytest.approx(1000.0)
    assert log_mean_exp(torch.tensor([-1000.0, -1000.0]), dim=0).item() == pytest.approx(-1000.0)
    values = torch.tensor([[0.0, math.log(3.0)], [math.log(2.0), math.log(5.0)]], dtype=torch.float64)
    torch.testing.assert_close(log_mean_exp(values, dim=0), torch.log(torch.tensor([1.5, 4.0], dtype=torch.float64)))
    assert log_mean_exp(torch.tensor([0.0, -math.inf]), dim=0).item() == pytest.approx(math.log(0.5))
    with pytest.raises(ValueError, match="at least one value"):
        log_mean_exp(torch.zeros(0, 3), dim=0)


def test_importance_sampled_nll_shapes_and_single_sample_case():
    log_weights = torch.tensor([[-3.0, -7.0]])
    torch.testing.assert_close(importance_sampled_nll(log_weights), torch.tensor([3.0, 7.0]))
    constant = torch.full((16, 4), -2.5)
    torch.testing.assert_close(importance_sampled_nll(constant), torch.full((4,), 2.5))
    with pytest.raises(ValueError, match=r"\(k, batch\)"):
        importance_sampled_nll(torch.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        importance_sampled_nll(torch.tensor([[float("nan")]]))


def test_iwae_bound_is_at_least_the_elbo_and_approaches_log_likelihood_on_a_toy_model():
    """p(z) = N(0, 1), p(x|z) = N(z, 1) so p(x) = N(0, 2); q(z|x) deliberately mismatched."""
    torch.manual_seed(0)
    x = torch.full((2000,), 1.5, dtype=torch.float64)
    q = Normal(0.3 * x, torch.tensor(0.6, dtype=torch.float64))
    prior, true_log_likelihood = Normal(0.0, 1.0), Normal(0.0, math.sqrt(2.0)).log_prob(x[0]).item()

    def log_weights(k: int) -> torch.Tensor:
        z = q.sample((k,))
        return Normal(z, 1.0).log_prob(x) + prior.log_prob(z) - q.log_prob(z)

    elbo = -importance_sampled_nll(log_weights(1)).mean().item()
    analytic_elbo = (
        -negative_elbo(
            Normal(q.mean, 1.0).log_prob(x) - 0.5 * q.stddev**2,
            diagonal_gaussian_kl(q.mean, torch.log(q.stddev**2 * torch.ones_like(x))),
        )
        .mean()
        .item()
    )
    bound_5 = -importance_sampled_nll(log_weights(5)).mean().item()
    bound_500 = -importance_sampled_nll(log_weights(500)).mean().item()
    assert elbo == pytest.approx(analytic_elbo, abs=0.05)
    assert elbo < bound_5 < bound_500 <= true_log_likelihood + 1e-3
    assert bound_500 == pytest.approx(true_log_likelihood, abs=0.01)


def test_negative_elbo_is_kl_minus_reconstruction_log_likelihood():
    torch.testing.assert_close(negative_elbo(torch.tensor([-10.0]), torch.tensor([2.0])), torch.tensor([12.0]))


def test_bits_per_dim_conversion():
    num_dims = 3 * 32 * 32
    assert nats_to_bits_per_dim(num_dims * math.log(2.0), num_dims) == pytest.approx(1.0)
    assert bits_per_dim_to_nats(1.0, num_dims) == pytest.approx(num_dims * math.log(2.0))
    nats = torch.tensor([100.0, 2000.0], dtype=torch.float64)
    torch.testing.assert_close(bits_per_dim_to_nats(nats_to_bits_per_dim(nats, 784), 784), nats)
    # 8 bits per dimension = a uniform distribution over 256 levels
    assert nats_to_bits_per_dim(784 * math.log(256), 784) == pytest.approx(8.0)
    with pytest.raises(ValueError, match="positive integer"):
        nats_to_bits_per_dim(1.0, 0)


def test_codebook_usage_and_perplexity():
    uniform = codebook_usage(torch.arange(8).repeat(5), 8)
    assert uniform["usage"] == 1.0 and uniform["perplexity"] == pytest.approx(8.0)
    single = codebook_usage(torch.zeros(4, 4, dtype=torch.long), 16)
    assert single["usage"] == 1 / 16 and single["perplexity"] == pytest.approx(1.0)
    half = codebook_usage(torch.tensor([0, 0, 1, 1]), 4)
    assert half["used_codes"] == 2 and half["perplexity"] == pytest.approx(2.0) and "convention" in half
    with pytest.raises(ValueError, match="lie in"):
        codebook_usage(torch.tensor([0, 4]), 4)
    with pytest.raises(ValueError, match="integer"):
        codebook_usage(torch.tensor([0.0, 1.0]), 4)
    with pytest.raises(ValueError, match="empty"):
        codebook_usage(torch.zeros(0, dtype=torch.long), 4)
