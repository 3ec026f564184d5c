"""LOL low-light pairs (Wei, Wang, Yang & Liu, "Deep Retinex Decomposition", BMVC 2018).

Official archive ``LOLdataset.zip`` (Google Drive, manual step) holds ``our485/{low,high}``
and ``eval15/{low,high}``, 600×400 PNG. Splits: our485 → train (validation carved from it),
eval15 → test. A copy with fewer than 485 training pairs becomes variant
``subset-our485-<n>-of-485`` so no number computed on it passes for the full dataset.
"""

from __future__ import annotations

from pathlib import Path

from vaerepro.config import DatasetParams
from vaerepro.data.datasets.base import DatasetHandler, LocalMatch, find_directory, folder_files
from vaerepro.data.datasets.paired import IMAGE_SUFFIXES, decode_pairs
from vaerepro.data.source_tree import open_tree
from vaerepro.data.splits import Split

FOLDERS = ("our485/low", "our485/high", "eval15/low", "eval15/high")
OFFICIAL_TRAIN_PAIRS = 485


class LOL(DatasetHandler):
    name = "lol"
    title = "LOL"
    paired = True

    def find_other_forms(self, directory: Path, params: DatasetParams) -> LocalMatch | None:
        files = {}
        for folder in FOLDERS:
            located = find_directory(directory, folder)
            if located is None:
                return None
            files.update(folder_files(located.parent.parent, folder, IMAGE_SUFFIXES))
        return LocalMatch(form="folders", variant="official", files=files)

    def decode(self, raw: Path, form: str, params: DatasetParams) -> dict[str, Split]:
        source = raw / params.files[0].name if form == "official" else raw
        with open_tree(source) as tree:
            return {
                "train": decode_pairs(tree, "our485/low", "our485/high", "LOL our485"),
                "test": decode_pairs(tree, "eval15/low", "eval15/high", "LOL eval15"),
            }

    def variant_for(self, splits: dict[str, Split], form: str, variant: str, raw: Path) -> str:
        train_pairs = sum(len(splits[name]) for name in ("train", "validation") if name in splits)
        if train_pairs < OFFICIAL_TRAIN_PAIRS:
            return f"subset-our485-{train_pairs}-of-{OFFICIAL_TRAIN_PAIRS}"
        return variant
