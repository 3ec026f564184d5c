"""Seeding and capturing/restoring every RNG the training loop depends on.

States are kept as plain data and tensors so checkpoints load with ``weights_only=True``.
"""

from __future__ import annotations

import os
import random
import sys
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) and ask torch for deterministic kernels.

    ``warn_only=True``: an op without a deterministic implementation warns instead of
    failing, so a GPU run never dies for reproducibility's sake.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    use_deterministic_algorithms()
    torch.backends.cudnn.benchmark = False


def use_deterministic_algorithms() -> None:
    """What ``torch.use_deterministic_algorithms(True, warn_only=True)`` does, without its import cost.

    The public function imports ``torch._inductor.config`` (which pulls in dynamo, sympy,
    triton and FSDP: about a second of every stage's start-up) only to set the inductor's
    ``deterministic`` flag. That flag matters only if something is compiled with
    ``torch.compile`` later, so instead: the eager-kernel switch is set directly, the
    environment variable the inductor config reads when it is first imported is set (unless
    the user chose a value), and a config module that is already imported gets the flag as
    the public function would set it.
    """
    torch._C._set_deterministic_algorithms(True, warn_only=True)
    os.environ.setdefault("TORCHINDUCTOR_DETERMINISTIC", "1")
    inductor_config = sys.modules.get("torch._inductor.config")
    if inductor_config is not None:
        inductor_config.deterministic = True


RngSnapshot = tuple[Any, dict[str, Any], torch.Tensor, list[torch.Tensor]]


def snapshot_rng_state() -> RngSnapshot:
    """Every generator's state as the libraries return it: cheap enough for every training step.

    The training loop takes one at each step boundary (a few microseconds: copies, no
    conversion) and turns only the one it saves into the checkpoint's plain form with
    :func:`plain_rng_state`; converting at every step cost ~2 % of a small model's step time.
    """
    return (
        random.getstate(),
        np.random.get_state(legacy=False),
        torch.get_rng_state(),
        torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    )


def plain_rng_state(snapshot: RngSnapshot) -> dict[str, Any]:
    """A snapshot as plain data and tensors, which checkpoints load with ``weights_only=True``."""
    (version, internal, gauss_next), numpy_state, torch_state, cuda_states = snapshot
    return {
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
        "numpy": {
            "bit_generator": numpy_state["bit_generator"],
            "key": numpy_state["state"]["key"].tolist(),
            "pos": int(numpy_state["state"]["pos"]),
            "has_gauss": int(numpy_state["has_gauss"]),
            "gauss": float(numpy_state["gauss"]),
        },
        "torch": torch_state,
        "cuda": cuda_states,
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    python = state["python"]
    random.setstate((python["version"], tuple(python["internal"]), python["gauss_next"]))
    numpy = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": numpy["bit_generator"],
            "state": {"key": np.asarray(numpy["key"], dtype=np.uint32), "pos": numpy["pos"]},
            "has_gauss": numpy["has_gauss"],
            "gauss": numpy["gauss"],
        }
    )
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([tensor.cpu() for tensor in state["cuda"]])
