"""VQGAN: a vector-quantised autoencoder trained with perceptual and adversarial losses, and a
GPT-style transformer prior over its codes (Esser, Rombach & Ommer, "Taming Transformers for
High-Resolution Image Synthesis", CVPR 2021, arXiv:2012.09841).

Autoencoder (Sec. 3.1): encoder E and decoder G of :mod:`.vqgan_networks`, a learned codebook
of ``codebook_size`` codes of ``embedding_dim`` (the VQ of :mod:`.vector_quantizer`, with 1×1
convolutions before and after it as in the reference code). Its loss (Eq. 4-6) is

    L = L_rec + ||sg[E(x)] - z_q||² + β ||sg[z_q] - E(x)||² + λ · L_GAN,

with ``L_rec = |x - x̂| + perceptual_weight · LPIPS(x, x̂)`` (images in [-1, 1]),
``L_GAN = -mean D(x̂)`` for the generator and the hinge loss for the PatchGAN discriminator D,
λ the adaptive weight of Eq. 7 times ``adversarial_weight`` (0.8), and both adversarial terms
off before ``adversarial_start_step`` (``disc_start``). The perceptual term is real when
torchvision's VGG16 ImageNet weights are on the machine (:mod:`.perceptual`); without them it is
off, ``perceptual_active`` (a buffer, so the checkpoint keeps it) says so, and the evaluation's
record states it.

``reconstruction_loss: l2`` with ``adversarial_weight: 0`` and ``perceptual_weight: 0`` is the
L2-only VQ-VAE-style baseline of the paper's Table 5 comparison, on the same architecture.

Prior (Sec. 3.2): after the autoencoder phase, the causal transformer of :mod:`.code_prior`
models the codes in raster order; sampling draws codes one at a time (optionally top-k) and
decodes them. Training phases: ``autoencoder`` (discriminator and generator optimizers, stepped
alternately in each step), then ``prior``. Shapes: x (B, C, H, W) in [0, 1]; codes (B, h, w)
with h = H / 2^(len(channel_multipliers) - 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from vaerepro.models.base import RegisteredModel
from vaerepro.models.code_prior import CodePrior, CodePriorOptions
from vaerepro.models.distributions import discretized_gaussian_log_likelihood
from vaerepro.models.likelihood_scale import SquaredErrorScale
from vaerepro.models.networks import check_image_shape
from vaerepro.models.perceptual import VGG16_FILE, WEIGHTS_VARIABLE, PerceptualDistance, vgg16_weights_path
from vaerepro.models.phases import OptimizerGroup, Phase
from vaerepro.models.registry import register
from vaerepro.models.vector_quantizer import VectorQuantizer
from vaerepro.models.vqgan_networks import (
    Decoder,
    Encoder,
    PatchDiscriminator,
    adaptive_adversarial_weight,
    hinge_discriminator_loss,
)
from vaerepro.structured import ranged

PHASES = ("autoencoder", "prior")


@dataclass(frozen=True)
class VQGANOptions:
    """Options of ``model: vqgan``; defaults: the reference ``custom_vqgan`` configuration (f = 16)."""

    image_shape: tuple[int, int, int] = ranged((3, 256, 256), minimum=1)
    hidden_channels: int = ranged(128, minimum=1)
    channel_multipliers: tuple[int, ...] = ranged((1, 1, 2, 2, 4), minimum=1)
    residual_blocks: int = ranged(2, minimum=1)
    attention: bool = True
    norm_groups: int = ranged(32, minimum=1)
    embedding_dim: int = ranged(256, minimum=1)
    codebook_size: int = ranged(1024, minimum=2)
    commitment_weight: float = ranged(0.25, minimum=0)
    reconstruction_loss: Literal["l1", "l2"] = "l1"
    perceptual_weight: float = ranged(1.0, minimum=0)
    adversarial_weight: float = ranged(0.8, minimum=0)
    adversarial_start_step: int = ranged(10000, minimum=0)
    discriminator_channels: int = ranged(64, minimum=1)
    discriminator_layers: int = ranged(3, minimum=1)
    prior_fraction: float = ranged(0.5, above=0, below=1)
    prior_embedding_dim: int = ranged(256, minimum=1)
    prior_layers: int = ranged(8, minimum=1)
    prior_heads: int = ranged(8, minimum=1)
    prior_dropout: float = ranged(0.0, minimum=0, below=1)
    prior_learning_rate_scale: float = ranged(1.0, above=0)


@register("vqgan", VQGANOptions)
class VQGAN(RegisteredModel):
    task = "generation"

    def __init__(self, options: VQGANOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        downsamplings = len(options.channel_multipliers) - 1
        check_image_shape("vqgan", options.image_shape, 2**downsamplings)
        widths = sorted({options.hidden_channels * multiplier for multiplier in options.channel_multipliers})
        uneven = [width for width in widths if width % options.norm_groups]
        if uneven:
            raise ValueError(f"vqgan: norm_groups = {options.norm_groups} must divide every level width, not {uneven}")
        if options.prior_embedding_dim % options.prior_heads:
            raise ValueError(
                f"vqgan: prior_embedding_dim {options.prior_embedding_dim} is not divisible by prior_heads {options.prior_heads}"
            )
        channels, height, width = options.image_shape
        self.image_shape = options.image_shape
        self.grid = (height // 2**downsamplings, width // 2**downsamplings)
        dim = options.embedding_dim
        self.encoder = Encoder(options, dim)
        self.quant_conv = nn.Conv2d(dim, dim, 1)
        self.quantizer = VectorQuantizer(options.codebook_size, dim)
        self.post_quant_conv = nn.Conv2d(dim, dim, 1)
        self.decoder = Decoder(options, dim)
        self.discriminator = PatchDiscriminator(channels, options.discriminator_channels, options.discriminator_layers)
        weights = vgg16_weights_path() if options.perceptual_weight > 0 else None
        # Not a submodule: the frozen VGG16 (528 MB) must not go into every checkpoint.
        self.__dict__["_perceptual"] = PerceptualDistance(weights) if weights is not None else None
        self.register_buffer("perceptual_active", torch.tensor(weights is not None))
        self.likelihood_scale = SquaredErrorScale()
        self.prior = CodePrior(
            CodePriorOptions(
                vocabulary_size=options.codebook_size,
                max_positions=self.grid[0] * self.grid[1],
                embedding_dim=options.prior_embedding_dim,
                layers=options.prior_layers,
                heads=options.prior_heads,
                dropout=options.prior_dropout,
            )
        )
        self.register_buffer("phase_index", torch.tensor(0))
        self.step = 0

    # -- what the evaluation reads ------------------------------------------------------------

    level_names = ("bottom",)
    levels = 1

    @property
    def grids(self) -> dict[str, tuple[int, int]]:
        return {"bottom": self.grid}

    @property
    def perceptual_note(self) -> str:
        if self.options.perceptual_weight == 0:
            return "perceptual term off (perceptual_weight 0)"
        if bool(self.perceptual_active):
            return f"perceptual term on: VGG16 distance (LPIPS, equal channel weights), weight {self.options.perceptual_weight}"
        return (
            "perceptual term OFF in training: torchvision's VGG16 ImageNet weights were not on the machine "
            f"(models/perceptual.py); the objective was the {self.options.reconstruction_loss.upper()} + adversarial terms only"
        )

    # -- phases ---------------------------------------------------------------------------------

    @property
    def phase(self) -> str:
        return PHASES[int(self.phase_index)]

    def begin_phase(self, name: str) -> None:
        if name not in PHASES:
            raise ValueError(f"vqgan has phases {PHASES}, not '{name}'")
        self.phase_index.fill_(PHASES.index(name))

    def begin_step(self, step: int) -> None:
        self.step = step

    def optimizer_phases(self, total_steps: int) -> list[Phase]:
        autoencoder_steps = min(total_steps, round((1 - self.options.prior_fraction) * total_steps))
        excluded = {id(p) for p in (*self.discriminator.parameters(), *self.prior.parameters())}
        generator = tuple(p for p in self.parameters() if p.requires_grad and id(p) not in excluded)
        return [
            Phase(
                "autoencoder",
                (
                    OptimizerGroup("discriminator", tuple(self.discriminator.parameters()), loss_key="d_adv"),
                    OptimizerGroup("generator", generator, loss_key="loss"),
                ),
                steps=autoencoder_steps,
            ),
            Phase(
                "prior",
                (
                    OptimizerGroup(
                        "prior",
                        tuple(self.prior.parameters()),
                        learning_rate_scale=self.options.prior_learning_rate_scale,
                    ),
                ),
                steps=None,
            ),
        ]

    # -- the autoencoder ----------------------------------------------------------------------

    def encode_codes(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Nearest-code indices, ``{"bottom": (B, h, w)}``."""
        return {"bottom": self.quantizer.nearest(self.quant_conv(self.encoder(x * 2.0 - 1.0)))}

    def decode_codes(self, codes: dict[str, torch.Tensor]) -> torch.Tensor:
        """Decoder output mapped to [0, 1] (unclamped), (B, C, H, W)."""
        decoded = self.decoder(self.post_quant_conv(self.quantizer.lookup(codes["bottom"])))
        return (decoded + 1.0) / 2.0

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode_codes(self.encode_codes(x)).clamp(0, 1)

    def reconstruct_levels(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"all levels": self.reconstruct(x)}

    # -- likelihood (the same bound as VQ-VAE's; models/vqvae.py) --------------------------------

    @property
    def likelihood_description(self) -> str:
        return (
            "-log p(x|z_q(x)) under a discretised Gaussian (256 bins) whose scalar variance is the training "
            "squared error of the frozen autoencoder, "
            "plus -log p(z_q(x)) under the transformer prior (bound on -log p(x), nats of 8-bit data); "
            "VQGAN is not trained for likelihood"
        )

    def reconstruction_nats(self, x: torch.Tensor, codes: dict[str, torch.Tensor]) -> torch.Tensor:
        mean = self.decode_codes(codes)
        log_variance = self.likelihood_scale.log_variance(mean).expand_as(mean)
        return -discretized_gaussian_log_likelihood(mean, log_variance, x).flatten(1).sum(1)

    def prior_nats(self, codes: dict[str, torch.Tensor]) -> torch.Tensor:
        return -self.prior.log_prob(codes["bottom"].flatten(1))

    def uniform_prior_nats(self) -> float:
        return self.grid[0] * self.grid[1] * math.log(self.options.codebook_size)

    # -- training -------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self._autoencoder_terms(x) if self.phase == "autoencoder" else self._prior_terms(x)

    def _autoencoder_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        options = self.options
        target = x * 2.0 - 1.0
        latents = self.quant_conv(self.encoder(target))
        quantized = self.quantizer(latents)
        restored = self.decoder(self.post_quant_conv(quantized.quantized))
        if options.reconstruction_loss == "l1":
            pixel = (restored - target).abs().mean()
        else:
            pixel = (restored - target).pow(2).mean()
        distance = self.__dict__["_perceptual"]
        if distance is None and bool(self.perceptual_active) and torch.is_grad_enabled():
            raise RuntimeError(
                "vqgan: this checkpoint trained with the VGG16 perceptual term, but torchvision's VGG16 weights "
                f"are not on this machine ({VGG16_FILE} in torch's hub cache or ${WEIGHTS_VARIABLE}); resuming "
                "without them would change the objective mid-run. Install the weights or start over."
            )
        if distance is not None and bool(self.perceptual_active):
            perceptual = distance.to(restored.device)(restored, target).mean()
        else:
            perceptual = restored.new_zeros(())
        reconstruction = pixel + options.perceptual_weight * perceptual
        active = self.step >= options.adversarial_start_step and options.adversarial_weight > 0
        with torch.set_grad_enabled(torch.is_grad_enabled() and active):
            generator_adversarial = -self.discriminator(restored).mean()
        if active and generator_adversarial.requires_grad:
            weight = adaptive_adversarial_weight(
                reconstruction, generator_adversarial, self.decoder.conv_out.weight, options.adversarial_weight
            )
        else:
            weight = restored.new_zeros(())
        loss = (
            reconstruction
            + quantized.codebook_loss
            + options.commitment_weight * quantized.commitment_loss
            + weight * generator_adversarial
        )
        factor = 1.0 if active else 0.0
        logits_real = self.discriminator(target.detach())
        logits_fake = self.discriminator(restored.detach())
        return {
            "loss": loss,
            "recon": reconstruction,
            "pixel": pixel,
            "perceptual": perceptual.detach(),
            "codebook": quantized.codebook_loss,
            "commitment": quantized.commitment_loss,
            "g_adv": generator_adversarial.detach(),
            "d_adv": factor * hinge_discriminator_loss(logits_real, logits_fake),
            "adversarial_weight": weight.detach(),
            "bottom_perplexity": quantized.perplexity,
            "bottom_usage": quantized.usage,
        }

    def _prior_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            encoded = self.encode_codes(x)
            if self.training:  # the decoder's variance for the likelihood bound, from training data
                self.likelihood_scale.update(self.decode_codes(encoded), x)
            codes = encoded["bottom"].flatten(1)
        terms = self.prior(codes)
        return {"loss": terms["loss"], "prior_bits_per_code": terms["bits_per_code"]}

    @torch.no_grad()
    def sample_codes(
        self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> dict[str, torch.Tensor]:
        codes = self.prior.sample(n, self.grid[0] * self.grid[1], generator=generator, temperature=temperature)
        return {"bottom": codes.view(n, *self.grid)}

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.decode_codes(self.sample_codes(n, generator)).clamp(0, 1)
