"""The metrics a restoration experiment can ask for (``restoration.metrics`` in params.yaml).

Each entry: key → (function of uint8 (output, reference) → float, unit, convention). The
conventions are the ones pinned in DESIGN.md and named by :mod:`vaerepro.metrics`. No-reference
measures (UCIQE, UIQM) ignore the reference; the evaluation also reports them on the input
and on the reference itself, for context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from vaerepro.metrics.gt_mean import GT_MEAN_CONVENTION, match_reference_mean
from vaerepro.metrics.psnr import PSNR_CONVENTION, PSNR_Y_CONVENTION, psnr, psnr_y
from vaerepro.metrics.psnr_b import PSNR_B_CONVENTION, psnr_b
from vaerepro.metrics.ssim import SSIM_CONVENTION, SSIM_Y_CONVENTION, ssim, ssim_y
from vaerepro.metrics.uciqe import UCIQE_CONVENTION, uciqe
from vaerepro.metrics.uiqm import UIQM_CONVENTION, uiqm


class RestorationMetric(NamedTuple):
    function: Callable[[np.ndarray, np.ndarray], float]
    unit: str
    convention: str
    no_reference: bool = False


def _gt_mean(metric: Callable[..., float]) -> Callable[[np.ndarray, np.ndarray], float]:
    return lambda output, reference: metric(match_reference_mean(output, reference), reference)


RESTORATION_METRICS: dict[str, RestorationMetric] = {
    "psnr": RestorationMetric(psnr, "dB", PSNR_CONVENTION),
    "psnr_y": RestorationMetric(psnr_y, "dB", PSNR_Y_CONVENTION),
    "ssim_rgb": RestorationMetric(ssim, "SSIM", f"{SSIM_CONVENTION}; RGB: mean over channels"),
    "ssim_y": RestorationMetric(ssim_y, "SSIM", SSIM_Y_CONVENTION),
    "psnr_b": RestorationMetric(psnr_b, "dB", PSNR_B_CONVENTION),
    "psnr_gt_mean": RestorationMetric(_gt_mean(psnr), "dB", f"{GT_MEAN_CONVENTION}; {PSNR_CONVENTION}"),
    "ssim_rgb_gt_mean": RestorationMetric(
        _gt_mean(ssim), "SSIM", f"{GT_MEAN_CONVENTION}; {SSIM_CONVENTION}; RGB: mean over channels"
    ),
    "uciqe": RestorationMetric(lambda output, _: float(uciqe(output)["uciqe"]), "UCIQE", UCIQE_CONVENTION, True),
    "uiqm": RestorationMetric(lambda output, _: float(uiqm(output)["uiqm"]), "UIQM", UIQM_CONVENTION, True),
}


# Measures of a whole set of images rather than of one image (computed on all outputs at once).
SET_METRICS = ("inception_score",)


def check_metric_names(names: tuple[str, ...], where: str) -> None:
    """Raise ValueError naming the unknown metric keys and the known ones."""
    known = (*RESTORATION_METRICS, *SET_METRICS)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"{where}: unknown restoration metric(s) {', '.join(unknown)}; known: {', '.join(known)}")
