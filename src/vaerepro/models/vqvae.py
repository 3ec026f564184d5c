"""VQ-VAE and its two-level hierarchy VQ-VAE-2, each with an autoregressive prior over its codes.

* VQ-VAE: van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation Learning"
  (NeurIPS 2017, arXiv:1711.00937). An encoder output ``z_e(x)`` (B, D, h, w) is replaced at each
  position by its nearest codebook vector (Eq. 1-2, :mod:`.vector_quantizer`); training minimises
  Eq. 3, ``log p(x | z_q(x)) + ||sg[z_e(x)] - e||² + β ||z_e(x) - sg[e]||²`` with β = 0.25, or,
  with ``codebook_update: ema``, the reconstruction and commitment terms only while the codebook
  follows exponential moving averages (Appendix A.1, γ = 0.99). After training, a prior over the
  discrete codes is fitted (Sec. 3.2: "we fit an autoregressive distribution over z, p(z), so
  that we can generate x via ancestral sampling"); the paper uses a PixelCNN, we use the
  PixelSNAIL-style prior of :mod:`.pixelsnail` (masked gated residual convolutions with causal
  attention), or with ``prior_kind: transformer`` the GPT-style causal transformer of
  :mod:`.code_prior` (VQGAN's prior), over the codes in raster order.
* VQ-VAE-2 (``levels: 2``): Razavi, van den Oord & Vinyals, "Generating Diverse High-Fidelity
  Images with VQ-VAE-2" (NeurIPS 2019, arXiv:1906.00446), Sec. 3.1 and Algorithm 1. The bottom
  encoder downsamples by ``2^num_downsamplings``; a top encoder downsamples its features once
  more and is quantised first; a top decoder brings the top codes back to the bottom grid, where
  they are concatenated with the bottom features before the bottom quantiser (so the bottom codes
  are conditioned on the top ones); the decoder reads the bottom codes concatenated with the
  upsampled top codes. Both codebooks are EMA-updated in the paper. The priors (Sec. 3.2) are a
  top prior over the top codes and a bottom prior conditioned on them; the paper's are
  PixelSNAIL/PixelCNN networks, as are ours by default (the bottom one reads the top codes
  through an upsampled condition stack); with the transformer, the top codes are the bottom
  prior's conditioning prefix.

Reconstruction likelihood. Training uses the squared error (mean over pixels) as the references
do. So that the model has a likelihood (the paper reports a bits/dim *bound* on CIFAR-10), the
decoder is read as a Gaussian whose scalar variance is fitted in closed form, the mean squared
error of the frozen autoencoder on the training batches of the prior phase
(:mod:`.likelihood_scale`). The bound is then
``-log p(x) <= -log p(x | z_q(x)) - log p(z_q(x))``: ``q(z | x)`` is one-hot, so the KL term of
the ELBO is ``-log p(z)`` of the chosen codes (under a uniform prior, ``log K`` per code, the
paper's training-time constant), and ``p(x | z)`` is the discretised Gaussian of the 8-bit image.

Training is two optimizer phases: ``autoencoder`` for ``round((1 - prior_fraction) · steps)``
steps (encoders, decoders, codebooks), then ``prior`` (the priors only, on codes of the frozen
autoencoder, whose squared error sets the likelihood's variance meanwhile). Shapes: x (B, C, H, W) in [0, 1]; codes of level ``top`` (B, h/2, w/2)
and ``bottom`` (B, h, w) with h = H / 2^num_downsamplings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vaerepro.models.base import RegisteredModel
from vaerepro.models.code_prior import CodePrior, CodePriorOptions
from vaerepro.models.distributions import discretized_gaussian_log_likelihood
from vaerepro.models.likelihood_scale import SquaredErrorScale
from vaerepro.models.networks import check_image_shape
from vaerepro.models.phases import OptimizerGroup, Phase
from vaerepro.models.pixelsnail import PixelSnailOptions, PixelSnailPrior
from vaerepro.models.registry import register
from vaerepro.models.vector_quantizer import EmaVectorQuantizer, QuantizerOutput, VectorQuantizer
from vaerepro.models.vq_networks import VQDecoder, VQEncoder
from vaerepro.structured import ranged

PHASES = ("autoencoder", "prior")


@dataclass(frozen=True)
class VQVAEOptions:
    """Options of ``model: vqvae`` (defaults: the VQ-VAE paper's CIFAR-10 model, Sec. 4.1, reading
    its "8 × 8 × 10" latents as an 8 × 8 grid of 10-dimensional codes, K = 512)."""

    image_shape: tuple[int, int, int] = ranged((3, 32, 32), minimum=1)
    levels: Literal[1, 2] = 1
    hidden_channels: int = ranged(256, minimum=2)
    residual_channels: int = ranged(256, minimum=1)
    residual_blocks: int = ranged(2, minimum=0)
    # Downsamplings of the (bottom) encoder; VQ-VAE-2's top level downsamples once more.
    num_downsamplings: int = ranged(2, minimum=1)
    embedding_dim: int = ranged(10, minimum=1)
    codebook_size: int = ranged(512, minimum=2)
    commitment_weight: float = ranged(0.25, minimum=0)
    codebook_update: Literal["ema", "loss"] = "ema"
    ema_decay: float = ranged(0.99, minimum=0, below=1)
    # EMA count below which a code is restarted at a batch latent (0: never; Jukebox's restarts).
    dead_code_threshold: float = ranged(0.0, minimum=0)
    prior_fraction: float = ranged(0.5, above=0, below=1)
    # The papers' PixelCNN-family priors (pixelsnail), or the GPT-style transformer of VQGAN.
    prior_kind: Literal["pixelsnail", "transformer"] = "pixelsnail"
    prior_channels: int = ranged(256, minimum=1)  # pixelsnail
    prior_residual_blocks: int = ranged(4, minimum=1)  # pixelsnail, per attention group
    prior_attention_groups: int = ranged(2, minimum=1)  # pixelsnail
    prior_embedding_dim: int = ranged(256, minimum=1)  # transformer
    prior_layers: int = ranged(8, minimum=1)  # transformer
    prior_heads: int = ranged(8, minimum=1)  # both
    prior_dropout: float = ranged(0.1, minimum=0, below=1)
    prior_learning_rate_scale: float = ranged(1.0, above=0)


@register("vqvae", VQVAEOptions)
class VQVAE(RegisteredModel):
    task = "generation"

    def __init__(self, options: VQVAEOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        factor = 2 ** (options.num_downsamplings + options.levels - 1)
        check_image_shape("vqvae", options.image_shape, factor)
        width_name = "prior_channels" if options.prior_kind == "pixelsnail" else "prior_embedding_dim"
        if getattr(options, width_name) % options.prior_heads:
            raise ValueError(
                f"{width_name} {getattr(options, width_name)} is not divisible by prior_heads {options.prior_heads}"
            )
        self.image_shape = options.image_shape
        channels, height, width = options.image_shape
        hidden, residual = options.hidden_channels, options.residual_channels
        blocks, dim = options.residual_blocks, options.embedding_dim
        self.bottom_grid = (height // 2**options.num_downsamplings, width // 2**options.num_downsamplings)
        self.bottom_encoder = VQEncoder(channels, hidden, residual, blocks, options.num_downsamplings)
        self.levels = options.levels
        if self.levels == 2:
            self.top_grid = (self.bottom_grid[0] // 2, self.bottom_grid[1] // 2)
            self.top_encoder = VQEncoder(hidden, hidden, residual, blocks, 1)
            self.top_projection = nn.Conv2d(hidden, dim, 1)
            self.top_quantizer = self._quantizer()
            self.top_decoder = VQDecoder(dim, dim, hidden, residual, blocks, 1)
            self.bottom_projection = nn.Conv2d(hidden + dim, dim, 1)
            self.top_upsample = nn.ConvTranspose2d(dim, dim, 4, stride=2, padding=1)
        else:
            self.bottom_projection = nn.Conv2d(hidden, dim, 1)
        self.bottom_quantizer = self._quantizer()
        self.decoder = VQDecoder(dim * self.levels, channels, hidden, residual, blocks, options.num_downsamplings)
        self.likelihood_scale = SquaredErrorScale()
        if self.levels == 2:
            self.top_prior = self._prior(self.top_grid)
            self.bottom_prior = self._prior(self.bottom_grid, condition_grid=self.top_grid)
        else:
            self.bottom_prior = self._prior(self.bottom_grid)
        self.register_buffer("phase_index", torch.tensor(0))

    def _prior(self, grid: tuple[int, int], condition_grid: tuple[int, int] | None = None) -> nn.Module:
        """A prior over ``grid``'s codes, conditioned on codes of ``condition_grid`` when given."""
        options = self.options
        condition_vocabulary = options.codebook_size if condition_grid is not None else 0
        if options.prior_kind == "pixelsnail":
            return PixelSnailPrior(
                PixelSnailOptions(
                    vocabulary_size=options.codebook_size,
                    grid=grid,
                    channels=options.prior_channels,
                    residual_blocks=options.prior_residual_blocks,
                    attention_groups=options.prior_attention_groups,
                    heads=options.prior_heads,
                    dropout=options.prior_dropout,
                    condition_vocabulary_size=condition_vocabulary,
                    condition_grid=condition_grid,
                )
            )
        length = grid[0] * grid[1] + (condition_grid[0] * condition_grid[1] if condition_grid else 0)
        return CodePrior(
            CodePriorOptions(
                vocabulary_size=options.codebook_size,
                max_positions=length,
                embedding_dim=options.prior_embedding_dim,
                layers=options.prior_layers,
                heads=options.prior_heads,
                dropout=options.prior_dropout,
                condition_vocabulary_size=condition_vocabulary,
            )
        )

    def _quantizer(self) -> VectorQuantizer:
        options = self.options
        if options.codebook_update == "ema":
            return EmaVectorQuantizer(
                options.codebook_size,
                options.embedding_dim,
                decay=options.ema_decay,
                dead_code_threshold=options.dead_code_threshold,
            )
        return VectorQuantizer(options.codebook_size, options.embedding_dim)

    # -- phases ---------------------------------------------------------------------------

    @property
    def level_names(self) -> tuple[str, ...]:
        return ("top", "bottom") if self.levels == 2 else ("bottom",)

    @property
    def phase(self) -> str:
        return PHASES[int(self.phase_index)]

    def begin_phase(self, name: str) -> None:
        if name not in PHASES:
            raise ValueError(f"vqvae has phases {PHASES}, not '{name}'")
        self.phase_index.fill_(PHASES.index(name))

    def prior_modules(self) -> tuple[nn.Module, ...]:
        return (self.top_prior, self.bottom_prior) if self.levels == 2 else (self.bottom_prior,)

    def autoencoder_parameters(self) -> tuple[nn.Parameter, ...]:
        prior_ids = {id(parameter) for prior in self.prior_modules() for parameter in prior.parameters()}
        return tuple(p for p in self.parameters() if p.requires_grad and id(p) not in prior_ids)

    def prior_parameters(self) -> tuple[nn.Parameter, ...]:
        return tuple(parameter for prior in self.prior_modules() for parameter in prior.parameters())

    def optimizer_phases(self, total_steps: int) -> list[Phase]:
        autoencoder_steps = min(total_steps, round((1 - self.options.prior_fraction) * total_steps))
        prior_group = OptimizerGroup(
            "prior", self.prior_parameters(), learning_rate_scale=self.options.prior_learning_rate_scale
        )
        return [
            Phase("autoencoder", (OptimizerGroup("model", self.autoencoder_parameters()),), steps=autoencoder_steps),
            Phase("prior", (prior_group,), steps=None),
        ]

    # -- the autoencoder ----------------------------------------------------------------------

    def quantize(self, x: torch.Tensor) -> dict[str, QuantizerOutput]:
        """Quantiser outputs per level name (top first): ``quantized`` (B, D, h, w), ``indices`` (B, h, w)."""
        features = self.bottom_encoder(x)
        if self.levels == 1:
            return {"bottom": self.bottom_quantizer(self.bottom_projection(features))}
        top = self.top_quantizer(self.top_projection(self.top_encoder(features)))
        guided = torch.cat([self.top_decoder(top.quantized), features], dim=1)
        return {"top": top, "bottom": self.bottom_quantizer(self.bottom_projection(guided))}

    def decode_quantized(self, quantized: dict[str, torch.Tensor]) -> torch.Tensor:
        """Decoder mean (B, C, H, W) from quantised latents per level (unclamped, data in [0, 1])."""
        if self.levels == 1:
            return self.decoder(quantized["bottom"])
        return self.decoder(torch.cat([self.top_upsample(quantized["top"]), quantized["bottom"]], dim=1))

    def decode_codes(self, codes: dict[str, torch.Tensor]) -> torch.Tensor:
        """Decoder mean from code indices per level, (B, C, H, W)."""
        quantizers = {"bottom": self.bottom_quantizer}
        if self.levels == 2:
            quantizers["top"] = self.top_quantizer
        return self.decode_quantized({name: quantizers[name].lookup(index) for name, index in codes.items()})

    def encode_codes(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Code indices per level (nearest codes, no codebook update), each (B, h, w)."""
        was_training = self.training
        self.eval()  # an EMA quantiser updates its codebook only in training mode
        try:
            return {name: output.indices for name, output in self.quantize(x).items()}
        finally:
            self.train(was_training)

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decoder mean at the nearest codes, clamped to [0, 1], (B, C, H, W)."""
        return self.decode_codes(self.encode_codes(x)).clamp(0, 1)

    def reconstruct_levels(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """VQ-VAE-2's Fig. 3 view: the image from the top codes only (bottom latents zero) and
        from both levels, (B, C, H, W) each; a one-level model gives its reconstruction only."""
        codes = self.encode_codes(x)
        both = self.decode_codes(codes).clamp(0, 1)
        if self.levels == 1:
            return {"all levels": both}
        top = self.top_quantizer.lookup(codes["top"])
        top_only = self.decode_quantized({"top": top, "bottom": torch.zeros_like(self.top_decoder(top))})
        return {"top codes only": top_only.clamp(0, 1), "all levels": both}

    # -- likelihood -----------------------------------------------------------------------------

    @property
    def likelihood_description(self) -> str:
        return (
            "-log p(x|z_q(x)) under a discretised Gaussian (256 bins) whose scalar variance is the training "
            "squared error of the frozen autoencoder, "
            "plus -log p(z_q(x)) of the codes under the prior (bound on -log p(x), nats of 8-bit data)"
        )

    def reconstruction_nats(self, x: torch.Tensor, codes: dict[str, torch.Tensor]) -> torch.Tensor:
        """``-log p(x | z_q(x))`` per image, (B,), in nats of the 8-bit image."""
        mean = self.decode_codes(codes)
        log_variance = self.likelihood_scale.log_variance(mean).expand_as(mean)
        return -discretized_gaussian_log_likelihood(mean, log_variance, x).flatten(1).sum(1)

    def prior_nats(self, codes: dict[str, torch.Tensor]) -> torch.Tensor:
        """``-log p(z)`` of the codes under the learned prior(s), (B,), in nats."""
        bottom = codes["bottom"].flatten(1)
        if self.levels == 1:
            return -self.bottom_prior.log_prob(bottom)
        top = codes["top"].flatten(1)
        return -self.top_prior.log_prob(top) - self.bottom_prior.log_prob(bottom, condition=top)

    def uniform_prior_nats(self) -> float:
        """``-log p(z)`` under the uniform prior of training time: ``log K`` per code."""
        codes_per_image = sum(math.prod(grid) for grid in self.grids.values())
        return codes_per_image * math.log(self.options.codebook_size)

    @property
    def grids(self) -> dict[str, tuple[int, int]]:
        grids = {"bottom": self.bottom_grid}
        if self.levels == 2:
            grids = {"top": self.top_grid, **grids}
        return grids

    # -- the common contract -----------------------------------------------------------------

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self._autoencoder_terms(x) if self.phase == "autoencoder" else self._prior_terms(x)

    def _autoencoder_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = self.quantize(x)
        mean = self.decode_quantized({name: output.quantized for name, output in outputs.items()})
        squared_error = F.mse_loss(mean.float(), x.float())
        codebook = sum(output.codebook_loss for output in outputs.values())
        commitment = sum(output.commitment_loss for output in outputs.values())
        terms = {
            "loss": squared_error + codebook + self.options.commitment_weight * commitment,
            "recon": squared_error,
            "codebook": codebook,
            "commitment": commitment,
        }
        for name, output in outputs.items():
            terms[f"{name}_perplexity"] = output.perplexity
            terms[f"{name}_usage"] = output.usage
        return terms

    def _prior_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            codes = self.encode_codes(x)  # frozen autoencoder: its codes are the prior's data
            if self.training:  # the decoder's variance for the likelihood bound, from training data
                self.likelihood_scale.update(self.decode_codes(codes), x)
        bottom = codes["bottom"].flatten(1)
        if self.levels == 1:
            bottom_terms = self.bottom_prior(bottom)
            return {"loss": bottom_terms["loss"], "prior_bits_per_code": bottom_terms["bits_per_code"]}
        top = codes["top"].flatten(1)
        top_terms = self.top_prior(top)
        bottom_terms = self.bottom_prior(bottom, condition=top)
        return {
            "loss": top_terms["loss"] + bottom_terms["loss"],
            "top_prior_bits_per_code": top_terms["bits_per_code"],
            "bottom_prior_bits_per_code": bottom_terms["bits_per_code"],
        }

    @torch.no_grad()
    def sample_codes(
        self, n: int, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> dict[str, torch.Tensor]:
        """Ancestral sampling from the prior(s): code indices per level, each (n, h, w)."""
        if self.levels == 1:
            length = self.bottom_grid[0] * self.bottom_grid[1]
            bottom = self.bottom_prior.sample(n, length, generator=generator, temperature=temperature)
            return {"bottom": bottom.view(n, *self.bottom_grid)}
        top_length = self.top_grid[0] * self.top_grid[1]
        top = self.top_prior.sample(n, top_length, generator=generator, temperature=temperature)
        bottom_length = self.bottom_grid[0] * self.bottom_grid[1]
        bottom = self.bottom_prior.sample(n, bottom_length, condition=top, generator=generator, temperature=temperature)
        return {"top": top.view(n, *self.top_grid), "bottom": bottom.view(n, *self.bottom_grid)}

    @torch.no_grad()
    def sample(self, n: int, y: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """(n, C, H, W) decoder means of codes drawn from the prior, clamped to [0, 1]."""
        return self.decode_codes(self.sample_codes(n, generator)).clamp(0, 1)
