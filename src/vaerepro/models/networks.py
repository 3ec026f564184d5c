"""Building blocks shared by the model families: conv encoder/decoder and MLPs.

Shapes: images (B, C, H, W); flat features (B, F).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

Activation = Literal["relu", "silu", "tanh"]

_ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "tanh": nn.Tanh}


def check_image_shape(model_name: str, image_shape: tuple[int, int, int], downsampling_factor: int) -> None:
    """Fail at construction when the architecture cannot take ``image_shape``.

    Not a declared range (:func:`vaerepro.structured.ranged`): divisibility depends on another
    option (``num_downsamplings``). That every entry is >= 1 is the options' declared range.
    """
    _, height, width = image_shape
    if height % downsampling_factor or width % downsampling_factor:
        raise ValueError(
            f"{model_name}: image size {height}x{width} is not divisible by the downsampling factor "
            f"{downsampling_factor} (2 ** num_downsamplings); choose num_downsamplings so that "
            f"height and width are multiples of 2 ** num_downsamplings"
        )


def mlp(
    in_features: int, hidden_units: int, num_hidden_layers: int, out_features: int, activation: Activation = "relu"
) -> nn.Sequential:
    """``num_hidden_layers`` hidden layers of ``hidden_units`` then a linear output."""
    layers: list[nn.Module] = []
    width = in_features
    for _ in range(num_hidden_layers):
        layers += [nn.Linear(width, hidden_units), _ACTIVATIONS[activation]()]
        width = hidden_units
    layers.append(nn.Linear(width, out_features))
    return nn.Sequential(*layers)


class ConvEncoder(nn.Module):
    """(B, C, H, W) → (B, out_features) through ``num_downsamplings`` stride-2 convolutions.

    Channels double at each downsampling, starting from ``hidden_channels``.
    """

    def __init__(
        self, image_shape: tuple[int, int, int], hidden_channels: int, num_downsamplings: int, out_features: int
    ) -> None:
        super().__init__()
        channels, height, width = image_shape
        layers: list[nn.Module] = []
        width_in = channels
        for level in range(num_downsamplings):
            width_out = hidden_channels * 2**level
            layers += [nn.Conv2d(width_in, width_out, kernel_size=4, stride=2, padding=1), nn.SiLU()]
            width_in = width_out
        self.features = nn.Sequential(*layers, nn.Flatten())
        factor = 2**num_downsamplings
        self.output = nn.Linear(width_in * (height // factor) * (width // factor), out_features)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(images))


class ConvDecoder(nn.Module):
    """(B, in_features) → (B, out_channels, H, W), mirroring :class:`ConvEncoder`."""

    def __init__(
        self,
        in_features: int,
        image_shape: tuple[int, int, int],
        hidden_channels: int,
        num_downsamplings: int,
        out_channels: int,
    ) -> None:
        super().__init__()
        _, height, width = image_shape
        factor = 2**num_downsamplings
        self.start_channels = hidden_channels * 2 ** max(num_downsamplings - 1, 0)
        self.start_size = (height // factor, width // factor)
        self.input = nn.Sequential(
            nn.Linear(in_features, self.start_channels * self.start_size[0] * self.start_size[1]), nn.SiLU()
        )
        layers: list[nn.Module] = []
        width_in = self.start_channels
        for level in reversed(range(num_downsamplings)):
            last = level == 0
            width_out = out_channels if last else hidden_channels * 2 ** (level - 1)
            layers.append(nn.ConvTranspose2d(width_in, width_out, kernel_size=4, stride=2, padding=1))
            if not last:
                layers.append(nn.SiLU())
            width_in = width_out
        if num_downsamplings == 0:
            layers.append(nn.Conv2d(width_in, out_channels, kernel_size=3, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        hidden = self.input(codes).view(codes.shape[0], self.start_channels, *self.start_size)
        return self.layers(hidden)
