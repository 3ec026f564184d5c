"""Read prepared datasets (the output of ``prepare@<dataset>``) for training and evaluation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vaerepro.data.errors import DatasetError
from vaerepro.data.prepare import SUMMARY


@dataclass(frozen=True)
class PreparedSplit:
    """Arrays of one split (memory-mapped, read-only) plus the dataset's variant marker.

    ``images``/``labels`` for generation datasets; ``inputs``/``targets`` for paired ones.
    ``variant`` and ``dataset_sha256`` must be copied into every metrics file computed on it.
    """

    dataset: str
    split: str
    variant: str
    dataset_sha256: str
    arrays: dict[str, np.ndarray]
    names: list[str]

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            raise KeyError(f"{self.dataset}/{self.split} has no '{key}' array (has: {', '.join(self.arrays)})")
        return self.arrays[key]

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values())))


def read_summary(directory: Path) -> dict:
    path = directory / SUMMARY
    if not path.is_file():
        raise DatasetError(f"{path} not found: prepare the dataset first (dvc repro prepare@{directory.name})")
    return json.loads(path.read_text())


def load_split(directory: Path, split: str, *, memory_map: bool = True) -> PreparedSplit:
    """Load one split of a prepared dataset directory (``data/prepared/<name>``)."""
    summary = read_summary(directory)
    if split not in summary["splits"]:
        raise DatasetError(
            f"dataset '{summary['dataset']}' ({summary['variant']}) has no '{split}' split; "
            f"it has: {', '.join(summary['splits'])}"
        )
    keys = summary["splits"][split]["arrays"]
    arrays = {
        key: np.load(directory / split / f"{key}.npy", mmap_mode="r" if memory_map else None, allow_pickle=False)
        for key in keys
    }
    names = json.loads((directory / split / "names.json").read_text())
    return PreparedSplit(summary["dataset"], split, summary["variant"], summary["sha256"], arrays, names)
