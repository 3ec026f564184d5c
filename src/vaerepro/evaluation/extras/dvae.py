"""DALL-E-style dVAE + transformer evaluation extras (Ramesh et al. 2021): images generated from
captions, for phrasings seen in training and held out from it.

* Samples: ``samples`` from captions in the training phrasings, ``samples_held_out`` from the
  held-out phrasings (words the transformer never saw in a caption), each with balanced class
  labels and a phrasing drawn per caption. Both get an FID at the dataset's N (``fid``,
  ``fid_held_out``) and the pipeline classifier's accuracy against the captioned class
  (``text_to_image_accuracy``, ``text_to_image_accuracy_held_out``): does the image show what
  the text asks for? No reranking (the paper reranks 512 samples with CLIP).
* Bits/dim are not measured: the logit-Laplace decoder is a density on (0, 1), not a
  distribution over 8-bit values.
* Figures: one row per class for a training phrasing and one for a held-out phrasing, labelled
  with their captions; the codebook usage histogram of :mod:`.vqvae`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaerepro.evaluation.classifier import conditional_accuracy
from vaerepro.evaluation.extras import register_evaluation
from vaerepro.evaluation.extras.base import GRID_COLUMNS, GenerativeEvaluation, ModelEvaluation
from vaerepro.evaluation.extras.vqvae import save_codebook_usage
from vaerepro.evaluation.tensors import to_uint8_images
from vaerepro.image_grids import save_grid

SAMPLE_CHUNK = 250  # images per call: the transformer's activations of a batch are held at once
FIGURE_SEED = 11


def balanced(count: int, classes: int) -> torch.Tensor:
    """Class labels 0, 1, ..., classes - 1, 0, 1, ... (count,)."""
    return torch.arange(count) % classes


@register_evaluation("dvae")
class DVAEEvaluation(ModelEvaluation):
    sample_set_descriptions = {  # noqa: RUF012 (read-only)
        "samples": "samples from captions in the training phrasings",
        "samples_held_out": "samples from captions in held-out phrasings",
    }

    def bits_per_dim_not_measured(self, model: Any) -> str | None:
        return "the logit-Laplace decoder is a density on (0, 1), not a distribution over 8-bit values"

    @torch.no_grad()
    def draw_samples(
        self, model: Any, count: int, inputs: torch.Tensor, generator: torch.Generator | None
    ) -> dict[str, torch.Tensor]:
        device = next(model.parameters()).device
        labels = balanced(count, model.captions.num_classes)
        sets = {}
        for name, held_out in (("samples", False), ("samples_held_out", True)):
            chunks = []
            for start in range(0, count, SAMPLE_CHUNK):
                chunk = labels[start : start + SAMPLE_CHUNK]
                chunks.append(model.sample(len(chunk), chunk.to(device), generator=generator, held_out=held_out).cpu())
            sets[name] = torch.cat(chunks)
        return sets

    def sample_measures(
        self, model: Any, evaluation: GenerativeEvaluation, classifier: Any, reference: torch.Tensor
    ) -> dict[str, dict[str, Any]]:
        if classifier is None:
            return {}
        measures = {}
        for name, key in (
            ("samples", "text_to_image_accuracy"),
            ("samples_held_out", "text_to_image_accuracy_held_out"),
        ):
            images = evaluation.samples[name]
            measures[key] = conditional_accuracy(classifier, images, balanced(len(images), model.captions.num_classes))
        return measures

    @torch.no_grad()
    def sample_figure(self, model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str) -> Path:
        device = next(model.parameters()).device
        rows, labels = [], []
        for held_out in (False, True):
            generator = torch.Generator(device=device).manual_seed(FIGURE_SEED) if device.type == "cpu" else None
            for label in range(model.captions.num_classes):
                y = torch.full((GRID_COLUMNS,), label, dtype=torch.long, device=device)
                rows.append(
                    to_uint8_images(
                        model.sample(GRID_COLUMNS, y, generator=generator, phrasing=0, held_out=held_out).cpu()
                    )
                )
                labels.append(
                    f'"{model.captions.caption(label, 0, held_out=held_out)}"' + (" (held out)" if held_out else "")
                )
        return save_grid(
            directory / "samples_from_captions.png",
            rows,
            row_labels=labels,
            title=f"{title}: images generated from captions (training phrasing, then a held-out one)",
        )

    def generative_figures(
        self, model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str
    ) -> dict[str, Path]:
        return {"codebook_usage": save_codebook_usage(evaluation, directory / "codebook_usage.png", title)}
