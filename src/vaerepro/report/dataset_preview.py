"""A preview figure per prepared dataset (``reports/figures/data/<name>.png``).

Generation datasets: a grid of training images (one row per class where labels exist).
Paired datasets: input and reference rows of the first test pairs, so a reader sees what
"degraded" and "clean" mean for that dataset.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaerepro.data.prepared import load_split, read_summary
from vaerepro.image_grids import save_grid

THUMBNAIL_PIXELS = 100


def _thumbnails(images: np.ndarray) -> np.ndarray:
    """Subsample large images (LOL is 600×400) so a preview stays a small file."""
    step = max(1, max(images.shape[1:3]) // THUMBNAIL_PIXELS)
    return np.ascontiguousarray(images[:, ::step, ::step])


def save_dataset_preview(prepared: Path, output: Path, per_row: int = 10) -> Path:
    summary = read_summary(prepared)
    split_name = "train" if "train" in summary["splits"] else next(iter(summary["splits"]))
    split = load_split(prepared, split_name)
    title = f"{summary['title']} — {split_name} split, variant: {summary['variant']}"
    if summary["paired"]:
        count = min(6, len(split))
        rows = [_thumbnails(np.asarray(split["inputs"][:count])), _thumbnails(np.asarray(split["targets"][:count]))]
        return save_grid(output, rows, row_labels=["input", "reference"], title=title)
    if "labels" in split.arrays:
        labels = np.asarray(split["labels"])
        rows, row_labels = [], []
        for label in np.unique(labels)[:10]:
            indices = np.flatnonzero(labels == label)[:per_row]
            rows.append(_thumbnails(np.asarray(split["images"][indices])))
            class_names = summary.get("class_names") or []
            row_labels.append(class_names[label] if label < len(class_names) else f"class {label}")
        return save_grid(output, rows, row_labels=row_labels, title=title)
    images = _thumbnails(np.asarray(split["images"][: per_row * 4]))
    return save_grid(output, [images[index : index + per_row] for index in range(0, len(images), per_row)], title=title)
