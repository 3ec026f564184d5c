"""The report's FID table: every generated set's FID beside the real-vs-real floor at the same N.

FID is biased upwards at small N (Chong & Forsyth 2020), so a bare "FID 80" from 200 samples
says little. Each row therefore shows N in the column name of the value (``FID@N``) and the
floor, FID between two disjoint real sets of the same dataset at that N
(``reports/fid/<dataset>.json``, stage ``fid_reference@<dataset>``), so a reader sees how far
a model is from real data at that N.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaerepro.report.formatting import number

HEADER = [
    "experiment",
    "sample set",
    "FID@N",
    "floor@N (real vs real)",
    "N",
    "data variant",
    "profile",
    "weights sha256",
]
INTRODUCTION = (
    "FID (Heusel et al. 2017; pytorch-fid's InceptionV3 and preprocessing, TF inception-2015-12-05 weights) of "
    "every generated set against the dataset's reference statistics, all at one N per dataset. The floor is the "
    "FID between two disjoint real sets of the same data at the same N: the best a model could score at that N. "
    "FID at N below 10,000 is biased upwards and is never compared with a published 10k/50k FID."
)


@dataclass(frozen=True)
class FidRow:
    experiment: str
    sample_set: str
    value: float
    floor: float | None
    count: int | None
    variant: str
    profile: str
    weights_sha256: str

    def cells(self) -> list[str]:
        return [
            self.experiment,
            self.sample_set,
            number(self.value),
            "–" if self.floor is None else number(self.floor),
            "–" if self.count is None else str(self.count),
            self.variant,
            self.profile,
            self.weights_sha256[:12] + "…" if self.weights_sha256 else "–",
        ]


def load_floors(directories: list[Path]) -> dict[str, dict[str, Any]]:
    """``<directory>/<dataset>.json`` floor records (``reports/fid`` and each archived profile's
    ``fid``), keyed ``<dataset>`` for the first directory holding a dataset and ``<dataset> · N``
    after it (one floor per N in use); unreadable files are skipped."""
    floors: dict[str, dict[str, Any]] = {}
    for directory in directories:
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.json")):
            try:
                record = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if not isinstance(record, Mapping) or not isinstance(record.get("floor"), int | float):
                continue
            if any(
                f.get("dataset", key) == record.get("dataset", path.stem) and f.get("count") == record.get("count")
                for key, f in floors.items()
            ):
                continue  # the same dataset at the same N: one row
            key = path.stem if path.stem not in floors else f"{path.stem} · N {record.get('count')}"
            floors[key] = dict(record)
    return floors


def fid_rows(records: Mapping[str, Mapping[str, Any]]) -> list[FidRow]:
    """One row per measured FID entry (``fid`` and ``fid_<set>``) of every record."""
    rows = []
    for name, record in sorted(records.items()):
        for key, entry in record.get("metrics", {}).items():
            if not (key == "fid" or key.startswith("fid_")) or not isinstance(entry.get("value"), int | float):
                continue
            rows.append(
                FidRow(
                    name,
                    str(entry.get("sample_set", key)),
                    float(entry["value"]),
                    entry.get("floor") if isinstance(entry.get("floor"), int | float) else None,
                    entry.get("num_samples") if isinstance(entry.get("num_samples"), int) else None,
                    str(record.get("data_variant", "")),
                    str(record.get("profile", "")),
                    str(entry.get("weights_sha256", "")),
                )
            )
    return rows


def floor_rows(floors: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    """Per dataset: the floor, what it compares, N, variant, profile and the weights digest."""
    return [
        [
            dataset,
            str(record.get("floor_description", "")),
            number(record["floor"]),
            str(record.get("count", "")),
            str(record.get("data_variant", "")),
            str(record.get("profile", "")),
            str(record.get("weights_sha256", ""))[:12] + "…",
        ]
        for dataset, record in sorted(floors.items())
    ]


FLOOR_HEADER = ["dataset", "floor (two disjoint real sets)", "FID@N", "N", "data variant", "profile", "weights sha256"]
