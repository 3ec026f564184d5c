"""Figures of a generative experiment, written to ``reports/figures/<experiment>/``.

Every figure is a PNG small enough to commit; the record lists them (paths relative to
``reports/``) so the report can show them next to the numbers they illustrate.
"""

from __future__ import annotations

import csv
from pathlib import Path

import torch

from vaerepro.data.integrity import atomic_file
from vaerepro.evaluation.extras import GenerativeEvaluation, evaluation_for
from vaerepro.evaluation.extras.base import GRID_COLUMNS
from vaerepro.evaluation.tensors import to_uint8_images
from vaerepro.image_grids import save_grid


@torch.no_grad()
def save_generative_figures(
    model, evaluation: GenerativeEvaluation, directory: Path, reports_root: Path, experiment: str, log_dir: Path
) -> dict[str, str]:
    """Write this experiment's figures; return {name: path relative to reports_root}.

    Samples (drawn the model's way, :mod:`vaerepro.evaluation.extras`), test inputs with their
    reconstructions, the model's own figures, and the training curves.
    """

    extras = evaluation_for(model.registered_name)
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {"samples": extras.sample_figure(model, evaluation, directory, experiment)}
    pairs = []
    for row in range(3):
        pairs += [
            to_uint8_images(evaluation.test_images[row * GRID_COLUMNS : (row + 1) * GRID_COLUMNS]),
            to_uint8_images(evaluation.reconstructions[row * GRID_COLUMNS : (row + 1) * GRID_COLUMNS]),
        ]
    written["reconstructions"] = save_grid(
        directory / "reconstructions.png",
        pairs,
        row_labels=["input", "reconstruction"] * 3,
        title=f"{experiment}: test inputs and reconstructions",
    )
    written.update(extras.generative_figures(model, evaluation, directory, experiment))
    curves = save_training_curves(log_dir, directory / "training_curves.png", f"{experiment}: training curves")
    if curves:
        written["training_curves"] = curves
    return {name: path.relative_to(reports_root).as_posix() for name, path in written.items()}


def save_training_curves(log_dir: Path, output: Path, title: str) -> Path | None:
    """Plot every dvclive ``train/<term>.tsv`` of a run, one panel per term."""
    files = sorted((log_dir / "plots" / "metrics" / "train").glob("*.tsv"))
    if not files:
        return None
    # Lazily: matplotlib costs ~0.3 s, and the evaluate stage imports this module also for
    # restoration experiments, which draw no training curves.
    import matplotlib

    matplotlib.use("Agg")  # headless: stages run without a display
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(files), figsize=(3.2 * len(files), 2.6), squeeze=False)
    for axis, path in zip(axes[0], files, strict=True):
        with open(path) as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        key = path.stem
        axis.plot([int(row["step"]) for row in rows], [float(row[key]) for row in rows], linewidth=1.2)
        axis.set_title(key, fontsize=9)
        axis.set_xlabel("step", fontsize=8)
        axis.tick_params(labelsize=7)
        axis.grid(alpha=0.3)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    with atomic_file(output) as handle:
        figure.savefig(handle, format="png", dpi=90)
    plt.close(figure)
    return output
