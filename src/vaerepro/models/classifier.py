"""A small CNN classifier, the yardstick for conditional generation.

Trained on real images, it measures how often a CVAE's samples for label c are classified as
c (conditional accuracy), and its penultimate layer is a feature space for a Fréchet
distance on MNIST-like data, where the Inception network of FID is a poor fit (and its
weights are not available offline). It is not a model from the survey.

Architecture: two blocks of 3×3 conv + ReLU + 2×2 max-pool (``hidden_channels``, then
twice that), a ``feature_dim``-unit ReLU layer (:meth:`Classifier.features`) and a linear
layer to ``num_classes`` logits. Shapes: x (B, C, H, W) in [0, 1]; labels (B,) long.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vaerepro.models.base import RegisteredModel
from vaerepro.models.networks import check_image_shape
from vaerepro.models.registry import register
from vaerepro.structured import ranged


@dataclass(frozen=True)
class ClassifierOptions:
    """Options of ``model: classifier``."""

    image_shape: tuple[int, int, int] = ranged((1, 28, 28), minimum=1)
    num_classes: int = ranged(10, minimum=1)
    hidden_channels: int = ranged(32, minimum=1)
    feature_dim: int = ranged(128, minimum=1)


@register("classifier", ClassifierOptions)
class Classifier(RegisteredModel):
    task = "classification"

    def __init__(self, options: ClassifierOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        # Two 2x2 max-pools: height and width must be multiples of 4.
        check_image_shape("classifier", options.image_shape, 4)
        channels, height, width = options.image_shape
        hidden = options.hidden_channels
        self.body = nn.Sequential(
            nn.Conv2d(channels, hidden, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(hidden, 2 * hidden, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * hidden * (height // 4) * (width // 4), options.feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(options.feature_dim, options.num_classes)

    @property
    def uses_labels(self) -> bool:
        return True

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate-layer features (B, feature_dim)."""
        return self.body(x)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes)."""
        return self.head(self.features(x))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if y is None:
            raise ValueError("classifier needs the class labels as y, shape (B,)")
        logits = self.predict(x)
        labels = y.long()
        return {
            "loss": F.cross_entropy(logits.float(), labels),
            "accuracy": (logits.argmax(dim=1) == labels).float().mean(),
        }
