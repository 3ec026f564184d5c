"""Collect the inputs the report renders: metrics records and dataset summaries.

A malformed metrics file must not take the report down with it (issue 5): each file is read
with :func:`vaerepro.records.read_record`; a file that fails is kept as an error
message naming the file, and every other record still renders.

Records come from the live run (``reports/metrics``) and from every archived profile;
:mod:`vaerepro.report.choice` picks one per experiment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaerepro.records import MalformedMetrics, read_record

LIVE = "live"  # the source name of records in reports/metrics (the profile dvc.lock tracks now)


@dataclass
class RecordSet:
    """Records by experiment name, plus the files that could not be read (name → message).

    ``sources``: where each chosen record came from (:data:`LIVE` or an archived profile's
    name); ``superseded``: per experiment, the ``<source>: <profile>`` of the records not chosen.
    """

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    superseded: dict[str, list[str]] = field(default_factory=dict)

    def get(self, experiment: str) -> dict[str, Any] | None:
        return self.records.get(experiment)


def load_records(metrics_directory: Path, figure_prefix: str = "") -> RecordSet:
    """Read every ``<experiment>.json`` in ``metrics_directory`` (which may not exist yet).

    ``figure_prefix``: put before each figure path (relative to ``reports/``), for an archived
    profile whose figures lie in its own folder."""
    result = RecordSet()
    if not metrics_directory.is_dir():
        return result
    for path in sorted(metrics_directory.glob("*.json")):
        try:
            record = read_record(path)
        except MalformedMetrics as error:
            result.errors[path.stem] = str(error)
            continue
        if record["experiment"] != path.stem:
            # The file name is what dvc.yaml declares; a mismatch means a copied or renamed file.
            result.errors[path.stem] = f"{path}: records experiment {record['experiment']!r} but is named {path.name!r}"
            continue
        if not isinstance(record.get("figures", {}), Mapping):
            result.errors[path.stem] = f"{path}: 'figures' must be an object of name → path"
            continue
        if figure_prefix:
            record = {
                **record,
                "figures": {key: figure_prefix + str(value) for key, value in record["figures"].items()},
            }
        result.records[path.stem] = record
    return result


def load_dataset_summaries(data_directory: Path) -> dict[str, dict[str, Any]]:
    """``reports/data/<dataset>.json`` written by ``prepare@<dataset>``; unreadable ones are skipped."""
    summaries: dict[str, dict[str, Any]] = {}
    if not data_directory.is_dir():
        return summaries
    for path in sorted(data_directory.glob("*.json")):
        try:
            summary = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(summary, Mapping):
            summaries[path.stem] = dict(summary)
    return summaries
