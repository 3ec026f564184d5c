"""Convolutional encoder and decoder of VQ-VAE and VQ-VAE-2.

van den Oord, Vinyals & Kavukcuoglu, "Neural Discrete Representation Learning" (NeurIPS 2017,
arXiv:1711.00937), Sec. 4.1: "The encoder consists of 2 strided convolutional layers with
stride 2 and window size 4 × 4, followed by two residual 3 × 3 blocks (implemented as ReLU,
3x3 conv, ReLU, 1x1 conv), all having 256 hidden units. The decoder similarly has two residual
3 × 3 blocks, followed by two transposed convolutions with stride 2 and window size 4 × 4."
Razavi, van den Oord & Vinyals, "Generating Diverse High-Fidelity Images with VQ-VAE-2"
(NeurIPS 2019, arXiv:1906.00446), Sec. 3.1 and Fig. 2a, stack the same blocks into a top and a
bottom encoder (the top one downsamples the bottom one's features once more) and decoders.

Where the paper is silent we follow the common reading of it (e.g. the reference settings the
issue cites): the strided convolutions before the last one have half the hidden channels, a
3×3 convolution follows them, and a ReLU closes the residual stack.

Shapes: the encoder maps (B, C_in, H, W) to (B, hidden, H / 2^d, W / 2^d); the decoder maps
(B, C_in, h, w) to (B, C_out, h · 2^u, w · 2^u).
"""

from __future__ import annotations

import torch
from torch import nn


class QuantizedResidualBlock(nn.Module):
    """``x + conv1x1(ReLU(conv3x3(ReLU(x))))``, the VQ-VAE residual block (paper Sec. 4.1)."""

    def __init__(self, channels: int, residual_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, residual_channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(residual_channels, channels, 1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features + self.body(features)


class VQEncoder(nn.Sequential):
    """``downsamplings`` stride-2 4×4 convolutions, a 3×3 convolution, residual blocks, ReLU."""

    def __init__(
        self, in_channels: int, hidden_channels: int, residual_channels: int, residual_blocks: int, downsamplings: int
    ) -> None:
        if downsamplings < 1:
            raise ValueError(f"the VQ encoder downsamples at least once, got {downsamplings}")
        layers: list[nn.Module] = []
        channels = in_channels
        for index in range(downsamplings):
            width = hidden_channels if index == downsamplings - 1 else max(1, hidden_channels // 2)
            layers += [nn.Conv2d(channels, width, 4, stride=2, padding=1), nn.ReLU()]
            channels = width
        layers.append(nn.Conv2d(channels, hidden_channels, 3, padding=1))
        layers += [QuantizedResidualBlock(hidden_channels, residual_channels) for _ in range(residual_blocks)]
        layers.append(nn.ReLU())
        super().__init__(*layers)


class VQDecoder(nn.Sequential):
    """A 3×3 convolution, residual blocks, ReLU, then ``upsamplings`` stride-2 4×4 transposed
    convolutions (ReLU between them), the last one to ``out_channels``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden_channels: int,
        residual_channels: int,
        residual_blocks: int,
        upsamplings: int,
    ) -> None:
        if upsamplings < 1:
            raise ValueError(f"the VQ decoder upsamples at least once, got {upsamplings}")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, hidden_channels, 3, padding=1)]
        layers += [QuantizedResidualBlock(hidden_channels, residual_channels) for _ in range(residual_blocks)]
        layers.append(nn.ReLU())
        channels = hidden_channels
        for index in range(upsamplings):
            last = index == upsamplings - 1
            width = out_channels if last else max(1, hidden_channels // 2)
            layers.append(nn.ConvTranspose2d(channels, width, 4, stride=2, padding=1))
            if not last:
                layers.append(nn.ReLU())
            channels = width
        super().__init__(*layers)
