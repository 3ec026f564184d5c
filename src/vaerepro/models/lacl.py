"""Light-aware contrastive learning for low-light image enhancement (Wu et al., 2024).

X. Wu, X. Hou, Z. Lai, J. Zhou, W. Pedrycz, L. Shen, "Light-Aware Contrastive Learning for
Low-Light Image Enhancement", ACM Transactions on Multimedia Computing, Communications and
Applications (TOMM), 2024 (article 276); the method is called LACR-VAE there.

Is it VAE-based? Yes: the paper's method is named LACR-VAE, and its abstract describes the
Light-Aware Contrastive Regularization (LACR) as aligning the *latent variables* of enhanced
images with those of clear (normal-light) images and away from those of low-light images. So
the survey's label is right; this module is an encoder → Gaussian latent → decoder enhancer
with a KL term, plus the contrastive term on latents.

What the abstract states, and how it is used here:

* LACR exploits negative information from low-light images (low illumination, noise) as
  well as positive information from clear images: anchor = the enhanced image, positive = its
  clear reference, negatives = low-light images. Here: ``contrastive`` (see below).
* A Region-CAlibrated Module (RCAM) learns local and global illumination relations among
  image regions (uneven illumination with diverse region sizes and shapes). Here:
  :class:`RegionCalibration`.
* An Attention-guided Multi-Scale Module (AMSM) extracts multi-scale features. Here:
  :class:`AttentionMultiScale`.

The full text (equations, layer tables, loss weights) was not available here; the public
repository (github.com/csxuwu/LACR-VAE) held only a README when looked up. Every detail
below is therefore our assumption:

* Latent: spatial diagonal Gaussian ``q(z | x_low)`` of ``latent_channels`` channels at
  1/2^num_downsamplings resolution; standard-normal prior; ``kl`` is
  ``KL(q || N(0, I))`` summed over latent elements and divided by the image's C·H·W (nats per
  sub-pixel), weighted by ``kl_weight``. Training decodes a reparameterised sample;
  ``enhance`` decodes the posterior mean.
* ``reconstruction``: L1 between the decoded image and the normal-light reference
  (supervised enhancement, LOL pairs), weighted by ``reconstruction_weight``.
* Encoder: 3×3 convolution + AMSM at full resolution, then ``num_downsamplings`` × (3×3
  stride-2 convolution + LeakyReLU + residual blocks), then a 3×3 convolution to mean and
  log-variance. Decoder: 3×3 convolution from the latent + RCAM, then ``num_downsamplings`` ×
  (nearest ×2 upsampling + 3×3 convolution + LeakyReLU + residual blocks), then a 3×3
  convolution and a sigmoid. ``skip_connections: true`` adds U-Net skips from the encoder
  (the latent is then no longer the only path to the output; off by default).
* AMSM: parallel 3×3 convolutions with dilations ``multi_scale_dilations``, squeeze-and-
  excitation channel attention over their concatenation, 1×1 fusion, residual.
* RCAM: features pooled over a ``region_grid`` × ``region_grid`` grid of regions (local
  illumination) and globally (global illumination), projected, upsampled and combined with
  the features into a sigmoid gate that recalibrates them (residual).
* Light embedding ``g`` (option ``embedding``):
  ``encoder_latent`` (default, the paper's "latent variables"): the VAE encoder's posterior
  mean, flattened, computed with the encoder's weights detached. Positives and negatives are
  constants (as the frozen VGG features of the contrastive regularisation of H. Wu et al.,
  "Contrastive Learning for Compact Single Image Dehazing", CVPR 2021, AECR-Net, whose name
  this term echoes - our reading); the anchor's gradient reaches the enhanced image, and
  through it the decoder and the encoder that produced its latent, but does not train the
  encoder as an embedding network (letting it do so made the latent grow without bound and
  training diverge in a first version).
  ``light_encoder``: a separate small CNN (convolutions, global average
  pooling, a linear projection of ``embedding_channels``) trained jointly by the same term,
  with gradients through all three branches.
* Contrastive term (``contrastive_form``): ``infonce`` (default): with cosine similarity s
  and temperature τ, for anchor ``a_i = g(enhanced_i)``, positive ``p_i = g(clear_i)`` and
  negatives ``n_j = g(low_j)`` for every low-light input j of the batch,
  ``-log(exp(s(a_i, p_i)/τ) / (exp(s(a_i, p_i)/τ) + sum_j exp(s(a_i, n_j)/τ)))`` averaged
  over i. ``l1_ratio``: the AECR-Net form ``|a_i - p_i|_1 / (|a_i - n_i|_1 + 1e-7)`` with the
  own low-light input as the single negative (``temperature`` unused). Weighted by
  ``contrastive_weight``.
* Initialisation (:func:`initialise`): He-normal convolutions, zero biases, residual branches
  scaled down at the start (PyTorch's default left the deep encoder-decoder path nearly
  untrainable in short runs).

Shapes: images (B, C, H, W) in [0, 1], H and W multiples of ``2^num_downsamplings``
(:func:`~vaerepro.models.restoration.restore_image` pads); latent
(B, latent_channels, H / 2^d, W / 2^d).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as functional
from torch import nn
from torch.func import functional_call

from vaerepro.models.distributions import DiagonalGaussian
from vaerepro.models.registry import register
from vaerepro.models.residual_blocks import ResidualBlock, initialise
from vaerepro.models.restoration import RestorationModel
from vaerepro.structured import ranged

# Initial scale of the last convolution of each residual branch (see ``initialise``).
# Log-variances are clamped to this range so exp() cannot overflow early in training.
_LOG_VARIANCE_RANGE = (-12.0, 8.0)
_RATIO_EPSILON = 1e-7


@dataclass(frozen=True)
class LACLOptions:
    """Options of ``model: lacl`` (weights multiply the loss terms of the same name)."""

    image_shape: tuple[int, int, int] = ranged((3, 64, 64), minimum=1)
    hidden_channels: int = ranged(32, minimum=1)
    num_downsamplings: int = ranged(2, minimum=0)
    latent_channels: int = ranged(16, minimum=1)
    residual_blocks: int = ranged(1, minimum=0)
    multi_scale_dilations: tuple[int, ...] = ranged((1, 2, 4), minimum=1)
    region_grid: int = ranged(4, minimum=1)
    skip_connections: bool = False
    reconstruction_weight: float = ranged(1.0, minimum=0)
    kl_weight: float = ranged(1e-2, minimum=0)
    contrastive_weight: float = ranged(0.1, minimum=0)
    temperature: float = ranged(0.1, above=0)
    contrastive_form: Literal["infonce", "l1_ratio"] = "infonce"
    embedding: Literal["encoder_latent", "light_encoder"] = "encoder_latent"
    embedding_channels: int = ranged(32, minimum=1)


class AttentionMultiScale(nn.Module):
    """AMSM (our reading): dilated 3×3 branches, channel attention over them, 1×1 fusion, residual."""

    def __init__(self, channels: int, dilations: tuple[int, ...]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(channels, channels, 3, padding=d, dilation=d), nn.LeakyReLU(0.2)) for d in dilations
        )
        stacked = channels * len(dilations)
        self.attention = nn.Sequential(
            nn.Linear(stacked, max(stacked // 4, 1)),
            nn.LeakyReLU(0.2),
            nn.Linear(max(stacked // 4, 1), stacked),
            nn.Sigmoid(),
        )
        self.fuse = nn.Conv2d(stacked, channels, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        scales = torch.cat([branch(features) for branch in self.branches], dim=1)
        weights = self.attention(scales.mean(dim=(2, 3)))[..., None, None]
        return features + self.fuse(scales * weights)


class RegionCalibration(nn.Module):
    """RCAM (our reading): region-pooled and global context gate the features (residual)."""

    def __init__(self, channels: int, region_grid: int) -> None:
        super().__init__()
        self.region_grid = region_grid
        self.regional = nn.Conv2d(channels, channels, 1)
        self.globally = nn.Linear(channels, channels)
        self.gate = nn.Conv2d(3 * channels, channels, 3, padding=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        size = features.shape[-2:]
        regions = functional.adaptive_avg_pool2d(features, self.region_grid)
        regional = functional.interpolate(self.regional(regions), size=size, mode="bilinear", align_corners=False)
        global_context = self.globally(features.mean(dim=(2, 3)))[..., None, None].expand_as(features)
        gate = torch.sigmoid(self.gate(torch.cat([features, regional, global_context], dim=1)))
        return features + features * gate


def _posterior(parameters: torch.Tensor) -> DiagonalGaussian:
    mean, log_variance = parameters.chunk(2, dim=1)
    return DiagonalGaussian(mean, log_variance.clamp(*_LOG_VARIANCE_RANGE))


class LatentEncoder(nn.Module):
    """Image → posterior parameters (B, 2·latent_channels, H/2^d, W/2^d) and the skip features.

    3×3 convolution + AMSM at full resolution, then per level a 3×3 stride-2 convolution,
    LeakyReLU and residual blocks, then a 3×3 convolution to mean and log-variance.
    """

    def __init__(
        self,
        channels: int,
        widths: list[int],
        dilations: tuple[int, ...],
        blocks: int,
        latent_channels: int,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(channels, widths[0], 3, padding=1),
            nn.LeakyReLU(0.2),
            AttentionMultiScale(widths[0], dilations),
        )
        self.down = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(widths[level], widths[level + 1], 3, stride=2, padding=1),
                nn.LeakyReLU(0.2),
                *[ResidualBlock(widths[level + 1]) for _ in range(blocks)],
            )
            for level in range(len(widths) - 1)
        )
        self.posterior_head = nn.Conv2d(widths[-1], 2 * latent_channels, 3, padding=1)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        features = self.stem(images)
        skips = [features]
        for block in self.down:
            features = block(features)
            skips.append(features)
        return self.posterior_head(features), skips


class LightEncoder(nn.Module):
    """Separate light embedding (``embedding: light_encoder``): (B, C, H, W) → (B, E)."""

    def __init__(self, channels: int, embedding_channels: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, embedding_channels, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(embedding_channels, embedding_channels, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(embedding_channels, embedding_channels, 3, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        )
        self.projection = nn.Linear(embedding_channels, embedding_channels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.projection(self.features(images).mean(dim=(2, 3)))


def infonce(
    anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor, temperature: float
) -> torch.Tensor:
    """InfoNCE with cosine similarity: (B, D) anchors/positives, (N, D) negatives → scalar.

    Row i's logits are ``[s(a_i, p_i), s(a_i, n_1), ..., s(a_i, n_N)] / temperature``; the loss
    is the cross-entropy with the positive as the class (van den Oord et al. 2018, Eq. 4).
    """
    anchors, positives, negatives = (functional.normalize(t, dim=1) for t in (anchors, positives, negatives))
    positive_logits = (anchors * positives).sum(dim=1, keepdim=True)
    negative_logits = anchors @ negatives.T
    logits = torch.cat([positive_logits, negative_logits], dim=1) / temperature
    return functional.cross_entropy(logits, torch.zeros(len(anchors), dtype=torch.long, device=anchors.device))


def l1_ratio(anchors: torch.Tensor, positives: torch.Tensor, negatives: torch.Tensor) -> torch.Tensor:
    """AECR-Net-style ratio ``|a - p|_1 / |a - n|_1`` per pair (mean absolute values), averaged."""
    pulled = (anchors - positives).abs().mean(dim=1)
    pushed = (anchors - negatives).abs().mean(dim=1)
    return (pulled / (pushed + _RATIO_EPSILON)).mean()


@register("lacl", LACLOptions)
class LightAwareContrastiveVAE(RestorationModel):
    """LACR-VAE-style enhancer: low-light image → Gaussian latent → enhanced image."""

    task = "enhancement"

    supervised = True

    def __init__(self, options: LACLOptions) -> None:
        super().__init__(options)  # checks the declared ranges (each dilation >= 1)
        if not options.multi_scale_dilations:  # not a range: the tuple's length
            raise ValueError("lacl: multi_scale_dilations needs at least one dilation, got ()")
        channels, hidden = options.image_shape[0], options.hidden_channels
        widths = [hidden * 2 ** min(level, 2) for level in range(options.num_downsamplings + 1)]
        blocks = options.residual_blocks

        self.encoder = LatentEncoder(channels, widths, options.multi_scale_dilations, blocks, options.latent_channels)

        self.latent_input = nn.Sequential(
            nn.Conv2d(options.latent_channels, widths[-1], 3, padding=1),
            nn.LeakyReLU(0.2),
            RegionCalibration(widths[-1], options.region_grid),
        )
        skip = 2 if options.skip_connections else 1
        self.up = nn.ModuleList(
            nn.Sequential(
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(widths[level + 1], widths[level], 3, padding=1),
                nn.LeakyReLU(0.2),
            )
            for level in reversed(range(options.num_downsamplings))
        )
        self.up_blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(skip * widths[level], widths[level], 3, padding=1),
                nn.LeakyReLU(0.2),
                *[ResidualBlock(widths[level]) for _ in range(blocks)],
            )
            for level in reversed(range(options.num_downsamplings))
        )
        self.output = nn.Conv2d(hidden, channels, 3, padding=1)
        self.light_encoder = (
            LightEncoder(channels, options.embedding_channels) if options.embedding == "light_encoder" else None
        )
        initialise(self)

    @property
    def size_multiple(self) -> int:
        return 2**self.options.num_downsamplings

    def _encode(self, images: torch.Tensor) -> tuple[DiagonalGaussian, list[torch.Tensor]]:
        parameters, skips = self.encoder(images)
        return _posterior(parameters), skips

    def encode(self, images: torch.Tensor) -> DiagonalGaussian:
        """Posterior ``q(z | x)`` over the spatial latent."""
        return self._encode(images)[0]

    def decode(self, latent: torch.Tensor, skips: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Latent (+ encoder features when ``skip_connections``) → image in [0, 1]."""
        hidden = self.latent_input(latent)
        for index, (upsample, block) in enumerate(zip(self.up, self.up_blocks, strict=True)):
            hidden = upsample(hidden)
            if self.options.skip_connections:
                if skips is None:
                    raise ValueError("lacl: skip_connections needs the encoder features to decode")
                hidden = torch.cat([hidden, skips[-2 - index]], dim=1)
            hidden = block(hidden)
        return torch.sigmoid(self.output(hidden))

    def light_embedding(self, images: torch.Tensor, *, trainable: bool) -> torch.Tensor:
        """(B, C, H, W) → (B, D): the light embedding ``g`` the contrastive term compares.

        ``encoder_latent``: the posterior mean under the encoder's current weights, which get
        no gradient from here (the anchor's gradient reaches ``images`` only; positives and
        negatives are constants). ``light_encoder``: the separate network, trained when
        ``trainable``.
        """
        if self.light_encoder is not None:
            return self.light_encoder(images) if trainable else self.light_encoder(images).detach()
        if not trainable:
            with torch.no_grad():
                return self.encoder(images)[0].chunk(2, dim=1)[0].flatten(1)
        frozen = {name: value.detach() for name, value in self.encoder.named_parameters()}
        return functional_call(self.encoder, frozen, (images,))[0].chunk(2, dim=1)[0].flatten(1)

    def forward(self, degraded: torch.Tensor, clean: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if clean is None:
            raise ValueError(
                "lacl is supervised: forward(degraded, clean) needs the normal-light reference 'clean' "
                "(the training loop passes it when model.uses_targets is true)"
            )
        if clean.shape != degraded.shape:
            raise ValueError(
                f"lacl: degraded {tuple(degraded.shape)} and clean {tuple(clean.shape)} batches differ in shape"
            )
        options = self.options
        posterior, skips = self._encode(degraded)
        enhanced = self.decode(posterior.sample(), skips)
        reconstruction = functional.l1_loss(enhanced, clean)
        kl = (posterior.kl().float().flatten(1).sum(1) / degraded[0].numel()).mean()

        light_encoder = self.light_encoder is not None
        anchors = self.light_embedding(enhanced, trainable=True)
        positives = self.light_embedding(clean, trainable=light_encoder)
        negatives = self.light_embedding(degraded, trainable=light_encoder)
        if options.contrastive_form == "infonce":
            contrastive = infonce(anchors, positives, negatives, options.temperature)
        else:
            contrastive = l1_ratio(anchors, positives, negatives)

        loss = (
            options.reconstruction_weight * reconstruction
            + options.kl_weight * kl
            + options.contrastive_weight * contrastive
        )
        return {
            "loss": loss,
            "reconstruction": reconstruction,
            "kl": kl,
            "contrastive": contrastive,
        }

    def enhance(self, degraded: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean of ``q(z | degraded)``."""
        posterior, skips = self._encode(degraded)
        return self.decode(posterior.mean, skips).clamp(0.0, 1.0)
