"""Classical restoration methods as registered (untrained) restoration models.

They give every learned model's number its context and run through the same ``train@`` /
``evaluate@`` path: ``train@`` records their options (nothing is optimised) and ``evaluate@``
scores them on exactly the same test pairs. The methods themselves live in
:mod:`vaerepro.baselines` (papers and settings cited there):

==============  ===============================================================
``identity``    the degraded input unchanged (what "doing nothing" scores)
``bm3d``        BM3D / CBM3D (Dabov et al., IEEE TIP 2007 / ICIP 2007), noise σ
                estimated per image (wavelet MAD, Donoho & Johnstone 1994) or fixed
``nlmeans``     non-local means (Buades, Coll & Morel, CVPR 2005; scikit-image),
                h = 0.8σ, σ estimated per image or fixed
``gamma``       gamma correction with γ chosen so the mean luma becomes ``target_mean``
``histeq``      global histogram equalisation of the HSV value channel
``clahe``       CLAHE (Zuiderveld, Graphics Gems IV, 1994) of the HSV value channel
                (8×8 tiles, ``clip_limit``)
``grayworld``   gray-world white balance (Buchsbaum, J. Franklin Inst. 1980)
==============  ===============================================================

Shapes: ``enhance`` takes (B, C, H, W) in [0, 1] and processes each image on the CPU in
float64, returning the same shape on the input's device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from vaerepro.baselines.denoise import bm3d_denoise, nl_means_denoise
from vaerepro.baselines.enhance import (
    CLAHE_CLIP_LIMIT,
    auto_gamma,
    clahe,
    gray_world,
    histogram_equalization,
)
from vaerepro.models.registry import register
from vaerepro.models.restoration import RestorationModel
from vaerepro.structured import ranged


@dataclass(frozen=True)
class ClassicalOptions:
    """Options shared by the parameter-free methods: only the image shape (from the data)."""

    image_shape: tuple[int, int, int] = ranged((3, 64, 64), minimum=1)


@dataclass(frozen=True)
class DenoiserOptions:
    """``noise_sigma``: fixed σ on the 0–255 scale (0: nothing to remove), or null to estimate it per image."""

    image_shape: tuple[int, int, int] = ranged((3, 64, 64), minimum=1)
    noise_sigma: float | None = ranged(None, minimum=0)


@dataclass(frozen=True)
class GammaOptions:
    """``target_mean``: the mean luma the gamma maps to; γ = ln(target) / ln(mean) needs it in (0, 1)."""

    image_shape: tuple[int, int, int] = ranged((3, 64, 64), minimum=1)
    target_mean: float = ranged(0.5, above=0, below=1)


@dataclass(frozen=True)
class CLAHEOptions:
    """``clip_limit``: scikit-image's normalised clip limit, in [0, 1]."""

    image_shape: tuple[int, int, int] = ranged((3, 64, 64), minimum=1)
    clip_limit: float = ranged(CLAHE_CLIP_LIMIT, minimum=0, maximum=1)


class ClassicalMethod(RestorationModel):
    """A method with no learned parameters; subclasses implement :meth:`process`."""

    trainable: ClassVar[bool] = False
    supervised: ClassVar[bool] = False
    rgb_only: ClassVar[bool] = False

    def __init__(self, options) -> None:
        super().__init__(options)  # checks the declared ranges
        # Not a range: which channel counts work depends on the method (rgb_only).
        if self.rgb_only and self.channels != 3:
            raise ValueError(
                f"{self.registered_name}: works on RGB images, but image_shape has {self.channels} channel(s)"
            )

    def process(self, image: np.ndarray) -> np.ndarray:
        """float64 H×W×C in [0, 1] → float H×W×C."""
        raise NotImplementedError

    def forward(self, degraded: torch.Tensor, clean: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        raise RuntimeError(f"{self.registered_name} is a classical method: it has no loss to train")

    def enhance(self, degraded: torch.Tensor) -> torch.Tensor:
        self.check_input(degraded)
        images = degraded.detach().permute(0, 2, 3, 1).double().cpu().numpy()
        restored = np.stack([np.clip(self.process(image), 0.0, 1.0) for image in images])
        return torch.from_numpy(restored).permute(0, 3, 1, 2).to(degraded.device, degraded.dtype)


@register("identity", ClassicalOptions)
class Identity(ClassicalMethod):
    # No processing: the "did nothing" reference of any restoration task.
    task = "enhancement"

    def process(self, image: np.ndarray) -> np.ndarray:
        return image


@register("bm3d", DenoiserOptions)
class BM3D(ClassicalMethod):
    task = "denoising"

    def process(self, image: np.ndarray) -> np.ndarray:
        sigma = None if self.options.noise_sigma is None else self.options.noise_sigma / 255.0
        return bm3d_denoise(image, sigma)


@register("nlmeans", DenoiserOptions)
class NonLocalMeans(ClassicalMethod):
    task = "denoising"

    def process(self, image: np.ndarray) -> np.ndarray:
        sigma = None if self.options.noise_sigma is None else self.options.noise_sigma / 255.0
        return nl_means_denoise(image, sigma)


@register("gamma", GammaOptions)
class Gamma(ClassicalMethod):
    task = "enhancement"
    rgb_only = True

    def process(self, image: np.ndarray) -> np.ndarray:
        return auto_gamma(image, self.options.target_mean)


@register("histeq", ClassicalOptions)
class HistogramEqualization(ClassicalMethod):
    task = "enhancement"
    rgb_only = True

    def process(self, image: np.ndarray) -> np.ndarray:
        return histogram_equalization(image)


@register("clahe", CLAHEOptions)
class CLAHE(ClassicalMethod):
    task = "enhancement"
    rgb_only = True

    def process(self, image: np.ndarray) -> np.ndarray:
        return clahe(image, self.options.clip_limit)


@register("grayworld", ClassicalOptions)
class GrayWorld(ClassicalMethod):
    task = "enhancement"
    rgb_only = True

    def process(self, image: np.ndarray) -> np.ndarray:
        return gray_world(image)
