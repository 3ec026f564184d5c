"""Whole-test-set versions of the per-image metrics: per-image values plus their summary.

Convention: a set's score is the **mean of per-image scores** (as restoration papers report
PSNR/SSIM and underwater papers UIQM/UCIQE), with the population standard deviation
(ddof 0, as ``np.std`` in FUnIE-GAN's scripts). PSNR of an identical pair is ``inf``; a set
containing one has mean ``inf`` and says how many (``num_infinite``), plus ``mean_finite``
over the rest, rather than silently dropping or capping it.

Inputs: a batch (N, H, W[, C]) array/tensor or a sequence of single images (sizes may
differ between pairs). Full-reference functions take (outputs, references) in that order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm import tqdm

from vaerepro.metrics.images import as_image_list
from vaerepro.metrics.psnr import PSNR_CONVENTION, PSNR_Y_CONVENTION, psnr, psnr_y
from vaerepro.metrics.psnr_b import PSNR_B_CONVENTION, psnr_b
from vaerepro.metrics.ssim import SSIM_CONVENTION, SSIM_Y_CONVENTION, ssim, ssim_y
from vaerepro.metrics.uciqe import UCIQE_CONVENTION, uciqe
from vaerepro.metrics.uiqm import UIQM_CONVENTION, uiqm

SET_SUMMARY_CONVENTION = "mean of per-image values; std is population (ddof 0)"


def summarize(values: list[float], convention: str) -> dict[str, Any]:
    """``{"mean", "std", "num_images", "num_infinite", "mean_finite", "per_image", "convention"}``."""
    if not values:
        raise ValueError("cannot summarize an empty set of values")
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    infinite = int(array.size - finite.size)
    return {
        "mean": float(array.mean()) if infinite == 0 else math.inf,
        "std": float(array.std()) if infinite == 0 else math.nan,
        "num_images": int(array.size),
        "num_infinite": infinite,
        "mean_finite": float(finite.mean()) if finite.size else math.nan,
        "per_image": [float(value) for value in array],
        "convention": f"{convention}; set: {SET_SUMMARY_CONVENTION}",
    }


def full_reference_batch(
    metric: Callable[..., float],
    convention: str,
    outputs: Any,
    references: Any,
    *,
    data_range: float | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Apply a full-reference ``metric(output, reference, data_range=...)`` to each pair."""
    output_list = as_image_list(outputs, "outputs")
    reference_list = as_image_list(references, "references")
    if len(output_list) != len(reference_list):
        raise ValueError(f"{len(output_list)} outputs but {len(reference_list)} references")
    values = []
    for index, (output, reference) in enumerate(
        tqdm(zip(output_list, reference_list, strict=True), total=len(output_list), disable=not progress)
    ):
        try:
            values.append(metric(output, reference, data_range=data_range))
        except ValueError as error:
            raise ValueError(f"image pair {index}: {error}") from error
    return summarize(values, convention)


def psnr_batch(
    outputs: Any, references: Any, *, data_range: float | None = None, progress: bool = False
) -> dict[str, Any]:
    return full_reference_batch(psnr, PSNR_CONVENTION, outputs, references, data_range=data_range, progress=progress)


def psnr_y_batch(
    outputs: Any, references: Any, *, data_range: float | None = None, progress: bool = False
) -> dict[str, Any]:
    return full_reference_batch(
        psnr_y, PSNR_Y_CONVENTION, outputs, references, data_range=data_range, progress=progress
    )


def ssim_batch(
    outputs: Any, references: Any, *, data_range: float | None = None, progress: bool = False
) -> dict[str, Any]:
    return full_reference_batch(ssim, SSIM_CONVENTION, outputs, references, data_range=data_range, progress=progress)


def ssim_y_batch(
    outputs: Any, references: Any, *, data_range: float | None = None, progress: bool = False
) -> dict[str, Any]:
    return full_reference_batch(
        ssim_y, SSIM_Y_CONVENTION, outputs, references, data_range=data_range, progress=progress
    )


def psnr_b_batch(
    outputs: Any, references: Any, *, data_range: float | None = None, progress: bool = False
) -> dict[str, Any]:
    return full_reference_batch(
        psnr_b, PSNR_B_CONVENTION, outputs, references, data_range=data_range, progress=progress
    )


def _no_reference_batch(
    metric: Callable[..., dict[str, Any]],
    key: str,
    convention: str,
    images: Any,
    data_range: float | None,
    progress: bool,
) -> dict[str, Any]:
    image_list = as_image_list(images)
    results = []
    for index, image in enumerate(tqdm(image_list, disable=not progress)):
        try:
            results.append(metric(image, data_range=data_range))
        except ValueError as error:
            raise ValueError(f"image {index}: {error}") from error
    summary = summarize([result[key] for result in results], convention)
    component_names = [name for name in results[0] if name not in (key, "convention")]
    summary["components"] = {
        name: {"mean": float(np.mean([r[name] for r in results])), "per_image": [float(r[name]) for r in results]}
        for name in component_names
    }
    return summary


def uciqe_batch(images: Any, *, data_range: float | None = None, progress: bool = False) -> dict[str, Any]:
    """UCIQE per image and its mean; ``components`` holds sigma_c, contrast_l, mean_saturation."""
    return _no_reference_batch(uciqe, "uciqe", UCIQE_CONVENTION, images, data_range, progress)


def uiqm_batch(images: Any, *, data_range: float | None = None, progress: bool = False) -> dict[str, Any]:
    """UIQM per image and its mean; ``components`` holds uicm, uism, uiconm."""
    return _no_reference_batch(uiqm, "uiqm", UIQM_CONVENTION, images, data_range, progress)
