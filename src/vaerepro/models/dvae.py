"""DALL-E: a discrete VAE (dVAE) with a Gumbel-softmax relaxation and a logit-Laplace decoder,
then a transformer over caption tokens followed by image tokens (Ramesh, Pavlov, Goh, Gray,
Voss, Radford, Chen & Sutskever, "Zero-Shot Text-to-Image Generation", ICML 2021,
arXiv:2102.12092; reference code: github.com/openai/DALL-E, ``dall_e/encoder.py``,
``decoder.py``, ``utils.py``), at reduced size.

Stage 1, the dVAE (Sec. 2.1, Appendix A):

* Encoder (A.1, reference ``Encoder``): a 7×7 convolution to ``hidden_channels`` (n_hid), then
  ``groups`` groups of ``blocks_per_group`` bottleneck residual blocks, group g of width
  ``n_hid · 2^g``, with 2×2 max-pooling between groups, then ReLU and a 1×1 convolution to
  ``codebook_size`` logits per latent position. Each block is ``id(x) + post_gain · res(x)``
  with ``res`` = (ReLU, conv) × 4 of kernels 3, 3, 3, 1 through ``width / 4`` channels and
  ``post_gain = 1 / n_layers²``, ``n_layers = groups · blocks_per_group``; ``id`` is a 1×1
  convolution where the width changes. The decoder mirrors it: a 1×1 convolution from the
  (relaxed) one-hot codes to ``decoder_input_channels`` (n_init), groups of decreasing width
  with blocks of kernels 1, 3, 3, 3, nearest-neighbour 2× upsampling between groups, ReLU and a
  1×1 convolution to 2·C maps: the logit-Laplace location μ and log-scale ln b per sub-pixel.
  Convolutions are initialised N(0, 1/(n_in·k²)) with zero biases, as in the reference.
  Downsampling factor ``2^(groups - 1)`` (reference: 4 groups, 256² images → 32² codes).
* Likelihood (A.3, Eq. 2-3): pixels x ∈ [0, 1] are mapped to ``φ(x) = (1 - 2ε)x + ε`` with
  ε = 0.1 (so the encoder reads φ(x) too), and the decoder's density is the logit-Laplace
  ``f(y | μ, b) = exp(-|logit(y) - μ| / b) / (2 b y (1 - y))`` on (0, 1). A reconstruction is
  ``φ⁻¹(sigmoid(μ))`` (ln b ignored). This is a *continuous* density on (0, 1), not a
  probability of 8-bit values: its nats (and bits/dim made from them) can be negative and are
  not comparable with the discretised likelihoods of the other models.
* Objective (Sec. 2.1, Eq. 1; A.2): the β-weighted ELB with ``q(z|x)`` the categorical of the
  encoder logits at each position and ``p(z)`` uniform over the K codes; the reconstruction
  term uses the Gumbel-softmax relaxation (Jang, Gu & Poole 2017; Maddison, Mnih & Teh 2017),
  ``z = softmax((logits + g) / τ)``, g ~ Gumbel(0, 1), in the forward and backward passes; the
  KL term is analytic, ``Σ_k q_k log q_k + log K`` per position. Like the paper ("we divide the
  overall loss by 256×256×3, so that the weight of the KL term becomes β/192"), both terms are
  summed per image and divided by the C·H·W pixel dimensions: ``loss = recon + β · kl``.
  Schedules (A.2, "all of which use a cosine schedule"): β rises from 0 to ``kl_weight`` (6.6)
  over ``kl_warmup_steps`` (5,000) and τ falls from 1 to ``final_temperature`` (1/16) over
  ``temperature_steps`` (150,000), each along half a cosine period,
  ``end + (start - end) · (1 + cos(π · min(s, S) / S)) / 2``; ``kl_schedule: linear`` makes β
  rise linearly instead. Both read the training loop's step (``begin_step``), kept in the
  ``schedule_step`` buffer, so a resumed run continues them.

Stage 2, the transformer (Sec. 2.2): after ``round((1 - prior_fraction) · steps)`` steps the
dVAE is frozen and the GPT-style causal transformer of :mod:`.code_prior` learns
``p(image codes | caption tokens)`` with the caption tokens as its conditioning prefix and the
image codes (the argmax of the encoder logits, as the paper's transformer training uses them,
in raster order) after it. Captions come from class labels (:mod:`.captions`): each training
image gets a phrasing drawn uniformly from the training phrasings (the global torch RNG, so the
loop's seeding reproduces it); held-out phrasings are never drawn.

Deviations from the paper, all stated:

* reduced size (options); no data augmentation; not the paper's mixed-precision scheme
  (per-resblock gradient scaling): the loop's autocast applies, and the density, the
  relaxation and the KL are computed in float32; the step-size schedule, AdamW and the
  parameter EMA of A.2 belong to the training settings;
* the log-scale ln b is clamped below at ``min_log_scale`` (None: no floor, as the paper). A
  continuous density on 8-bit data is unbounded: where the decoder hits a pixel value exactly
  (MNIST's black background) b → 0 sends the NLL to -∞ and the gradients in μ up as 1/b. The
  default -5 (b ≥ 0.0067 logit units, about half the smallest 8-bit step in logit units: one
  step of φ(x) is 0.8/255, i.e. 0.0125 logit units at 1/2 and 0.035 near ε) bounds that
  without touching a fit of ordinary precision;
* the transformer is dense, causal, with learned 1-D positions (no sparse row/column/conv
  attention masks, no row and column embeddings), word tokens from label captions instead of
  BPE, and it models the image codes given the caption only: the paper models text and image
  jointly with the loss weighted 1/8 text, 7/8 image;
* ``prior_nats(codes)`` without labels is ``-log((1/N) Σ_c p(codes | caption(c)))``, the
  prior marginalised over uniformly drawn classes (training phrasing 0), so a bound that needs
  no labels still exists.

Shapes: x (B, C, H, W) in [0, 1]; labels y (B,) long; encoder logits (B, K, h, w); codes
``{"bottom": (B, h, w)}`` with h = H / 2^(groups - 1); caption tokens (B, max_tokens).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vaerepro.models.base import RegisteredModel
from vaerepro.models.captions import CAPTION_PRESETS, CaptionSet
from vaerepro.models.code_prior import CodePrior, CodePriorOptions
from vaerepro.models.phases import OptimizerGroup, Phase
from vaerepro.models.registry import register
from vaerepro.models.vector_quantizer import code_statistics
from vaerepro.structured import ranged

PHASES = ("autoencoder", "prior")

# The paper's ε of φ (A.3): pixel values are modelled on (ε, 1 - ε), away from the poles of
# 1 / (x (1 - x)) in Eq. 2 (reference: dall_e/utils.py, logit_laplace_eps).
LOGIT_LAPLACE_EPS = 0.1

# Kept away from 0 and 1 so that the Gumbel noise -log(-log u) is finite.
_UNIFORM_MARGIN = 1e-10


# -- the logit-Laplace distribution (A.3) --------------------------------------------------------


def map_pixels(x: torch.Tensor) -> torch.Tensor:
    """φ(x) = (1 - 2ε) x + ε: pixels in [0, 1] → (ε, 1 - ε) (paper Eq. 3, ε = 0.1)."""
    return (1.0 - 2.0 * LOGIT_LAPLACE_EPS) * x + LOGIT_LAPLACE_EPS


def unmap_pixels(y: torch.Tensor) -> torch.Tensor:
    """φ⁻¹(y) clamped to [0, 1] (the reference's ``unmap_pixels``)."""
    return ((y - LOGIT_LAPLACE_EPS) / (1.0 - 2.0 * LOGIT_LAPLACE_EPS)).clamp(0.0, 1.0)


def logit_laplace_log_density(y: torch.Tensor, location: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Elementwise ``ln f(y | μ, b)`` of paper Eq. 2 for y in (0, 1), in float32:
    ``-ln 2 - ln b - ln y - ln(1 - y) - |logit(y) - μ| / b``."""
    y, location, log_scale = y.float(), location.float(), log_scale.float()
    log_y, log_one_minus_y = torch.log(y), torch.log1p(-y)
    distance = (log_y - log_one_minus_y - location).abs()
    return -math.log(2.0) - log_scale - log_y - log_one_minus_y - distance * torch.exp(-log_scale)


# -- the relaxation and the KL term (Sec. 2.1) ----------------------------------------------------


def gumbel_softmax(
    logits: torch.Tensor, temperature: float, dim: int = 1, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A relaxed one-hot sample ``softmax((logits + g) / τ)`` along ``dim``, g ~ Gumbel(0, 1)
    (Jang et al. 2017; Maddison et al. 2017), float32; noise from ``generator`` (on its device)
    when given, else the global RNG."""
    if temperature <= 0:
        raise ValueError(f"gumbel_softmax needs a temperature above 0, got {temperature}")
    logits = logits.float()
    device = logits.device if generator is None else generator.device
    uniform = torch.rand(logits.shape, generator=generator, device=device).to(logits.device)
    uniform = uniform.clamp(_UNIFORM_MARGIN, 1.0 - _UNIFORM_MARGIN)
    gumbel = -torch.log(-torch.log(uniform))
    return F.softmax((logits + gumbel) / temperature, dim=dim)


def kl_to_uniform(logits: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """``KL(softmax(logits) || uniform over K)`` = ``Σ_k q_k ln q_k + ln K`` in nats, with
    ``dim`` (of size K) reduced, float32."""
    log_q = F.log_softmax(logits.float(), dim=dim)
    return (log_q.exp() * log_q).sum(dim) + math.log(logits.shape[dim])


# -- schedules (A.2) ------------------------------------------------------------------------------


def cosine_schedule(step: int, steps: int, start: float, end: float) -> float:
    """``start`` at step 0 to ``end`` at ``steps`` along half a cosine period, ``end`` after."""
    if steps <= 0:
        return end
    progress = min(max(step, 0), steps) / steps
    return end + (start - end) * 0.5 * (1.0 + math.cos(math.pi * progress))


def linear_schedule(step: int, steps: int, start: float, end: float) -> float:
    """``start`` at step 0 to ``end`` at ``steps`` linearly, ``end`` after."""
    if steps <= 0:
        return end
    return start + (end - start) * min(max(step, 0), steps) / steps


# -- networks (A.1, reference dall_e/encoder.py and decoder.py) -----------------------------------


def _conv(in_channels: int, out_channels: int, kernel: int) -> nn.Conv2d:
    """A same-padded convolution initialised as the reference's: N(0, 1/(n_in · k²)), zero bias."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, padding=(kernel - 1) // 2)
    nn.init.normal_(conv.weight, 0.0, 1.0 / math.sqrt(in_channels * kernel**2))
    nn.init.zeros_(conv.bias)
    return conv


class BottleneckBlock(nn.Module):
    """``id(x) + post_gain · res(x)``; ``res`` = (ReLU, conv) for each of ``kernels`` through
    ``out_channels / 4`` hidden channels; ``post_gain = 1 / n_layers²``."""

    def __init__(self, in_channels: int, out_channels: int, n_layers: int, kernels: tuple[int, ...]) -> None:
        super().__init__()
        hidden = out_channels // 4
        self.identity = _conv(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()
        widths = (in_channels, *([hidden] * (len(kernels) - 1)), out_channels)
        layers: list[nn.Module] = []
        for index, kernel in enumerate(kernels):
            layers += [nn.ReLU(), _conv(widths[index], widths[index + 1], kernel)]
        self.residual = nn.Sequential(*layers)
        self.post_gain = 1.0 / n_layers**2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.identity(x) + self.post_gain * self.residual(x)


class DVAEEncoder(nn.Module):
    """(B, C, H, W) mapped pixels → (B, K, H / 2^(groups-1), W / 2^(groups-1)) code logits."""

    def __init__(self, options: DVAEOptions) -> None:
        super().__init__()
        hidden, groups, blocks = options.hidden_channels, options.groups, options.blocks_per_group
        n_layers = groups * blocks
        layers: list[nn.Module] = [_conv(options.image_shape[0], hidden, 7)]
        width = hidden
        for group in range(groups):
            out = hidden * 2**group
            for _ in range(blocks):
                layers.append(BottleneckBlock(width, out, n_layers, kernels=(3, 3, 3, 1)))
                width = out
            if group < groups - 1:
                layers.append(nn.MaxPool2d(kernel_size=2))
        layers += [nn.ReLU(), _conv(width, options.codebook_size, 1)]
        self.blocks = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class DVAEDecoder(nn.Module):
    """(B, K, h, w) relaxed one-hot codes → (B, 2C, H, W): location μ, then log-scale ln b."""

    def __init__(self, options: DVAEOptions, input_channels: int) -> None:
        super().__init__()
        hidden, groups, blocks = options.hidden_channels, options.groups, options.blocks_per_group
        n_layers = groups * blocks
        self.input = _conv(options.codebook_size, input_channels, 1)
        layers: list[nn.Module] = []
        width = input_channels
        for group in range(groups):
            out = hidden * 2 ** (groups - 1 - group)
            for _ in range(blocks):
                layers.append(BottleneckBlock(width, out, n_layers, kernels=(1, 3, 3, 3)))
                width = out
            if group < groups - 1:
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
        layers += [nn.ReLU(), _conv(width, 2 * options.image_shape[0], 1)]
        self.blocks = nn.Sequential(*layers)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.input(codes))

    def from_codes(self, codes: torch.Tensor) -> torch.Tensor:
        """The output for hard codes (B, h, w) long: the 1×1 input convolution of a one-hot
        map is a column of its weight, so it is read as an embedding (no (B, K, h, w) tensor)."""
        weight = self.input.weight.flatten(1).t()  # (K, n_init)
        features = (F.embedding(codes, weight) + self.input.bias).permute(0, 3, 1, 2)
        return self.blocks(features)


# -- the model ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DVAEOptions:
    """Options of ``model: dvae``. Architecture defaults: the released dVAE (n_hid 256, 2 blocks
    per group, 4 groups, K = 8192) on 256² images; schedule defaults: paper A.2."""

    image_shape: tuple[int, int, int] = ranged((3, 256, 256), minimum=1)  # the paper's 256² RGB
    hidden_channels: int = ranged(256, minimum=4)  # n_hid (reference 256); a multiple of 4 (bottleneck width / 4)
    blocks_per_group: int = ranged(2, minimum=1)  # reference n_blk_per_group
    groups: int = ranged(4, minimum=1)  # reference group_count; downsampling factor 2^(groups - 1)
    codebook_size: int = ranged(8192, minimum=2)  # K, the reference vocab_size
    # n_init of the decoder's first 1×1 convolution; None: hidden_channels / 2 (reference 128 / 256).
    decoder_input_channels: int | None = ranged(None, minimum=1)
    kl_weight: float = ranged(6.6, minimum=0)  # β after the warm-up (A.2)
    kl_warmup_steps: int = ranged(5000, minimum=0)  # β rises over the first 5,000 updates (A.2)
    kl_schedule: Literal["cosine", "linear"] = "cosine"  # A.2: cosine for every schedule
    final_temperature: float = ranged(1.0 / 16.0, above=0)  # τ from 1 to 1/16 (A.2)
    temperature_steps: int = ranged(150000, minimum=0)  # over the first 150,000 updates (A.2)
    # Floor of ln b against the unbounded continuous density (module docstring); None: no floor (the paper).
    min_log_scale: float | None = -5.0
    captions: Literal["mnist", "cifar10"] = "cifar10"  # the caption preset (models/captions.py) for the labels
    prior_fraction: float = ranged(0.5, above=0, below=1)  # share of the steps for the transformer, as vqgan
    prior_embedding_dim: int = ranged(256, minimum=1)  # the transformer's width (vqgan's default)
    prior_layers: int = ranged(8, minimum=1)  # (vqgan's default; the paper's has 64 layers)
    prior_heads: int = ranged(8, minimum=1)
    prior_dropout: float = ranged(0.0, minimum=0, below=1)
    prior_learning_rate_scale: float = ranged(1.0, above=0)  # the transformer's step size / the dVAE's


@register("dvae", DVAEOptions)
class DVAE(RegisteredModel):
    task = "generation"

    def __init__(self, options: DVAEOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        if options.hidden_channels % 4:
            raise ValueError(
                f"dvae: hidden_channels {options.hidden_channels} must be a multiple of 4 (bottleneck blocks)"
            )
        if options.prior_embedding_dim % options.prior_heads:
            raise ValueError(
                f"dvae: prior_embedding_dim {options.prior_embedding_dim} is not divisible by prior_heads {options.prior_heads}"
            )
        factor = 2 ** (options.groups - 1)
        channels, height, width = options.image_shape
        if height % factor or width % factor:
            raise ValueError(
                f"dvae: image size {height}x{width} is not divisible by the downsampling factor "
                f"2 ** (groups - 1) = {factor}; choose groups so that both are multiples of it"
            )
        self.image_shape = options.image_shape
        self.grid = (height // factor, width // factor)
        self.captions: CaptionSet = CAPTION_PRESETS[options.captions]()
        self.encoder = DVAEEncoder(options)
        input_channels = options.decoder_input_channels or max(1, options.hidden_channels // 2)
        self.decoder = DVAEDecoder(options, input_channels)
        self.prior = CodePrior(
            CodePriorOptions(
                vocabulary_size=options.codebook_size,
                max_positions=self.captions.max_tokens + self.grid[0] * self.grid[1],
                embedding_dim=options.prior_embedding_dim,
                layers=options.prior_layers,
                heads=options.prior_heads,
                dropout=options.prior_dropout,
                condition_vocabulary_size=len(self.captions.vocabulary),
            )
        )
        self.register_buffer("phase_index", torch.tensor(0))
        self.register_buffer("schedule_step", torch.tensor(0))

    # -- what the evaluation reads ------------------------------------------------------------

    level_names = ("bottom",)
    levels = 1

    @property
    def uses_labels(self) -> bool:
        """True: the prior phase captions each image from its class label."""
        return True

    @property
    def grids(self) -> dict[str, tuple[int, int]]:
        return {"bottom": self.grid}

    # -- phases and schedules -------------------------------------------------------------------

    @property
    def phase(self) -> str:
        return PHASES[int(self.phase_index)]

    def begin_phase(self, name: str) -> None:
        if name not in PHASES:
            raise ValueError(f"dvae has phases {PHASES}, not '{name}'")
        self.phase_index.fill_(PHASES.index(name))

    def begin_step(self, step: int) -> None:
        self.schedule_step.fill_(step)

    @property
    def kl_weight(self) -> float:
        """β at the current step: 0 → ``kl_weight`` over ``kl_warmup_steps`` (A.2)."""
        options = self.options
        schedule = cosine_schedule if options.kl_schedule == "cosine" else linear_schedule
        return schedule(int(self.schedule_step), options.kl_warmup_steps, 0.0, options.kl_weight)

    @property
    def temperature(self) -> float:
        """τ at the current step: 1 → ``final_temperature`` over ``temperature_steps`` (A.2, cosine)."""
        options = self.options
        return cosine_schedule(int(self.schedule_step), options.temperature_steps, 1.0, options.final_temperature)

    def optimizer_phases(self, total_steps: int) -> list[Phase]:
        autoencoder_steps = min(total_steps, round((1 - self.options.prior_fraction) * total_steps))
        autoencoder = (*self.encoder.parameters(), *self.decoder.parameters())
        prior_group = OptimizerGroup(
            "prior", tuple(self.prior.parameters()), learning_rate_scale=self.options.prior_learning_rate_scale
        )
        return [
            Phase("autoencoder", (OptimizerGroup("model", autoencoder),), steps=autoencoder_steps),
            Phase("prior", (prior_group,), steps=None),
        ]

    # -- the dVAE -------------------------------------------------------------------------------

    def code_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder logits of ``q(z | x)``, (B, K, h, w), from pixels x in [0, 1]."""
        return self.encoder(map_pixels(x))

    def _location_and_log_scale(self, statistics: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        location, log_scale = statistics.float().chunk(2, dim=1)
        if self.options.min_log_scale is not None:
            log_scale = log_scale.clamp_min(self.options.min_log_scale)
        return location, log_scale

    def _negative_log_density(self, x: torch.Tensor, statistics: torch.Tensor) -> torch.Tensor:
        """``-ln f(φ(x) | decoder statistics)`` summed per image, (B,), nats."""
        location, log_scale = self._location_and_log_scale(statistics)
        return -logit_laplace_log_density(map_pixels(x.float()), location, log_scale).flatten(1).sum(1)

    def encode_codes(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The most probable code per position (argmax of the logits), ``{"bottom": (B, h, w)}``."""
        return {"bottom": self.code_logits(x).argmax(dim=1)}

    def decode_codes(self, codes: dict[str, torch.Tensor]) -> torch.Tensor:
        """``φ⁻¹(sigmoid(μ))`` for hard codes, (B, C, H, W) in [0, 1] (A.3)."""
        location, _ = self._location_and_log_scale(self.decoder.from_codes(codes["bottom"]))
        return unmap_pixels(torch.sigmoid(location))

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode_codes(self.encode_codes(x))

    def reconstruct_levels(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"all levels": self.reconstruct(x)}

    # -- likelihood -----------------------------------------------------------------------------

    @property
    def likelihood_description(self) -> str:
        return (
            f"-ln f(φ(x)|z) under the continuous logit-Laplace density on (0, 1) of the mapped pixels "
            f"φ(x) = (1 - 2ε)x + ε, ε = {LOGIT_LAPLACE_EPS} (DALL-E Eq. 2-3), at the argmax codes z, plus "
            "-ln p(z | caption) under the transformer (the caption of the true label in training phrasing 0; "
            "without labels the prior averaged over the classes): a bound on -ln of a density, NOT nats of "
            "8-bit data; it can be negative and its bits/dim are not comparable with discretised likelihoods"
        )

    def reconstruction_nats(self, x: torch.Tensor, codes: dict[str, torch.Tensor]) -> torch.Tensor:
        """``-ln f(φ(x) | z)`` per image, (B,), nats of the continuous density of the *mapped*
        pixels; the density of x itself is this minus ``C·H·W · ln(1 / (1 - 2ε))``."""
        return self._negative_log_density(x, self.decoder.from_codes(codes["bottom"]))

    def prior_nats(self, codes: dict[str, torch.Tensor], y: torch.Tensor | None = None) -> torch.Tensor:
        """``-ln p(codes | caption)`` per image, (B,), caption: label y in training phrasing 0;
        without y, ``-ln((1/N) Σ_c p(codes | caption(c)))`` over the N classes."""
        bottom = codes["bottom"].flatten(1)
        batch = bottom.shape[0]
        if y is not None:
            tokens = self.captions.tokens(y, torch.zeros_like(y))
            return -self.prior.log_prob(bottom, condition=tokens.to(bottom.device))
        classes = self.captions.num_classes
        table = self.captions.token_table()[0].to(bottom.device)  # (N, max_tokens), phrasing 0
        conditions = table.repeat_interleave(batch, dim=0)  # class-major: (N·B, max_tokens)
        log_probs = self.prior.log_prob(bottom.repeat(classes, 1), condition=conditions).view(classes, batch)
        return -(torch.logsumexp(log_probs, dim=0) - math.log(classes))

    def uniform_prior_nats(self) -> float:
        """``-ln p(z)`` under the uniform prior of the dVAE's training: ``ln K`` per code."""
        return self.grid[0] * self.grid[1] * math.log(self.options.codebook_size)

    # -- training -------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self._autoencoder_terms(x) if self.phase == "autoencoder" else self._prior_terms(x, y)

    def _autoencoder_terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.code_logits(x)
        temperature, kl_weight = self.temperature, self.kl_weight
        relaxed = gumbel_softmax(logits, temperature, dim=1)
        reconstruction_nats = self._negative_log_density(x, self.decoder(relaxed))
        kl_nats = kl_to_uniform(logits, dim=1).flatten(1).sum(1)
        dims = math.prod(x.shape[1:])  # both terms per pixel dimension (A.2: "divide by 256×256×3")
        reconstruction = reconstruction_nats.mean() / dims
        kl = kl_nats.mean() / dims
        _, perplexity, usage = code_statistics(logits.detach().argmax(dim=1), self.options.codebook_size)
        return {
            "loss": reconstruction + kl_weight * kl,
            "recon": reconstruction,
            "kl": kl,
            "kl_weight": logits.new_tensor(kl_weight, dtype=torch.float32),
            "temperature": logits.new_tensor(temperature, dtype=torch.float32),
            "bottom_usage": usage,
            "bottom_perplexity": perplexity,
        }

    def _prior_terms(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if y is None:
            raise ValueError("dvae: the prior phase needs the class labels y (B,) to caption the images")
        with torch.no_grad():
            codes = self.encode_codes(x)["bottom"].flatten(1)
        # A training phrasing per image, from the global RNG (seeded by the loop); never a held-out one.
        phrasings = torch.randint(len(self.captions.training_phrasings), (y.shape[0],))
        tokens = self.captions.tokens(y.cpu(), phrasings).to(codes.device)
        terms = self.prior(codes, condition=tokens)
        return {"loss": terms["loss"], "prior_bits_per_code": terms["bits_per_code"]}

    # -- generation -----------------------------------------------------------------------------

    def caption_tokens(
        self,
        n: int,
        y: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        phrasing: int | None = None,
        held_out: bool = False,
    ) -> torch.Tensor:
        """(n, max_tokens) caption tokens for labels y (n,) (None: drawn uniformly), in phrasing
        ``phrasing`` of the training or held-out set (None: drawn uniformly per caption)."""
        device = "cpu" if generator is None else generator.device
        if y is None:
            y = torch.randint(self.captions.num_classes, (n,), generator=generator, device=device)
        if y.shape != (n,):
            raise ValueError(f"labels must be ({n},), got {tuple(y.shape)}")
        count = len(self.captions.phrasings(held_out))
        if phrasing is None:
            phrasings = torch.randint(count, (n,), generator=generator, device=device)
        else:
            phrasings = torch.full((n,), phrasing, dtype=torch.long)
        return self.captions.tokens(y.cpu(), phrasings.cpu(), held_out=held_out)

    @torch.no_grad()
    def sample_codes_from_text(
        self,
        tokens: torch.Tensor,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
    ) -> dict[str, torch.Tensor]:
        """Image codes drawn from the prior given caption tokens (n, max_tokens), ``{"bottom": (n, h, w)}``."""
        if tokens.ndim != 2 or tokens.shape[1] != self.captions.max_tokens:
            raise ValueError(f"caption tokens must be (n, {self.captions.max_tokens}), got {tuple(tokens.shape)}")
        n, length = tokens.shape[0], self.grid[0] * self.grid[1]
        condition = tokens.to(self.prior.head.weight.device)
        codes = self.prior.sample(n, length, condition, generator=generator, temperature=temperature, top_k=top_k)
        return {"bottom": codes.view(n, *self.grid)}

    @torch.no_grad()
    def sample_from_text(
        self,
        tokens: torch.Tensor,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
    ) -> torch.Tensor:
        """Images (n, C, H, W) in [0, 1] for any caption tokens (n, max_tokens), e.g.
        ``model.captions.tokenize(["a photo of a cat"])``."""
        return self.decode_codes(self.sample_codes_from_text(tokens, generator, temperature, top_k))

    @torch.no_grad()
    def sample_codes(
        self,
        n: int,
        y: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        phrasing: int | None = None,
        held_out: bool = False,
        temperature: float = 1.0,
        top_k: int | None = None,
    ) -> dict[str, torch.Tensor]:
        tokens = self.caption_tokens(n, y, generator, phrasing, held_out)
        return self.sample_codes_from_text(tokens, generator, temperature, top_k)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        y: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        phrasing: int | None = None,
        held_out: bool = False,
        temperature: float = 1.0,
        top_k: int | None = None,
    ) -> torch.Tensor:
        """(n, C, H, W) images in [0, 1]: labels y (n,) (None: uniform) → captions → image codes
        by ancestral sampling from the transformer → the decoder at those codes."""
        return self.decode_codes(self.sample_codes(n, y, generator, phrasing, held_out, temperature, top_k))
