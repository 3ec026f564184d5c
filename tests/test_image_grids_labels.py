"""Row labels of image grids are never cut off: the label column fits the longest label."""

from __future__ import annotations

import numpy as np
from PIL import Image

from vaerepro.image_grids import MIN_LABEL_INCHES, label_column_inches, save_grid


def test_short_labels_keep_the_old_column_and_long_ones_widen_it():
    assert label_column_inches(None) == 0.0
    assert label_column_inches(["input", "|output − ref|"]) == MIN_LABEL_INCHES  # figures unchanged
    assert label_column_inches(["1.png\n(12,340)"]) == MIN_LABEL_INCHES  # lines are measured one by one
    assert label_column_inches(["5dmark3_iso3200_1"]) > MIN_LABEL_INCHES


def test_long_label_leaves_white_margin_on_the_left(tmp_path):
    rows = [np.zeros((2, 16, 16, 3), dtype=np.uint8)]
    path = save_grid(tmp_path / "grid.png", rows, row_labels=["5dmark3_iso3200_1"], max_width_pixels=36)
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"))
    # The label's first glyph is drawn right of the image's left edge: column 0 stays white.
    assert pixels[:, 0].min() == 255
