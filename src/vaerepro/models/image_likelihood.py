"""The decoder's output head: raw decoder channels → a per-pixel distribution over the image.

One module for every VAE-family model so that each model states its likelihood (and hence
its discretisation, see :mod:`vaerepro.models.distributions`) by a single option.

Decoder output layout: (B, P·C, H, W) with P = :attr:`PixelLikelihood.parameters_per_pixel`;
the first C channels are the location (logits for Bernoulli), the next C (if any) the
log-scale / log-variance.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vaerepro.models.distributions import (
    bernoulli_log_likelihood,
    discretized_gaussian_log_likelihood,
    discretized_logistic_log_likelihood,
)

LikelihoodName = Literal["bernoulli", "discretized_logistic", "gaussian"]
VarianceKind = Literal["scalar", "per_pixel"]

# PixelCNN++ clamps the log-scale at -7: narrower bins would not change the likelihood of
# 8-bit data and only make gradients explode.
MIN_LOG_SCALE = -7.0

DESCRIPTIONS = {
    "bernoulli": "Bernoulli on binarised pixels (nats of binary data)",
    "discretized_logistic": "discretised logistic, 256 bins per sub-pixel (nats of 8-bit data)",
    "gaussian": "discretised Gaussian with learned variance, 256 bins per sub-pixel (nats of 8-bit data)",
}


class PixelLikelihood(nn.Module):
    """Per-pixel likelihood ``p(x | decoder output)``.

    Args:
        kind: ``bernoulli`` (dynamically binarised data), ``discretized_logistic`` or
            ``gaussian`` (discretised Gaussian with a learned variance).
        channels: image channels C.
        variance: for ``gaussian`` only: one learned log-variance for all pixels
            (``scalar``, a parameter of this module) or one per pixel (``per_pixel``,
            predicted by the decoder).
    """

    def __init__(self, kind: LikelihoodName, channels: int, variance: VarianceKind = "scalar") -> None:
        super().__init__()
        self.kind = kind
        self.channels = channels
        self.variance = variance
        if kind == "bernoulli":
            self.parameters_per_pixel = 1
        elif kind == "discretized_logistic":
            self.parameters_per_pixel = 2
        elif kind == "gaussian":
            self.parameters_per_pixel = 1 if variance == "scalar" else 2
            if variance == "scalar":
                self.log_variance = nn.Parameter(torch.zeros(()))
        else:
            raise ValueError(f"unknown likelihood '{kind}'; choose bernoulli, discretized_logistic or gaussian")

    @property
    def output_channels(self) -> int:
        """Channels the decoder must produce."""
        return self.parameters_per_pixel * self.channels

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.kind]

    def _split(self, output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        location = output[:, : self.channels]
        if self.parameters_per_pixel == 1:
            spread = self.log_variance.expand_as(location) if self.kind == "gaussian" else None
        else:
            spread = output[:, self.channels :].clamp_min(MIN_LOG_SCALE)
        return location, spread

    def log_likelihood(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Elementwise ``log p(target | output)``, (B, C, H, W), float32."""
        location, spread = self._split(output)
        if self.kind == "bernoulli":
            return bernoulli_log_likelihood(location, target)
        mean = torch.sigmoid(location)
        if self.kind == "discretized_logistic":
            return discretized_logistic_log_likelihood(mean, spread, target)
        return discretized_gaussian_log_likelihood(mean, spread, target)

    def summed_log_likelihood_of_samples(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """``log p(target | output_s)`` summed over pixels for k outputs per image, (k, B), float32.

        ``output``: (k·B, P·C, H, W), the decoder's outputs for k latent samples of each of the
        B images (sample-major); ``target``: (B, C, H, W). For Bernoulli targets in {0, 1} the
        log-likelihood of logits ``l`` is ``log sigmoid((2x - 1)·l)``, computed against the
        broadcast target: two memory passes instead of the repeated target's copy and the
        five of ``binary_cross_entropy_with_logits``, which is what importance sampling at
        k = 5,000 is made of (``benchmarks/iwae_nll.py``). Fractional Bernoulli targets use
        ``x·l - softplus(l)``; other likelihoods repeat the target.
        """
        batch = target.shape[0]
        if output.shape[0] % batch:
            raise ValueError(f"{output.shape[0]} outputs are not a whole number of samples for {batch} images")
        samples = output.shape[0] // batch
        if self.kind == "bernoulli":
            logits = output.float().reshape(samples, batch, -1)
            flat_target = target.float().reshape(1, batch, -1)
            if bool(((flat_target == 0) | (flat_target == 1)).all()):
                return F.logsigmoid(logits * (2 * flat_target - 1)).sum(-1)
            return (logits * flat_target).sum(-1) - F.softplus(logits).sum(-1)
        repeated = target.repeat(samples, *([1] * (target.dim() - 1)))
        return self.log_likelihood(output, repeated).flatten(1).sum(1).view(samples, batch)

    def mean(self, output: torch.Tensor) -> torch.Tensor:
        """The image the decoder predicts (B, C, H, W) in [0, 1] (Bernoulli: probabilities)."""
        return torch.sigmoid(self._split(output)[0].float())
