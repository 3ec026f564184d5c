"""``evaluate@<experiment>`` for restoration models: score, compare with the input, draw panels.

For the experiment's test pairs (``restoration.test``, limited to ``evaluate.test_count``):

* every metric in ``restoration.metrics`` on the model's output (mean over images, std,
  per-image values, failed images), and the same on the degraded input (``<metric>_input``),
  so each number has its "did nothing" context; no-reference metrics (UCIQE, UIQM) also on
  the reference (``<metric>_reference``);
* ``seconds_per_image``: wall time of the method alone, per image;
* ``inception_score`` (when asked for) of the outputs, inputs and references, each as a set:
  "not measured" with the reason when pytorch-fid's Inception weights are missing;
* each ``restoration.stress`` degradation: ``<metric>@<tag>`` and ``<metric>_input@<tag>``;
* the model's own extras (:mod:`vaerepro.evaluation.extras`, by model name);
* figures: ``panels.jpg`` (input | output | reference for every test image, downscaled, JPEG
  quality 85 to keep the repository small: a viewing aid, never measured) and ``crops.png``
  (native-resolution crops: input | output | [comparison method] | reference).

One image that fails (in the model or a metric) is recorded with its error; the rest go on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vaerepro.evaluation.extras import RestorationContext, evaluation_for
from vaerepro.evaluation.fid import inception_score_entries
from vaerepro.evaluation.restoration import ImageResult, evaluate_pairs, summarize
from vaerepro.evaluation.restoration_metrics import RESTORATION_METRICS, SET_METRICS
from vaerepro.evaluation.windows import most_textured_window
from vaerepro.experiment.resolve import ResolvedExperiment
from vaerepro.image_grids import save_grid, tile
from vaerepro.models import build_model
from vaerepro.models.restoration import RestorationModel, restore_image
from vaerepro.pixels import to_uint8
from vaerepro.records import measured, not_measured

PANEL_HEIGHT = 112
PANEL_JPEG_QUALITY = 85
CROP_SIZE = 128
CROP_IMAGES = 2


@dataclass
class RestorationEvaluation:
    metrics: dict[str, dict[str, Any]]
    figures: dict[str, str]


def _entries(
    results: list[ImageResult], metric_names: list[str], suffix: str, description: str
) -> dict[str, dict[str, Any]]:
    summary = summarize(results)
    entries: dict[str, dict[str, Any]] = {}
    for name in metric_names:
        metric = RESTORATION_METRICS[name]
        key = f"{name}{suffix}"
        if name not in summary["mean"]:  # type: ignore[operator]
            entries[key] = not_measured(f"every image failed: {summary['failed']}")
            continue
        per_image = {item["name"]: item.get(name) for item in summary["per_image"]}  # type: ignore[union-attr]
        entries[key] = measured(
            summary["mean"][name],
            metric.unit,
            metric.convention,  # type: ignore[index]
            std=summary["std"][name],
            images=summary["succeeded"],
            failed=summary["failed"],  # type: ignore[index]
            test_set=description,
            per_image=per_image,
        )
    return entries


def _score(method, pairs, metric_names: list[str], *, description: str, keep: bool = False):
    functions = {name: RESTORATION_METRICS[name].function for name in metric_names}
    results, _ = evaluate_pairs(
        method, pairs.inputs, pairs.targets, pairs.names, functions, description=description, keep_all_outputs=keep
    )
    return results


def _identity(image: np.ndarray) -> np.ndarray:
    return image


def _reference_scores(pairs, metric_names: list[str]) -> dict[str, dict[str, Any]]:
    """No-reference metrics of the clean references themselves (what "perfect" scores)."""
    entries = {}
    for name in metric_names:
        metric = RESTORATION_METRICS[name]
        values = [metric.function(target, target) for target in pairs.targets]
        entries[f"{name}_reference"] = measured(
            float(np.mean(values)),
            metric.unit,
            metric.convention,
            std=float(np.std(values)),
            images=len(values),
            test_set=pairs.description,
        )
    return entries


def _downscale(image: np.ndarray, height: int) -> np.ndarray:
    if image.shape[0] <= height:
        return image
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    squeezed = image[..., 0] if image.shape[-1] == 1 else image
    resized = np.asarray(Image.fromarray(squeezed).resize((width, height), Image.Resampling.LANCZOS), dtype=np.uint8)
    return resized[..., None] if resized.ndim == 2 else resized


def save_panels(path: Path, pairs, outputs: list[np.ndarray | None]) -> Path:
    """One row per test image: input | output | reference (gray where the model failed)."""
    rows = []
    for degraded, output, target in zip(pairs.inputs, outputs, pairs.targets, strict=True):
        shown = output if output is not None else np.full_like(target, 128)
        rows.append(
            tile(
                np.stack([_downscale(np.asarray(image), PANEL_HEIGHT) for image in (degraded, shown, target)]),
                columns=3,
            )
        )
    canvas = np.concatenate(rows, axis=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(canvas[..., 0] if canvas.shape[-1] == 1 else canvas).save(
        path, format="JPEG", quality=PANEL_JPEG_QUALITY
    )
    return path


def save_crops(
    path: Path, pairs, outputs: list[np.ndarray | None], comparison: RestorationModel | None, model_name: str
) -> Path | None:
    """Native-resolution crops of the first images: input | output | [comparison] | reference."""
    size = min(CROP_SIZE, pairs.inputs.shape[1], pairs.inputs.shape[2])
    rows, labels = [], []
    for index in range(len(pairs)):
        if outputs[index] is None:
            continue
        top, left = most_textured_window(pairs.targets[index], size, stride=max(1, size // 2))
        window = (slice(top, top + size), slice(left, left + size))
        degraded = np.asarray(pairs.inputs[index])[window]
        row = [degraded, outputs[index][window]]
        if comparison is not None:
            compared = restore_image(comparison, degraded.astype(np.float64) / 255.0)
            row.append(to_uint8(compared))
        row.append(np.asarray(pairs.targets[index])[window])
        rows.append(np.stack(row))
        labels.append(str(pairs.names[index]))
        if len(rows) == CROP_IMAGES:
            break
    if not rows:
        return None
    columns = ["input", model_name] + ([comparison.registered_name] if comparison is not None else []) + ["reference"]
    # max_width_pixels = the grid's own width: one image pixel per figure pixel (no upscaling).
    return save_grid(
        path,
        rows,
        row_labels=labels,
        max_width_pixels=len(columns) * (size + 2) + 2,
        title=f"{size}x{size} crops, native resolution: " + " | ".join(columns),
    )


def evaluate_restoration(
    model: RestorationModel,
    experiment: ResolvedExperiment,
    *,
    seed: int,
    device: torch.device,
    extras_options: Any = None,
    figure_dir: Path,
    reports_root: Path,
) -> RestorationEvaluation:
    assert experiment.restoration is not None
    data = experiment.restoration.data
    names = [name for name in data.metrics if name not in SET_METRICS]
    full_reference = [name for name in names if not RESTORATION_METRICS[name].no_reference]
    no_reference = [name for name in names if RESTORATION_METRICS[name].no_reference]
    test = experiment.test_pairs(seed)
    print(f"evaluate@{experiment.name}: {len(test)} test images, {test.description}")

    def method(image: np.ndarray) -> np.ndarray:
        return restore_image(model, image)

    results = _score(method, test, names, description=f"{experiment.name} output", keep=True)
    outputs = [result.output for result in results]
    metrics = _entries(results, names, "", test.description)
    metrics.update(_entries(_score(_identity, test, names, description="input"), names, "_input", test.description))
    metrics.update(_reference_scores(test, no_reference))
    seconds = [result.seconds for result in results if result.error is None and result.seconds is not None]
    metrics["seconds_per_image"] = (
        measured(
            float(np.mean(seconds)),
            "s",
            f"wall time of the method alone per image on {device}, batch 1",
            images=len(seconds),
            image_size=list(test.inputs.shape[1:]),
        )
        if seconds
        else not_measured("every image failed")
    )
    if "inception_score" in data.metrics:  # a set measure: outputs, inputs and references each as a set
        metrics.update(
            inception_score_entries(
                {
                    "inception_score": [output for output in outputs if output is not None],
                    "inception_score_input": list(test.inputs),
                    "inception_score_reference": list(test.targets),
                }
            )
        )
    for tag, pairs in experiment.stress_pairs(seed).items():
        metrics.update(
            _entries(
                _score(method, pairs, full_reference, description=f"{experiment.name} @{tag}"),
                full_reference,
                f"@{tag}",
                pairs.description,
            )
        )
        metrics.update(
            _entries(
                _score(_identity, pairs, full_reference, description=f"input @{tag}"),
                full_reference,
                f"_input@{tag}",
                pairs.description,
            )
        )

    figure_dir.mkdir(parents=True, exist_ok=True)
    relative = figure_dir.relative_to(reports_root) if figure_dir.is_relative_to(reports_root) else figure_dir
    figures = {"panels": str(relative / save_panels(figure_dir / "panels.jpg", test, outputs).name)}
    comparison = None
    if data.comparison_method is not None:
        comparison = build_model(
            data.comparison_method, {"image_shape": [test.inputs.shape[3], test.inputs.shape[1], test.inputs.shape[2]]}
        )
    crops = save_crops(figure_dir / "crops.png", test, outputs, comparison, model.registered_name)
    if crops is not None:
        figures["crops"] = str(relative / crops.name)

    extras = evaluation_for(model.registered_name).restoration_extras(
        model,
        RestorationContext(
            inputs=test.inputs,
            targets=test.targets,
            names=list(test.names),
            outputs=outputs,
            figure_dir=figure_dir,
            reports_root=reports_root,
            device=device,
            seed=seed,
            options=extras_options,
        ),
    )
    metrics.update(extras.metrics)
    figures.update(extras.figures)
    return RestorationEvaluation(metrics, figures)
