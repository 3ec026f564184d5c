"""PSNR-B: PSNR including a blocking-effect factor (Yim & Bovik 2011, IEEE TIP 20(1), Eqs. 1-8).

For the distorted image ``y`` of ``N_H`` columns and ``N_V`` rows, block size ``B = 8``:

* ``H_B``: horizontally adjacent pixel pairs that straddle a vertical block boundary
  (columns ``kB - 1 | kB``); ``H_B^c`` the other horizontal pairs; ``V_B``, ``V_B^c`` likewise
  for vertically adjacent pairs across / not across a horizontal block boundary.
* ``D_B = (sum_{H_B} (y_i - y_j)^2 + sum_{V_B} (y_i - y_j)^2) / (N_HB + N_VB)`` and
  ``D_B^c`` the same over the complements (Eqs. 2-3).
* Pair counts (Eqs. 4-7): ``N_HB = N_V (N_H / B - 1)``, ``N_HB^c = N_V (N_H - 1) - N_HB``,
  ``N_VB = N_H (N_V / B - 1)``, ``N_VB^c = N_H (N_V - 1) - N_VB``. Note the bracket: it is
  ``N_V * (N_H/B - 1)``; some public implementations (e.g. ``sewar``) write
  ``N_V * (N_H/B) - 1``, which over-counts the boundary pairs. Here the counts are the
  number of pairs actually summed, which equals the paper's formula when the size is a
  multiple of ``B`` and stays exact when it is not (then the last partial block has no
  boundary at the image edge).
* ``BEF = eta (D_B - D_B^c)`` with ``eta = log2(B) / log2(min(N_H, N_V))`` when
  ``D_B > D_B^c``, else 0 (Eq. 8).
* ``MSE-B(x, y) = MSE(x, y) + BEF(y)`` and ``PSNR-B = 10 log10(MAX^2 / MSE-B)``.

Computed on the luminance: RGB input is converted to BT.601 Y (studio swing, see
:mod:`vaerepro.metrics.images`); (H, W) input is taken as luminance already. Images must be
larger than one block in both directions, so there is a block boundary to measure.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaerepro.metrics.images import as_image_pair, luminance_y
from vaerepro.metrics.psnr import psnr_from_mse

BLOCK_SIZE = 8
PSNR_B_CONVENTION = (
    "psnr-b-yim-bovik-2011: block 8, on bt601-studio-swing-y (grayscale taken as-is), BEF of the output only, "
    "pair counts N_HB = N_V*(N_H/B - 1) (paper's bracket; exact pair counts for non-multiples of B), "
    "eta = log2(B)/log2(min(H,W)), MAX=data_range"
)


def _pair_squared_differences(plane: np.ndarray, axis: int, block_size: int) -> tuple[float, int, float, int]:
    """Sum and count of squared differences of neighbours along ``axis``, split by boundary.

    Returns (boundary_sum, boundary_count, inner_sum, inner_count).
    """
    differences = np.diff(plane, axis=axis) ** 2  # pair (i, i+1) along axis sits at index i
    length = plane.shape[axis]
    boundary_positions = np.arange(block_size - 1, length - 1, block_size)
    is_boundary = np.zeros(length - 1, dtype=bool)
    is_boundary[boundary_positions] = True
    per_position = differences.sum(axis=1 - axis)  # one total per pair position along axis
    other_length = plane.shape[1 - axis]
    boundary_count = int(is_boundary.sum()) * other_length
    inner_count = int((~is_boundary).sum()) * other_length
    return float(per_position[is_boundary].sum()), boundary_count, float(per_position[~is_boundary].sum()), inner_count


def blocking_effect_factor(plane: np.ndarray, block_size: int = BLOCK_SIZE) -> float:
    """BEF (Eq. 8) of one float64 (H, W) luminance plane."""
    height, width = plane.shape
    if height <= block_size or width <= block_size:
        raise ValueError(f"PSNR-B needs images larger than one {block_size}x{block_size} block, got {height}x{width}")
    # Horizontal neighbours differ along axis 1 (columns); vertical ones along axis 0 (rows).
    h_boundary, n_hb, h_inner, n_hbc = _pair_squared_differences(plane, axis=1, block_size=block_size)
    v_boundary, n_vb, v_inner, n_vbc = _pair_squared_differences(plane, axis=0, block_size=block_size)
    boundary_mean = (h_boundary + v_boundary) / (n_hb + n_vb)
    inner_mean = (h_inner + v_inner) / (n_hbc + n_vbc)
    if boundary_mean <= inner_mean:
        return 0.0
    eta = math.log2(block_size) / math.log2(min(height, width))
    return eta * (boundary_mean - inner_mean)


def psnr_b(output: Any, reference: Any, *, data_range: float | None = None) -> float:
    """PSNR-B in dB of ``output`` (the decoded/restored image) against ``reference``.

    Both (H, W) luminance or (H, W, 3) RGB (then compared on BT.601 Y). ``inf`` only when
    the images are identical and the output has no blocking effect.
    """
    output_values, reference_values, peak = as_image_pair(output, reference, data_range)
    if output_values.ndim == 3:
        output_values = luminance_y(output_values, peak)
        reference_values = luminance_y(reference_values, peak)
    bef = blocking_effect_factor(output_values)
    mse = float(np.mean((output_values - reference_values) ** 2))
    return psnr_from_mse(mse + bef, peak)
