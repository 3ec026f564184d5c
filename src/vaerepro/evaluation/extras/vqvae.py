"""VQ-VAE / VQ-VAE-2 evaluation extras: reconstructions per level and codebook usage histograms.

* Levels: Razavi et al. 2019, Fig. 3, show what each level of the hierarchy carries by decoding
  the top codes alone (bottom latents set to zero) beside the reconstruction from both levels;
  the figure puts test images, top-only and both-level reconstructions in rows.
* Codebook usage: the test set's count of every code, sorted, per level (a flat histogram means
  the whole codebook is in use; a few tall bars, codebook collapse).
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
from vaerepro.records import measured

LEVEL_FIGURE_ROWS = 2  # rows of GRID_COLUMNS test images


# Samples drawn and decoded per call: 10,000 at once would hold every decoder activation.
SAMPLE_CHUNK = 500


@register_evaluation("vqvae")
class VQVAEEvaluation(ModelEvaluation):
    @torch.no_grad()
    def draw_samples(
        self, model: Any, count: int, inputs: torch.Tensor, generator: torch.Generator | None
    ) -> dict[str, torch.Tensor]:
        return {"samples": samples_in_chunks(model, count, SAMPLE_CHUNK, generator)}

    @torch.no_grad()
    def generative_figures(
        self, model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str
    ) -> dict[str, Path]:
        figures = {"codebook_usage": save_codebook_usage(evaluation, directory / "codebook_usage.png", title)}
        if model.levels > 1:
            figures["reconstructions_per_level"] = self._levels_figure(model, evaluation, directory, title)
        return figures

    @staticmethod
    def _levels_figure(model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str) -> Path:
        device = next(model.parameters()).device
        rows, labels = [], []
        for row in range(LEVEL_FIGURE_ROWS):
            x = evaluation.test_images[row * GRID_COLUMNS : (row + 1) * GRID_COLUMNS]
            if len(x) == 0:
                break
            levels = model.reconstruct_levels(x.to(device))
            rows.append(to_uint8_images(x))
            labels.append("input")
            for name, images in levels.items():
                rows.append(to_uint8_images(images.cpu()))
                labels.append(name)
        return save_grid(
            directory / "reconstructions_per_level.png",
            rows,
            row_labels=labels,
            title=f"{title}: test images, decoded from the top codes only and from both levels",
        )


def save_codebook_usage(evaluation: GenerativeEvaluation, path: Path, title: str) -> Path:
    """Sorted code counts of every level (``codebook_usage_<level>`` entries) as bar charts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = {
        key.removeprefix("codebook_usage_"): entry
        for key, entry in evaluation.metrics.items()
        if key.startswith("codebook_usage_") and entry.get("counts") is not None
    }
    figure, axes = plt.subplots(1, len(levels), figsize=(5 * len(levels), 3), squeeze=False)
    for axis, (name, entry) in zip(axes[0], levels.items(), strict=True):
        counts = np.sort(np.asarray(entry["counts"]))[::-1]
        axis.bar(np.arange(len(counts)), counts, width=1.0, color="tab:blue")
        perplexity = evaluation.metrics[f"codebook_perplexity_{name}"]["value"]
        axis.set_title(f"{name}: {entry['used']} of {entry['codebook_size']} codes used, perplexity {perplexity:.1f}")
        axis.set_xlabel("code (sorted by count)")
        axis.set_ylabel("test-set count")
    figure.suptitle(f"{title}: codebook usage")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


@register_evaluation("vqgan")
class VQGANEvaluation(VQVAEEvaluation):
    """VQGAN's figures are VQ-VAE's; its record also states whether the perceptual term was on."""

    def sample_measures(
        self, model: Any, evaluation: GenerativeEvaluation, classifier: Any, reference: torch.Tensor
    ) -> dict[str, dict[str, Any]]:
        active = bool(model.perceptual_active) and model.options.perceptual_weight > 0
        return {"perceptual_term": measured(float(active), "on (1) / off (0)", model.perceptual_note)}
