"""VDVAE evaluation extras (Child 2021): samples drawn in chunks, samples at lower prior
temperatures, and the KL of every latent group.

* Temperatures: Child 2021 shows samples with the prior's standard deviations scaled down
  (Fig. 4 and the reference code's ``temperature``); the figure puts rows at temperatures
  :data:`TEMPERATURES` (FID is measured at temperature 1, the model's own distribution).
* Size: the record gives the full profile's parameter count at every profile (the survey's
  "39M vs PixelCNN++'s 53M" needs no training to check).
* KL per group: the test set's mean KL of each latent group in decoder order, coloured by
  resolution (``active_latent_groups`` of :mod:`vaerepro.evaluation.hierarchical`): where the
  hierarchy stores information, and which groups stayed at the prior.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaerepro.evaluation.extras import register_evaluation
from vaerepro.evaluation.extras.base import GRID_COLUMNS, GenerativeEvaluation, ModelEvaluation, samples_in_chunks
from vaerepro.evaluation.tensors import to_uint8_images
from vaerepro.image_grids import save_grid

# Samples per call: every group's activations of a batch are held at once.
SAMPLE_CHUNK = 250
TEMPERATURES = (1.0, 0.9, 0.8, 0.6)
TEMPERATURE_SEED = 7


@register_evaluation("vdvae")
class VDVAEEvaluation(ModelEvaluation):
    reports_full_profile_size = True  # the survey's "39M parameters" (intro-vdvae-params)

    @torch.no_grad()
    def draw_samples(
        self, model: Any, count: int, inputs: torch.Tensor, generator: torch.Generator | None
    ) -> dict[str, torch.Tensor]:
        return {"samples": samples_in_chunks(model, count, SAMPLE_CHUNK, generator)}

    @torch.no_grad()
    def generative_figures(
        self, model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str
    ) -> dict[str, Path]:
        return {
            "samples_by_temperature": save_temperature_grid(model, directory / "samples_by_temperature.png", title),
            "kl_per_group": save_kl_per_group(evaluation, directory / "kl_per_group.png", title),
        }


@torch.no_grad()
def save_temperature_grid(model: Any, path: Path, title: str) -> Path:
    """One row of samples per temperature, the same seed in every row."""
    rows = []
    for temperature in TEMPERATURES:
        generator = torch.Generator().manual_seed(TEMPERATURE_SEED)
        if next(model.parameters()).device.type != "cpu":
            generator = None
            torch.manual_seed(TEMPERATURE_SEED)
        rows.append(to_uint8_images(model.sample(GRID_COLUMNS, generator=generator, temperature=temperature).cpu()))
    return save_grid(
        path,
        rows,
        row_labels=[f"t = {temperature}" for temperature in TEMPERATURES],
        title=f"{title}: samples with the prior's std scaled by t",
    )


def save_kl_per_group(evaluation: GenerativeEvaluation, path: Path, title: str) -> Path:
    """Bar chart of the mean KL of each latent group (``active_latent_groups`` entry)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entry = evaluation.metrics["active_latent_groups"]
    kl = np.asarray(entry["kl_per_group"])
    resolutions = np.asarray(entry["resolutions"])
    figure, axis = plt.subplots(figsize=(max(5.0, 0.16 * len(kl) + 2), 3))
    colours = plt.get_cmap("viridis")
    levels = sorted(set(resolutions.tolist()))
    for index, resolution in enumerate(levels):
        members = np.flatnonzero(resolutions == resolution)
        axis.bar(
            members, kl[members], width=0.8, color=colours(index / max(1, len(levels) - 1)), label=f"{resolution}²"
        )
    axis.set_yscale("symlog", linthresh=0.01)
    axis.set_xlabel("latent group (decoder order, top first)")
    axis.set_ylabel("mean KL (nats per image)")
    axis.legend(title="resolution", fontsize=7, ncols=min(len(levels), 5))
    axis.set_title(f"{title}: {entry['value']} of {entry['total']} groups carry information")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
