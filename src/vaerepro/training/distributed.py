"""Data-parallel training over several processes with PyTorch's own engine (``torchrun`` and
``DistributedDataParallel``): several GPUs of one machine, several machines, or CPU processes.

How one run is split (the loop in :mod:`.loop` reads a :class:`ProcessGroup`):

* **Launch.** ``TrainSettings.processes > 1`` asks for a group: ``pipeline/train.py`` then
  re-runs itself under ``torchrun --standalone --nproc-per-node N`` (:func:`torchrun_command`);
  on several machines the user starts ``torchrun`` on each with its rendezvous flags
  (README, GPU). Each process joins the group from torchrun's environment
  (:func:`join_from_environment`): NCCL on GPUs, gloo on CPUs, one GPU per local rank.
* **Data.** ``batch_size`` is per process; the global batch of a step is ``processes ×
  batch_size`` images, the batch a single process with that batch size would take, and rank
  ``r`` trains on its rows ``r·B .. (r+1)·B - 1`` (:class:`ShardedBatches`): no image is seen
  twice within a step, and the group walks the same data order as one process.
* **Gradients.** DDP averages them over the group after every backward pass, so with losses that
  are batch means the update equals the single-process update on the global batch (up to
  floating-point summation order) for models without per-rank randomness.
* **Randomness.** Weights start identical (same build seed; DDP also broadcasts rank 0's);
  sampling noise inside the model (reparameterisation, dropout) comes from a per-rank seed
  derived from the global seed (:func:`rank_seed`; rank 0 keeps the global seed itself).
* **Writing.** Only rank 0 writes checkpoints, logs, summaries and records; the checkpoint
  keeps every rank's RNG state, so a resumed group continues each rank's noise stream.

Limitation: buffers a model updates itself in ``forward`` (VQ-VAE's EMA codebook statistics,
batch-norm running statistics) are rank 0's (DDP broadcasts them before each forward), not
statistics of the global batch.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# torchrun sets these for every process it starts.
RANK_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place in a training group (rank 0 of 1 without one)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def primary(self) -> bool:
        """Rank 0: the process that writes checkpoints, logs and records."""
        return self.rank == 0


SINGLE = ProcessGroup()


def under_torchrun() -> bool:
    """True in a process started by torchrun (its rank variables are set)."""
    return all(name in os.environ for name in RANK_VARIABLES)


def join_from_environment() -> ProcessGroup:
    """Join the group torchrun started this process in (NCCL with one GPU per local rank where
    CUDA is available, else gloo); :data:`SINGLE` outside torchrun or for a group of one."""
    if not under_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return SINGLE
    import torch.distributed as dist

    local_rank = int(os.environ["LOCAL_RANK"])
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return ProcessGroup(dist.get_rank(), dist.get_world_size(), local_rank, backend)


def leave(group: ProcessGroup) -> None:
    """Tear the process group down (a no-op for a single process)."""
    if group.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s random streams: ``seed`` itself for rank 0 (a group of one is
    the single-process run), an independent 31-bit seed from ``(seed, rank)`` for the others."""
    if rank == 0:
        return seed
    return int(np.random.SeedSequence([seed, rank]).generate_state(1)[0] & 0x7FFFFFFF)


def torchrun_command(processes: int, script: str, arguments: list[str]) -> list[str]:
    """The command that runs ``script`` with ``arguments`` as a group of ``processes`` on this
    machine (torchrun's standalone rendezvous), with this interpreter."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={processes}",
        script,
        *arguments,
    ]


class ShardedBatches:
    """Rank ``group.rank``'s rows of each global batch of ``source`` (which yields batches of
    ``group.world_size × per_process`` rows): consecutive, disjoint slices, one per rank."""

    def __init__(self, source: Any, group: ProcessGroup, per_process: int) -> None:
        self.source = source
        self.group = group
        self.per_process = per_process

    def batch(self, step: int) -> Mapping[str, torch.Tensor]:
        full = self.source.batch(step)
        start = self.group.rank * self.per_process
        rows = {key: value[start : start + self.per_process] for key, value in full.items()}
        for key, value in rows.items():
            if len(value) != self.per_process:
                raise ValueError(
                    f"the global batch has {len(full[key])} rows, fewer than {self.group.world_size} processes × "
                    f"{self.per_process}"
                )
        return rows


def gather_objects(group: ProcessGroup, value: Any) -> list[Any]:
    """``value`` of every rank, in rank order (``[value]`` for a single process)."""
    if not group.distributed:
        return [value]
    import torch.distributed as dist

    gathered: list[Any] = [None] * group.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def average_metrics(group: ProcessGroup, metrics: dict[str, float]) -> dict[str, float]:
    """Each logged term averaged over the group (every rank holds the same keys)."""
    if not group.distributed or not metrics:
        return metrics
    import torch.distributed as dist

    names = sorted(metrics)
    values = torch.tensor([metrics[name] for name in names], dtype=torch.float64)
    if group.backend == "nccl":
        values = values.cuda()
    dist.all_reduce(values)
    return {name: float(value) / group.world_size for name, value in zip(names, values.cpu().tolist(), strict=True)}


def any_rank(group: ProcessGroup, flag: bool) -> bool:
    """True when ``flag`` is true on any rank (so every rank takes the same branch)."""
    if not group.distributed:
        return flag
    import torch.distributed as dist

    value = torch.tensor([1.0 if flag else 0.0])
    if group.backend == "nccl":
        value = value.cuda()
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(group: ProcessGroup) -> None:
    if group.distributed:
        import torch.distributed as dist

        dist.barrier()
