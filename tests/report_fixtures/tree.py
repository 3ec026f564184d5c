"""Build a ``reports/`` tree (and a repository root) for report tests from the fixtures here.

The committed fixtures are JSON only; figures are drawn here with the project's own
:func:`vaerepro.image_grids.save_grid`, so no binary files live in the test tree.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from vaerepro.image_grids import save_grid

FIXTURES = Path(__file__).parent
FIGURES = (
    "figures/vae-mnist/samples.png",
    "figures/vae-mnist/reconstructions.png",
    "figures/zheng-cc15/denoised.png",
    "figures/data/mnist.png",
)


def _images(seed: int, count: int, size: int, channels: int) -> np.ndarray:
    generator = np.random.default_rng(seed)
    return generator.integers(0, 256, size=(count, size, size, channels), dtype=np.uint8)


def build_tree(root: Path) -> tuple[Path, Path]:
    """Copy fixtures into ``root``; return (reports directory, repository root)."""
    repository = root / "repo"
    shutil.copytree(FIXTURES / "repo", repository)
    reports = repository / "reports"
    shutil.copytree(FIXTURES / "reports", reports)
    for index, relative in enumerate(FIGURES):
        channels = 3 if "zheng" in relative else 1
        save_grid(
            reports / relative,
            [_images(index, 6, 16, channels), _images(index + 10, 6, 16, channels)],
            row_labels=["a", "b"],
            title=relative,
        )
    summaries = reports / "data"
    summaries.mkdir(parents=True, exist_ok=True)
    (summaries / "mnist.json").write_text(
        json.dumps(
            {
                "dataset": "mnist",
                "variant": "official",
                "sha256": "62ac23f60035b98fa938a539890b21cca79c3a1392d56ac6eea258425310f69f",
                "splits": {"train": {"count": 55000}, "validation": {"count": 5000}, "test": {"count": 10000}},
            }
        )
    )
    (summaries / "cc15.json").write_text(
        json.dumps({"dataset": "cc15", "variant": "official", "sha256": "f" * 64, "splits": {"test": {"count": 15}}})
    )
    return reports, repository
