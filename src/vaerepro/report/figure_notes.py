"""What the report says about a figure beyond its file: how wide to show it, what its parts are.

Layout (:func:`figure_layout`), from the file's own pixel size:

* ``native``: figures drawn at one image pixel per figure pixel ("crops") are shown at their
  own size, never scaled down, and span the content width;
* ``wide``: figures at least twice as wide as tall (training curves, findings, histograms) or
  wider than a grid cell would show them get the whole content width; past
  ``SCROLL_WIDTH`` pixels they keep their own size and scroll sideways instead of shrinking
  their text to nothing;
* otherwise a grid cell.

Notes (:func:`figure_note`): a restoration ``panels`` figure is a bare grid (one row per test
image: input | output | reference), so its caption names the columns and gives each row's
PSNR, from the record's per-image values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vaerepro.report.formatting import number
from vaerepro.report.noise import per_image_values

NATIVE_FIGURES = ("crops",)
GRID_CELL_WIDTH = 760  # wider than this, a figure in a two-column grid would shrink to under ~70 %
SCROLL_WIDTH = 1600  # wider than this, scaling to the content width makes text unreadable
PANEL_METRIC = "psnr"


def figure_layout(name: str, width: int, height: int) -> str:
    """``native``, ``wide``, ``scroll`` (wide and kept at its size) or ``""`` (module docstring)."""
    if name in NATIVE_FIGURES:
        return "native"
    if width > SCROLL_WIDTH:
        return "scroll"
    if width and height and (width >= 2 * height or width > GRID_CELL_WIDTH):
        return "wide"
    return ""


def figure_note(name: str, record: Mapping[str, Any] | None) -> str:
    """A caption line that says what the figure shows; empty when the file speaks for itself."""
    if name != "panels" or record is None:
        return ""
    metrics = record.get("metrics") or {}
    output, degraded = (
        per_image_values(metrics.get(PANEL_METRIC)),
        per_image_values(metrics.get(f"{PANEL_METRIC}_input")),
    )
    columns = f"Columns: input | {record.get('model')} | reference; one row per test image, top to bottom."
    if not output:
        return columns
    unit = (metrics.get(PANEL_METRIC) or {}).get("unit", "")
    rows = "; ".join(
        f"{name} {number(value)}" + (f" (input {number(degraded[name])})" if name in degraded else "")
        for name, value in output.items()
    )
    return f"{columns} PSNR of the output per row [{unit}]: {rows}."
