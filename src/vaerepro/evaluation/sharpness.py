"""Image sharpness as Laplacian energy, to put a number on "VAE samples are blurry".

The survey (section 4, limitations) says VAEs produce blurry images. Blur removes high
spatial frequencies, which the discrete Laplacian responds to, so the mean energy (mean of
squared response) of the Laplacian is a simple, reference-free sharpness measure: a
Gaussian blur of any image lowers it. Compare real test images, reconstructions and samples
of one dataset on the same scale (this is a relative measure; its absolute value depends on
content and resolution). The variance of the Laplacian is the same idea used as a focus
measure (Pech-Pacheco et al., ICPR 2000).

Convention: grayscale as the channel mean, intensities in [0, 1], 4-neighbour Laplacian
kernel [[0,1,0],[1,-4,1],[0,1,0]], valid convolution (no padding), energy = mean of squares
per image, then the mean over images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as functional

SHARPNESS_CONVENTION = "laplacian-energy: gray=channel mean in [0,1], 4-neighbour kernel, valid, mean of squares"

_KERNEL = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).reshape(1, 1, 3, 3)


def laplacian_energy(images: torch.Tensor) -> torch.Tensor:
    """Per-image Laplacian energy.

    Args:
        images: float (B, C, H, W) in [0, 1], H and W >= 3.

    Returns:
        (B,) float64 energies.
    """
    if images.ndim != 4:
        raise ValueError(f"expected (B, C, H, W) images, got shape {tuple(images.shape)}")
    if images.shape[-1] < 3 or images.shape[-2] < 3:
        raise ValueError(f"images must be at least 3x3 for a 3x3 Laplacian, got {tuple(images.shape[-2:])}")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or Inf")
    gray = images.double().mean(dim=1, keepdim=True)
    response = functional.conv2d(gray, _KERNEL.to(gray), padding=0)
    return response.pow(2).mean(dim=(1, 2, 3))
