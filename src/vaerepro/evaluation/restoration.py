"""Per-image evaluation of a restoration method (denoising, enhancement) on paired data.

Each test image is processed and scored on its own: one image that fails (an exception in
the method or in a metric, a wrong output shape, NaN output) is recorded with its error and
the evaluation goes on with the rest, so a long run never loses finished work.

Convention: a method maps a float H×W×C image in [0, 1] to a float image of the same shape;
its output is clipped to [0, 1] and quantised to 8 bits before scoring, as published
results are computed on saved 8-bit images. Metric functions take (output, reference) as
uint8 H×W×C arrays. Wall time per image covers the method only.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from vaerepro.pixels import to_uint8

Method = Callable[[np.ndarray], np.ndarray]
Metric = Callable[[np.ndarray, np.ndarray], float]


@dataclass
class ImageResult:
    name: str
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None
    error: str | None = None
    output: np.ndarray | None = None  # the quantised output, when asked for (keep_all_outputs)


def evaluate_pairs(
    method: Method,
    inputs: np.ndarray,
    targets: np.ndarray,
    names: Sequence[str],
    metrics: Mapping[str, Metric],
    *,
    description: str = "evaluate",
    keep_outputs: int = 0,
    keep_all_outputs: bool = False,
) -> tuple[list[ImageResult], list[np.ndarray]]:
    """Run ``method`` on each input and score it against its target.

    Args:
        inputs, targets: uint8 (N, H, W, C) arrays.
        names: N identifiers, recorded with each result.
        metrics: name → metric function on uint8 (output, reference).
        keep_outputs: return the quantised outputs of the first this-many images (figures).
        keep_all_outputs: store each image's quantised output in its result's ``output``.

    Returns:
        One :class:`ImageResult` per image, and the kept outputs.
    """
    if inputs.shape[0] != targets.shape[0] or len(names) != inputs.shape[0]:
        raise ValueError(f"{inputs.shape[0]} inputs, {targets.shape[0]} targets and {len(names)} names must match")
    results, kept = [], []
    for index in tqdm(range(len(names)), desc=description, unit="img"):
        result = ImageResult(name=str(names[index]))
        try:
            started = time.perf_counter()
            output = np.asarray(method(inputs[index].astype(np.float64) / 255.0))
            result.seconds = time.perf_counter() - started
            if output.shape != targets[index].shape:
                raise ValueError(f"output shape {output.shape} differs from the reference's {targets[index].shape}")
            if not np.isfinite(output).all():
                raise ValueError("output contains NaN or Inf")
            output_uint8 = to_uint8(output)
            for metric_name, metric in metrics.items():
                result.metrics[metric_name] = float(metric(output_uint8, np.asarray(targets[index])))
            if len(kept) < keep_outputs:
                kept.append(output_uint8)
            if keep_all_outputs:
                result.output = output_uint8
        except Exception as error:  # noqa: BLE001 - recorded per image by design
            result.error = f"{type(error).__name__}: {error}"
            result.metrics.clear()
            result.output = None
            tqdm.write(f"{description}: {result.name} failed: {result.error}\n{traceback.format_exc(limit=2)}")
        results.append(result)
    return results, kept


def summarize(results: Sequence[ImageResult]) -> dict[str, object]:
    """Mean (and std) of each metric over the images that succeeded, plus the failures."""
    succeeded = [result for result in results if result.error is None]
    metric_names = sorted({name for result in succeeded for name in result.metrics})
    summary: dict[str, object] = {
        "images": len(results),
        "succeeded": len(succeeded),
        "failed": [{"name": result.name, "error": result.error} for result in results if result.error],
        "mean": {},
        "std": {},
        "seconds_per_image": float(np.mean([r.seconds for r in succeeded])) if succeeded else None,
        "per_image": [
            {"name": result.name, "seconds": result.seconds, "error": result.error, **result.metrics}
            for result in results
        ],
    }
    for name in metric_names:
        values = np.array([result.metrics[name] for result in succeeded], dtype=np.float64)
        summary["mean"][name] = float(values.mean())  # type: ignore[index]
        summary["std"][name] = float(values.std())  # type: ignore[index]
    return summary
