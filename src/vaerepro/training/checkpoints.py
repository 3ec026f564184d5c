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
``git_revision``    ``git rev-parse HEAD`` of the code, or ``"unknown"``
``torch_version``   ``torch.__version__``; ``created``: UTC ISO time
``metrics``         the last logged mean of each loss term
==================  =============================================================
"""

from __future__ import annotations

import datetime
import os
import subprocess
from pathlib import Path
from typing import Any

import torch

from vaerepro.models.registry import build_model

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "vaerepro-checkpoint"
FORMAT_VERSION = 1


class CheckpointMismatchError(ValueError):
    """A checkpoint belongs to another model, other options or another run."""


def git_revision() -> str:
    """The git commit of the code being run, or ``"unknown"`` outside a repository."""
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    revision = completed.stdout.strip()
    return revision if completed.returncode == 0 and revision else "unknown"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a temp file in the same folder, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def read_checkpoint(path: str | Path, map_location: str | torch.device | None = None) -> dict[str, Any]:
    """Load a checkpoint dict (tensors and plain data only: ``weights_only=True``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise ValueError(f"{path} is not a vaerepro checkpoint (no format '{FORMAT}')")
    if checkpoint.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path} has checkpoint format version {checkpoint.get('format_version')}, expected {FORMAT_VERSION}")
    return checkpoint


def check_same_model(checkpoint: dict[str, Any], model_name: str, model_options: dict[str, Any], path: str | Path) -> None:
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
            f"{key}: checkpoint {checkpoint['model_options'].get(key)!r} vs now {model_options.get(key)!r}" for key in differing
        )
        raise CheckpointMismatchError(
            f"checkpoint {path} of model '{model_name}' was trained with other options ({details}); "
            f"delete the checkpoint or use another output directory"
        )


def load_model(checkpoint_path: str | Path, map_location: str | torch.device | None = None) -> torch.nn.Module:
    """Rebuild a model from its checkpoint alone (in eval mode, on ``map_location`` or CPU)."""
    checkpoint = read_checkpoint(checkpoint_path, map_location="cpu")
    model = build_model(checkpoint["model_name"], checkpoint["model_options"], source=str(checkpoint_path), path="model_options")
    model.load_state_dict(checkpoint["model_state"])
    if map_location is not None:
        model.to(map_location)
    return model.eval()
