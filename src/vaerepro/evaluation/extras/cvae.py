"""The CVAE's evaluation extras (Sohn, Lee & Yan 2015), by its condition.

* ``condition: label`` — samples drawn for balanced labels 0, 1, …, 9, 0, …; the pipeline's
  classifier says how often a sample shows the digit it was asked for
  (``conditional_accuracy``); the figure shows one row per label.
* ``condition: quadrant`` — Sohn et al.'s structured-output task: the model completes the
  missing quadrants of test digits. Its likelihood is that of the missing part only, so
  bits/dim (a whole-image measure) does not apply; the figure shows given parts, three
  completions and the truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaerepro.evaluation.classifier import conditional_accuracy
from vaerepro.evaluation.extras import register_evaluation
from vaerepro.evaluation.extras.base import (
    GRID_COLUMNS,
    GenerativeEvaluation,
    ModelEvaluation,
    grid_rows,
)
from vaerepro.evaluation.tensors import to_uint8_images
from vaerepro.image_grids import save_grid
from vaerepro.models.cvae import given_quadrant_mask

CLASSES = 10


def balanced_labels(count: int) -> torch.Tensor:
    """Class labels 0, 1, …, 9, 0, … (count,)."""
    return torch.arange(count) % CLASSES


@register_evaluation("cvae")
class CVAEEvaluation(ModelEvaluation):
    def sample_labels(self, model: Any, count: int) -> torch.Tensor | None:
        return balanced_labels(count) if model.options.condition == "label" else None

    def bits_per_dim_not_measured(self, model: Any) -> str | None:
        if model.options.condition == "quadrant":
            return "conditional likelihood of the missing quadrants only, not of whole images"
        return None

    def draw_samples(
        self, model: Any, count: int, inputs: torch.Tensor, generator: torch.Generator | None
    ) -> dict[str, torch.Tensor]:
        device = next(model.parameters()).device
        if model.options.condition == "quadrant":
            given = inputs[: min(count, len(inputs))].to(device)
            return {"samples": model.complete(given, generator=generator).cpu()}
        return {"samples": model.sample(count, balanced_labels(count).to(device), generator=generator).cpu()}

    def sample_measures(
        self, model: Any, evaluation: GenerativeEvaluation, classifier: Any, reference: torch.Tensor
    ) -> dict[str, dict[str, Any]]:
        if classifier is None or model.options.condition != "label":
            return {}
        samples = evaluation.samples["samples"]
        return {"conditional_accuracy": conditional_accuracy(classifier, samples, balanced_labels(len(samples)))}

    @torch.no_grad()
    def sample_figure(self, model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str) -> Path:
        if model.options.condition == "quadrant":
            truth = evaluation.test_images[:GRID_COLUMNS]
            mask = given_quadrant_mask(tuple(truth.shape[1:]), model.options.given_quadrants)
            given = truth * mask + 0.5 * (1 - mask)  # missing part shown as mid-gray
            device = next(model.parameters()).device
            completions = [model.complete(truth.to(device)).cpu() for _ in range(3)]
            rows = [to_uint8_images(given)] + [to_uint8_images(c) for c in completions] + [to_uint8_images(truth)]
            return save_grid(
                directory / "quadrant_completions.png",
                rows,
                row_labels=["given", "completion 1", "completion 2", "completion 3", "truth"],
                title=f"{title}: completing the missing quadrants",
            )
        samples = evaluation.samples["samples"]
        by_class = torch.cat([samples[label::CLASSES][:GRID_COLUMNS] for label in range(CLASSES)])
        return save_grid(
            directory / "samples_per_class.png",
            grid_rows(by_class, CLASSES),
            row_labels=[f"label {label}" for label in range(CLASSES)],
            title=f"{title}: samples per conditioning label",
        )
