"""``reports/headline_metrics.json``: every experiment's measured values, flat, for DVC.

``dvc metrics show`` and ``dvc exp show`` read this one file (declared under ``metrics:`` in
dvc.yaml) instead of the full records, whose provenance (seeds, wall times, per-image
lists) would drown the metrics in numbers that are not results. Keys: experiment → metric →
value; unmeasured metrics are left out (DVC shows them as "-").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def headline_metrics(records: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    headline: dict[str, dict[str, float]] = {}
    for experiment, record in sorted(records.items()):
        values = {
            key: float(entry["value"])
            for key, entry in sorted(record["metrics"].items())
            if isinstance(entry.get("value"), int | float) and not isinstance(entry.get("value"), bool)
        }
        if values:
            headline[experiment] = values
    return headline
