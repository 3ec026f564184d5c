"""The one float → 8-bit conversion: every image saved, scored or degraded to uint8 goes through it.

Convention: clip to ``[0, peak]``, scale to 0–255, **round half to even**, cast to uint8
(``x → round_half_even(255 · clip(x, 0, peak) / peak)``; 0.5/255 → 0, 1.5/255 → 2). Not
``floor(255·x + 0.5)`` (half up) and not truncation.

Precision: a NumPy array is converted in float64 (exact for float32 input); a torch tensor in its
own dtype and on its own device (a float32 model output is scaled and rounded in float32, as the
GPU computes it). Both are the computations the call sites made before this module existed, so no
saved image or recorded metric changed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch


def to_uint8(values: np.ndarray | torch.Tensor | Any, *, peak: float = 1.0) -> np.ndarray | torch.Tensor:
    """Float values on ``[0, peak]`` (1.0 for [0, 1] images, 255.0 for the 0–255 scale) → uint8.

    Out-of-range values are clipped, the rest rounded half to even (see the module docstring).
    Shape and layout are kept; a tensor stays a tensor (uint8, same device), anything else
    becomes a NumPy uint8 array.
    """
    torch_module = sys.modules.get("torch")  # no tensor exists unless torch was imported: data/ stays torch-free
    if torch_module is not None and isinstance(values, torch_module.Tensor):
        return values.detach().clamp(0, peak).mul(255.0 / peak).round().to(torch_module.uint8)
    scaled = np.asarray(values, dtype=np.float64)
    if peak != 255.0:
        scaled = scaled * (255.0 / peak)
    # rint before clip is the same as clip before scaling: rint is monotonic and 0, 255 are integers.
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
