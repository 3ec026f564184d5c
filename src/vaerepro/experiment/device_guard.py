"""The full profile on a machine without a GPU stops before any training and says what it would cost.

``dvc repro`` at ``profile: full`` trains the papers' budgets: days of GPU time, and far more
on a CPU. A CPU-only user who typed it by mistake should learn that before the first training
step, with the alternatives. So ``train@`` and ``classifier@`` call :func:`guard_full_profile`
first; at the full profile without CUDA it stops (exit status 1) with an estimate of the
training time here and the commands for the CPU tier and the smoke run. Set
``VAEREPRO_FULL_ON_CPU=1`` to run the full profile on a CPU anyway.

The estimate is measured, not guessed: the archived CPU-tier records
(``reports/profiles/cpu/metrics``, :mod:`vaerepro.archive`) give each experiment's training
seconds per example on this kind of machine; times the full profile's steps × batch size,
summed over the experiments params.yaml lists.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vaerepro.config import Params
from vaerepro.structured import ConfigError

ALLOW_ENVIRONMENT = "VAEREPRO_FULL_ON_CPU"


class FullProfileOnCpu(ConfigError):
    """``profile: full`` on a machine without CUDA (and not allowed by the environment)."""


def _seconds_per_example(record: Mapping[str, Any]) -> float | None:
    """Training wall seconds per training example of a CPU-tier record, or None."""
    wall = (record.get("wall_time_seconds") or {}).get("train")
    steps = (record.get("training") or {}).get("step")
    train = (record.get("params") or {}).get("train") or {}
    batch = (train.get(record.get("profile")) or {}).get("batch_size")
    if not all(isinstance(value, int | float) and value > 0 for value in (wall, steps, batch)):
        return None
    return float(wall) / (float(steps) * float(batch))


def estimate_cpu_seconds(params: Params, cpu_metrics: Path | list[Path]) -> tuple[float, list[str]]:
    """(estimated seconds to train every experiment's full budget here, experiments without an
    estimate), from the CPU tier's records in ``cpu_metrics`` (one folder, or the CPU tier's
    archived parts: the first holding the experiment is used). Classifiers are left out: they
    are minutes even at the full profile."""
    folders = cpu_metrics if isinstance(cpu_metrics, list) else [cpu_metrics]
    total, unknown = 0.0, []
    for name, entry in params.experiments.items():
        full = (entry.train or {}).get("full")
        if not full:
            continue  # a classical method: nothing to train
        per_example = None
        for folder in folders:
            try:
                per_example = _seconds_per_example(json.loads((folder / f"{name}.json").read_text()))
            except (OSError, json.JSONDecodeError):
                continue
            break
        if per_example is None:
            unknown.append(name)
            continue
        total += per_example * full["steps"] * full.get("batch_size", 1)
    return total, unknown


def guard_full_profile(params: Params, stage: str) -> None:
    """Stop a training stage at the full profile on a CPU (module docstring)."""
    if params.profile != "full" or os.environ.get(ALLOW_ENVIRONMENT) == "1":
        return
    import torch

    if torch.cuda.is_available():
        return
    cpu_parts = sorted(params.resolve(Path("reports/profiles")).glob("cpu*/metrics"))
    seconds, unknown = estimate_cpu_seconds(params, cpu_parts)
    if seconds > 0:
        estimate = (
            f"training the papers' budgets would take about {seconds / 3600:,.0f} hours on this CPU "
            f"({seconds / 86400:,.1f} days; measured per example in the CPU tier's records, reports/profiles/cpu"
            + (f"; {len(unknown)} experiments without a CPU-tier record not counted" if unknown else "")
            + ")"
        )
    else:
        estimate = (
            "the papers' budgets take days of GPU time and far longer here (no CPU-tier records to estimate from)"
        )
    raise FullProfileOnCpu(
        f"params.yaml says `profile: full` and this machine has no CUDA GPU: {estimate}. Nothing was trained. "
        "Instead: `uv run vaerepro cpu` (the CPU budget tier, about 2 hours here, verdicts at a stated fraction "
        "of each paper's budget) or `uv run vaerepro smoke` (minutes; checks the pipeline, no verdicts). "
        f"To train the full profile on this CPU anyway: {ALLOW_ENVIRONMENT}=1 uv run dvc repro ({stage} would "
        "start first)."
    )
