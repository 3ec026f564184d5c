"""The common shape of restoration models (denoising, enhancement) and their evaluation hooks.

Contract (DESIGN.md, "Models and their common shape"):

* ``forward(degraded, clean=None) -> dict[str, Tensor]`` with a scalar ``"loss"`` plus named
  scalar terms. ``degraded`` and ``clean`` are float (B, C, H, W) in [0, 1] (training crops).
  Unsupervised models (``supervised = False``: Zheng et al., DivNoising) never receive
  ``clean``: the training loop passes ``None``, so they cannot peek at the reference.
* ``enhance(degraded) -> Tensor``: the restored image, same shape, values in [0, 1]. The
  evaluation calls it one image at a time (B = 1) under ``torch.no_grad()``, after
  :func:`pad_to_multiple` (reflection padding to ``size_multiple``; the output is cropped
  back). Inputs smaller than ``minimum_size`` or with the wrong channel count are rejected by
  :meth:`RestorationModel.check_input` with a message naming the sizes.
* ``trainable = False`` marks a classical method (BM3D, CLAHE, ...): ``train@`` records its
  options in a checkpoint without optimisation, and the same ``evaluate@`` path scores it.
* ``task``: ``denoising`` or ``enhancement`` (each subclass says which).

Model-specific measurements and figures (Zheng et al.'s latent-vs-image noise KL, DivNoising's
posterior samples, ...) live in :mod:`vaerepro.evaluation.extras`, keyed by model name: a
model knows nothing of how it is evaluated.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as functional

from vaerepro.models.base import RegisteredModel


class RestorationModel(RegisteredModel):
    """Base of every restoration model; subclasses set the class flags and implement the hooks."""

    supervised: ClassVar[bool] = True

    @property
    def uses_targets(self) -> bool:
        """True when the training loop must pass the clean crop as ``forward``'s second argument."""
        return self.supervised

    @property
    def channels(self) -> int:
        """Image channels the model takes (from ``options.image_shape``)."""
        return int(self.options.image_shape[0])

    @property
    def size_multiple(self) -> int:
        """Height and width the network needs to divide (2 ** downsamplings); 1 = any size."""
        return 1

    @property
    def minimum_size(self) -> int:
        """Smallest height/width the model accepts (before padding)."""
        return self.size_multiple

    def check_input(self, degraded: torch.Tensor) -> None:
        """Reject what the model cannot take, with a message that says why.

        Raises:
            ValueError: not (B, C, H, W), wrong channel count (e.g. a grayscale image given
                to an RGB model), or height/width below ``minimum_size``.
        """
        if degraded.ndim != 4:
            raise ValueError(
                f"{self.registered_name}: expected a (B, C, H, W) batch, got shape {tuple(degraded.shape)}"
            )
        channels, height, width = degraded.shape[1:]
        if channels != self.channels:
            kind = {1: "grayscale", 3: "RGB"}
            raise ValueError(
                f"{self.registered_name}: the model takes {kind.get(self.channels, self.channels)} images "
                f"({self.channels} channels) but got {kind.get(channels, channels)} ({channels} channels)"
            )
        if min(height, width) < self.minimum_size:
            raise ValueError(
                f"{self.registered_name}: image {height}x{width} is smaller than the {self.minimum_size}x"
                f"{self.minimum_size} minimum the network can take"
            )

    def enhance(self, degraded: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [0, 1] → restored (B, C, H, W) in [0, 1]."""
        raise NotImplementedError


def pad_to_multiple(image: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (B, C, H, W) on the bottom/right to multiples of ``multiple``.

    Returns the padded tensor and the original (H, W) to crop the output back to. Reflection
    needs the pad to be smaller than the side; larger pads fall back to replication.
    """
    height, width = image.shape[-2:]
    pad_height, pad_width = (-height) % multiple, (-width) % multiple
    if pad_height == 0 and pad_width == 0:
        return image, (height, width)
    mode = "reflect" if pad_height < height and pad_width < width else "replicate"
    return functional.pad(image, (0, pad_width, 0, pad_height), mode=mode), (height, width)


@torch.no_grad()
def restore_image(model: RestorationModel, image: np.ndarray) -> np.ndarray:
    """Restore one float H×W×C image in [0, 1] with ``model``; returns float H×W×C in [0, 1].

    Checks the input (channels, minimum size), pads to the network's size multiple, runs
    ``enhance`` on the model's device and crops back to the input size.
    """
    device = next(iter(model.parameters()), torch.empty(0)).device
    tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0).to(device)
    model.check_input(tensor)
    padded, (height, width) = pad_to_multiple(tensor, model.size_multiple)
    restored = model.enhance(padded)[..., :height, :width].clamp(0.0, 1.0)
    return restored[0].permute(1, 2, 0).double().cpu().numpy()
