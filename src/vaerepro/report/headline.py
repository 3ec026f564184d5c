"""``reports/headline/<experiment>.json``: one flat row per experiment for ``dvc metrics show``.

DVC prints a metrics folder as one table, a row per file and a column per key (the union over
files). One file holding every experiment's every metric made a single row of 361 columns; the
full records would drown the results in provenance. So each experiment gets one small file with
the same few columns: its task, profile, device, training steps, the fraction of the paper's
training budget they are (``budget_fraction``, when known: see :mod:`vaerepro.report.budget`)
and evaluation N (the budget a number was measured at), and the task's headline metrics (:data:`HEADLINE_METRICS`, keys as in
the records). Unmeasured metrics are left out (DVC shows "-"); everything else stays in
``reports/metrics/<experiment>.json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vaerepro.report.budget import record_budget

# The few metrics per task a reader scans first (record keys; units are in the records).
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "generation": ("fid", "nll_importance_sampled", "bits_per_dim"),
    "denoising": ("psnr", "ssim_rgb", "psnr_input"),
    "enhancement": ("psnr", "ssim_rgb", "uciqe", "uiqm"),
    "classification": ("test_accuracy",),
}
# Where a metric entry states how many images or samples it was computed on, by record layout.
_COUNT_KEYS = ("images", "num_samples", "test_count", "count")
_DESCRIPTIVE_KEYS = {"task", "profile", "device", "steps", "budget_fraction", "n"}  # the columns that are not results


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def evaluation_count(entry: Mapping[str, Any]) -> int | None:
    """N of one metric entry: the images or samples it averaged over, when the record says."""
    for key in _COUNT_KEYS:
        if _number(entry.get(key)):
            return int(entry[key])
    return None


def headline_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """The experiment's row: task, profile, device, steps, N, then its task's headline values."""
    metrics = record.get("metrics") or {}
    task = str(record.get("task") or "")
    names = HEADLINE_METRICS.get(task, tuple(sorted(metrics)))
    values = {
        name: float(metrics[name]["value"])
        for name in names
        if isinstance(metrics.get(name), Mapping) and _number(metrics[name].get("value"))
    }
    row: dict[str, Any] = {"task": task, "profile": record.get("profile"), "device": record.get("device")}
    training = record.get("training")
    if isinstance(training, Mapping) and _number(training.get("step")):
        row["steps"] = int(training["step"])
    budget = record_budget(record)
    if budget.get("unit") == "steps":
        row["budget_fraction"] = float(budget["fraction"])
    counts = [evaluation_count(metrics[name]) for name in values]
    if any(count is not None for count in counts):
        row["n"] = next(count for count in counts if count is not None)
    return row | values


def headline_metrics(records: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Experiment → its row, for the experiments with at least one measured headline value."""
    rows = {experiment: headline_row(record) for experiment, record in sorted(records.items())}
    return {experiment: row for experiment, row in rows.items() if set(row) - _DESCRIPTIVE_KEYS}


def write_headline(folder: Path, records: Mapping[str, Mapping[str, Any]]) -> list[Path]:
    """Write ``folder/<experiment>.json`` per row (atomic, sorted keys) and remove files of
    experiments that no longer have one, so ``dvc metrics show`` lists exactly the current rows."""
    from vaerepro.data.integrity import write_json

    folder.mkdir(parents=True, exist_ok=True)
    rows = headline_metrics(records)
    for stale in folder.glob("*.json"):
        if stale.stem not in rows:
            stale.unlink()
    written = []
    for experiment, row in rows.items():
        write_json(folder / f"{experiment}.json", row)
        written.append(folder / f"{experiment}.json")
    return written
