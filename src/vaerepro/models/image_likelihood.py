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

    def mean(self, output: torch.Tensor) -> torch.Tensor:
        """The image the decoder predicts (B, C, H, W) in [0, 1] (Bernoulli: probabilities)."""
        return torch.sigmoid(self._split(output)[0].float())
