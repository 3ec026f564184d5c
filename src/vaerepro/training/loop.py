"""The one training loop for every model (see the package docstring for the design)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from tqdm import tqdm

from vaerepro.models.base import RegisteredModel
from vaerepro.models.phases import OptimizerGroup, Phase, PhaseSpan, phase_at, plan_phases
from vaerepro.structured import to_plain
from vaerepro.training.checkpoints import (
    CHECKPOINT_NAME,
    CheckpointMismatchError,
    CheckpointUnusable,
    check_same_model,
    read_checkpoint,
    write_checkpoint,
)
from vaerepro.training.device import Precision, choose_device, choose_precision
from vaerepro.training.distributed import (
    SINGLE,
    ProcessGroup,
    any_rank,
    average_metrics,
    barrier,
    gather_objects,
    rank_seed,
)
from vaerepro.training.metrics_log import MetricsLogger
from vaerepro.training.seeding import plain_rng_state, restore_rng_state, seed_everything, snapshot_rng_state
from vaerepro.training.settings import TrainSettings

# Settings that may change between chunks of one run: they change neither the data order nor
# the optimisation, only the target step and bookkeeping. Any other difference is refused on
# resume (the checkpoint would otherwise record a value that was not used for its steps).
RESUMABLE_SETTING_CHANGES = frozenset({"steps", "log_every", "checkpoint_every", "progress_bar"})


class BatchSource(Protocol):
    """Anything that returns the batch of a given step (e.g. :class:`~.batches.BatchStream`)."""

    def batch(self, step: int) -> Mapping[str, torch.Tensor]: ...


class NonFiniteLossError(RuntimeError):
    """A loss term became NaN or infinite; training stopped without writing a checkpoint."""

    def __init__(self, message: str, *, step: int, terms: tuple[str, ...]) -> None:
        super().__init__(message)
        self.step = step
        self.terms = terms


@dataclass(frozen=True)
class TrainResult:
    """What a call to :func:`train` did.

    ``step``: completed steps; ``completed``: reached ``settings.steps``; ``resumed_from``:
    the checkpoint step it resumed from (None for a fresh run); ``metrics``: the last logged
    mean of each loss term; ``steps_per_second`` counts only steps run in this call;
    ``time_limited``: the call stopped at its time limit before its target step.
    """

    step: int
    completed: bool
    checkpoint_path: Path
    device: str
    precision: str
    phase: str
    resumed_from: int | None
    wall_seconds: float
    steps_per_second: float
    metrics: dict[str, float] = field(default_factory=dict)
    time_limited: bool = False


def _make_optimizer(settings: TrainSettings, group: OptimizerGroup) -> torch.optim.Optimizer:
    learning_rate = settings.learning_rate * group.learning_rate_scale
    if settings.optimizer == "adagrad":
        return torch.optim.Adagrad(group.parameters, lr=learning_rate, weight_decay=settings.weight_decay)
    if settings.optimizer == "adamw":  # decoupled weight decay (Loshchilov & Hutter 2019), as VDVAE
        return torch.optim.AdamW(
            group.parameters, lr=learning_rate, betas=settings.adam_betas, weight_decay=settings.weight_decay
        )
    return torch.optim.Adam(
        group.parameters, lr=learning_rate, betas=settings.adam_betas, weight_decay=settings.weight_decay
    )


def _group_term(name: str, phase: Phase, group: OptimizerGroup) -> str:
    """A per-optimizer log term: ``name`` alone for a phase with one optimizer group."""
    return name if len(phase.groups) == 1 else f"{name}/{group.name}"


def _scalar_terms(outputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name: value.detach() for name, value in outputs.items() if torch.is_tensor(value) and value.ndim == 0}


def check_writable(output_dir: Path) -> None:
    """Create ``output_dir`` and prove a file can be written there, before any training work."""
    probe = output_dir / f".write-probe.{os.getpid()}.tmp"
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise CheckpointUnusable(
            f"cannot write checkpoints to {output_dir}: {error.strerror or error}; make the folder writable "
            "(or free disk space) and run again"
        ) from error


def remove_stale_temporaries(output_dir: Path) -> list[Path]:
    """Delete checkpoint temporaries left by a process killed mid-write (``.checkpoint.pt.<pid>.tmp``).

    They are never a valid checkpoint (the rename that publishes one did not happen) and must
    not end up inside a recorded DVC output.
    """
    stale = sorted(output_dir.glob(f".{CHECKPOINT_NAME}.*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


class _Run:
    """State of one call to :func:`train`; methods are the loop's steps."""

    def __init__(
        self,
        model: RegisteredModel,
        settings: TrainSettings,
        output_dir: Path,
        seed: int,
        settings_path: str = "train",
        identity: Mapping[str, str] | None = None,
        group: ProcessGroup = SINGLE,
    ) -> None:
        self.model = model
        # Listed once: Module.zero_grad walks every submodule at every step, ~3 % of a small
        # MLP's step (benchmarks/training_overhead.py). `to(device)` keeps these objects.
        self.model_parameters = list(model.parameters())
        self.group = group
        self.settings = settings
        self.settings_path = settings_path
        self.identity = dict(identity or {})
        self.seed = seed
        self.checkpoint_path = output_dir / CHECKPOINT_NAME
        self.device = torch.device("cuda", group.local_rank) if group.backend == "nccl" else choose_device()
        self.precision: Precision = choose_precision(self.device, settings.mixed_precision)
        self.spans: tuple[PhaseSpan, ...] = plan_phases(model.optimizer_phases(settings.steps), settings.steps)
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.step = 0
        self.last_checkpoint_step: int | None = None
        self.metrics: dict[str, float] = {}
        # True from the first optimizer update of a step until the step is counted: an
        # interruption then leaves half-updated weights that must not be checkpointed.
        self.updating = False
        # The moving average of the weights (TrainSettings.weight_ema), float32 copies.
        self.ema: dict[str, torch.Tensor] | None = None
        if settings.weight_ema is not None:
            self.ema = {name: value.detach().clone() for name, value in model.state_dict().items()}
        # What forward passes go through: the model, or its DDP wrapper in a group (wrap()).
        self.forward_module: torch.nn.Module = model

    def wrap(self) -> None:
        """In a process group, route forward passes through DistributedDataParallel (after the
        model is on its device and resumed): it broadcasts rank 0's weights and averages every
        backward pass's gradients over the group. ``find_unused_parameters``: phases and
        optimizer groups leave parts of a model without gradients (a frozen autoencoder, the
        discriminator's loss in the generator's pass)."""
        if not self.group.distributed:
            return
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.group.local_rank] if self.group.backend == "nccl" else None
        self.forward_module = DistributedDataParallel(self.model, device_ids=device_ids, find_unused_parameters=True)

    # -- optimizers and checkpoints -----------------------------------------------------

    def optimizer(self, phase: Phase, group: OptimizerGroup) -> torch.optim.Optimizer:
        key = f"{phase.name}/{group.name}"
        if key not in self.optimizers:
            self.optimizers[key] = _make_optimizer(self.settings, group)
        return self.optimizers[key]

    def _find_group(self, key: str) -> tuple[Phase, OptimizerGroup]:
        for span in self.spans:
            for group in span.phase.groups:
                if f"{span.phase.name}/{group.name}" == key:
                    return span.phase, group
        raise CheckpointMismatchError(
            f"checkpoint {self.checkpoint_path} has optimizer '{key}', which model "
            f"'{self.model.registered_name}' does not declare"
        )

    def phase_of_last_step(self) -> str:
        return phase_at(self.spans, max(self.step - 1, 0)).phase.name

    def save(self, rng_state: dict[str, Any]) -> None:
        """Write the checkpoint (rank 0 only; in a group every rank must call this: it gathers
        each rank's RNG state first and waits until the file is written)."""
        rng_per_rank = gather_objects(self.group, rng_state)
        if self.group.primary:
            self._write(rng_state, rng_per_rank)
        barrier(self.group)
        self.last_checkpoint_step = self.step

    def _write(self, rng_state: dict[str, Any], rng_per_rank: list[dict[str, Any]]) -> None:
        write_checkpoint(
            self.checkpoint_path,
            self.model,
            step=self.step,
            phase=self.phase_of_last_step(),
            total_steps=self.settings.steps,
            settings=to_plain(self.settings),
            optimizers={key: optimizer.state_dict() for key, optimizer in self.optimizers.items()},
            grad_scaler=None if self.precision.scaler is None else self.precision.scaler.state_dict(),
            rng=rng_state,
            seed=self.seed,
            device=str(self.device),
            precision=self.precision.name,
            metrics=dict(self.metrics),
            identity=dict(self.identity),
            ema_state=self.ema,
            rng_per_rank=rng_per_rank if self.group.distributed else None,
        )

    def update_average(self) -> None:
        """One step of the weights' moving average: ``ema = decay·ema + (1 - decay)·w`` for
        floating-point parameters; buffers (counters, running statistics) are copied."""
        if self.ema is None:
            return
        decay = self.settings.weight_ema
        parameters = {name for name, _ in self.model.named_parameters()}
        with torch.no_grad():
            for name, value in self.model.state_dict().items():
                average = self.ema[name]
                if name in parameters and value.is_floating_point():
                    average.mul_(decay).add_(value.detach(), alpha=1.0 - decay)
                else:
                    average.copy_(value)

    def resume(self) -> int:
        checkpoint = read_checkpoint(self.checkpoint_path, map_location=self.device)
        check_same_model(checkpoint, self.model.registered_name, self.model.plain_options(), self.checkpoint_path)
        if checkpoint["seed"] != self.seed:
            raise CheckpointMismatchError(
                f"checkpoint {self.checkpoint_path} was trained with seed {checkpoint['seed']}, this run uses seed "
                f"{self.seed}; resuming would mix two data orders"
            )
        self._check_same_run(checkpoint)
        if checkpoint.get("optimizer_state_returned") is False:
            # A device batch returns weights only (vaerepro.device_batch.run): resuming would
            # restart Adam's moments mid-run, which is not the run its steps claim to continue.
            raise CheckpointMismatchError(
                f"checkpoint {self.checkpoint_path} came back from a device batch without its optimizer state, so "
                "training cannot resume from it; delete the folder to train from step 0, or run the batch again"
            )
        self.model.load_state_dict(checkpoint["model_state"])
        if self.ema is not None:
            if "ema_state" not in checkpoint:  # _check_same_run refuses a weight_ema change first
                raise CheckpointMismatchError(f"checkpoint {self.checkpoint_path} has no weight average to resume")
            self.ema = {name: value.detach().clone() for name, value in checkpoint["ema_state"].items()}
        self.step = checkpoint["step"]
        if self.step > 0 and self.phase_of_last_step() != checkpoint["phase"]:
            raise CheckpointMismatchError(
                f"checkpoint {self.checkpoint_path} stopped at step {self.step} in phase '{checkpoint['phase']}', but with "
                f"steps={self.settings.steps} that step falls in phase '{self.phase_of_last_step()}'"
            )
        for key, state in checkpoint["optimizers"].items():
            self.optimizer(*self._find_group(key)).load_state_dict(state)
        if self.precision.scaler is not None and checkpoint["grad_scaler"] is not None:
            self.precision.scaler.load_state_dict(checkpoint["grad_scaler"])
        per_rank = checkpoint.get("rng_per_rank")
        # Each rank continues its own noise stream (a group's settings, world size included,
        # were checked above); a single process has rank 0's state under "rng".
        restore_rng_state(per_rank[self.group.rank] if per_rank is not None else checkpoint["rng"])
        self.metrics = dict(checkpoint.get("metrics", {}))
        self.last_checkpoint_step = self.step
        return self.step

    def _check_same_run(self, checkpoint: Mapping[str, Any]) -> None:
        """Refuse to resume with other settings, data or code than the checkpoint's steps used."""
        recorded, current = checkpoint.get("settings", {}), to_plain(self.settings)
        changed = [
            key
            for key in sorted(set(recorded) | set(current))
            if key not in RESUMABLE_SETTING_CHANGES and recorded.get(key) != current.get(key)
        ]
        how = (
            f"restore the value to resume from step {checkpoint['step']}, or delete {self.checkpoint_path.parent} "
            "to start over"
        )
        if changed:
            details = "; ".join(
                f"'{self.settings_path}.{key}': checkpoint {recorded.get(key)!r}, now {current.get(key)!r}"
                for key in changed
            )
            raise CheckpointMismatchError(
                f"checkpoint {self.checkpoint_path} (step {checkpoint['step']}) was trained with other settings: {details}. "
                f"Resuming would record settings its first {checkpoint['step']} steps did not use; {how}"
            )
        recorded_identity = checkpoint.get("identity", {})
        differing = [
            key
            for key in sorted(set(recorded_identity) | set(self.identity))
            if recorded_identity.get(key) != self.identity.get(key)
        ]
        if differing:
            details = "; ".join(
                f"{key}: checkpoint {recorded_identity.get(key)!r}, now {self.identity.get(key)!r}" for key in differing
            )
            raise CheckpointMismatchError(
                f"checkpoint {self.checkpoint_path} (step {checkpoint['step']}) was trained on other data or code "
                f"({details}); {how}"
            )

    # -- one step -------------------------------------------------------------------------

    def _non_finite(
        self, outputs: Mapping[str, torch.Tensor], phase: Phase, group: OptimizerGroup
    ) -> NonFiniteLossError:
        terms = _scalar_terms(outputs)
        bad = tuple(name for name, value in terms.items() if not torch.isfinite(value))
        shown = ", ".join(f"{name}={float(terms[name])}" for name in bad) or f"{group.loss_key} (non-scalar)"
        kept = (
            f"the last good checkpoint (step {self.last_checkpoint_step}) is kept at {self.checkpoint_path}"
            if self.last_checkpoint_step is not None
            else "no checkpoint had been written yet"
        )
        return NonFiniteLossError(
            f"non-finite loss at step {self.step + 1} of {self.model.registered_name} (phase '{phase.name}', "
            f"optimizer '{group.name}', minimising '{group.loss_key}'): {shown}. Training stopped; {kept}.",
            step=self.step + 1,
            terms=bad or (group.loss_key,),
        )

    def train_step(self, phase: Phase, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, torch.Tensor]:
        scaler = self.precision.scaler
        step_terms: dict[str, torch.Tensor] = {}
        updated = False
        warmup = min(1.0, (self.step + 1) / self.settings.warmup_steps) if self.settings.warmup_steps else 1.0
        for group in phase.groups:
            optimizer = self.optimizer(phase, group)
            if self.settings.warmup_steps:  # from the step alone, so a resumed run sets the same rate
                for parameter_group in optimizer.param_groups:
                    parameter_group["lr"] = self.settings.learning_rate * group.learning_rate_scale * warmup
            for parameter in self.model_parameters:  # what model.zero_grad(set_to_none=True) does
                parameter.grad = None
            with self.precision.autocast(self.device):
                outputs = self.forward_module(x, y)
            loss = outputs[group.loss_key]
            if loss.ndim != 0 or not torch.isfinite(loss):
                raise self._non_finite(outputs, phase, group)
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
            else:
                loss.backward()
            clip, skip = self.settings.gradient_clip, self.settings.skip_threshold
            skipped = False
            if clip is not None or skip is not None:
                # The norm before clipping (clip_grad_norm_ returns it; an infinite bound clips nothing).
                norm = torch.nn.utils.clip_grad_norm_(group.parameters, math.inf if clip is None else clip)
                if skip is not None:
                    skipped = not bool(torch.isfinite(norm)) or float(norm) >= skip
                    step_terms[_group_term("grad_norm", phase, group)] = norm.detach().float()
                    step_terms[_group_term("skipped_updates", phase, group)] = torch.tensor(float(skipped))
            self.updating = True
            if skipped:
                pass  # weights and optimizer state unchanged; the step still counts (VDVAE)
            elif scaler is not None:
                scaler.step(optimizer)
            else:
                optimizer.step()
            updated = updated or not skipped
            step_terms.update(_scalar_terms(outputs))
        if scaler is not None:
            scaler.update()
        if updated:  # a skipped update leaves the average as it was too (VDVAE)
            self.update_average()
        return step_terms


def train(
    model: RegisteredModel,
    batches: BatchSource,
    settings: TrainSettings,
    output_dir: str | Path,
    *,
    seed: int,
    log_dir: str | Path | None = None,
    resume: bool = True,
    stop_at_step: int | None = None,
    settings_path: str = "train",
    identity: Mapping[str, str] | None = None,
    time_limit_seconds: float | None = None,
    group: ProcessGroup = SINGLE,
) -> TrainResult:
    """Train ``model`` for ``settings.steps`` steps, checkpointing into ``output_dir``.

    Args:
        model: a registered model (built with :func:`vaerepro.models.build_model`).
        batches: gives the batch of each step; ``"image"`` (B, C, H, W) in [0, 1] and, for
            models with ``uses_labels``, ``"label"`` (B,).
        settings: steps, batch size, optimizer, logging/checkpoint cadence, AMP, clipping.
        output_dir: where ``checkpoint.pt`` is written (every ``checkpoint_every`` steps, at
            the end, and on KeyboardInterrupt).
        seed: seeds Python/NumPy/torch; recorded in the checkpoint; a resume must use the same.
        log_dir: dvclive directory for ``train/<term>`` curves; ``None`` disables logging.
        resume: continue from ``output_dir/checkpoint.pt`` when it exists (same model name,
            options, seed, settings other than those in :data:`RESUMABLE_SETTING_CHANGES`,
            and identity, else :class:`CheckpointMismatchError` naming each difference).
        stop_at_step: return (with a checkpoint) once this many steps are done, to run long
            training in chunks; ``result.completed`` is then False.
        settings_path: the params key path of ``settings``, named in error messages
            (e.g. ``experiments.vae-mnist.train.smoke``).
        identity: what else the run depends on (e.g. the training data's and the code's
            digests); recorded in every checkpoint, and a resume must match it.
        time_limit_seconds: stop (with a checkpoint, ``result.time_limited``) once this much
            wall time has passed in this call: a time-boxed run on a borrowed GPU
            (:mod:`vaerepro.device_batch`) keeps what it reached. None: no limit.
        group: this process's place in a torchrun group (:mod:`.distributed`): ``batches``
            gives this rank's shard, gradients are averaged over the group, only rank 0 writes
            the checkpoint and the logs. Default: a single process.

    Raises:
        NonFiniteLossError: a loss became NaN/inf (names the step and the terms); the last
            good checkpoint is left untouched.
        CheckpointMismatchError: the checkpoint in ``output_dir`` is of another model/run.
    """
    output_dir = Path(output_dir)
    if settings.processes != group.world_size:
        raise ValueError(
            f"'{settings_path}.processes' asks for {settings.processes} training process(es), but this one runs in a "
            f"group of {group.world_size} (pipeline/train.py starts torchrun with the right count)"
        )
    if group.primary:
        check_writable(output_dir)
        remove_stale_temporaries(output_dir)
    barrier(group)
    seed_everything(rank_seed(seed, group.rank))
    run = _Run(model, settings, output_dir, seed, settings_path, identity, group)
    model.to(run.device)
    resumed_from = run.resume() if resume and run.checkpoint_path.exists() else None
    run.wrap()
    target = settings.steps if stop_at_step is None else min(stop_at_step, settings.steps)

    logger = None
    if log_dir is not None and run.step < target and group.primary:
        logger = MetricsLogger(log_dir, resume_from_step=resumed_from)
        if resumed_from is None:
            logger.log_params(
                {
                    "model": model.registered_name,
                    "seed": seed,
                    "device": str(run.device),
                    "precision": run.precision.name,
                }
            )
    progress = tqdm(
        total=settings.steps,
        initial=run.step,
        disable=not settings.progress_bar or not group.primary,
        desc=f"train {model.registered_name}",
        unit="step",
    )
    started = time.perf_counter()
    first_step = run.step
    sums: dict[str, torch.Tensor] = {}
    count = 0
    current: PhaseSpan | None = None
    model.train()
    rng_at_boundary = snapshot_rng_state()
    time_limited = False
    try:
        while run.step < target:
            if time_limit_seconds is not None and any_rank(group, time.perf_counter() - started >= time_limit_seconds):
                time_limited = True  # every rank stops at the same step
                break
            span = phase_at(run.spans, run.step)
            if span is not current:
                model.begin_phase(span.phase.name)
                current = span
            batch = batches.batch(run.step)
            x = batch["image"].to(run.device, non_blocking=True)
            y = None
            if model.uses_labels:
                if "label" not in batch:
                    raise ValueError(f"model '{model.registered_name}' needs labels but the batches have none")
                y = batch["label"].to(run.device, non_blocking=True)
            elif model.uses_targets:  # supervised restoration: forward(degraded, clean)
                if "target" not in batch:
                    raise ValueError(f"model '{model.registered_name}' needs clean targets but the batches have none")
                y = batch["target"].to(run.device, non_blocking=True)
            model.begin_step(run.step)
            terms = run.train_step(span.phase, x, y)
            run.step += 1
            rng_at_boundary = snapshot_rng_state()
            run.updating = False
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value.float()
            count += 1
            progress.update(1)
            if run.step % settings.log_every == 0 or run.step == target:
                run.metrics = average_metrics(group, {name: float(total) / count for name, total in sums.items()})
                sums, count = {}, 0
                if logger is not None:
                    logger.log(run.step, run.metrics)
                progress.set_postfix(
                    {name: f"{value:.4g}" for name, value in run.metrics.items() if name in ("loss", "recon", "kl")}
                )
            if run.step % settings.checkpoint_every == 0 and run.step < target:
                run.save(plain_rng_state(rng_at_boundary))
        if time_limited and count:  # the partial logging window up to the stop, logged once
            run.metrics = average_metrics(group, {name: float(total) / count for name, total in sums.items()})
            if logger is not None:
                logger.log(run.step, run.metrics)
    except KeyboardInterrupt:
        # Between steps the state is consistent: save it so the run resumes exactly here.
        # Mid-update it is not; the last periodic checkpoint then stays the resume point.
        # A group's ranks are stopped together by torchrun: no collective save is possible,
        # so a group resumes from its last periodic checkpoint.
        if not run.updating and run.last_checkpoint_step != run.step and not group.distributed:
            run.save(plain_rng_state(rng_at_boundary))
        raise
    finally:
        progress.close()
        if logger is not None:
            logger.close()
    # any_rank: every rank of a group must take part in the save (it gathers RNG states).
    if any_rank(group, run.last_checkpoint_step != run.step or not run.checkpoint_path.exists()):
        run.save(plain_rng_state(rng_at_boundary))
    elapsed = time.perf_counter() - started
    steps_run = run.step - first_step
    return TrainResult(
        step=run.step,
        completed=run.step >= settings.steps,
        checkpoint_path=run.checkpoint_path,
        device=str(run.device),
        precision=run.precision.name,
        phase=run.phase_of_last_step(),
        resumed_from=resumed_from,
        wall_seconds=elapsed,
        steps_per_second=steps_run / elapsed if elapsed > 0 and steps_run else math.nan,
        metrics=dict(run.metrics),
        time_limited=time_limited,
    )
