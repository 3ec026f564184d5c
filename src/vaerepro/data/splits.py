"""In-memory split containers and the fixed, seeded validation carve-out."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Split:
    """One split of a dataset as compact arrays.

    ``arrays`` holds either ``images`` (uint8, N×H×W×C) with optional ``labels`` (int64, N)
    for generation datasets, or ``inputs`` and ``targets`` (uint8, N×H×W×C each; degraded
    input and clean reference) for paired restoration datasets. ``names`` identifies each
    item (source file name or index) so results can be traced to a file. ``skipped`` lists
    the source's items that could not be used (``{"name": ..., "error": ...}``, in source
    order): paired datasets skip an unreadable or odd-sized pair instead of failing.
    """

    arrays: dict[str, np.ndarray]
    names: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        lengths = {key: len(value) for key, value in self.arrays.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"split arrays disagree in length: {lengths}")
        if self.names and len(self.names) != len(self):
            raise ValueError(f"{len(self.names)} names for {len(self)} items")

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values()))) if self.arrays else 0

    def take(self, indices: np.ndarray, *, keep_skipped: bool = True) -> Split:
        """The items at ``indices``; ``skipped`` is kept (it describes the source) unless told."""
        return Split(
            {key: value[indices] for key, value in self.arrays.items()},
            [self.names[index] for index in indices] if self.names else [],
            list(self.skipped) if keep_skipped else [],
        )


def carve_validation(train: Split, count: int, seed: int) -> tuple[Split, Split]:
    """Split ``count`` items off ``train`` as a validation set, reproducibly.

    The choice depends only on ``(len(train), count, seed)``; both parts keep the original
    order so that the arrays stay in the dataset's own order. Items skipped while decoding
    stay recorded on the training part (they came from its source), not on validation.
    """
    if count <= 0:
        raise ValueError("validation count must be positive")
    if count >= len(train):
        raise ValueError(f"validation count {count} leaves no training data (train has {len(train)})")
    permutation = np.random.default_rng(seed).permutation(len(train))
    validation_indices = np.sort(permutation[:count])
    train_indices = np.sort(permutation[count:])
    return train.take(train_indices), train.take(validation_indices, keep_skipped=False)
