"""VQGAN's convolutional networks and adversarial losses, shared by VQGAN and UW-CVGAN.

Esser, Rombach & Ommer, "Taming Transformers for High-Resolution Image Synthesis" (CVPR 2021,
arXiv:2012.09841), Sec. 3.1 and their ``taming/modules`` configuration: an encoder of residual
blocks (GroupNorm, swish, 3×3 convolutions) over resolution levels with channel multipliers,
stride-2 downsampling between levels, single-head self-attention at the lowest resolution and in
the middle block; a mirrored decoder with nearest-neighbour upsampling; the pix2pix PatchGAN
discriminator (Isola et al. 2017) with the hinge loss; and the adaptive weight of Eq. 7,
``lambda = ||grad_L L_rec|| / (||grad_L L_GAN|| + 1e-4)`` at the decoder's last layer L.

The networks read their sizes from an options object with the fields ``image_shape``,
``hidden_channels``, ``channel_multipliers``, ``residual_blocks``, ``attention`` and
``norm_groups`` (:class:`~vaerepro.models.vqgan.VQGANOptions`,
:class:`~vaerepro.models.uwcvgan.UWCVGANOptions`). Shapes: the encoder maps (B, C, H, W) to
(B, out, H / 2^n, W / 2^n) with n = len(channel_multipliers) - 1; the decoder the reverse.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as functional
from torch import nn

_GROUP_NORM_EPS = 1e-6


def _group_norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=groups, num_channels=channels, eps=_GROUP_NORM_EPS, affine=True)


class ResidualBlock(nn.Module):
    """VQGAN's residual block: (GroupNorm → swish → 3×3 conv) twice, plus a (1×1) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, groups: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _group_norm(in_channels, groups),
            nn.SiLU(),
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            _group_norm(out_channels, groups),
            nn.SiLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.shortcut = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.shortcut(features) + self.body(features)


class AttentionBlock(nn.Module):
    """VQGAN's single-head spatial self-attention with a residual connection."""

    def __init__(self, channels: int, groups: int) -> None:
        super().__init__()
        self.norm = _group_norm(channels, groups)
        self.query = nn.Conv2d(channels, channels, 1)
        self.key = nn.Conv2d(channels, channels, 1)
        self.value = nn.Conv2d(channels, channels, 1)
        self.project = nn.Conv2d(channels, channels, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = features.shape
        normed = self.norm(features)
        query = self.query(normed).flatten(2).transpose(1, 2)  # (B, hw, C)
        key = self.key(normed).flatten(2)  # (B, C, hw)
        value = self.value(normed).flatten(2)  # (B, C, hw)
        weights = torch.softmax(torch.bmm(query, key) * channels**-0.5, dim=2)  # (B, hw_query, hw_key)
        attended = torch.bmm(value, weights.transpose(1, 2)).view(batch, channels, height, width)
        return features + self.project(attended)


class Downsample(nn.Module):
    """Stride-2 3×3 convolution after zero-padding one row/column at the bottom/right (VQGAN)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.conv(functional.pad(features, (0, 1, 0, 1)))


class Upsample(nn.Module):
    """Nearest-neighbour ×2 then a 3×3 convolution (VQGAN)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.conv(functional.interpolate(features, scale_factor=2.0, mode="nearest"))


class Encoder(nn.Module):
    """VQGAN encoder: (B, C, H, W) → (B, out_channels, H / 2^n, W / 2^n)."""

    def __init__(self, options: Any, out_channels: int) -> None:
        super().__init__()
        groups, base = options.norm_groups, options.hidden_channels
        widths = [base * multiplier for multiplier in options.channel_multipliers]
        last_level = len(widths) - 1
        layers: list[nn.Module] = [nn.Conv2d(options.image_shape[0], base, 3, padding=1)]
        width_in = base
        for level, width in enumerate(widths):
            for _ in range(options.residual_blocks):
                layers.append(ResidualBlock(width_in, width, groups))
                width_in = width
                if options.attention and level == last_level:
                    layers.append(AttentionBlock(width, groups))
            if level != last_level:
                layers.append(Downsample(width))
        layers += [ResidualBlock(width_in, width_in, groups)]
        layers += [AttentionBlock(width_in, groups)] if options.attention else []
        layers += [
            ResidualBlock(width_in, width_in, groups),
            _group_norm(width_in, groups),
            nn.SiLU(),
            nn.Conv2d(width_in, out_channels, 3, padding=1),
        ]
        self.layers = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


class Decoder(nn.Module):
    """VQGAN decoder: (B, in_channels, h, w) → (B, C, h · 2^n, w · 2^n), unbounded (≈ [-1, 1])."""

    def __init__(self, options: Any, in_channels: int) -> None:
        super().__init__()
        groups, base = options.norm_groups, options.hidden_channels
        widths = [base * multiplier for multiplier in options.channel_multipliers]
        last_level = len(widths) - 1
        width_in = widths[-1]
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, width_in, 3, padding=1),
            ResidualBlock(width_in, width_in, groups),
        ]
        layers += [AttentionBlock(width_in, groups)] if options.attention else []
        layers += [ResidualBlock(width_in, width_in, groups)]
        for level in reversed(range(len(widths))):
            for _ in range(options.residual_blocks + 1):
                layers.append(ResidualBlock(width_in, widths[level], groups))
                width_in = widths[level]
                if options.attention and level == last_level:
                    layers.append(AttentionBlock(width_in, groups))
            if level != 0:
                layers.append(Upsample(width_in))
        layers += [_group_norm(width_in, groups), nn.SiLU()]
        self.layers = nn.Sequential(*layers)
        self.conv_out = nn.Conv2d(width_in, options.image_shape[0], 3, padding=1)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.layers(latent))


class PatchDiscriminator(nn.Module):
    """The pix2pix PatchGAN (Isola et al. 2017) as configured by VQGAN: one logit per patch."""

    def __init__(self, channels: int, width: int, layers: int) -> None:
        super().__init__()
        modules: list[nn.Module] = [
            nn.Conv2d(channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
        ]
        multiplier = 1
        for index in range(1, layers + 1):
            previous, multiplier = multiplier, min(2**index, 8)
            stride = 2 if index < layers else 1
            modules += [
                nn.Conv2d(width * previous, width * multiplier, 4, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width * multiplier),
                nn.LeakyReLU(0.2),
            ]
        modules.append(nn.Conv2d(width * multiplier, 1, 4, stride=1, padding=1))
        self.layers = nn.Sequential(*modules)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0.0, 0.02)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.layers(images)


def hinge_discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """VQGAN's hinge loss: ½ (mean relu(1 - D(real)) + mean relu(1 + D(fake)))."""
    return 0.5 * (functional.relu(1.0 - logits_real).mean() + functional.relu(1.0 + logits_fake).mean())


def vanilla_discriminator_loss(logits_real: torch.Tensor, logits_fake: torch.Tensor) -> torch.Tensor:
    """½ (mean softplus(-D(real)) + mean softplus(D(fake))), the non-saturating GAN loss."""
    return 0.5 * (functional.softplus(-logits_real).mean() + functional.softplus(logits_fake).mean())


def adaptive_adversarial_weight(
    reconstruction: torch.Tensor, generator_adversarial: torch.Tensor, last_layer: torch.Tensor, scale: float
) -> torch.Tensor:
    """Esser et al. (2021) Eq. 7 at ``last_layer`` (clamped to [0, 1e4], detached), times ``scale``."""
    reconstruction_gradient = torch.autograd.grad(reconstruction, last_layer, retain_graph=True)[0]
    adversarial_gradient = torch.autograd.grad(generator_adversarial, last_layer, retain_graph=True)[0]
    ratio = torch.linalg.vector_norm(reconstruction_gradient) / (torch.linalg.vector_norm(adversarial_gradient) + 1e-4)
    return ratio.clamp(0.0, 1e4).detach() * scale
