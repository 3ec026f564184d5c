"""The two-stage VAE's evaluation extras (Dai & Wipf 2019): both samplers, side by side.

Dai & Wipf's Table 1 compares samples from z ~ N(0, I) decoded by the first stage with samples
whose z comes from the second-stage VAE. Both sample sets are drawn (``samples`` from the second
stage, the headline; ``samples_first_stage``), each scored by FID and the classifier's Fréchet
distance, and shown in one figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vaerepro.evaluation.classifier import classifier_frechet
from vaerepro.evaluation.extras import register_evaluation
from vaerepro.evaluation.extras.base import GenerativeEvaluation, ModelEvaluation, grid_rows
from vaerepro.evaluation.extras.vae import save_interpolations
from vaerepro.image_grids import save_grid


@register_evaluation("two_stage_vae")
class TwoStageVAEEvaluation(ModelEvaluation):
    sample_set_descriptions = {  # noqa: RUF012 (read-only)
        "samples": "samples",
        "samples_first_stage": "first-stage samples (z ~ N(0, I) decoded by stage 1)",
    }

    def draw_samples(
        self, model: Any, count: int, inputs: torch.Tensor, generator: torch.Generator | None
    ) -> dict[str, torch.Tensor]:
        return {
            "samples": model.sample(count, generator=generator, via="second_stage").cpu(),
            "samples_first_stage": model.sample(count, generator=generator, via="first_stage").cpu(),
        }

    def sample_measures(
        self, model: Any, evaluation: GenerativeEvaluation, classifier: Any, reference: torch.Tensor
    ) -> dict[str, dict[str, Any]]:
        if classifier is None:
            return {}
        return {
            "classifier_frechet_distance_first_stage": classifier_frechet(
                classifier, evaluation.samples["samples_first_stage"], reference
            )
        }

    @torch.no_grad()
    def sample_figure(self, model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str) -> Path:
        first = grid_rows(evaluation.samples["samples_first_stage"], 4)
        second = grid_rows(evaluation.samples["samples"], 4)
        return save_grid(
            directory / "stage1_vs_stage2_samples.png",
            first + second,
            row_labels=["stage 1"] * 4 + ["stage 2"] * 4,
            title=f"{title}: samples: z ~ N(0, I) (stage 1) vs z from the stage-2 VAE",
        )

    @torch.no_grad()
    def generative_figures(
        self, model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str
    ) -> dict[str, Path]:
        return {"interpolations": save_interpolations(model, evaluation, directory, title)}
