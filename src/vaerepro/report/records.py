"""Collect the inputs the report renders: metrics records and dataset summaries.

A malformed metrics file must not take the report down with it (issue 5): each file is read
with :func:`vaerepro.records.read_record`; a file that fails is kept as an error
message naming the file, and every other record still renders.

Records come from the live run (``reports/metrics``) and from every archived profile
(``reports/profiles/<profile>/metrics``, :mod:`vaerepro.archive`). Per experiment the report
shows the one with the largest training budget (:func:`budget_rank`): the fraction of the
paper's training examples, then the evaluation N, then the profile (full > cpu > smoke), so a
CPU-tier number replaces a smoke one and a GPU run replaces both unless its time box stopped it
short of the CPU tier. The others are listed as superseded, never averaged in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaerepro.archive import archived_profiles
from vaerepro.records import MalformedMetrics, read_record

LIVE = "live"  # the source name of records in reports/metrics (the profile dvc.lock tracks now)
PROFILE_RANK = {"smoke": 0, "cpu": 1, "full": 2}


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


def budget_rank(record: dict[str, Any]) -> tuple[float, int, int]:
    """(fraction of the paper's examples, evaluation N, profile rank): larger is a larger budget."""
    # Imported here: budget → formatting → status imports this module (RecordSet).
    from vaerepro.report.budget import record_budget

    budget = record_budget(record)
    fraction = budget.get("fraction") if budget.get("unit") == "steps" else 0.0
    n = budget.get("evaluation_n")
    return (
        float(fraction) if isinstance(fraction, int | float) else 0.0,
        n if isinstance(n, int) and not isinstance(n, bool) else 0,
        PROFILE_RANK.get(str(record.get("profile")), -1),
    )


def load_all_records(reports_root: Path) -> RecordSet:
    """The live records and every archived profile's, one chosen per experiment (module doc)."""
    sets = {LIVE: load_records(reports_root / "metrics")}
    for folder in archived_profiles(reports_root):
        prefix = folder.relative_to(reports_root).as_posix() + "/"
        sets[folder.name] = load_records(folder / "metrics", figure_prefix=prefix)
    result = RecordSet()
    names = {name for records in sets.values() for name in (*records.records, *records.errors)}
    for name in sorted(names):
        candidates = [(source, records.records[name]) for source, records in sets.items() if name in records.records]
        if not candidates:  # unreadable everywhere: report the live file's error first
            result.errors[name] = next(records.errors[name] for records in sets.values() if name in records.errors)
            continue
        # max keeps the first of equals, and the live set comes first: a re-run replaces its archive.
        source, record = max(candidates, key=lambda candidate: budget_rank(candidate[1]))
        result.records[name], result.sources[name] = record, source
        others = [f"{other}: {rec.get('profile')}" for other, rec in candidates if other != source]
        others += [f"{other}: unreadable" for other, records in sets.items() if name in records.errors]
        if others:
            result.superseded[name] = others
    return result


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
