"""Training settings: the ``experiments.<name>.train.<profile>`` section of ``params.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from vaerepro.structured import ConfigError, from_mapping


@dataclass(frozen=True)
class TrainSettings:
    """How one model is trained. Every field but ``steps`` has a default.

    Attributes:
        steps: total optimizer steps (over all phases).
        batch_size: images per step.
        learning_rate: base learning rate (an optimizer group may scale it).
        optimizer: ``adam`` (default) or ``adagrad`` (Kingma & Welling 2014's choice).
        adam_betas: Adam's (beta1, beta2).
        weight_decay: L2 weight decay passed to the optimizer.
        checkpoint_every: write a checkpoint every this many steps (and always at the end
            and on interruption).
        log_every: log the mean of every loss term over this many steps.
        mixed_precision: autocast (bf16 where supported, else fp16 with loss scaling);
            used only on CUDA, ignored on CPU.
        gradient_clip: clip each optimizer group's gradient norm to this value; ``None``
            disables clipping.
        dynamic_binarization: feed Bernoulli samples of the pixel intensities (seeded per
            step), as for binarised MNIST.
        progress_bar: show a tqdm progress bar.
        crop_size: side of the random square training crops of restoration models (overrides
            ``restoration.crop_size`` for this profile); ignored by other models.
    """

    steps: int
    batch_size: int = 128
    learning_rate: float = 1e-3
    optimizer: Literal["adam", "adagrad"] = "adam"
    adam_betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    checkpoint_every: int = 1000
    log_every: int = 50
    mixed_precision: bool = False
    gradient_clip: float | None = None
    dynamic_binarization: bool = False
    progress_bar: bool = True
    crop_size: int | None = None

    def __post_init__(self) -> None:
        problems = validate(self)
        if problems:
            key, message = problems[0]
            raise ConfigError(f"train setting '{key}' {message}")


def validate(settings: TrainSettings) -> list[tuple[str, str]]:
    """(key, problem) pairs for out-of-range values; empty when the settings are usable."""
    problems = []
    for key in ("steps", "batch_size", "checkpoint_every", "log_every"):
        value = getattr(settings, key)
        if value < 1:
            problems.append((key, f"must be >= 1, got {value}"))
    if settings.learning_rate <= 0:
        problems.append(("learning_rate", f"must be positive, got {settings.learning_rate}"))
    if settings.weight_decay < 0:
        problems.append(("weight_decay", f"must be >= 0, got {settings.weight_decay}"))
    if settings.gradient_clip is not None and settings.gradient_clip <= 0:
        problems.append(("gradient_clip", f"must be positive or null, got {settings.gradient_clip}"))
    if not all(0 <= beta < 1 for beta in settings.adam_betas):
        problems.append(("adam_betas", f"must lie in [0, 1), got {settings.adam_betas}"))
    return problems


def parse_train_settings(mapping: Mapping[str, Any], *, source: str | None = None, path: str = "") -> TrainSettings:
    """Strictly parse a ``train`` section; errors name the key path (``path.key``) and file."""
    try:
        return from_mapping(TrainSettings, mapping, path=path, source=source)
    except ConfigError as error:
        message = str(error)
        if path and message.startswith("train setting '"):
            key = message.split("'")[1]
            message = message.replace(
                f"train setting '{key}'", f"'{path}.{key}'" + (f" in {source}" if source else ""), 1
            )
            raise ConfigError(message) from None
        raise
