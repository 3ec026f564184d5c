"""Data-parallel training (vaerepro.training.distributed) on the CPU with gloo and 2 processes:
2 processes × batch B end where 1 process × batch 2B ends, a group killed mid-run resumes to
the same weights, and train@ starts itself under torchrun when params ask for 2 processes.

The model is a small VQ-VAE with a learned codebook and no dropout (autoencoder, then a
PixelSNAIL prior on the frozen codes): deterministic, so the only difference between the runs is
the order of floating-point sums (DDP averages the two halves' gradients; one process sums the
whole batch).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as multiprocessing

from tests.test_models_contract import TINY_VQ
from vaerepro.models import build_model
from vaerepro.training import BatchStream, TrainSettings, read_checkpoint, train
from vaerepro.training.distributed import ProcessGroup, ShardedBatches, rank_seed

OPTIONS = {**TINY_VQ, "image_shape": (1, 8, 8), "codebook_update": "loss", "prior_dropout": 0.0}
STEPS = 6  # three autoencoder steps, then three prior steps (prior_fraction 0.5)


def images() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 256, size=(48, 8, 8, 1), dtype=np.uint8)


def settings(batch_size: int, processes: int) -> TrainSettings:
    return TrainSettings(
        steps=STEPS,
        batch_size=batch_size,
        learning_rate=3e-3,
        log_every=1,
        checkpoint_every=2,
        progress_bar=False,
        processes=processes,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class KilledAt:
    """Batches that kill the whole process group, as ``kill -9`` would, when ``step`` is asked for."""

    def __init__(self, batches, step: int) -> None:
        self.batches, self.step = batches, step

    def __getattr__(self, name):
        return getattr(self.batches, name)

    def batch(self, step: int):
        if step == self.step:
            os.killpg(os.getpgrp(), signal.SIGKILL)
        return self.batches.batch(step)


def group_worker(
    rank: int, world_size: int, port: int, output: str, stop_at_step: int | None, kill_at_step: int | None = None
) -> None:
    """One rank: join the gloo group, train on its shard of each global batch."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        group = ProcessGroup(rank, world_size, rank, "gloo")
        per_process = 4
        stream = BatchStream(images(), batch_size=per_process * world_size, seed=11)
        model = build_model("vqvae", OPTIONS, seed=3)
        batches = ShardedBatches(stream, group, per_process)
        train(
            model,
            batches if kill_at_step is None or rank != 1 else KilledAt(batches, kill_at_step),
            settings(per_process, world_size),
            output,
            seed=11,
            log_dir=Path(output) / "dvclive",
            stop_at_step=stop_at_step,
            group=group,
        )
    finally:
        dist.destroy_process_group()


def run_group(output: Path, stop_at_step: int | None = None) -> None:
    multiprocessing.spawn(group_worker, args=(2, free_port(), str(output), stop_at_step), nprocs=2, join=True)


def single_process(output: Path) -> dict[str, torch.Tensor]:
    model = build_model("vqvae", OPTIONS, seed=3)
    train(model, BatchStream(images(), batch_size=8, seed=11), settings(8, 1), output, seed=11)
    return model.state_dict()


# Statistics a model accumulates in forward (the decoder variance's running squared error) are
# rank 0's in a group (its shard only; vaerepro.training.distributed): weights are compared.
PARAMETERS = {name for name, _ in build_model("vqvae", OPTIONS, seed=3).named_parameters()}


def comparable(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """The parameter without the attention keys' bias: adding a constant to every key leaves the
    softmax unchanged, so its gradient is zero up to rounding, and Adam (which divides by the
    gradient's scale) turns that rounding into steps of ±lr whose sign the summation order decides."""
    if name.endswith("qkv.bias"):
        third = len(tensor) // 3
        return torch.cat([tensor[:third], tensor[2 * third :]])
    return tensor


def assert_states_close(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for name in sorted(PARAMETERS):
        torch.testing.assert_close(
            comparable(name, first[name]), comparable(name, second[name]), rtol=1e-4, atol=1e-5, msg=name
        )


def test_two_processes_of_batch_b_train_as_one_process_of_batch_2b(tmp_path):
    expected = single_process(tmp_path / "single")
    run_group(tmp_path / "group")
    checkpoint = read_checkpoint(tmp_path / "group" / "checkpoint.pt")
    assert checkpoint["step"] == STEPS and checkpoint["phase"] == "prior"
    assert_states_close(expected, checkpoint["model_state"])
    assert len(checkpoint["rng_per_rank"]) == 2  # each rank's noise stream, to resume
    # Only rank 0 wrote: one log, one checkpoint, no temporaries.
    assert sorted(path.name for path in (tmp_path / "group").iterdir()) == ["checkpoint.pt", "dvclive"]


def test_a_killed_group_resumes_to_the_same_weights(tmp_path):
    """Every process of the group killed with SIGKILL in step 4 (no handler runs, nothing is
    saved on the way out), then started again: it resumes from the periodic checkpoint of step 2
    and ends where one process of the global batch ends (which the test above shows an
    uninterrupted group does)."""
    launcher = (
        "from tests.test_distributed import free_port, group_worker\n"
        "import torch.multiprocessing as multiprocessing\n"
        f"multiprocessing.spawn(group_worker, args=(2, free_port(), {str(tmp_path / 'killed')!r}, None, 3), nprocs=2)"
    )
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1] / "src"), "."])}
    killed = subprocess.run(
        [sys.executable, "-c", launcher],
        cwd=Path(__file__).parents[1],
        env=environment,
        start_new_session=True,  # its own process group: the kill reaches the launcher and both ranks only
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert read_checkpoint(tmp_path / "killed" / "checkpoint.pt")["step"] == 2
    run_group(tmp_path / "killed")
    assert_states_close(
        single_process(tmp_path / "single"), read_checkpoint(tmp_path / "killed" / "checkpoint.pt")["model_state"]
    )


def test_rank_seeds_keep_rank_zero_and_differ_between_ranks():
    assert rank_seed(20240601, 0) == 20240601
    seeds = {rank_seed(20240601, rank) for rank in range(8)}
    assert len(seeds) == 8 and all(0 <= seed < 2**31 for seed in seeds)


def test_a_process_count_the_group_does_not_have_is_refused(tmp_path):
    model = build_model("vqvae", OPTIONS, seed=3)
    with pytest.raises(ValueError, match="asks for 2 training process"):
        train(model, BatchStream(images(), batch_size=4, seed=1), settings(4, 2), tmp_path, seed=1)


def test_train_stage_starts_itself_under_torchrun_for_two_processes(tmp_path):
    """pipeline/train.py with processes: 2 runs as a torchrun group of 2 (gloo on this CPU) and
    rank 0 alone writes the checkpoint, logs and summary."""
    from tests.conftest import REPOSITORY, repository_params, write_params_files
    from tests.test_experiment_pipeline import TINY_EVALUATE, write_prepared

    write_prepared(tmp_path / "data" / "prepared", train=32)
    raw = repository_params()
    train_settings = {"steps": 4, "batch_size": 4, "log_every": 2, "checkpoint_every": 4, "processes": 2}
    entry = {
        "model": "vqvae",
        "dataset": "mnist",
        "train_dataset": "mnist",
        "options": {**OPTIONS, "image_shape": [1, 8, 8]},
        "train": {"smoke": {**train_settings, "progress_bar": False}},
        "evaluate": {"smoke": TINY_EVALUATE},
    }
    raw.update(profile="smoke", experiments={"vqvae-mnist": entry}, classifiers={}, templates={})
    write_params_files(tmp_path, raw)
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY / "src"), "OMP_NUM_THREADS": "1"}
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "pipeline" / "train.py"), "vqvae-mnist"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "2 processes: " in completed.stdout and "torch.distributed.run" in completed.stdout
    assert completed.stdout.count("train@vqvae-mnist: step 4/4") == 1  # rank 0 reports
    checkpoint = read_checkpoint(tmp_path / "models" / "vqvae-mnist" / "checkpoint.pt")
    assert checkpoint["step"] == 4 and checkpoint["settings"]["processes"] == 2
    assert len(checkpoint["rng_per_rank"]) == 2
