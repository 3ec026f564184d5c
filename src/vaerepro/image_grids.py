"""Image grids as PNG figures: dataset previews, sample grids, input/output panels.

Images are uint8 N×H×W×C (C = 1 or 3). Grids are written with matplotlib at native pixel
resolution (one image pixel = one figure pixel per ``scale``), so small images stay crisp.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vaerepro.data.integrity import atomic_file


def tile(images: np.ndarray, columns: int, padding: int = 2, background: int = 255) -> np.ndarray:
    """Tile N×H×W×C uint8 images into one (rows·(H+p)+p)×(columns·(W+p)+p)×C image."""
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(f"expected uint8 N×H×W×C images, got {images.dtype} {images.shape}")
    count, height, width, channels = images.shape
    rows = math.ceil(count / columns)
    canvas = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels),
        background,
        dtype=np.uint8,
    )
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        canvas[top : top + height, left : left + width] = image
    return canvas


LABEL_FONT_POINTS = 9
MIN_LABEL_INCHES = 1.15  # what every grid used before labels were measured: short labels keep it
LABEL_MARGIN_INCHES = 0.25  # the label's padding to the image (labelpad), glyph hinting, and air on the left
POINTS_PER_INCH = 72


def label_column_inches(row_labels: Sequence[str] | None) -> float:
    """Width of the row-label column: wide enough for the longest label line, so none is cut off.

    Labels are measured in matplotlib's default font at ``LABEL_FONT_POINTS``; those that fit the
    old 1.15 inch column keep it, so their figures are unchanged.
    """
    if not row_labels:
        return 0.0
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath

    font = FontProperties(size=LABEL_FONT_POINTS)
    lines = [line for label in row_labels for line in str(label).splitlines() if line.strip()]
    widest = max((TextPath((0, 0), line, prop=font).get_extents().width for line in lines), default=0.0)
    return max(MIN_LABEL_INCHES, widest / POINTS_PER_INCH + LABEL_MARGIN_INCHES)


def save_grid(
    path: Path,
    rows_of_images: Sequence[np.ndarray],
    *,
    row_labels: Sequence[str] | None = None,
    title: str | None = None,
    max_width_pixels: int = 900,
) -> Path:
    """Save one or more rows (each an N×H×W×C uint8 batch) as a labelled PNG grid."""
    # Lazily: matplotlib costs ~0.3 s, and every evaluation module imports this one, whether or
    # not its stage draws a grid.
    import matplotlib

    matplotlib.use("Agg")  # headless: stages run without a display
    import matplotlib.pyplot as plt

    columns = max(len(row) for row in rows_of_images)
    tiles = [tile(row, columns=columns) for row in rows_of_images]
    width = max(image.shape[1] for image in tiles)
    scale = max(1, min(3, max_width_pixels // max(width, 1)))
    dots_per_inch = 100
    label_inches = label_column_inches(row_labels)
    title_inches = 0.35 if title else 0.0
    image_height = sum(image.shape[0] for image in tiles) * scale / dots_per_inch
    figure_height = image_height + title_inches + 0.05
    figure_width = width * scale / dots_per_inch + label_inches
    figure, axes = plt.subplots(
        len(tiles),
        1,
        figsize=(figure_width, figure_height),
        dpi=dots_per_inch,
        squeeze=False,
        gridspec_kw={"height_ratios": [image.shape[0] for image in tiles]},
    )
    for index, (axis, image) in enumerate(zip(axes[:, 0], tiles, strict=True)):
        shown = image[:, :, 0] if image.shape[-1] == 1 else image
        axis.imshow(shown, cmap="gray" if image.shape[-1] == 1 else None, vmin=0, vmax=255, interpolation="nearest")
        axis.set_xticks([])
        axis.set_yticks([])
        for spine in axis.spines.values():
            spine.set_visible(False)
        if row_labels:
            axis.set_ylabel(row_labels[index], rotation=0, ha="right", va="center", fontsize=LABEL_FONT_POINTS)
    if title:
        figure.suptitle(title, fontsize=9, y=1 - 0.05 / figure_height)
    # Reserve the label column and title band explicitly (tight_layout ignores suptitle).
    figure.subplots_adjust(
        left=label_inches / figure_width,
        right=1.0,
        bottom=0.0,
        top=1 - title_inches / figure_height,
        hspace=0.02,
    )
    with atomic_file(path) as handle:
        figure.savefig(handle, format="png", dpi=dots_per_inch)
    plt.close(figure)
    return path
