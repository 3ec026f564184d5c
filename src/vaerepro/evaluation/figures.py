"""Figures of a generative experiment, written to ``reports/figures/<experiment>/``.

Every figure is a PNG small enough to commit; the record lists them (paths relative to
``reports/``) so the report can show them next to the numbers they illustrate.
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from vaerepro.data.integrity import atomic_file  # noqa: E402
from vaerepro.evaluation.generative import GenerativeEvaluation, interpolate, latent_manifold  # noqa: E402
from vaerepro.evaluation.tensors import to_uint8_images  # noqa: E402
from vaerepro.report.grids import save_grid  # noqa: E402

COLUMNS = 10


def _rows(images: torch.Tensor, rows: int, columns: int = COLUMNS) -> list:
    images = to_uint8_images(images[: rows * columns])
    return [images[index : index + columns] for index in range(0, len(images), columns)]


@torch.no_grad()
def save_generative_figures(model, evaluation: GenerativeEvaluation, kind: str, directory: Path,
                            reports_root: Path, experiment: str, log_dir: Path) -> dict[str, str]:
    """Write this experiment's figures; return {name: path relative to reports_root}."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    title = lambda what: f"{experiment}: {what}"  # noqa: E731
    samples = evaluation.samples["samples"]
    if kind == "cvae_label":
        by_class = torch.cat([samples[label::10][:COLUMNS] for label in range(10)])
        written["samples"] = save_grid(directory / "samples_per_class.png", _rows(by_class, 10),
                                       row_labels=[f"label {label}" for label in range(10)],
                                       title=title("samples per conditioning label"))
    elif kind == "cvae_quadrant":
        from vaerepro.models.cvae import given_quadrant_mask

        truth = evaluation.test_images[:COLUMNS]
        mask = given_quadrant_mask(tuple(truth.shape[1:]), model.options.given_quadrants)
        given = truth * mask + 0.5 * (1 - mask)  # missing part shown as mid-gray
        device = next(model.parameters()).device
        completions = [model.complete(truth.to(device)).cpu() for _ in range(3)]
        rows = [to_uint8_images(given)] + [to_uint8_images(c) for c in completions] + [to_uint8_images(truth)]
        written["samples"] = save_grid(directory / "quadrant_completions.png", rows,
                                       row_labels=["given", "completion 1", "completion 2", "completion 3", "truth"],
                                       title=title("completing the missing quadrants"))
    elif kind == "two_stage":
        first = _rows(evaluation.samples["samples_first_stage"], 4)
        second = _rows(samples, 4)
        written["samples"] = save_grid(directory / "stage1_vs_stage2_samples.png", first + second,
                                       row_labels=["stage 1"] * 4 + ["stage 2"] * 4,
                                       title=title("samples: z ~ N(0, I) (stage 1) vs z from the stage-2 VAE"))
    else:
        written["samples"] = save_grid(directory / "samples.png", _rows(samples, 8), title=title("samples from the prior"))

    pairs = []
    for row in range(3):
        pairs += [to_uint8_images(evaluation.test_images[row * COLUMNS : (row + 1) * COLUMNS]),
                  to_uint8_images(evaluation.reconstructions[row * COLUMNS : (row + 1) * COLUMNS])]
    written["reconstructions"] = save_grid(directory / "reconstructions.png", pairs,
                                           row_labels=["input", "reconstruction"] * 3, title=title("test inputs and reconstructions"))

    device = next(model.parameters()).device
    if kind in ("vae", "two_stage"):
        test = evaluation.test_images.to(device)
        path = interpolate(model, test[:6], test[6:12]).cpu()
        written["interpolations"] = save_grid(directory / "interpolations.png", _rows(path, 6),
                                              title=title("decoded linear paths between two test images' codes"))
        if getattr(model.options, "latent_dim", None) == 2 and kind == "vae":
            manifold = latent_manifold(model, side=20).cpu()
            written["latent_manifold"] = save_grid(directory / "latent_manifold.png", _rows(manifold, 20, 20),
                                                   title=title("2-D latent manifold (Gaussian quantiles)"))
    curves = save_training_curves(log_dir, directory / "training_curves.png", title("training curves"))
    if curves:
        written["training_curves"] = curves
    return {name: path.relative_to(reports_root).as_posix() for name, path in written.items()}


def save_training_curves(log_dir: Path, output: Path, title: str) -> Path | None:
    """Plot every dvclive ``train/<term>.tsv`` of a run, one panel per term."""
    files = sorted((log_dir / "plots" / "metrics" / "train").glob("*.tsv"))
    if not files:
        return None
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
