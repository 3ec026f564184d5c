"""Variational autoencoder (Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014,
arXiv:1312.6114).

Implements the SGVB estimator with the analytic KL term, the paper's Eq. (10):

    L(x) = -KL(q(z|x) || N(0, I)) + log p(x | z),   z = mu(x) + sigma(x) * eps,  eps ~ N(0, I)

with one sample of z per data point (the paper's L = 1) and, for the rate–distortion sweep,
a weight on the KL term: ``loss = -log p(x|z) + kl_weight * KL`` (``kl_weight = 1`` is the
ELBO; the reported ``elbo`` always uses weight 1).

Architectures:

* ``conv`` — stride-2 conv encoder / transposed-conv decoder (:mod:`.networks`).
* ``mlp`` — the paper's own MNIST configuration (Section 5 and Appendix C): Gaussian MLP
  encoder and Bernoulli MLP decoder, each with one hidden layer of tanh units, 500 units for
  MNIST (``hidden_units``). The paper trained it with Adagrad and minibatches of 100
  (``TrainSettings.optimizer = "adagrad"``); it initialised weights from N(0, 0.01), which
  we do not replicate (PyTorch's default initialisation is used).

Likelihoods (:mod:`.image_likelihood`): ``bernoulli`` for dynamically binarised MNIST, or
``discretized_logistic`` / ``gaussian`` (discretised, learned scalar or per-pixel variance)
for 8-bit natural images.

Shapes: x (B, C, H, W) in [0, 1]; z (B, latent_dim).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from vaerepro.models.base import LatentVariableModel
from vaerepro.models.distributions import DiagonalGaussian, standard_normal
from vaerepro.models.image_likelihood import LikelihoodName, PixelLikelihood, VarianceKind
from vaerepro.models.networks import ConvDecoder, ConvEncoder, check_image_shape, mlp
from vaerepro.models.registry import register
from vaerepro.structured import ranged


@dataclass(frozen=True)
class VAEOptions:
    """Options of ``model: vae``.

    ``hidden_channels``/``num_downsamplings`` apply to ``architecture: conv``;
    ``hidden_units`` to ``architecture: mlp``.
    """

    image_shape: tuple[int, int, int] = ranged((1, 28, 28), minimum=1)
    latent_dim: int = ranged(16, minimum=1)
    architecture: Literal["conv", "mlp"] = "conv"
    hidden_channels: int = ranged(32, minimum=1)
    num_downsamplings: int = ranged(2, minimum=0)
    hidden_units: int = ranged(500, minimum=1)
    likelihood: LikelihoodName = "bernoulli"
    decoder_variance: VarianceKind = "scalar"
    kl_weight: float = ranged(1.0, minimum=0)


@register("vae", VAEOptions)
class VAE(LatentVariableModel):
    def __init__(self, options: VAEOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        self.latent_dim = options.latent_dim
        self.image_shape = options.image_shape
        channels, height, width = options.image_shape
        self.likelihood = PixelLikelihood(options.likelihood, channels, options.decoder_variance)
        if options.architecture == "conv":
            check_image_shape("vae", options.image_shape, 2**options.num_downsamplings)
            self.encoder = ConvEncoder(
                options.image_shape, options.hidden_channels, options.num_downsamplings, 2 * options.latent_dim
            )
            self.decoder = ConvDecoder(
                options.latent_dim,
                options.image_shape,
                options.hidden_channels,
                options.num_downsamplings,
                self.likelihood.output_channels,
            )
        else:
            check_image_shape("vae", options.image_shape, 1)
            pixels = channels * height * width
            self.encoder = nn.Sequential(
                nn.Flatten(), mlp(pixels, options.hidden_units, 1, 2 * options.latent_dim, "tanh")
            )
            self.decoder = nn.Sequential(
                mlp(
                    options.latent_dim,
                    options.hidden_units,
                    1,
                    self.likelihood.output_channels * height * width,
                    "tanh",
                ),
                nn.Unflatten(1, (self.likelihood.output_channels, height, width)),
            )

    @property
    def likelihood_description(self) -> str:
        return self.likelihood.description

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        mean, log_variance = self.encoder(x).chunk(2, dim=1)
        return DiagonalGaussian(mean, log_variance)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Raw decoder output (B, P·C, H, W); :class:`PixelLikelihood` interprets it."""
        return self.decoder(z)

    def log_likelihood_given_latent(
        self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self.likelihood.log_likelihood(self.decode(z), x).flatten(1).sum(1)

    def log_likelihood_of_samples(
        self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(k, B) from z (k, B, D): the decoder runs once on all k·B latents; x is broadcast, not copied."""
        return self.likelihood.summed_log_likelihood_of_samples(self.decode(z.flatten(0, 1)), x)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        posterior = self.encode(x)
        z = posterior.sample()
        reconstruction_nats = -self.log_likelihood_given_latent(x, z)  # (B,)
        kl = posterior.kl().float().sum(1)  # (B,)
        loss = (reconstruction_nats + self.options.kl_weight * kl).mean()
        return {
            "loss": loss,
            "recon": reconstruction_nats.mean(),
            "kl": kl.mean(),
            "elbo": -(reconstruction_nats + kl).mean(),
        }

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder mean at the posterior mean, (B, C, H, W) in [0, 1]."""
        return self.likelihood.mean(self.decode(self.encode(x).mode()))

    def sample(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decoder means of ``n`` prior draws ``z ~ N(0, I)``, (n, C, H, W) in [0, 1]."""
        like = next(self.parameters())
        z = standard_normal((n, self.latent_dim), like=like, generator=generator)
        return self.likelihood.mean(self.decode(z))
