"""The provenance and budget blocks of a metrics record (see :mod:`vaerepro.records`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vaerepro.config import Params
from vaerepro.data.prepared import read_summary
from vaerepro.experiment.resolve import ResolvedExperiment
from vaerepro.experiment.train import TRAIN_SUMMARY
from vaerepro.records import environment, training_budget
from vaerepro.revision import code_revision
from vaerepro.training import load_model


def count_parameters(model: Any) -> int:
    """Trainable and frozen parameters; buffers (masks, phase flags) are not parameters."""
    return int(sum(parameter.numel() for parameter in model.parameters()))


def provenance_for(
    experiment: ResolvedExperiment,
    params: Params,
    checkpoint: Path | None,
    *,
    evaluate_seconds: float,
    train_seconds: float | None = None,
    parameter_count: int | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Everything a reader needs to judge a number, from params, data summary and checkpoint."""
    summary = read_summary(experiment.prepared)
    train_summary: dict[str, Any] = {}
    if checkpoint is not None and (checkpoint.parent / TRAIN_SUMMARY).is_file():
        train_summary = json.loads((checkpoint.parent / TRAIN_SUMMARY).read_text())
    if parameter_count is None and checkpoint is not None:
        parameter_count = count_parameters(load_model(checkpoint, map_location="cpu"))
    return {
        "experiment": experiment.name,
        "model": experiment.model,
        "dataset": experiment.dataset,
        "task": experiment.task,
        "data_variant": summary["variant"],
        "dataset_sha256": summary["sha256"],
        "profile": params.profile,
        "device": device or train_summary.get("device", "cpu"),
        "seed": params.seed,
        "git_revision": code_revision(),  # the same call as the checkpoint's
        "wall_time_seconds": {
            "train": train_seconds if train_seconds is not None else train_summary.get("wall_seconds"),
            "evaluate": evaluate_seconds,
        },
        "parameter_count": parameter_count,
        "environment": environment(),
        "params": experiment.params_entry,
        "training": {
            key: train_summary.get(key)
            for key in ("step", "steps", "completed", "precision", "final_losses", "device", "wall_seconds")
            if key in train_summary or key not in ("device", "wall_seconds")
        }
        | {  # a time-boxed run (device batch): where it trained and that its time box stopped it
            key: train_summary[key] for key in ("stopped_by_time_limit", "device_batch") if train_summary.get(key)
        },
        **_training_data(experiment),
    }


def budget_for(
    experiment: ResolvedExperiment, training: Mapping[str, Any] | None, metrics: Mapping[str, Any]
) -> dict[str, Any]:
    """The record's ``budget`` block: steps trained (``training``, the provenance's training
    summary) against the full profile's, and the main evaluation set's N (from ``metrics``).

    Built from the same plain fields a record stores, by the same function the report uses for
    records written before the block existed, so both give the same block.
    """
    return training_budget(
        params_key=experiment.params_key,
        model=experiment.model,
        params=experiment.params_entry,
        training=training,
        metrics=metrics,
        trainable=experiment.train is not None,
        batch_size=experiment.train.batch_size if experiment.train is not None else None,
    )


def _training_data(experiment: ResolvedExperiment) -> dict[str, Any]:
    """Where training data came from when it is not the test dataset (e.g. synthetic pairs)."""
    if experiment.train_prepared is None or experiment.train_prepared == experiment.prepared:
        return {}
    summary = read_summary(experiment.train_prepared)
    return {
        "train_dataset": summary["dataset"],
        "train_data_variant": summary["variant"],
        "train_dataset_sha256": summary["sha256"],
    }
