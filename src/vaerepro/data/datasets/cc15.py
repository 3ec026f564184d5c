"""CC real-noise crops (Nam, Hwang, Matsushita & Kim, "A holistic approach to cross-channel
image noise modeling and its application to image denoising", CVPR 2016).

The 15 512×512 crops used by Xu et al. (2017) and Zheng et al. (ICLR 2021):
``<camera>_iso<iso>_<n>_real.png`` (noisy) and ``..._mean.png`` (the mean of repeated shots,
used as reference). A test split only. A pair with an unreadable crop is skipped and
recorded (see :mod:`vaerepro.data.datasets.paired`).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from vaerepro.config import DatasetParams
from vaerepro.data.datasets.base import DatasetHandler, LocalMatch
from vaerepro.data.datasets.paired import decode_pair_files
from vaerepro.data.errors import CorruptArchive
from vaerepro.data.source_tree import open_tree
from vaerepro.data.splits import Split

NOISY_SUFFIX, REFERENCE_SUFFIX = "_real.png", "_mean.png"
OFFICIAL_PAIRS = 15


class CC15(DatasetHandler):
    name = "cc15"
    title = "CC (15 real-noise crops)"
    paired = True

    def find_other_forms(self, directory: Path, params: DatasetParams) -> LocalMatch | None:
        files = {
            path: path.name
            for path in sorted(directory.glob("*.png"))
            if path.name.endswith((NOISY_SUFFIX, REFERENCE_SUFFIX))
        }
        return LocalMatch(form="folder", variant="official", files=files) if files else None

    def decode(self, raw: Path, form: str, params: DatasetParams) -> dict[str, Split]:
        source = raw / params.files[0].name if form == "official" else raw
        with open_tree(source) as tree:
            by_name = {PurePosixPath(name).name: name for name in tree.names()}
            stems = sorted(name[: -len(NOISY_SUFFIX)] for name in by_name if name.endswith(NOISY_SUFFIX))
            missing = [stem for stem in stems if stem + REFERENCE_SUFFIX not in by_name]
            if not stems or missing:
                raise CorruptArchive(
                    f"CC15: {'no *_real.png files' if not stems else f'no reference {missing[0]}{REFERENCE_SUFFIX}'}"
                )
            pairs = [(stem, by_name[stem + NOISY_SUFFIX], by_name[stem + REFERENCE_SUFFIX]) for stem in stems]
            return {"test": decode_pair_files(pairs, tree.read, "CC15")}

    def variant_for(self, splits: dict[str, Split], form: str, variant: str, raw: Path) -> str:
        count = len(splits["test"])
        return variant if count == OFFICIAL_PAIRS else f"subset-{count}-of-{OFFICIAL_PAIRS}"
