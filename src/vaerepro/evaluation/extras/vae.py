"""The VAE's evaluation extras (Kingma & Welling 2014): latent interpolations and, for a 2-D
latent space, the decoded latent manifold of their Fig. 4.

Both read the model through the latent-variable interface (``encode``, ``decode``,
``likelihood.mean``), so the two-stage VAE's first stage shows the same figures.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from vaerepro.evaluation.extras import register_evaluation
from vaerepro.evaluation.extras.base import GenerativeEvaluation, ModelEvaluation, grid_rows
from vaerepro.image_grids import save_grid


def decode_means(model: Any, codes: torch.Tensor) -> torch.Tensor:
    """Decoder means (N, C, H, W) for latent codes (N, D)."""
    decoded = model.decode(codes)
    return decoded if not hasattr(model, "likelihood") else model.likelihood.mean(decoded)


def interpolate(model: Any, first: torch.Tensor, second: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Decoded linear interpolations between the posterior means of image pairs.

    Returns (pairs·steps, C, H, W): row r holds the path from ``first[r]`` to ``second[r]``.
    """
    start, end = model.encode(first).mode(), model.encode(second).mode()
    weights = torch.linspace(0, 1, steps, device=start.device)
    codes = start[:, None] * (1 - weights[None, :, None]) + end[:, None] * weights[None, :, None]
    return decode_means(model, codes.flatten(0, 1))


def latent_manifold(model: Any, side: int = 20) -> torch.Tensor:
    """The decoded 2-D latent grid at Gaussian quantiles (Kingma & Welling 2014, Fig. 4), (side², C, H, W)."""
    quantiles = torch.tensor([0.05 + 0.9 * index / (side - 1) for index in range(side)])
    values = math.sqrt(2) * torch.erfinv(2 * quantiles - 1)
    grid = torch.stack(torch.meshgrid(values.flip(0), values, indexing="ij"), dim=-1).reshape(-1, 2)
    return decode_means(model, grid.to(next(model.parameters()).device))


def save_interpolations(model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str) -> Path:
    """Six decoded paths between pairs of test images' posterior means."""
    test = evaluation.test_images.to(next(model.parameters()).device)
    path = interpolate(model, test[:6], test[6:12]).cpu()
    return save_grid(
        directory / "interpolations.png",
        grid_rows(path, 6),
        title=f"{title}: decoded linear paths between two test images' codes",
    )


@register_evaluation("vae")
class VAEEvaluation(ModelEvaluation):
    @torch.no_grad()
    def generative_figures(
        self, model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str
    ) -> dict[str, Path]:
        figures = {"interpolations": save_interpolations(model, evaluation, directory, title)}
        if model.options.latent_dim == 2:
            manifold = latent_manifold(model, side=20).cpu()
            figures["latent_manifold"] = save_grid(
                directory / "latent_manifold.png",
                grid_rows(manifold, 20, 20),
                title=f"{title}: 2-D latent manifold (Gaussian quantiles)",
            )
        return figures
