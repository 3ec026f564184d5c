"""Physically based underwater image formation, to make training pairs from clean images.

Model (Akkaynak & Treibitz, "A revised underwater image formation model", CVPR 2018, eq. 3,
with the range-dependent attenuation folded into per-channel constants):

    I_c = J_c · exp(−β^D_c · d) + B^∞_c · (1 − exp(−β^B_c · d)),   c ∈ {R, G, B}

J is the clean image in [0, 1], d the distance to the scene in metres, β^D the direct-signal
attenuation, β^B the backscatter coefficient and B^∞ the veiling light. Red light is
attenuated much faster than green and blue in ocean water (Jerlov water types; see the
coefficient tables used by UWCNN, Li, Anwar & Porikli, Pattern Recognition 2020), which makes
the familiar blue-green cast. Per image, the parameters are drawn uniformly from the
``UnderwaterRanges`` below (seeded); the distance map is a vertical ramp from ``near`` at the
bottom row to ``far`` at the top row, a crude but common stand-in for scene depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vaerepro.data.degradations.checks import check_images, finish


@dataclass(frozen=True)
class UnderwaterRanges:
    """Uniform sampling ranges (low, high) per channel R, G, B; coefficients in 1/m."""

    direct_attenuation: tuple[tuple[float, float], ...] = ((0.30, 0.60), (0.05, 0.15), (0.04, 0.12))
    backscatter: tuple[tuple[float, float], ...] = ((0.30, 0.60), (0.05, 0.15), (0.04, 0.12))
    veiling_light: tuple[tuple[float, float], ...] = ((0.00, 0.15), (0.35, 0.65), (0.45, 0.80))
    near_metres: tuple[float, float] = (1.0, 3.0)
    far_metres: tuple[float, float] = (4.0, 10.0)


def underwater(
    images: np.ndarray, seed: int, ranges: UnderwaterRanges | None = None, *, quantize: bool = True
) -> tuple[np.ndarray, list[dict[str, list[float] | float]]]:
    """Degrade RGB uint8 (N, H, W, 3) images; return them and the parameters drawn per image."""
    check_images(images, rgb=True)
    ranges = ranges or UnderwaterRanges()
    rng = np.random.default_rng(seed)
    count, height = images.shape[0], images.shape[1]
    outputs = np.empty(images.shape, dtype=np.float32)
    drawn = []

    def uniform(pairs: tuple[tuple[float, float], ...]) -> np.ndarray:
        return np.array([rng.uniform(low, high) for low, high in pairs])

    for index in range(count):
        direct, back, veil = (
            uniform(ranges.direct_attenuation),
            uniform(ranges.backscatter),
            uniform(ranges.veiling_light),
        )
        near, far = rng.uniform(*ranges.near_metres), rng.uniform(*ranges.far_metres)
        distance = np.linspace(far, near, height)[:, None, None]  # top row far, bottom row near
        clean = images[index].astype(np.float64) / 255.0
        formed = clean * np.exp(-direct * distance) + veil * (1.0 - np.exp(-back * distance))
        outputs[index] = formed * 255.0
        drawn.append(
            {
                "direct_attenuation": direct.tolist(),
                "backscatter": back.tolist(),
                "veiling_light": veil.tolist(),
                "near_metres": float(near),
                "far_metres": float(far),
            }
        )
    return finish(outputs, quantize), drawn
