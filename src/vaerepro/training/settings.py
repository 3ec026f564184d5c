"""Training settings: the ``experiments.<name>.train.<profile>`` section of ``params.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from vaerepro.structured import check_ranges, from_mapping, ranged


@dataclass(frozen=True)
class TrainSettings:
    """How one model is trained. Every field but ``steps`` has a default.

    Attributes:
        steps: total optimizer steps (over all phases).
        batch_size: images per step.
        learning_rate: base learning rate (an optimizer group may scale it).
        optimizer: ``adam`` (default), ``adamw`` (decoupled weight decay, VDVAE's) or
            ``adagrad`` (Kingma & Welling 2014's choice).
        adam_betas: Adam's (beta1, beta2).
        weight_decay: L2 weight decay passed to the optimizer.
        warmup_steps: raise the learning rate linearly from ``learning_rate / warmup_steps`` to
            ``learning_rate`` over the first steps (VDVAE: 100); 0: none.
        checkpoint_every: write a checkpoint every this many steps (and always at the end
            and on interruption).
        log_every: log the mean of every loss term over this many steps.
        mixed_precision: autocast (bf16 where supported, else fp16 with loss scaling);
            used only on CUDA, ignored on CPU.
        gradient_clip: clip each optimizer group's gradient norm to this value; ``None``
            disables clipping.
        skip_threshold: skip an optimizer update (the weights and the optimizer's moments
            stay as they were; the step still counts) when the group's gradient norm before
            clipping is at least this or not finite: VDVAE's update skipping (Child 2021,
            Sec. 5: 400 on CIFAR-10), which keeps rare gradient spikes of a very deep
            hierarchy out of the weights. Logged as ``grad_norm`` and ``skipped_updates`` (the
            fraction of updates skipped in each logging window).
            ``None``: never skip.
        weight_ema: decay of an exponential moving average of the weights, updated after
            every step and kept in the checkpoint (``ema_state``); evaluation then uses the
            averaged weights, as VDVAE evaluates its EMA model (0.9999). ``None``: no average.
        dynamic_binarization: feed Bernoulli samples of the pixel intensities (seeded per
            step), as for binarised MNIST.
        progress_bar: show a tqdm progress bar.
        processes: train as a group of this many processes (torchrun, DistributedDataParallel:
            :mod:`.distributed`); ``batch_size`` is then per process, the global batch
            ``processes × batch_size``. 1: a single process.
        crop_size: side of the random square training crops of restoration models (overrides
            ``restoration.crop_size`` for this profile); ignored by other models.
    """

    steps: int = ranged(minimum=1)
    batch_size: int = ranged(128, minimum=1)
    learning_rate: float = ranged(1e-3, above=0)
    optimizer: Literal["adam", "adamw", "adagrad"] = "adam"
    adam_betas: tuple[float, float] = ranged((0.9, 0.999), minimum=0, below=1)
    weight_decay: float = ranged(0.0, minimum=0)
    warmup_steps: int = ranged(0, minimum=0)
    checkpoint_every: int = ranged(1000, minimum=1)
    log_every: int = ranged(50, minimum=1)
    mixed_precision: bool = False
    gradient_clip: float | None = ranged(None, above=0)
    skip_threshold: float | None = ranged(None, above=0)
    weight_ema: float | None = ranged(None, above=0, below=1)
    dynamic_binarization: bool = False
    progress_bar: bool = True
    processes: int = ranged(1, minimum=1)
    crop_size: int | None = ranged(None, minimum=1)

    def __post_init__(self) -> None:
        check_ranges(self)  # settings built directly; parsed ones were checked with their key path


def parse_train_settings(mapping: Mapping[str, Any], *, source: str | None = None, path: str = "") -> TrainSettings:
    """Strictly parse a ``train`` section; errors (range errors too) name the key path and file."""
    return from_mapping(TrainSettings, mapping, path=path, source=source)
