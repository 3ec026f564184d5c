"""EUVP paired underwater images (Islam, Xia & Sattar, "Fast underwater image enhancement
for improved visual perception" (FUnIE-GAN), IEEE RA-L 2020).

Forms:
* ``official`` — the EUVP archive (manual download): ``Paired/<subset>/trainA`` (distorted)
  and ``trainB`` (reference) for three subsets, and ``test_samples/{Inp,GTr}``. Splits: all
  paired training images → train (validation carved), test_samples → test.
* ``funiegan-test`` — the 23 paired samples shipped with FUnIE-GAN's code
  (``funiegan_data_test/{A,GTr_A}``): a test split only, variant ``funiegan-test-23-pairs``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vaerepro.config import DatasetParams
from vaerepro.data.datasets.base import DatasetHandler, LocalMatch, find_directory, folder_files
from vaerepro.data.datasets.paired import IMAGE_SUFFIXES, decode_pairs, locate
from vaerepro.data.errors import CorruptArchive
from vaerepro.data.source_tree import open_tree
from vaerepro.data.splits import Split

SUBSETS = ("underwater_dark", "underwater_imagenet", "underwater_scenes")


class EUVP(DatasetHandler):
    name = "euvp"
    title = "EUVP (paired)"
    paired = True

    def find_other_forms(self, directory: Path, params: DatasetParams) -> LocalMatch | None:
        paired = find_directory(directory, "Paired")
        test = find_directory(directory, "test_samples")
        if paired is not None and test is not None:
            files = {}
            for subset in SUBSETS:
                for side in ("trainA", "trainB"):
                    files.update(folder_files(paired.parent, f"Paired/{subset}/{side}", IMAGE_SUFFIXES))
            for side in ("Inp", "GTr"):
                files.update(folder_files(test.parent, f"test_samples/{side}", IMAGE_SUFFIXES))
            return LocalMatch(form="official-folders", variant="official", files=files)
        funiegan = find_directory(directory, "funiegan_data_test")
        if funiegan is not None:
            files = {}
            for side in ("A", "GTr_A"):
                files.update(folder_files(funiegan.parent, f"funiegan_data_test/{side}", IMAGE_SUFFIXES))
            return LocalMatch(
                form="funiegan-test",
                variant="funiegan-test-23-pairs",
                files=files,
                notes=["only FUnIE-GAN's 23 paired test samples: a test split, no EUVP training data"],
            )
        return None

    def decode(self, raw: Path, form: str, params: DatasetParams) -> dict[str, Split]:
        if form == "funiegan-test":
            with open_tree(raw) as tree:
                return {
                    "test": decode_pairs(
                        tree,
                        "funiegan_data_test/A",
                        "funiegan_data_test/GTr_A",
                        "EUVP FUnIE-GAN test",
                    )
                }
        source = raw / params.files[0].name if form == "official" else raw
        with open_tree(source) as tree:
            parts = []
            for subset in SUBSETS:
                if locate(tree, f"Paired/{subset}/trainA") is not None:
                    part = decode_pairs(tree, f"Paired/{subset}/trainA", f"Paired/{subset}/trainB", f"EUVP {subset}")
                    parts.append(
                        Split(
                            part.arrays,
                            [f"{subset}/{name}" for name in part.names],
                            [entry | {"name": f"{subset}/{entry['name']}"} for entry in part.skipped],
                        )
                    )
            if not parts:
                raise CorruptArchive("EUVP: no 'Paired/<subset>/trainA' folders in the raw data")
            train = Split(
                {key: np.concatenate([part.arrays[key] for part in parts]) for key in ("inputs", "targets")},
                [name for part in parts for name in part.names],
                [entry for part in parts for entry in part.skipped],
            )
            return {
                "train": train,
                "test": decode_pairs(tree, "test_samples/Inp", "test_samples/GTr", "EUVP test_samples"),
            }
