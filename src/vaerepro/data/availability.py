"""Which datasets can be had on this machine, without fetching anything.

Used to choose the stages of a smoke run: a dataset is *obtainable* when a usable local
copy exists, when its files already sit in ``data/downloads/<name>/``, or when every file
of its official distribution has a download URL. Otherwise the reason says what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vaerepro.config import Params
from vaerepro.data.datasets import handler


@dataclass(frozen=True)
class Availability:
    dataset: str
    obtainable: bool
    how: str


def availability(name: str, params: Params, downloads_root: Path = Path("data/downloads")) -> Availability:
    dataset = params.dataset(name)
    local_root = params.local_copy_dir
    if local_root is not None and (local_root / name).is_dir():
        match = handler(name).find_local(local_root / name, dataset)
        if match is not None:
            return Availability(name, True, f"local copy {local_root / name} ({match.variant})")
    downloads = params.resolve(downloads_root) / name
    if dataset.files and all((downloads / source.name).is_file() for source in dataset.files):
        return Availability(name, True, f"files placed in {downloads}")
    if dataset.files and all(source.urls for source in dataset.files):
        return Availability(name, True, "official download")
    return Availability(name, False, "no local copy and no automatic download (manual step; see datasets.yaml)")
