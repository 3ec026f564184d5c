"""Self-describing, atomically written checkpoints.

A checkpoint (``torch.save`` of a dict, loadable with ``weights_only=True``) holds:

==================  =============================================================
``format``          ``"vaerepro-checkpoint"``; ``format_version`` 1
``model_name``      registry name, e.g. ``"vae"``
``model_options``   the model's options as plain data (rebuilds the model)
``model_state``     ``model.state_dict()``
``step``            completed optimizer steps; ``phase``: phase of the last step
``total_steps``     ``TrainSettings.steps`` of the run; ``settings``: all settings
``optimizers``      ``{"<phase>/<group>": optimizer.state_dict()}``
``grad_scaler``     GradScaler state (float16 AMP) or ``None``
``rng``             Python/NumPy/torch/CUDA RNG states (see :mod:`.seeding`)
``seed``            the run's seed
``device``          device trained on; ``precision``: float32/bfloat16/float16
``git_revision``    the code revision (:mod:`vaerepro.revision`), or ``"unknown"``
``torch_version``   ``torch.__version__``; ``created``: UTC ISO time
``metrics``         the last logged mean of each loss term
``identity``        data/code identity of the run (trained models only; see
                    :func:`vaerepro.experiment.train.run_identity`)
``rng_per_rank``    every rank's RNG state, in rank order (runs in a torchrun group only;
                    ``rng`` is rank 0's)
``ema_state``       the exponential moving average of the weights, as a state dict (runs
                    with ``TrainSettings.weight_ema`` only); :func:`load_model` prefers it
==================  =============================================================

:func:`write_checkpoint` is the one place that assembles these keys and writes them.
"""

from __future__ import annotations

import contextlib
import datetime
import os
from pathlib import Path
from typing import Any

import torch

from vaerepro.models.base import RegisteredModel
from vaerepro.models.registry import build_model
from vaerepro.revision import code_revision

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "vaerepro-checkpoint"
FORMAT_VERSION = 1


class CheckpointMismatchError(ValueError):
    """A checkpoint belongs to another model, other options or another run."""


class CheckpointUnusable(ValueError):
    """A checkpoint cannot be read (missing, empty, truncated, not a checkpoint) or written
    (full disk, read-only folder); the message names the file and what to do."""


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def write_checkpoint(
    path: str | Path,
    model: RegisteredModel,
    *,
    step: int,
    phase: str,
    total_steps: int,
    settings: dict[str, Any],
    optimizers: dict[str, Any],
    grad_scaler: dict[str, Any] | None,
    rng: dict[str, Any],
    seed: int,
    device: str,
    precision: str,
    metrics: dict[str, float],
    identity: dict[str, Any] | None = None,
    ema_state: dict[str, torch.Tensor] | None = None,
    rng_per_rank: list[dict[str, Any]] | None = None,
) -> Path:
    """Write ``model``'s checkpoint (the keys in the module docstring) atomically to ``path``.

    Adds what every checkpoint carries: format and version, the model's registry name, options
    and state, the code revision (:func:`vaerepro.revision.code_revision`, the call the metrics
    records make), the torch version and the time. ``identity``, ``ema_state`` and
    ``rng_per_rank`` are stored only when given.
    """
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_name": model.registered_name,
        "model_options": model.plain_options(),
        "model_state": model.state_dict(),
        "step": step,
        "phase": phase,
        "total_steps": total_steps,
        "settings": settings,
        "optimizers": optimizers,
        "grad_scaler": grad_scaler,
        "rng": rng,
        "seed": seed,
        "device": device,
        "precision": precision,
        "git_revision": code_revision(),
        "torch_version": str(torch.__version__),
        "created": utc_now(),
        "metrics": metrics,
    }
    if identity is not None:
        payload["identity"] = identity
    if ema_state is not None:
        payload["ema_state"] = ema_state
    if rng_per_rank is not None:
        payload["rng_per_rank"] = rng_per_rank
    return save_checkpoint(path, payload)


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temp file in the same folder, then ``os.replace``."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except (OSError, RuntimeError) as error:  # torch.save reports a failed write as RuntimeError
        kept = "the previous checkpoint there is unchanged" if path.is_file() else "no checkpoint was written"
        raise CheckpointUnusable(
            f"could not write checkpoint {path}: {_os_reason(error)}; {kept}. Free disk space or make "
            f"{path.parent} writable, then run again (training resumes from the last checkpoint)"
        ) from error
    finally:
        with contextlib.suppress(OSError):  # a read-only folder: nothing was created there either
            temporary.unlink(missing_ok=True)
    return path


def _os_reason(error: BaseException) -> str:
    """The OS reason behind a write error, also when torch wrapped it (``ENOSPC`` → 'No space left on device')."""
    while error is not None:
        if isinstance(error, OSError) and error.strerror:
            return error.strerror
        if "No space left" in str(error) or "errno 28" in str(error).lower():
            return "No space left on device"
        error = error.__cause__ or error.__context__
    return "write failed"


def read_checkpoint(path: str | Path, map_location: str | torch.device | None = None) -> dict[str, Any]:
    """Load a checkpoint dict (tensors and plain data only: ``weights_only=True``)."""
    path = Path(path)
    redo = f"delete it (or its folder {path.parent}) and train again"
    if not path.is_file():
        raise CheckpointUnusable(f"no checkpoint at {path}: train the model first (dvc repro train@{path.parent.name})")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # truncated zip, empty file, pickle garbage, unsafe content
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointUnusable(
            f"checkpoint {path} ({path.stat().st_size} bytes) cannot be read: it is empty, truncated or not a "
            f"checkpoint ({first_line}); {redo}"
        ) from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise CheckpointUnusable(f"{path} is not a vaerepro checkpoint (no format '{FORMAT}'); {redo}")
    if checkpoint.get("format_version") != FORMAT_VERSION:
        raise CheckpointUnusable(
            f"{path} has checkpoint format version {checkpoint.get('format_version')}, expected {FORMAT_VERSION}; {redo}"
        )
    return checkpoint


def check_same_model(
    checkpoint: dict[str, Any], model_name: str, model_options: dict[str, Any], path: str | Path
) -> None:
    """Raise :class:`CheckpointMismatchError` unless the checkpoint is of this model and options."""
    if checkpoint["model_name"] != model_name:
        raise CheckpointMismatchError(
            f"checkpoint {path} is of model '{checkpoint['model_name']}' but the model being trained is "
            f"'{model_name}'; delete the checkpoint or use another output directory"
        )
    if checkpoint["model_options"] != model_options:
        differing = sorted(
            key
            for key in set(checkpoint["model_options"]) | set(model_options)
            if checkpoint["model_options"].get(key) != model_options.get(key)
        )
        details = ", ".join(
            f"{key}: checkpoint {checkpoint['model_options'].get(key)!r} vs now {model_options.get(key)!r}"
            for key in differing
        )
        raise CheckpointMismatchError(
            f"checkpoint {path} of model '{model_name}' was trained with other options ({details}); "
            f"delete the checkpoint or use another output directory"
        )


def load_model(
    checkpoint_path: str | Path, map_location: str | torch.device | None = None, *, averaged: bool = True
) -> torch.nn.Module:
    """Rebuild a model from its checkpoint alone (in eval mode, on ``map_location`` or CPU).

    ``averaged``: load the moving average of the weights (``ema_state``) where the run kept
    one, as VDVAE evaluates; False, or a checkpoint without it, gives the trained weights.
    :func:`weights_description` says which a checkpoint gives, for the record.
    """
    checkpoint = read_checkpoint(checkpoint_path, map_location="cpu")
    model = build_model(
        checkpoint["model_name"], checkpoint["model_options"], source=str(checkpoint_path), path="model_options"
    )
    model.load_state_dict(
        checkpoint["ema_state"] if averaged and "ema_state" in checkpoint else checkpoint["model_state"]
    )
    if map_location is not None:
        model.to(map_location)
    return model.eval()


def weights_description(checkpoint: dict[str, Any], *, averaged: bool = True) -> str:
    """What :func:`load_model` loads from ``checkpoint`` with ``averaged``, in words for a metrics record."""
    decay = (checkpoint.get("settings") or {}).get("weight_ema")
    if "ema_state" not in checkpoint:
        return "trained weights"
    if averaged:
        return f"exponential moving average of the weights (decay {decay})"
    return f"trained weights (the run's moving average of the weights, decay {decay}, not scored)"
