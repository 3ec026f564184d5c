"""Conditional VAE (Sohn, Lee & Yan, "Learning Structured Output Representation using Deep
Conditional Generative Models", NeurIPS 2015).

Implements the CVAE lower bound on the conditional log-likelihood (the paper's Section 3):

    log p(y | x) >= -KL(q(z | x, y) || p(z | x)) + E_q[log p(y | x, z)]

estimated with one reparameterised sample. Two settings, chosen by ``condition``:

``label``
    Class-conditional generation: the condition is the digit label (one-hot, passed as the
    explicit argument ``y`` of shape (B,)), the output is the whole image ``x``, and the
    prior is ``N(0, I)`` (a label carries no information about the style code z).
    Networks: ``q(z | x, label)`` and ``p(x | z, label)``.

``quadrant``
    The paper's MNIST structured-output task (Section 5.1): the network sees some quadrants
    of a digit and predicts the rest. The condition is derived from the image itself (``y``
    must be ``None`` in ``forward``): *given* = ``x * given_mask``, *output* = the missing
    pixels. Mask convention (``given_quadrants``), H and W split at their midpoints:

    * 1 — the lower-left quadrant is given; upper-left, upper-right, lower-right are predicted;
    * 2 — the left half (upper-left + lower-left) is given;
    * 3 — all but the lower-right quadrant are given.

    (This quadrant order is the one used by common reproductions, e.g. Pyro's CVAE example,
    for the paper's "1/2/3 quadrant(s)" inputs.) Networks: recognition ``q(z | x, y)`` (the
    full image), conditional prior ``p(z | x)`` and generation ``p(y | x, z)``; the
    reconstruction term sums over the missing pixels only.
    :meth:`CVAE.conditional_log_likelihood` gives the paper's evaluation quantity (negative
    CLL, Table 1), by importance sampling with q(z | x, y) as proposal (default, S = 100 as
    we read the paper) or by plain Monte Carlo from the prior network.

Not implemented: the paper's GSNN / hybrid objective, the baseline-initialised recurrent
generation network and input-noise injection (Section 4).

Networks are MLPs on flattened images (``num_hidden_layers`` × ``hidden_units`` ReLUs).
Shapes: x (B, C, H, W) in [0, 1]; labels (B,) long; z (B, latent_dim).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from vaerepro.metrics.likelihood import log_mean_exp
from vaerepro.models.base import LatentVariableModel
from vaerepro.models.distributions import DiagonalGaussian, standard_normal
from vaerepro.models.image_likelihood import LikelihoodName, PixelLikelihood, VarianceKind
from vaerepro.models.networks import mlp
from vaerepro.models.registry import register
from vaerepro.structured import ranged


@dataclass(frozen=True)
class CVAEOptions:
    """Options of ``model: cvae`` (``num_classes`` is used by ``condition: label`` only,
    ``given_quadrants`` by ``condition: quadrant`` only)."""

    image_shape: tuple[int, int, int] = ranged((1, 28, 28), minimum=1)
    condition: Literal["label", "quadrant"] = "label"
    num_classes: int = ranged(10, minimum=1)
    given_quadrants: Literal[1, 2, 3] = 1
    latent_dim: int = ranged(32, minimum=1)
    hidden_units: int = ranged(500, minimum=1)
    num_hidden_layers: int = ranged(2, minimum=0)
    likelihood: LikelihoodName = "bernoulli"
    decoder_variance: VarianceKind = "scalar"
    kl_weight: float = ranged(1.0, minimum=0)


def given_quadrant_mask(image_shape: tuple[int, int, int], given_quadrants: int) -> torch.Tensor:
    """(1, 1, H, W) float mask, 1 on the given quadrants (see the module docstring)."""
    _, height, width = image_shape
    mask = torch.zeros(1, 1, height, width)
    top, left = slice(0, height // 2), slice(0, width // 2)
    bottom, right = slice(height // 2, height), slice(width // 2, width)
    mask[..., bottom, left] = 1
    if given_quadrants >= 2:
        mask[..., top, left] = 1
    if given_quadrants >= 3:
        mask[..., top, right] = 1
    return mask


@register("cvae", CVAEOptions)
class CVAE(LatentVariableModel):
    def __init__(self, options: CVAEOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        channels, height, width = options.image_shape
        self.latent_dim = options.latent_dim
        self.image_shape = options.image_shape
        self.condition = options.condition
        self.likelihood = PixelLikelihood(options.likelihood, channels, options.decoder_variance)
        pixels = channels * height * width
        layers, units = options.num_hidden_layers, options.hidden_units
        self._decoder_shape = (self.likelihood.output_channels, height, width)
        decoder_outputs = self.likelihood.output_channels * height * width
        if options.condition == "label":
            condition_size = options.num_classes
            self.recognition = mlp(pixels + condition_size, units, layers, 2 * options.latent_dim)
            self.generation = mlp(options.latent_dim + condition_size, units, layers, decoder_outputs)
        else:
            if height % 2 or width % 2:
                raise ValueError(f"cvae: the quadrant task needs even image height and width, got {height}x{width}")
            self.register_buffer("given_mask", given_quadrant_mask(options.image_shape, options.given_quadrants))
            self.recognition = mlp(pixels, units, layers, 2 * options.latent_dim)
            self.prior_network = mlp(pixels, units, layers, 2 * options.latent_dim)
            self.generation = mlp(options.latent_dim + pixels, units, layers, decoder_outputs)

    @property
    def uses_labels(self) -> bool:
        return self.condition == "label"

    @property
    def likelihood_description(self) -> str:
        what = "log p(x | label)" if self.condition == "label" else "log p(missing quadrants | given quadrants)"
        return f"{what}; {self.likelihood.description}"

    # -- conditioning helpers -------------------------------------------------------------

    def _one_hot(self, labels: torch.Tensor | None, batch: int) -> torch.Tensor:
        if labels is None:
            raise ValueError("cvae with condition=label needs the class labels as y, shape (B,)")
        if labels.shape != (batch,):
            raise ValueError(f"cvae: labels y must have shape ({batch},), got {tuple(labels.shape)}")
        return F.one_hot(labels.long(), self.options.num_classes).float()

    def _given(self, x: torch.Tensor) -> torch.Tensor:
        """The conditioning input of the quadrant task: x with missing quadrants zeroed."""
        return x * self.given_mask

    def _parameter_like(self) -> torch.Tensor:
        """A parameter, for the device and dtype of freshly drawn noise."""
        return next(self.parameters())

    def _check_no_label(self, y: torch.Tensor | None) -> None:
        if y is not None:
            raise ValueError("cvae with condition=quadrant derives its condition from x; pass y=None")

    # -- LatentVariableModel hooks -------------------------------------------------------

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """Recognition network ``q(z | x, label)`` or, for quadrants, ``q(z | given, missing)``."""
        if self.condition == "label":
            features = torch.cat([x.flatten(1), self._one_hot(y, x.shape[0])], dim=1)
        else:
            self._check_no_label(y)
            features = x.flatten(1)
        mean, log_variance = self.recognition(features).chunk(2, dim=1)
        return DiagonalGaussian(mean, log_variance)

    def prior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """``N(0, I)`` for labels; the conditional prior network ``p(z | given)`` for quadrants."""
        if self.condition == "label":
            return super().prior(x, y)
        mean, log_variance = self.prior_network(self._given(x).flatten(1)).chunk(2, dim=1)
        return DiagonalGaussian(mean, log_variance)

    def decode(self, z: torch.Tensor, x: torch.Tensor | None, y: torch.Tensor | None = None) -> torch.Tensor:
        """Raw generation-network output (N, P·C, H, W) for codes z and the batch's condition
        (labels ``y`` for ``label``; the images ``x`` whose given quadrants condition, for
        ``quadrant``)."""
        condition = self._one_hot(y, z.shape[0]) if self.condition == "label" else self._given(x).flatten(1)
        return self.generation(torch.cat([z, condition], dim=1)).view(z.shape[0], *self._decoder_shape)

    def log_likelihood_given_latent(
        self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        elementwise = self.likelihood.log_likelihood(self.decode(z, x, y), x)
        if self.condition == "quadrant":
            elementwise = elementwise * (1 - self.given_mask)
        return elementwise.flatten(1).sum(1)

    # -- the common contract -------------------------------------------------------------

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        posterior = self.encode(x, y)
        prior = self.prior(x, y)
        z = posterior.sample()
        reconstruction_nats = -self.log_likelihood_given_latent(x, z, y)
        kl = posterior.kl(prior).float().sum(1)
        loss = (reconstruction_nats + self.options.kl_weight * kl).mean()
        return {
            "loss": loss,
            "recon": reconstruction_nats.mean(),
            "kl": kl.mean(),
            "elbo": -(reconstruction_nats + kl).mean(),
        }

    def _fill_missing(self, x: torch.Tensor, predicted: torch.Tensor) -> torch.Tensor:
        return x * self.given_mask + predicted * (1 - self.given_mask)

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder mean at the posterior mean (quadrants: given pixels kept from x)."""
        predicted = self.likelihood.mean(self.decode(self.encode(x, y).mode(), x, y))
        return predicted if self.condition == "label" else self._fill_missing(x, predicted)

    def sample(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` conditional samples, (n, C, H, W) in [0, 1].

        ``y``: labels (n,) for ``condition: label``; for ``condition: quadrant``, images
        (n, C, H, W) (or (1, C, H, W), repeated) whose given quadrants are completed with
        z drawn from the prior network.
        """
        if self.condition == "label":
            self._one_hot(y, n)  # validates y before drawing noise
            z = standard_normal((n, self.latent_dim), like=self._parameter_like(), generator=generator)
            return self.likelihood.mean(self.decode(z, None, y))
        if y is None or y.ndim != 4:
            raise ValueError("cvae with condition=quadrant samples completions of images: pass y of shape (n, C, H, W)")
        images = y.expand(n, *y.shape[1:]) if y.shape[0] == 1 else y
        if images.shape[0] != n:
            raise ValueError(f"cvae: got {images.shape[0]} images to complete but n={n}")
        z = self.prior(images).sample(generator)
        return self._fill_missing(images, self.likelihood.mean(self.decode(z, images)))

    def complete(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Quadrant task: one stochastic completion of each image's missing quadrants."""
        return self.sample(x.shape[0], x, generator)

    @torch.no_grad()
    def conditional_log_likelihood(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None = None,
        num_samples: int = 100,
        method: Literal["importance", "monte_carlo"] = "importance",
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Estimated conditional log-likelihood in nats, (B,).

        ``importance``: ``log 1/S sum_s p(out | cond, z_s) p(z_s | cond) / q(z_s | x)``,
        ``z_s ~ q`` (a stochastic lower bound in expectation, tight as S grows).
        ``monte_carlo``: ``log 1/S sum_s p(out | cond, z_s)``, ``z_s ~ p(z | cond)``.
        For ``condition: label`` this is ``log p(x | label)``; for quadrants
        ``log p(missing | given)``.
        """
        if method == "importance":
            return log_mean_exp(self.log_importance_weights(x, y, num_samples, generator), dim=0)
        if method != "monte_carlo":
            raise ValueError(f"unknown method '{method}'; use 'importance' or 'monte_carlo'")
        prior = self.prior(x, y)
        z = prior.sample(generator, num_samples=num_samples)
        repeated_y = None if y is None else y.repeat(num_samples)
        log_likelihood = self.log_likelihood_given_latent(x.repeat(num_samples, 1, 1, 1), z.flatten(0, 1), repeated_y)
        return log_mean_exp(log_likelihood.view(num_samples, x.shape[0]), dim=0)
