"""Multiple latent space mapping for compressed dark image enhancement (Zeng et al., 2024).

Y. Zeng, Z. Wang, Y. Liu, T. Zeng, X. Liu, X. Luo, S. Liu, S. Zhu, B. Zeng, "Multiple Latent
Space Mapping for Compressed Dark Image Enhancement", arXiv:2403.07622 (2024).

Sources read: the paper's abstract (arXiv v1) and a secondary summary of its method, which
describes two stages, "learning multiple latent spaces" and latent space mapping, and
sub-encoders built from 3×3 convolutions. The method section's equations, their numbers,
the layer tables and the loss weights were not available, so no equation numbers are cited
here. What the paper says, and what this module does with it:

* Two multi-level VAEs, one for compressed dark images (latent spaces ``L_C``) and one for
  normal-light images (``L_N``). Each stacks sub-encoders that encode the image into a set of
  multi-resolution features ``{l_i}_{i=0}^{k-1}`` and sub-decoders that reconstruct it from
  them; multi-resolution latents (instead of the single-resolution latent of earlier VAE
  methods such as Wan et al., "Bringing Old Photos Back to Life", CVPR 2020) reduce detail
  blur. Here: :class:`MultiLevelVAE`, ``num_levels`` = k levels, level i at 1/2^(i+1) of the
  input resolution, each with its own diagonal-Gaussian posterior ``q(l_i | x)`` and a
  standard-normal prior.
* A latent mapping network transforms the compressed-dark latents into normal-light latents;
  because darkness and compression are different degradations, the mapping is split into an
  *enlightening* branch and a *deblocking* branch. Here: one :class:`LatentMapping` per level.
* Enhancement: encode the compressed dark image with the dark VAE's encoder, map every level,
  decode with the normal-light VAE's decoder (the decoder was trained on clean images only,
  so it has no way to reproduce blocking artefacts).

Losses (``forward``; every term is named in the output):

* ``dark_reconstruction`` / ``normal_reconstruction``: mean absolute error (L1) of each VAE's
  reconstruction of its own image, from a reparameterised posterior sample (the VAE stage;
  L1 + ``kl_weight`` · KL is a β-weighted negative ELBO of a fixed-scale Laplace decoder, up
  to constants).
* ``kl_dark`` / ``kl_normal``: ``sum_i KL(q(l_i|x) || N(0, I))`` summed over latent elements
  and divided by the image's C·H·W (nats per image sub-pixel, so the weight does not depend
  on the crop size); weighted by ``kl_weight``.
* ``latent_mapping``: L1 between the mapped dark latents and the normal-light posterior means,
  averaged over levels (the latent-space loss of the mapping stage).
* ``enhancement_reconstruction``: L1 between the decoded mapped latents and the reference.

Assumptions (each choice below is ours, not read from the paper):

* Sub-encoder: 3×3 stride-2 convolution + LeakyReLU + ``residual_blocks`` residual blocks;
  channels ``hidden_channels · 2^min(i, 2)``. No instance normalisation (the summary's
  sub-encoder may have one), which would remove the global brightness the normal-light
  decoder has to reproduce. Posterior head: 3×3 convolution to mean and log-variance
  (``latent_channels`` each) at every level.
* Sub-decoder: top-down; level i concatenates its latent with the upsampled output of level
  i+1, then 3×3 convolution + residual blocks + nearest ×2 upsampling + 3×3 convolution
  (nearest + convolution instead of transposed convolution, which leaves its own
  checkerboard pattern); a sigmoid output in [0, 1].
* Enlightening branch: a global, illumination-like transform - global average pooling, an
  MLP, and a per-channel scale and shift of the features. Deblocking branch: local 3×3
  residual convolutions. The two are concatenated and fused by a 3×3 convolution into the
  target latent. Each level is mapped independently.
* Training schedule: the paper trains the VAEs and then the mapping; the training loop here
  runs one Adam optimiser over all parameters from the start. With
  ``stop_gradient_to_vaes`` (default) the mapping-stage losses (``latent_mapping``,
  ``enhancement_reconstruction``) update only the mapping networks: the dark latents are
  detached and the normal-light decoder is applied with detached weights, so each VAE is
  trained by its own reconstruction and KL only, as in the staged schedule.
  ``stop_gradient_to_vaes: false`` lets ``enhancement_reconstruction`` (and the mapping
  loss, on the dark side) also train the dark encoder and the normal-light decoder. The
  normal-light target latents of ``latent_mapping`` are always detached: otherwise the
  normal-light encoder collapses its latents towards whatever the mapping produces.
* The mapping input is the dark posterior mean and the target the normal-light posterior
  mean; ``enhance`` decodes the mapped means (no sampling at test time).
* No adversarial or perceptual losses (the paper's full objective may contain them; they are
  not modelled here). All loss terms are L1 (mean over pixels / latent elements).
* Initialisation (:func:`initialise`): He-normal convolutions, zero biases, residual branches
  scaled down at the start; PyTorch's default left the deep paths nearly untrainable in
  short runs.

Shapes: images (B, C, H, W) in [0, 1], H and W multiples of ``size_multiple = 2^num_levels``
(:func:`~vaerepro.models.restoration.restore_image` pads); latent i (B, latent_channels,
H / 2^(i+1), W / 2^(i+1)).
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class MLSMOptions:
    """Options of ``model: mlsm`` (weights multiply the loss terms of the same name)."""

    image_shape: tuple[int, int, int] = ranged((3, 64, 64), minimum=1)
    num_levels: int = ranged(3, minimum=1)
    hidden_channels: int = ranged(32, minimum=1)
    latent_channels: int = ranged(8, minimum=1)
    residual_blocks: int = ranged(1, minimum=0)
    mapping_channels: int = ranged(32, minimum=1)
    mapping_residual_blocks: int = ranged(2, minimum=0)
    kl_weight: float = ranged(1e-2, minimum=0)
    dark_reconstruction_weight: float = ranged(1.0, minimum=0)
    normal_reconstruction_weight: float = ranged(1.0, minimum=0)
    latent_mapping_weight: float = ranged(1.0, minimum=0)
    enhancement_reconstruction_weight: float = ranged(1.0, minimum=0)
    stop_gradient_to_vaes: bool = True
    closeup_crop_size: int = ranged(64, minimum=1)
    closeup_zoom: int = ranged(4, minimum=1)


def _posterior(parameters: torch.Tensor) -> DiagonalGaussian:
    mean, log_variance = parameters.chunk(2, dim=1)
    return DiagonalGaussian(mean, log_variance.clamp(*_LOG_VARIANCE_RANGE))


class MultiLevelVAE(nn.Module):
    """A VAE with one spatial Gaussian latent per resolution level (Zeng et al.; structure from the abstract, see the module docstring).

    ``encode(x)`` → k posteriors, level i of shape (B, latent_channels, H/2^(i+1), W/2^(i+1));
    ``decode(latents)`` → (B, C, H, W) in [0, 1].
    """

    def __init__(
        self,
        channels: int,
        hidden_channels: int,
        num_levels: int,
        latent_channels: int,
        residual_blocks: int,
    ) -> None:
        super().__init__()
        widths = [hidden_channels * 2 ** min(level, 2) for level in range(num_levels)]
        self.stem = nn.Sequential(nn.Conv2d(channels, hidden_channels, 3, padding=1), nn.LeakyReLU(0.2))
        self.sub_encoders = nn.ModuleList()
        self.posterior_heads = nn.ModuleList()
        width_in = hidden_channels
        for width in widths:
            self.sub_encoders.append(
                nn.Sequential(
                    nn.Conv2d(width_in, width, 3, stride=2, padding=1),
                    nn.LeakyReLU(0.2),
                    *[ResidualBlock(width) for _ in range(residual_blocks)],
                )
            )
            self.posterior_heads.append(nn.Conv2d(width, 2 * latent_channels, 3, padding=1))
            width_in = width
        self.sub_decoders = nn.ModuleList()
        for level, width in enumerate(widths):
            from_above = width if level + 1 < num_levels else 0
            width_out = widths[level - 1] if level > 0 else hidden_channels
            self.sub_decoders.append(
                nn.Sequential(
                    nn.Conv2d(latent_channels + from_above, width, 3, padding=1),
                    nn.LeakyReLU(0.2),
                    *[ResidualBlock(width) for _ in range(residual_blocks)],
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(width, width_out, 3, padding=1),
                    nn.LeakyReLU(0.2),
                )
            )
        self.output = nn.Conv2d(hidden_channels, channels, 3, padding=1)

    def encode(self, images: torch.Tensor) -> list[DiagonalGaussian]:
        features = self.stem(images)
        posteriors = []
        for sub_encoder, head in zip(self.sub_encoders, self.posterior_heads, strict=True):
            features = sub_encoder(features)
            posteriors.append(_posterior(head(features)))
        return posteriors

    def forward(self, latents: list[torch.Tensor]) -> torch.Tensor:
        """Same as :meth:`decode` (so ``functional_call`` can run the decoder)."""
        return self.decode(latents)

    def decode(self, latents: list[torch.Tensor]) -> torch.Tensor:
        hidden: torch.Tensor | None = None
        for level in reversed(range(len(self.sub_decoders))):
            inputs = latents[level] if hidden is None else torch.cat([latents[level], hidden], dim=1)
            hidden = self.sub_decoders[level](inputs)
        return torch.sigmoid(self.output(hidden))


class LatentMapping(nn.Module):
    """Maps one level's compressed-dark latent to the normal-light latent (Zeng et al.'s "enlightening" and "deblocking" branches, from the abstract).

    Enlightening branch: global average pooling → MLP → per-channel scale and shift (a global,
    illumination-like change). Deblocking branch: local 3×3 residual convolutions. Both run on
    the same lifted features; their concatenation is fused by a 3×3 convolution.
    """

    def __init__(self, latent_channels: int, channels: int, residual_blocks: int) -> None:
        super().__init__()
        self.lift = nn.Sequential(nn.Conv2d(latent_channels, channels, 3, padding=1), nn.LeakyReLU(0.2))
        self.enlightening = nn.Sequential(
            nn.Linear(channels, channels), nn.LeakyReLU(0.2), nn.Linear(channels, 2 * channels)
        )
        self.deblocking = nn.Sequential(*[ResidualBlock(channels) for _ in range(residual_blocks)])
        self.fuse = nn.Conv2d(2 * channels, latent_channels, 3, padding=1)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        features = self.lift(latent)
        scale, shift = self.enlightening(features.mean(dim=(2, 3))).chunk(2, dim=1)
        enlightened = features * (1 + scale[..., None, None]) + shift[..., None, None]
        deblocked = self.deblocking(features)
        return self.fuse(torch.cat([enlightened, deblocked], dim=1))


def _kl_per_subpixel(posteriors: list[DiagonalGaussian], images: torch.Tensor) -> torch.Tensor:
    """``sum_i KL(q(l_i|x) || N(0, I))`` per image, divided by C·H·W, averaged over the batch."""
    total = sum(posterior.kl().float().flatten(1).sum(1) for posterior in posteriors)
    return (total / images[0].numel()).mean()


def _require_reference(name: str, degraded: torch.Tensor, clean: torch.Tensor | None) -> torch.Tensor:
    if clean is None:
        raise ValueError(
            f"{name} is supervised: forward(degraded, clean) needs the normal-light reference 'clean' "
            "(the training loop passes it when model.uses_targets is true)"
        )
    if clean.shape != degraded.shape:
        raise ValueError(
            f"{name}: degraded {tuple(degraded.shape)} and clean {tuple(clean.shape)} batches differ in shape"
        )
    return clean


@register("mlsm", MLSMOptions)
class MultiLatentMapping(RestorationModel):
    """Two multi-level VAEs (compressed dark, normal light) and per-level latent mappings."""

    task = "enhancement"

    supervised = True

    def __init__(self, options: MLSMOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        vae_arguments = (
            options.image_shape[0],
            options.hidden_channels,
            options.num_levels,
            options.latent_channels,
            options.residual_blocks,
        )
        self.dark_vae = MultiLevelVAE(*vae_arguments)
        self.normal_vae = MultiLevelVAE(*vae_arguments)
        self.mappings = nn.ModuleList(
            LatentMapping(options.latent_channels, options.mapping_channels, options.mapping_residual_blocks)
            for _ in range(options.num_levels)
        )
        initialise(self)

    @property
    def size_multiple(self) -> int:
        return 2**self.options.num_levels

    def map_latents(self, dark_latents: list[torch.Tensor]) -> list[torch.Tensor]:
        """Compressed-dark latents (one per level) → estimated normal-light latents."""
        return [mapping(latent) for mapping, latent in zip(self.mappings, dark_latents, strict=True)]

    def _decode_normal(self, latents: list[torch.Tensor], frozen: bool) -> torch.Tensor:
        """Normal-light decoder; with ``frozen`` its weights get no gradient (inputs still do)."""
        if not frozen:
            return self.normal_vae.decode(latents)
        detached = {name: value.detach() for name, value in self.normal_vae.named_parameters()}
        return functional_call(self.normal_vae, detached, (latents,))

    def forward(self, degraded: torch.Tensor, clean: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        clean = _require_reference("mlsm", degraded, clean)
        options = self.options
        frozen = options.stop_gradient_to_vaes

        dark_posteriors = self.dark_vae.encode(degraded)
        normal_posteriors = self.normal_vae.encode(clean)
        dark_reconstruction = self.dark_vae.decode([posterior.sample() for posterior in dark_posteriors])
        normal_reconstruction = self.normal_vae.decode([posterior.sample() for posterior in normal_posteriors])

        dark_means = [posterior.mean.detach() if frozen else posterior.mean for posterior in dark_posteriors]
        targets = [posterior.mean.detach() for posterior in normal_posteriors]
        mapped = self.map_latents(dark_means)
        enhanced = self._decode_normal(mapped, frozen)

        terms = {
            "dark_reconstruction": functional.l1_loss(dark_reconstruction, degraded),
            "normal_reconstruction": functional.l1_loss(normal_reconstruction, clean),
            "kl_dark": _kl_per_subpixel(dark_posteriors, degraded),
            "kl_normal": _kl_per_subpixel(normal_posteriors, clean),
            "latent_mapping": torch.stack(
                [functional.l1_loss(estimate, target) for estimate, target in zip(mapped, targets, strict=True)]
            ).mean(),
            "enhancement_reconstruction": functional.l1_loss(enhanced, clean),
        }
        loss = (
            options.dark_reconstruction_weight * terms["dark_reconstruction"]
            + options.normal_reconstruction_weight * terms["normal_reconstruction"]
            + options.kl_weight * (terms["kl_dark"] + terms["kl_normal"])
            + options.latent_mapping_weight * terms["latent_mapping"]
            + options.enhancement_reconstruction_weight * terms["enhancement_reconstruction"]
        )
        return {"loss": loss, **terms}

    def enhance(self, degraded: torch.Tensor) -> torch.Tensor:
        """Encode (dark VAE, posterior means) → map each level → decode (normal-light VAE)."""
        dark_means = [posterior.mean for posterior in self.dark_vae.encode(degraded)]
        return self.normal_vae.decode(self.map_latents(dark_means)).clamp(0.0, 1.0)
