"""MLSM's evaluation extras: close-ups of the JPEG artefacts it is meant to remove.

Zeng et al. (2024) enhance *compressed* dark images, so the figure worth looking at is where
blocking competes with texture: ``artefact_closeup.png`` holds, for the first test images with
an output, the JPEG input, the same input brightened to the reference's mean level (the blocking
hidden in the dark becomes visible), the model's output and the reference — the same
``closeup_crop_size`` window (the most textured one on the 8×8 JPEG grid) zoomed
×``closeup_zoom`` with nearest-neighbour pixels. The crop size and zoom are MLSM options.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaerepro.evaluation.extras import register_evaluation
from vaerepro.evaluation.extras.base import ModelEvaluation, RestorationContext, RestorationExtras
from vaerepro.evaluation.windows import most_textured_window
from vaerepro.image_grids import save_grid
from vaerepro.pixels import to_uint8

JPEG_BLOCK = 8
FIGURE_NAME = "artefact_closeup.png"


@register_evaluation("mlsm")
class MLSMEvaluation(ModelEvaluation):
    def restoration_extras(self, model, context: RestorationContext) -> RestorationExtras:
        """Figure ``artefact_closeup``."""
        path = save_artefact_closeup(
            context, crop_size=model.options.closeup_crop_size, zoom=model.options.closeup_zoom
        )
        if path is None:
            return RestorationExtras()
        return RestorationExtras(figures={"artefact_closeup": path.relative_to(context.reports_root).as_posix()})


def _zoom(image: np.ndarray, factor: int) -> np.ndarray:
    return image.repeat(factor, axis=0).repeat(factor, axis=1)


def save_artefact_closeup(
    context: RestorationContext, *, crop_size: int = 64, zoom: int = 4, count: int = 2
) -> Path | None:
    """Write ``artefact_closeup.png`` into ``context.figure_dir``; return its path (None: no output).

    One row per test image (the first ``count`` with an output): JPEG input | input brightened
    by (reference mean / input mean) | output | reference, each crop zoomed ×``zoom``.
    """
    chosen = [index for index, output in enumerate(context.outputs) if output is not None][:count]
    if not chosen:
        return None
    rows, labels = [], []
    for index in chosen:
        source, output, reference = context.inputs[index], context.outputs[index], context.targets[index]
        size = min(crop_size, *reference.shape[:2])
        top, left = most_textured_window(reference, size, stride=JPEG_BLOCK)
        window = (slice(top, top + size), slice(left, left + size))
        gain = float(reference.mean()) / max(float(source.mean()), 1.0)
        brightened = to_uint8(source.astype(np.float64) * gain, peak=255.0)
        crops = [source[window], brightened[window], output[window], reference[window]]
        rows.append(np.stack([_zoom(crop, zoom) for crop in crops]))
        labels.append(f"{context.names[index]}\n({top},{left})")
    path = context.figure_dir / FIGURE_NAME
    title = (
        f"{crop_size}x{crop_size} crops x{zoom} (nearest): JPEG input | input x(ref/input mean) | output | reference"
    )
    save_grid(path, rows, row_labels=labels, title=title)
    return path
