"""Train a resolved experiment: the body of the ``train@`` and ``classifier@`` stages.

Resuming under DVC (issue 13): the stages declare ``models/<experiment>`` as a persistent
output, so ``dvc repro`` after an interruption finds the last complete checkpoint and the
loop resumes from it. A run that had *completed* is started over instead (DVC only re-runs a
stage whose dependencies or params changed), and an interrupted run resumes only with the
same settings, training data and code (:func:`run_identity`); otherwise it stops and names
what differs.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

from vaerepro.config import Params
from vaerepro.data.integrity import write_json
from vaerepro.experiment.resolve import SOURCE, ResolvedExperiment
from vaerepro.models import build_model
from vaerepro.models.restoration import RestorationModel
from vaerepro.structured import ConfigError
from vaerepro.training import BatchSource, BatchStream, TrainResult, train
from vaerepro.training.checkpoints import CHECKPOINT_NAME, write_checkpoint
from vaerepro.training.crops import CropPairStream
from vaerepro.training.distributed import SINGLE, ProcessGroup, ShardedBatches, barrier


def train_experiment(
    experiment: ResolvedExperiment,
    params: Params,
    output_dir: Path,
    *,
    stop_at_step: int | None = None,
    restart_if_complete: bool = False,
    time_limit_seconds: float | None = None,
    group: ProcessGroup = SINGLE,
) -> TrainResult:
    """Build the experiment's model and train it on its dataset's ``train`` split.

    Checkpoints and dvclive logs go to ``output_dir`` (``checkpoint.pt``, ``dvclive/``);
    an existing checkpoint there is resumed (the loop refuses one of another model, settings,
    data or code). ``restart_if_complete``: a finished run in ``output_dir`` is removed and
    training starts over (what a DVC re-run of the stage means). ``time_limit_seconds``: stop
    at that wall time with a checkpoint (a time-boxed run; the summary says so). ``group``: this
    process's place in a torchrun group (``train.<profile>.processes > 1``): every rank builds
    the same model and trains on its shard of each global batch; rank 0 writes.
    """
    if restart_if_complete and group.primary:
        clear_completed_run(output_dir, experiment.name)
    barrier(group)
    try:
        model = build_model(
            experiment.model,
            experiment.options,
            source=SOURCE,
            path=f"{experiment.params_key}.options",
            seed=params.seed,
        )
    except ValueError as error:  # e.g. an image size the architecture cannot take
        raise ConfigError(f"experiment '{experiment.name}': {error}") from error
    if not model.trainable:
        result = record_classical_method(model, experiment, params.seed, output_dir)
        write_train_summary(output_dir, result, experiment)
        return result
    # A group draws the global batch (processes × batch_size) and each rank keeps its rows.
    global_batch = experiment.train.batch_size * group.world_size
    if experiment.restoration is not None:  # (degraded, clean) crop pairs
        pairs = experiment.train_pairs(params.seed)
        print(
            f"train@{experiment.name}: {len(pairs)} training images, {pairs.description}"
            + ("" if model.supervised else " (unsupervised: the clean references are never given to the model)")
        )
        crop_size = check_crop_size(model, experiment, pairs.inputs.shape[1:3])
        batches: BatchSource = CropPairStream(
            pairs.inputs,
            pairs.targets,
            crop_size=crop_size,
            batch_size=global_batch,
            seed=params.seed,
            with_targets=model.supervised,
        )
    else:  # images (with labels for label-conditional models)
        split = experiment.train_split()
        labels = split.arrays.get("labels") if model.uses_labels else None
        if model.uses_labels and labels is None:
            raise ValueError(f"model '{experiment.model}' needs labels, but dataset '{experiment.dataset}' has none")
        batches = BatchStream(
            split["images"],
            labels,
            batch_size=global_batch,
            seed=params.seed,
            binarize=experiment.train.dynamic_binarization,
        )
    if group.distributed:
        batches = ShardedBatches(batches, group, experiment.train.batch_size)
    result = train(
        model,
        batches,
        experiment.train,
        output_dir,
        seed=params.seed,
        log_dir=output_dir / "dvclive",
        stop_at_step=stop_at_step,
        settings_path=experiment.settings_key(params.profile),
        identity=run_identity(experiment),
        time_limit_seconds=time_limit_seconds,
        group=group,
    )
    if group.primary:
        write_train_summary(output_dir, result, experiment)
    return result


# The stage scripts that train (train@, classifier@): a run's code is everything they import.
TRAINING_SCRIPTS = ("pipeline/train.py", "pipeline/classifier.py")


def code_fingerprint(repository: Path | None = None) -> str:
    """sha256 over the code a training stage runs (relative path and content, sorted): the
    ``sha256`` of :func:`vaerepro.lineage.fingerprint` over both training scripts.

    The files are derived as the ``lineage`` stage derives the train@/classifier@ fingerprints
    (:mod:`vaerepro.lineage`: everything the training scripts import from the project), so an
    interrupted run never resumes under code its stage would have re-run for.
    """
    from vaerepro.lineage import Stage, fingerprint

    repository = (repository or Path(__file__).resolve().parents[3]).resolve()
    stage = Stage("training", tuple(f"python {script}" for script in TRAINING_SCRIPTS), ())
    return fingerprint(stage, repository)["sha256"]


def run_identity(experiment: ResolvedExperiment) -> dict[str, str]:
    """What a resumed run must share with its checkpoint besides the settings."""
    from vaerepro.data.prepared import read_summary

    return {
        "train_data_sha256": read_summary(experiment.train_prepared or experiment.prepared)["sha256"],
        "code_sha256": code_fingerprint(),
    }


def clear_completed_run(output_dir: Path, name: str) -> bool:
    """Remove a finished run's checkpoint, logs and summary; an unfinished one is kept (resumed)."""
    summary = output_dir / TRAIN_SUMMARY
    if not summary.is_file():
        return False
    try:
        completed = bool(json.loads(summary.read_text()).get("completed"))
    except (OSError, json.JSONDecodeError):
        completed = False  # unreadable: treat as unfinished, the checkpoint decides
    if not completed:
        return False
    print(
        f"train@{name}: the previous run in {output_dir} had finished and a dependency or param changed; "
        "starting over from step 0"
    )
    for item in (CHECKPOINT_NAME, TRAIN_SUMMARY, "dvclive"):
        path = output_dir / item
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return True


TRAIN_SUMMARY = "train_summary.json"


def check_crop_size(model: RestorationModel, experiment: ResolvedExperiment, image_size: tuple[int, int]) -> int:
    """The training crop side, checked against the network and the images before any work.

    Raises:
        ConfigError: the crop is not a multiple of the network's size multiple, is below its
            minimum (training) size, or does not fit the training images; names the key.
    """
    assert experiment.train is not None and experiment.restoration is not None
    if experiment.train.crop_size is not None:
        crop_size, key = experiment.train.crop_size, f"{experiment.params_key}.train.<profile>.crop_size"
    else:
        crop_size, key = experiment.restoration.data.crop_size, f"{experiment.params_key}.restoration.crop_size"
    minimum = max(model.minimum_size, getattr(model, "minimum_training_size", 1), 8)
    problem = None
    if crop_size % model.size_multiple:
        problem = f"is not a multiple of {model.size_multiple}, which model '{model.registered_name}' needs"
    elif crop_size < minimum:
        problem = f"is below the {minimum}x{minimum} minimum of model '{model.registered_name}'"
    elif crop_size > min(image_size):
        problem = f"does not fit the {image_size[0]}x{image_size[1]} training images"
    if problem:
        raise ConfigError(f"'{key}' in {SOURCE} is {crop_size}, which {problem}")
    return crop_size


def record_classical_method(
    model: RestorationModel, experiment: ResolvedExperiment, seed: int, output_dir: Path
) -> TrainResult:
    """A classical method (BM3D, CLAHE, ...) learns nothing: write its self-describing checkpoint
    (name, options, no optimizer state) so ``evaluate@`` loads every method the same way."""
    device = "cpu"
    path = write_checkpoint(
        output_dir / CHECKPOINT_NAME,
        model,
        step=0,
        phase="none",
        total_steps=0,
        settings={},
        optimizers={},
        grad_scaler=None,
        rng={},
        seed=seed,
        device=device,
        precision="float64 (classical method, no training)",
        metrics={},
    )
    print(f"train@{experiment.name}: '{model.registered_name}' is a classical method; nothing to train")
    return TrainResult(
        step=0,
        completed=True,
        checkpoint_path=path,
        device=device,
        precision="none",
        phase="none",
        resumed_from=None,
        wall_seconds=0.0,
        steps_per_second=math.nan,
        metrics={},
    )


def write_train_summary(output_dir: Path, result: TrainResult, experiment: ResolvedExperiment) -> None:
    """Record what training did next to the checkpoint, for the evaluation's provenance.

    Wall time accumulates over resumed chunks (each call adds the seconds it ran).
    """
    path = output_dir / TRAIN_SUMMARY
    previous = json.loads(path.read_text()) if path.is_file() else {}
    write_json(
        path,
        {
            "experiment": experiment.name,
            "step": result.step,
            "steps": 0 if experiment.train is None else experiment.train.steps,
            "completed": result.completed,
            "device": result.device,
            "precision": result.precision,
            "wall_seconds": previous.get("wall_seconds", 0.0) + result.wall_seconds,
            "steps_per_second_last_chunk": result.steps_per_second,
            "final_losses": result.metrics,
            "stopped_by_time_limit": result.time_limited,
        },
    )
