"""Likelihood tools: Gaussian KL, negative ELBO, importance-sampled NLL, bits/dim, codebooks.

References
----------
* Kingma & Welling 2014, "Auto-Encoding Variational Bayes", Appendix B: closed-form KL of a
  diagonal Gaussian posterior against a standard-normal prior.
* Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders", Eq. (8):
  ``L_k = E[log (1/k) sum_i p(x, z_i) / q(z_i | x)]``, a lower bound on ``log p(x)`` that is
  ``>= ELBO`` (= ``L_1``) and tightens as ``k`` grows. ``-L_k`` is the reported NLL estimate.
* van den Oord et al. 2017 (VQ-VAE) / Razavi et al. 2019 (VQ-VAE-2): codebook perplexity
  ``exp(H(p))`` of the empirical code distribution.

Conventions (pinned; see DESIGN.md "Metric conventions")
--------------------------------------------------------
* All likelihoods are in **nats**, summed per example by the caller.
* bits/dim = nats / (C·H·W · ln 2), where ``num_dims = C·H·W``. This is only a meaningful
  number when the nats come from a *discrete* likelihood of the 8-bit (or binarised) image,
  e.g. the 256-bin discretised logistic/Gaussian in ``vaerepro.models.distributions``, or a
  Bernoulli on binary data. A continuous density on [0, 1] would need the ``+ log(256)``-per-
  dimension dequantisation correction, which these functions never apply silently.
"""

from __future__ import annotations

import math

import torch

LIKELIHOOD_CONVENTION = "nats-per-example; bits-per-dim = nats / (C*H*W*ln2) of a discrete 8-bit likelihood"
IMPORTANCE_SAMPLED_NLL_CONVENTION = "burda2016-iwae-bound: -log mean_k exp(log p(x,z_k) - log q(z_k|x)), nats"
CODEBOOK_CONVENTION = (
    "usage = distinct codes used / codebook size; perplexity = exp(entropy in nats of code frequencies)"
)

_LN_2 = math.log(2.0)


def _check_finite(name: str, tensor: torch.Tensor) -> None:
    if not torch.isfinite(tensor).all():
        raise ValueError(f"{name} contains NaN or Inf values")


def diagonal_gaussian_kl(
    mean: torch.Tensor,
    log_variance: torch.Tensor,
    prior_mean: torch.Tensor | None = None,
    prior_log_variance: torch.Tensor | None = None,
) -> torch.Tensor:
    """Elementwise ``KL(N(mean, exp(log_variance)) || N(prior_mean, exp(prior_log_variance)))``.

    Shapes: ``mean`` and ``log_variance`` are (...); the prior arguments broadcast against
    them and default to the standard normal (mean 0, log-variance 0). Returns a tensor with
    the broadcast shape (normally that of ``mean``), in nats; the caller sums over latent
    units. Formula (two univariate Gaussians, per dimension)::

        KL = 0.5 * (lv_p - lv_q + (exp(lv_q) + (mu_q - mu_p)^2) / exp(lv_p) - 1)
    """
    if mean.shape != log_variance.shape:
        raise ValueError(f"mean {tuple(mean.shape)} and log_variance {tuple(log_variance.shape)} differ in shape")
    if prior_mean is None and prior_log_variance is None:
        # Standard-normal prior: the familiar Kingma & Welling form, cheaper and exact.
        return 0.5 * (mean.pow(2) + log_variance.exp() - 1.0 - log_variance)
    if prior_mean is None:
        prior_mean = torch.zeros_like(mean)
    if prior_log_variance is None:
        prior_log_variance = torch.zeros_like(log_variance)
    # exp(lv_q - lv_p) instead of exp(lv_q)/exp(lv_p): no overflow for large log-variances.
    variance_ratio = torch.exp(log_variance - prior_log_variance)
    squared_mean_gap = (mean - prior_mean).pow(2) * torch.exp(-prior_log_variance)
    return 0.5 * (prior_log_variance - log_variance + variance_ratio + squared_mean_gap - 1.0)


def log_mean_exp(values: torch.Tensor, dim: int) -> torch.Tensor:
    """``log(mean(exp(values), dim))`` computed stably (max-shift via ``logsumexp``).

    Shapes: ``values`` (..., k, ...); the result drops ``dim``. Works with ``-inf`` entries
    (they contribute zero weight); an all ``-inf`` slice gives ``-inf``.
    """
    if values.numel() == 0 or values.shape[dim] == 0:
        raise ValueError(f"log_mean_exp needs at least one value along dim {dim}, got shape {tuple(values.shape)}")
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])


def importance_sampled_nll(log_weights: torch.Tensor) -> torch.Tensor:
    """Importance-sampled negative log-likelihood (Burda et al. 2016, Eq. 8), in nats.

    ``log_weights`` has shape (k, batch): ``log p(x, z_i) - log q(z_i | x)`` for ``k``
    samples ``z_i ~ q(z | x)``. Returns (batch,) ``-log (1/k) sum_i exp(log_weights_i)``,
    an upper bound on the true NLL that is never above the negative ELBO in expectation.
    With ``k = 1`` it is the one-sample negative ELBO.
    """
    if log_weights.dim() != 2:
        raise ValueError(f"log_weights must have shape (k, batch), got {tuple(log_weights.shape)}")
    if log_weights.shape[0] < 1 or log_weights.shape[1] < 1:
        raise ValueError(f"log_weights needs k >= 1 samples and batch >= 1, got shape {tuple(log_weights.shape)}")
    if torch.isnan(log_weights).any() or torch.isposinf(log_weights).any():
        raise ValueError("log_weights contains NaN or +Inf values")
    return -log_mean_exp(log_weights, dim=0)


def negative_elbo(reconstruction_log_likelihood: torch.Tensor, kl: torch.Tensor) -> torch.Tensor:
    """Negative ELBO ``-(E_q[log p(x|z)] - KL(q(z|x) || p(z)))`` in nats.

    Shapes: both (batch,) per-example sums (or any equal/broadcastable shapes); returns the
    broadcast shape. No averaging happens here.
    """
    return kl - reconstruction_log_likelihood


def nats_to_bits_per_dim(nats: torch.Tensor | float, num_dims: int) -> torch.Tensor | float:
    """Per-example nats -> bits per dimension: ``nats / (num_dims * ln 2)``.

    ``num_dims`` is C·H·W. Valid for discrete (8-bit or binary) likelihoods; see module doc.
    Accepts a tensor or a float and returns the same kind.
    """
    if int(num_dims) != num_dims or num_dims <= 0:
        raise ValueError(f"num_dims must be a positive integer, got {num_dims!r}")
    return nats / (num_dims * _LN_2)


def bits_per_dim_to_nats(bpd: torch.Tensor | float, num_dims: int) -> torch.Tensor | float:
    """Inverse of :func:`nats_to_bits_per_dim`: ``bpd * num_dims * ln 2``."""
    if int(num_dims) != num_dims or num_dims <= 0:
        raise ValueError(f"num_dims must be a positive integer, got {num_dims!r}")
    return bpd * (num_dims * _LN_2)


def codebook_usage(indices: torch.Tensor, codebook_size: int) -> dict[str, float | int | str]:
    """Codebook statistics of a VQ model from the code indices it produced.

    ``indices``: integer tensor of any shape (e.g. (batch, H', W')) with values in
    ``[0, codebook_size)``. Returns a dict::

        {"usage": used / codebook_size, "used_codes": used, "codebook_size": K,
         "perplexity": exp(-sum p log p), "num_indices": N, "convention": ...}

    Perplexity equals K when every code is used equally often and 1 when only one is used.
    """
    if codebook_size <= 0:
        raise ValueError(f"codebook_size must be positive, got {codebook_size}")
    if indices.dtype.is_floating_point or indices.dtype.is_complex or indices.dtype == torch.bool:
        raise ValueError(f"indices must be an integer tensor, got dtype {indices.dtype}")
    flat = indices.reshape(-1).long()
    if flat.numel() == 0:
        raise ValueError("codebook_usage needs at least one index, got an empty tensor")
    if flat.min() < 0 or flat.max() >= codebook_size:
        raise ValueError(f"indices must lie in [0, {codebook_size}), got range [{int(flat.min())}, {int(flat.max())}]")
    counts = torch.bincount(flat, minlength=codebook_size).double()
    probabilities = counts / counts.sum()
    nonzero = probabilities[probabilities > 0]
    entropy = float(-(nonzero * nonzero.log()).sum())
    used = int((counts > 0).sum())
    return {
        "usage": used / codebook_size,
        "used_codes": used,
        "codebook_size": int(codebook_size),
        "perplexity": math.exp(entropy),
        "num_indices": int(flat.numel()),
        "convention": CODEBOOK_CONVENTION,
    }
