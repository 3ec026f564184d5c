"""The "GT-mean" protocol of low-light enhancement evaluation.

Low-light papers disagree on whether PSNR/SSIM are computed on the raw output or after
rescaling the output's brightness to the reference's (popularised by the KinD/LLFlow line of
evaluation scripts, and reported as "GT-mean" by e.g. Retinexformer, Cai et al. ICCV 2023).
The latter removes the global-exposure ambiguity (how bright should "normal light" be?) and
scores structure and colour only. We report both, each named.

Convention: the output (uint8) is multiplied by ``mean(gray(reference)) / mean(gray(output))``
where gray is the BT.601 luma ``0.299R + 0.587G + 0.114B`` on [0, 1], clipped to [0, 1] and
re-quantised to 8 bits before the metric is computed.
"""

from __future__ import annotations

import numpy as np

from vaerepro.pixels import to_uint8

GT_MEAN_CONVENTION = (
    "gt-mean: output scaled by mean BT.601 luma (0.299R+0.587G+0.114B) of reference / of output, "
    "clipped to [0,1], re-quantised to 8 bits, then the metric"
)
_LUMA = np.array([0.299, 0.587, 0.114])


def _mean_gray(image: np.ndarray) -> float:
    array = np.asarray(image, dtype=np.float64) / 255.0
    return float((array @ _LUMA).mean()) if array.shape[-1] == 3 else float(array.mean())


def match_reference_mean(output: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """uint8 H×W×C output rescaled so its mean gray level matches the reference's (uint8)."""
    output = np.asarray(output)
    if output.dtype != np.uint8 or np.asarray(reference).dtype != np.uint8:
        raise ValueError("GT-mean rescaling expects uint8 images")
    output_mean = _mean_gray(output)
    if output_mean <= 0:
        return output.copy()  # an all-black output has no brightness to rescale
    scale = _mean_gray(reference) / output_mean
    return to_uint8(output.astype(np.float64) / 255.0 * scale)  # clipped to [0, 1], re-quantised
