"""The per-model evaluation hooks every model name may fill in, and what they are given.

The evaluation of a task (:mod:`vaerepro.evaluation.generative` for generation,
:mod:`vaerepro.experiment.restoration` for denoising and enhancement) does what every model of
the task shares; a model's own measurements and figures come from its :class:`ModelEvaluation`,
found by model name in :mod:`vaerepro.evaluation.extras` (the one registry, for generative and
restoration models alike). A model without one gets these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vaerepro.evaluation.tensors import to_uint8_images
from vaerepro.image_grids import save_grid

# Columns of the sample and reconstruction grids.
GRID_COLUMNS = 10


@dataclass
class GenerativeEvaluation:
    """What the generative evaluation measured, and what its figures show."""

    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Tensors (float, (N, C, H, W) in [0, 1]) kept for the figures.
    test_images: torch.Tensor | None = None
    reconstructions: torch.Tensor | None = None
    samples: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class RestorationContext:
    """What a restoration model's extras may use.

    Attributes:
        inputs: uint8 (N, H, W, C) degraded test images (after ``test_count``).
        targets: uint8 (N, H, W, C) references.
        names: N image identifiers.
        outputs: uint8 (N, H, W, C) the model's restored images (``None`` where it failed).
        figure_dir: where to write figures (``reports/figures/<experiment>/``).
        reports_root: figure paths in the record are relative to this (``reports/``).
        device: the device the model is on.
        seed: evaluation seed (params ``seed``).
        options: the model's extras options (its :attr:`ModelEvaluation.options_class`, parsed from
            ``experiments.<name>.evaluate.<profile>.extras``); None when it has none.
    """

    inputs: np.ndarray
    targets: np.ndarray
    names: list[str]
    outputs: list[np.ndarray | None]
    figure_dir: Path
    reports_root: Path
    device: torch.device
    seed: int
    options: Any = None


@dataclass
class RestorationExtras:
    """Extra metric entries (``vaerepro.records.measured``/``not_measured``) and figures
    (name → path relative to ``reports_root``)."""

    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)


def grid_rows(images: torch.Tensor, rows: int, columns: int = GRID_COLUMNS) -> list[np.ndarray]:
    """The first ``rows·columns`` float (N, C, H, W) images as uint8 grid rows."""
    images = to_uint8_images(images[: rows * columns])
    return [images[index : index + columns] for index in range(0, len(images), columns)]


class ModelEvaluation:
    """Hooks of one model name's evaluation. Subclass, override what differs, and register it
    with :func:`vaerepro.evaluation.extras.register_evaluation`.

    ``options_class``: a frozen dataclass of the extras' own knobs (sample counts of a figure, ...),
    read from ``experiments.<name>.evaluate.<profile>.extras`` in params.yaml; None: no knobs.
    """

    options_class: type | None = None

    # -- generation (models with task "generation") -------------------------------------------

    # Record ``parameter_count_full_profile`` (the full profile's model, counted without
    # training) at every profile: for a model whose size is itself a survey claim (VDVAE's 39M).
    reports_full_profile_size: bool = False

    # What each sample set of ``draw_samples`` is, in FID entries.
    sample_set_descriptions: dict[str, str] = {"samples": "samples"}  # noqa: RUF012 (read-only)

    def sample_labels(self, model: Any, count: int) -> torch.Tensor | None:
        """Condition labels (count,) the samples are drawn for; None: unconditional."""
        return None

    def bits_per_dim_not_measured(self, model: Any) -> str | None:
        """Why bits/dim does not apply to this model's likelihood; None: it does."""
        return None

    def draw_samples(
        self, model: Any, count: int, inputs: torch.Tensor, generator: torch.Generator | None
    ) -> dict[str, torch.Tensor]:
        """Sample sets (float (N, C, H, W) on the CPU), the main one under ``"samples"``.

        ``inputs``: the (binarised) test images, for models that complete a given part.
        """
        return {"samples": model.sample(count, generator=generator).cpu()}

    def sample_measures(
        self, model: Any, evaluation: GenerativeEvaluation, classifier: Any, reference: torch.Tensor
    ) -> dict[str, dict[str, Any]]:
        """Measures beyond the classifier Fréchet distance of the main samples; default none."""
        return {}

    @torch.no_grad()
    def sample_figure(self, model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str) -> Path:
        """The samples figure; default: a grid of the main samples."""
        return save_grid(
            directory / "samples.png",
            grid_rows(evaluation.samples["samples"], 8),
            title=f"{title}: samples from the prior",
        )

    def generative_figures(
        self, model: Any, evaluation: GenerativeEvaluation, directory: Path, title: str
    ) -> dict[str, Path]:
        """Figures beyond samples, reconstructions and training curves; default none."""
        return {}

    # -- restoration (tasks "denoising" and "enhancement") ------------------------------------

    def restoration_extras(self, model: Any, context: RestorationContext) -> RestorationExtras:
        """Model-specific measurements and figures on the test pairs; default none."""
        return RestorationExtras()


@torch.no_grad()
def samples_in_chunks(model: Any, count: int, chunk: int, generator: torch.Generator | None) -> torch.Tensor:
    """``count`` samples of ``model.sample`` (on the CPU), drawn ``chunk`` at a time so that the
    activations of a large sample set are never held at once."""
    parts = [model.sample(min(chunk, count - start), generator=generator).cpu() for start in range(0, count, chunk)]
    return torch.cat(parts)
