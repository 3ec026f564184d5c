"""Train a resolved experiment: the body of the ``train@`` and ``classifier@`` stages."""

from __future__ import annotations

import json
from pathlib import Path

from vaerepro.config import Params
from vaerepro.data.integrity import write_json
from vaerepro.experiment import SOURCE, ResolvedExperiment
from vaerepro.models import build_model
from vaerepro.structured import ConfigError
from vaerepro.training import BatchStream, TrainResult, train


def train_experiment(
    experiment: ResolvedExperiment, params: Params, output_dir: Path, *, stop_at_step: int | None = None
) -> TrainResult:
    """Build the experiment's model and train it on its dataset's ``train`` split.

    Checkpoints and dvclive logs go to ``output_dir`` (``checkpoint.pt``, ``dvclive/``);
    an existing checkpoint there is resumed (the loop refuses one of another model/config).
    """
    try:
        model = build_model(experiment.model, experiment.options, source=SOURCE,
                            path=f"experiments.{experiment.name}.options", seed=params.seed)
    except ValueError as error:  # e.g. an image size the architecture cannot take
        raise ConfigError(f"experiment '{experiment.name}': {error}") from error
    split = experiment.split("train")
    labels = split.arrays.get("labels") if model.uses_labels else None
    if model.uses_labels and labels is None:
        raise ValueError(f"model '{experiment.model}' needs labels, but dataset '{experiment.dataset}' has none")
    batches = BatchStream(
        split["images"], labels, batch_size=experiment.train.batch_size, seed=params.seed,
        binarize=experiment.train.dynamic_binarization,
    )
    result = train(model, batches, experiment.train, output_dir, seed=params.seed,
                   log_dir=output_dir / "dvclive", stop_at_step=stop_at_step)
    write_train_summary(output_dir, result, experiment)
    return result


TRAIN_SUMMARY = "train_summary.json"


def write_train_summary(output_dir: Path, result: TrainResult, experiment: ResolvedExperiment) -> None:
    """Record what training did next to the checkpoint, for the evaluation's provenance.

    Wall time accumulates over resumed chunks (each call adds the seconds it ran).
    """
    path = output_dir / TRAIN_SUMMARY
    previous = json.loads(path.read_text()) if path.is_file() else {}
    write_json(path, {
        "experiment": experiment.name,
        "step": result.step,
        "steps": experiment.train.steps,
        "completed": result.completed,
        "device": result.device,
        "precision": result.precision,
        "wall_seconds": previous.get("wall_seconds", 0.0) + result.wall_seconds,
        "steps_per_second_last_chunk": result.steps_per_second,
        "final_losses": result.metrics,
    })
