"""Input checks and conversions shared by the image-quality metrics.

Every image metric in this package takes images **channel-last**, as the prepared data
stores them: ``(H, W)`` grayscale, ``(H, W, 1)`` grayscale or ``(H, W, 3)`` RGB, as a NumPy
array or a torch tensor (moved to the CPU, never to the GPU). A (C, H, W) tensor must be
permuted first; a shape that looks channel-first is rejected with a message saying so.

Data range: ``uint8`` images are on [0, 255] and ``data_range`` may be omitted (or given as
255). Floating-point images must state their ``data_range`` (1.0 for [0, 1], 255.0 for
[0, 255]); values outside ``[0, data_range]``, NaN or Inf raise ``ValueError`` rather than
give a wrong number. Other dtypes (uint16, int64, bool) are refused.

Luminance: :func:`luminance_y` is ITU-R BT.601 Y in studio swing, as MATLAB's ``rgb2ycbcr``
and BasicSR/SwinIR's ``bgr2ycbcr(..., y_only=True)`` compute it for the restoration
literature: ``Y = 16 + (65.481 R + 128.553 G + 24.966 B)`` for R, G, B in [0, 1], i.e. Y in
[16, 235] on the 8-bit scale. It is kept in float64 and **not rounded** (MATLAB rounds when
its input is uint8; the difference is below 0.5 grey levels), and the peak stays
``data_range`` (255 on the 8-bit scale), as in those codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

LUMINANCE_CONVENTION = (
    "bt601-studio-swing-y (matlab rgb2ycbcr: 16 + 65.481R + 128.553G + 24.966B, R,G,B in [0,1]), float64, unrounded"
)

_ALLOWED_FLOAT_DTYPES = (np.float16, np.float32, np.float64)


def to_numpy(image: Any) -> np.ndarray:
    """A NumPy view/copy of ``image`` (NumPy array, torch tensor, or nested sequence)."""
    if hasattr(image, "detach") and hasattr(image, "cpu"):  # torch.Tensor without importing torch
        image = image.detach().cpu()
        if str(image.dtype) == "torch.bfloat16":
            image = image.float()
        image = image.numpy()
    return np.asarray(image)


def resolve_data_range(dtype: np.dtype, data_range: float | None, name: str = "image") -> float:
    """The peak value for ``dtype``: 255 for uint8; float images must give it explicitly."""
    if dtype == np.uint8:
        if data_range is not None and float(data_range) != 255.0:
            raise ValueError(f"{name} is uint8, so its data_range is 255, but data_range={data_range} was given")
        return 255.0
    if dtype.type not in _ALLOWED_FLOAT_DTYPES:
        raise ValueError(f"{name} has unsupported dtype {dtype}; use uint8 on [0, 255] or float on [0, data_range]")
    if data_range is None:
        raise ValueError(
            f"{name} is floating point ({dtype}): pass data_range explicitly (1.0 for [0, 1], 255.0 for [0, 255])"
        )
    data_range = float(data_range)
    if not np.isfinite(data_range) or data_range <= 0:
        raise ValueError(f"data_range must be a positive finite number, got {data_range}")
    return data_range


def as_image(
    image: Any, data_range: float | None, *, name: str = "image", require: str | None = None
) -> tuple[np.ndarray, float]:
    """Check one image and return it as float64 (H, W) or (H, W, 3) plus its data range.

    ``require`` is ``"rgb"``, ``"grayscale"`` or None (either). (H, W, 1) becomes (H, W).
    """
    array = to_numpy(image)
    peak = resolve_data_range(array.dtype, data_range, name)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[-1] != 3:
        if array.shape[0] in (1, 3):
            raise ValueError(f"{name} has shape {array.shape}, which looks channel-first (C, H, W); pass (H, W, C)")
        raise ValueError(f"{name} has shape {array.shape}; expected (H, W) grayscale or (H, W, 3) RGB")
    if array.ndim not in (2, 3):
        raise ValueError(f"{name} has shape {array.shape}; expected one image, (H, W) or (H, W, 3)")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")
    if require == "rgb" and array.ndim != 3:
        raise ValueError(f"{name} is grayscale (shape {array.shape}) but this metric needs an RGB (H, W, 3) image")
    if require == "grayscale" and array.ndim != 2:
        raise ValueError(f"{name} is RGB (shape {array.shape}) but this metric needs a grayscale (H, W) image")
    values = array.astype(np.float64, copy=False)
    if array.dtype != np.uint8:
        if not np.isfinite(values).all():
            raise ValueError(f"{name} contains NaN or Inf values")
        low, high = float(values.min()), float(values.max())
        if low < 0.0 or high > peak:
            raise ValueError(
                f"{name} has values in [{low:g}, {high:g}], outside its data range [0, {peak:g}]; "
                "clip it or pass the right data_range"
            )
    return values, peak


def as_image_pair(
    output: Any, reference: Any, data_range: float | None, *, require: str | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Check an (output, reference) pair: same shape, same data range. Returns float64 arrays."""
    output_values, output_peak = as_image(output, data_range, name="output", require=require)
    reference_values, reference_peak = as_image(reference, data_range, name="reference", require=require)
    if output_values.shape != reference_values.shape:
        raise ValueError(f"output shape {output_values.shape} and reference shape {reference_values.shape} differ")
    if output_peak != reference_peak:
        raise ValueError(f"output and reference have different data ranges ({output_peak:g} vs {reference_peak:g})")
    return output_values, reference_values, output_peak


def luminance_y(rgb: np.ndarray, data_range: float) -> np.ndarray:
    """BT.601 studio-swing Y of float64 (H, W, 3) RGB on [0, data_range]; returns (H, W).

    Scale-consistent: the result is on the same scale as the input (Y in [16, 235]·data_range/255).
    """
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise ValueError(f"luminance needs an (H, W, 3) RGB image, got shape {rgb.shape}")
    unit = rgb / data_range
    y_unit = (16.0 + unit @ np.array([65.481, 128.553, 24.966])) / 255.0
    return y_unit * data_range


def check_window_fits(shape: tuple[int, ...], window: int, metric: str) -> None:
    """Refuse images smaller than a metric's window or block in either direction."""
    height, width = shape[0], shape[1]
    if height < window or width < window:
        raise ValueError(f"{metric} needs images at least {window}x{window}, got {height}x{width}")


def as_image_list(images: Any, name: str = "images") -> list[Any]:
    """Split a batch into single images: a (N, H, W[, C]) array/tensor or a sequence of images."""
    if isinstance(images, Sequence) and not isinstance(images, str | bytes):
        items = list(images)
    else:
        array = images if hasattr(images, "shape") else np.asarray(images)
        if len(array.shape) not in (3, 4):
            raise ValueError(f"{name} must be a batch (N, H, W) or (N, H, W, C), got shape {tuple(array.shape)}")
        items = [array[index] for index in range(array.shape[0])]
    if not items:
        raise ValueError(f"{name} is empty: a batched metric needs at least one image")
    return items
