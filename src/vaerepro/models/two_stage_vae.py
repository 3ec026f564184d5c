"""Two-stage VAE (Dai & Wipf, "Diagnosing and Enhancing VAE Models", ICLR 2019,
arXiv:1903.05789).

Stage 1 is a VAE whose Gaussian decoder ``p(x | z) = N(mu_x(z), gamma I)`` has a *learned*
scalar variance gamma (log-parameterised). Its cost per image (the paper's VAE cost, Eq. (1),
with that decoder) is

    ||x - mu_x(z)||^2 / (2 gamma) + (d / 2) log(2 pi gamma) + KL(q(z | x) || N(0, I)),

with d = C·H·W. Dai & Wipf show that gamma -> 0 lets stage 1 learn the data manifold, while
its aggregate posterior q(z) need not match N(0, I); so stage 2 (Section 4) is a second VAE,
trained on stage-1 codes ``z ~ q(z | x)`` with the stage-1 networks frozen, of the same form
(``p(z | u) = N(mu_z(u), gamma_z I)``, learned gamma_z, u of the same size as z). Sampling
goes ``u ~ N(0, I) -> z = mu_z(u) -> x = mu_x(z)``; :meth:`TwoStageVAE.sample` with
``via="first_stage"`` draws ``z ~ N(0, I)`` directly, the one-stage baseline of the paper's
comparison.

Training is two optimizer phases (:meth:`TwoStageVAE.optimizer_phases`): ``stage1`` for
``round(first_stage_fraction * total_steps)`` steps over the stage-1 parameters, then
``stage2`` for the rest over the stage-2 parameters. ``forward`` computes the loss of the
current stage (a buffer, so checkpoints restore it).

Architecture: stage 1 uses the conv encoder/decoder of :mod:`.networks` (the paper uses a
ResNet-style network; not replicated); stage 2 uses fully connected networks with
``second_stage_hidden_layers`` × ``second_stage_hidden_units`` ReLUs (defaults 3 × 1024, our
reading of the paper's appendix).

Likelihood for evaluation: :meth:`log_importance_weights` scores stage 1 alone (prior
N(0, I)) with the 256-bin *discretised* Gaussian of variance gamma, so it is a probability
of the 8-bit image; the training cost above uses the continuous density, as in the paper.
Shapes: x (B, C, H, W) in [0, 1]; z, u (B, latent_dim).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from vaerepro.models.base import LatentVariableModel
from vaerepro.models.distributions import (
    DiagonalGaussian,
    discretized_gaussian_log_likelihood,
    gaussian_log_density,
    standard_normal,
)
from vaerepro.models.networks import ConvDecoder, ConvEncoder, check_image_shape, mlp
from vaerepro.models.phases import OptimizerGroup, Phase
from vaerepro.models.registry import register
from vaerepro.structured import ranged

STAGES = ("stage1", "stage2")


@dataclass(frozen=True)
class TwoStageVAEOptions:
    """Options of ``model: two_stage_vae``."""

    image_shape: tuple[int, int, int] = ranged((1, 28, 28), minimum=1)
    latent_dim: int = ranged(64, minimum=1)
    hidden_channels: int = ranged(32, minimum=1)
    num_downsamplings: int = ranged(2, minimum=0)
    second_stage_hidden_units: int = ranged(1024, minimum=1)
    second_stage_hidden_layers: int = ranged(3, minimum=0)
    first_stage_fraction: float = ranged(0.5, above=0, below=1)


@register("two_stage_vae", TwoStageVAEOptions)
class TwoStageVAE(LatentVariableModel):
    def __init__(self, options: TwoStageVAEOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        check_image_shape("two_stage_vae", options.image_shape, 2**options.num_downsamplings)
        self.latent_dim = options.latent_dim
        self.image_shape = options.image_shape
        channels = options.image_shape[0]
        latent = options.latent_dim
        self.first_encoder = ConvEncoder(
            options.image_shape, options.hidden_channels, options.num_downsamplings, 2 * latent
        )
        self.first_decoder = ConvDecoder(
            latent, options.image_shape, options.hidden_channels, options.num_downsamplings, channels
        )
        self.first_log_gamma = nn.Parameter(torch.zeros(()))
        units, layers = options.second_stage_hidden_units, options.second_stage_hidden_layers
        self.second_encoder = mlp(latent, units, layers, 2 * latent)
        self.second_decoder = mlp(latent, units, layers, latent)
        self.second_log_gamma = nn.Parameter(torch.zeros(()))
        self.register_buffer("stage_index", torch.tensor(0))

    # -- phases ---------------------------------------------------------------------------

    @property
    def stage(self) -> str:
        return STAGES[int(self.stage_index)]

    def begin_phase(self, name: str) -> None:
        if name not in STAGES:
            raise ValueError(f"two_stage_vae has phases {STAGES}, not '{name}'")
        self.stage_index.fill_(STAGES.index(name))

    def first_stage_parameters(self) -> tuple[nn.Parameter, ...]:
        return (*self.first_encoder.parameters(), *self.first_decoder.parameters(), self.first_log_gamma)

    def second_stage_parameters(self) -> tuple[nn.Parameter, ...]:
        return (*self.second_encoder.parameters(), *self.second_decoder.parameters(), self.second_log_gamma)

    def optimizer_phases(self, total_steps: int) -> list[Phase]:
        first_steps = min(total_steps, round(self.options.first_stage_fraction * total_steps))
        return [
            Phase("stage1", (OptimizerGroup("model", self.first_stage_parameters()),), steps=first_steps),
            Phase("stage2", (OptimizerGroup("model", self.second_stage_parameters()),), steps=None),
        ]

    # -- stage 1 as a latent-variable model ---------------------------------------------

    @property
    def likelihood_description(self) -> str:
        return "stage 1 only: discretised Gaussian with learned scalar variance gamma, 256 bins (nats of 8-bit data)"

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        mean, log_variance = self.first_encoder(x).chunk(2, dim=1)
        return DiagonalGaussian(mean, log_variance)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Stage-1 decoder mean mu_x(z), (N, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.first_decoder(z))

    def log_likelihood_given_latent(
        self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        mean = self.decode(z)
        return discretized_gaussian_log_likelihood(mean, self.first_log_gamma.expand_as(mean), x).flatten(1).sum(1)

    # -- stage 2 ------------------------------------------------------------------------

    def encode_second(self, z: torch.Tensor) -> DiagonalGaussian:
        mean, log_variance = self.second_encoder(z).chunk(2, dim=1)
        return DiagonalGaussian(mean, log_variance)

    # -- the common contract -------------------------------------------------------------

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self._first_stage_terms(x) if self.stage == "stage1" else self._second_stage_terms(x)

    def _first_stage_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        posterior = self.encode(x)
        z = posterior.sample()
        mean = self.decode(z)
        log_gamma = self.first_log_gamma.expand_as(mean)
        reconstruction = -gaussian_log_density(mean.float(), log_gamma.float(), x.float()).flatten(1).sum(1)
        kl = posterior.kl().float().sum(1)
        with torch.no_grad():
            discrete = -discretized_gaussian_log_likelihood(mean, log_gamma, x).flatten(1).sum(1)
        return {
            "loss": (reconstruction + kl).mean(),
            "recon": reconstruction.mean(),
            "kl": kl.mean(),
            "gamma": self.first_log_gamma.detach().exp(),
            "elbo": -(discrete + kl.detach()).mean(),
        }

    def _second_stage_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            z = self.encode(x).sample()  # frozen stage 1: its codes are stage 2's data
        posterior = self.encode_second(z)
        u = posterior.sample()
        mean = self.second_decoder(u)
        reconstruction = -gaussian_log_density(
            mean.float(), self.second_log_gamma.float().expand_as(mean), z.float()
        ).sum(1)
        kl = posterior.kl().float().sum(1)
        return {
            "loss": (reconstruction + kl).mean(),
            "stage2_recon": reconstruction.mean(),
            "stage2_kl": kl.mean(),
            "stage2_gamma": self.second_log_gamma.detach().exp(),
        }

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Stage-1 decoder mean at the stage-1 posterior mean, (B, C, H, W)."""
        return self.decode(self.encode(x).mode())

    def sample(
        self,
        n: int,
        y: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        *,
        via: Literal["second_stage", "first_stage"] = "second_stage",
    ) -> torch.Tensor:
        """(n, C, H, W) decoder means. ``via="second_stage"``: u ~ N(0, I), z = mu_z(u);
        ``via="first_stage"``: z ~ N(0, I) (the plain-VAE baseline)."""
        like = self.first_log_gamma
        noise = standard_normal((n, self.latent_dim), like=like, generator=generator)
        if via == "second_stage":
            z = self.second_decoder(noise)
        elif via == "first_stage":
            z = noise
        else:
            raise ValueError(f"via must be 'second_stage' or 'first_stage', got '{via}'")
        return self.decode(z)
