"""Device and numeric-precision choice: CUDA when available; autocast only on CUDA."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


def choose_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Precision:
    """``dtype`` None means plain float32; ``scaler`` is set for float16 only."""

    name: str
    dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)


def choose_precision(device: torch.device, mixed_precision: bool) -> Precision:
    """bfloat16 autocast where the GPU supports it (no loss scaling needed), else float16
    with a gradient scaler; float32 on CPU or when ``mixed_precision`` is off."""
    if not mixed_precision or device.type != "cuda":
        return Precision("float32")
    if torch.cuda.is_bf16_supported():
        return Precision("bfloat16", torch.bfloat16)
    return Precision("float16", torch.float16, torch.amp.GradScaler("cuda"))
