"""Posterior/prior Gaussians and the per-pixel likelihoods that decoders use.

Shapes: ``B`` batch, ``D`` latent size, ``C, H, W`` image. Every function here returns
*elementwise* log-probabilities (same shape as its inputs); callers sum over the dimensions
they mean (pixels for an image, latent units for a code), so no function hides a reduction.

Pixel likelihoods and their discretisation (needed to turn nats into bits/dim honestly):

* :func:`bernoulli_log_likelihood` — Bernoulli with logits. A proper probability only for
  binary targets (dynamically binarised MNIST): then nats / (C·H·W·ln 2) is bits/dim of
  binary data. On grey-level targets it is the cross-entropy, not a likelihood.
* :func:`discretized_logistic_log_likelihood` — Salimans et al. 2017 (PixelCNN++, Eq. 2)
  with one logistic per sub-pixel: the probability mass of the 8-bit bin, with the two edge
  bins taking the tails. A proper probability of the 8-bit image.
* :func:`discretized_gaussian_log_likelihood` — the same 256-bin construction with a Gaussian
  CDF. A proper probability of the 8-bit image.
* :func:`gaussian_log_density` — a continuous density on [0, 1] (Dai & Wipf's decoder
  ``N(mu(z), gamma I)``). Not a probability of 8-bit values; never report it as bits/dim.

Bins are on the [0, 1] scale: value ``k / 255`` owns ``[k/255 - 1/510, k/255 + 1/510]``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from vaerepro.metrics.likelihood import diagonal_gaussian_kl

LOG_TWO_PI = math.log(2.0 * math.pi)
NUM_8BIT_BINS = 256
# Below this bin mass the CDF difference loses all precision; use density × bin width.
_MIN_BIN_MASS = 1e-5


class DiagonalGaussian:
    """``N(mean, diag(exp(log_variance)))``; ``mean`` and ``log_variance`` are (..., D)."""

    def __init__(self, mean: torch.Tensor, log_variance: torch.Tensor) -> None:
        if mean.shape != log_variance.shape:
            raise ValueError(f"mean {tuple(mean.shape)} and log_variance {tuple(log_variance.shape)} differ in shape")
        self.mean = mean
        self.log_variance = log_variance

    @classmethod
    def standard(cls, like: torch.Tensor) -> DiagonalGaussian:
        """``N(0, I)`` with the shape, dtype and device of ``like``."""
        return cls(torch.zeros_like(like), torch.zeros_like(like))

    @property
    def standard_deviation(self) -> torch.Tensor:
        return torch.exp(0.5 * self.log_variance)

    def sample(self, generator: torch.Generator | None = None, num_samples: int | None = None) -> torch.Tensor:
        """Reparameterised sample ``mean + std * eps`` (gradients flow to both parameters).

        Returns (..., D), or (num_samples, ..., D) when ``num_samples`` is given. ``eps`` is
        drawn from ``generator`` when given (on the generator's device, then moved), else from
        the global RNG of the tensors' device.
        """
        shape = self.mean.shape if num_samples is None else (num_samples, *self.mean.shape)
        noise = standard_normal(shape, like=self.mean, generator=generator)
        return self.mean + self.standard_deviation * noise

    def mode(self) -> torch.Tensor:
        return self.mean

    def kl(self, other: DiagonalGaussian | None = None) -> torch.Tensor:
        """Elementwise ``KL(self || other)`` (``other`` defaults to ``N(0, I)``); sum over D yourself."""
        if other is None:
            return diagonal_gaussian_kl(self.mean, self.log_variance)
        return diagonal_gaussian_kl(self.mean, self.log_variance, other.mean, other.log_variance)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Elementwise log density of ``value`` (..., D), broadcasting leading sample dims."""
        return gaussian_log_density(self.mean, self.log_variance, value)


def standard_normal(
    shape: torch.Size | tuple[int, ...], *, like: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """``N(0, 1)`` noise shaped ``shape`` on ``like``'s device/dtype, optionally from ``generator``."""
    if generator is None:
        return torch.randn(shape, device=like.device, dtype=like.dtype)
    noise = torch.randn(shape, generator=generator, device=generator.device, dtype=like.dtype)
    return noise.to(like.device)


def gaussian_log_density(mean: torch.Tensor, log_variance: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Elementwise continuous Gaussian log density ``log N(value; mean, exp(log_variance))``."""
    return -0.5 * (LOG_TWO_PI + log_variance + (value - mean) ** 2 * torch.exp(-log_variance))


def bernoulli_log_likelihood(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Elementwise ``log Bernoulli(target; sigmoid(logits))``; exact for binary targets."""
    return -F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none")


def _bin_half_width(num_bins: int) -> float:
    return 0.5 / (num_bins - 1)


def _discretized(
    log_cdf: Callable[[torch.Tensor], torch.Tensor],
    log_pdf_scaled: Callable[[torch.Tensor], torch.Tensor],
    cdf: Callable[[torch.Tensor], torch.Tensor],
    mean: torch.Tensor,
    inverse_scale: torch.Tensor,
    target: torch.Tensor,
    num_bins: int,
) -> torch.Tensor:
    """Shared 256-bin construction for a symmetric location-scale CDF ``cdf(u)``."""
    half_width = _bin_half_width(num_bins)
    centred = target - mean
    upper = (centred + half_width) * inverse_scale
    lower = (centred - half_width) * inverse_scale
    # Take the CDF difference on the side nearer the centre so it does not cancel to zero.
    right_side = centred > 0
    mass = torch.where(right_side, cdf(-lower) - cdf(-upper), cdf(upper) - cdf(lower))
    log_mass = torch.where(
        mass > _MIN_BIN_MASS,
        torch.log(mass.clamp_min(1e-30)),
        log_pdf_scaled(centred * inverse_scale) + torch.log(inverse_scale * 2 * half_width),
    )
    bottom = target < half_width
    top = target > 1 - half_width
    return torch.where(bottom, log_cdf(upper), torch.where(top, log_cdf(-lower), log_mass))


def discretized_gaussian_log_likelihood(
    mean: torch.Tensor, log_variance: torch.Tensor, target: torch.Tensor, num_bins: int = NUM_8BIT_BINS
) -> torch.Tensor:
    """Elementwise log probability of the 8-bit bin of ``target`` under ``N(mean, exp(log_variance))``.

    ``target`` holds values ``k / (num_bins - 1)`` in [0, 1]; the bins at 0 and 1 extend to
    -inf and +inf. Computed in float32 even under autocast.
    """
    mean, log_variance, target = mean.float(), log_variance.float(), target.float()
    return _discretized(
        torch.special.log_ndtr,
        lambda u: -0.5 * (u**2 + LOG_TWO_PI),
        torch.special.ndtr,
        mean,
        torch.exp(-0.5 * log_variance),
        target,
        num_bins,
    )


def discretized_logistic_log_likelihood(
    mean: torch.Tensor, log_scale: torch.Tensor, target: torch.Tensor, num_bins: int = NUM_8BIT_BINS
) -> torch.Tensor:
    """Elementwise log probability of the 8-bit bin of ``target`` under ``Logistic(mean, exp(log_scale))``.

    Salimans et al. 2017 (PixelCNN++), single logistic per sub-pixel, on the [0, 1] scale.
    Computed in float32 even under autocast.
    """
    mean, log_scale, target = mean.float(), log_scale.float(), target.float()
    return _discretized(
        lambda u: -F.softplus(-u),
        lambda u: -u - 2 * F.softplus(-u),
        torch.sigmoid,
        mean,
        torch.exp(-log_scale),
        target,
        num_bins,
    )
