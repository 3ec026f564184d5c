"""A VGG16 perceptual distance for VQGAN's reconstruction term, real when its weights are here.

VQGAN (Esser et al. 2021, Sec. 3.1) replaces the L2 reconstruction loss by a perceptual one,
LPIPS (Zhang, Isola, Efros, Shechtman & Wang, "The Unreasonable Effectiveness of Deep Features
as a Perceptual Metric", CVPR 2018, Eq. 1): features of the ImageNet VGG16 at relu1_2, relu2_2,
relu3_3, relu4_3 and relu5_3, each unit-normalised along channels, squared differences weighted
per channel, averaged over positions and summed over layers. LPIPS's learned channel weights
(its "lin" layers) ship with the ``lpips`` package, which these machines cannot download; with
all channel weights equal to one (LPIPS's ``lpips=False`` variant, the paper's unweighted VGG
baseline) the distance needs only VGG16's ImageNet weights. That is what this module computes:
each layer's distance is the squared difference of the normalised features summed over channels
and averaged over positions; the layers' distances are summed.

The weights are torchvision's ``vgg16-397923af.pth``; this module never downloads them. It looks
for that file in torch's hub cache (``$TORCH_HOME/hub/checkpoints``) or at
``$VAEREPRO_VGG16_WEIGHTS`` and reports when it is absent, so a model can turn the term off and
its records say so. The FID Inception network is deliberately not used here: a model tuned to
the network that scores it would be judged by its own training signal.

Shapes: images (B, 3, H, W) in [-1, 1] (VQGAN's range); the distance is (B,).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

VGG16_FILE = "vgg16-397923af.pth"
WEIGHTS_VARIABLE = "VAEREPRO_VGG16_WEIGHTS"
# torchvision's VGG16 ``features`` indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3.
LAYER_ENDS = (3, 8, 15, 22, 29)
# LPIPS's input scaling (its ``ScalingLayer``): ImageNet statistics expressed for [-1, 1] inputs.
SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)


def vgg16_weights_path() -> Path | None:
    """Where torchvision's VGG16 ImageNet weights are on this machine, or None."""
    explicit = os.environ.get(WEIGHTS_VARIABLE)
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints" / VGG16_FILE
    return hub if hub.is_file() else None


class PerceptualDistance(nn.Module):
    """LPIPS-style VGG16 distance with equal channel weights (module docstring); frozen."""

    def __init__(self, weights: Path) -> None:
        super().__init__()
        from torchvision.models import vgg16  # lazily: torchvision is only needed with the weights

        network = vgg16(weights=None)
        network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.slices = nn.ModuleList()
        start = 0
        for end in LAYER_ENDS:
            self.slices.append(nn.Sequential(*[network.features[index] for index in range(start, end + 1)]))
            start = end + 1
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> PerceptualDistance:
        return super().train(False)  # always a fixed instrument

    def forward(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        """(B,) distance between two (B, 3, H, W) batches in [-1, 1]."""
        x, y = (first - self.shift) / self.scale, (second - self.shift) / self.scale
        total = first.new_zeros(first.shape[0])
        for block in self.slices:
            x, y = block(x), block(y)
            normalised_x = x / (x.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            normalised_y = y / (y.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
            total = total + (normalised_x - normalised_y).pow(2).sum(1).mean(dim=(1, 2))
        return total
