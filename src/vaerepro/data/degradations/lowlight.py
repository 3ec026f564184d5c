"""Synthetic low light: exposure scaling and gamma, then optional sensor noise.

A common synthesis for low-light training pairs (e.g. Lore, Akintayo & Sarkar, "LLNet",
Pattern Recognition 2017, darken with a random gamma; Lv et al. MBLLEN, 2018): with x in
[0, 1], y = exposure · x^gamma (gamma > 1 darkens mid-tones more than highlights), followed
by Poisson–Gaussian noise when ``photon_gain`` is given, since a dark exposure is noisy.
"""

from __future__ import annotations

import numpy as np

from vaerepro.data.degradations.checks import check_images, finish


def darken(
    images: np.ndarray,
    exposure: float,
    gamma: float,
    seed: int,
    *,
    photon_gain: float | None = None,
    read_noise_sigma: float = 0.0,
    quantize: bool = True,
) -> np.ndarray:
    """y = exposure · x^gamma (+ Poisson–Gaussian noise), x in [0, 1]; returned on 0–255."""
    check_images(images)
    if not 0 < exposure <= 1:
        raise ValueError(f"exposure must be in (0, 1], got {exposure}")
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    dark = exposure * (images.astype(np.float64) / 255.0) ** gamma
    if photon_gain is not None:
        rng = np.random.default_rng(seed)
        dark = photon_gain * rng.poisson(dark / photon_gain) + rng.standard_normal(images.shape) * read_noise_sigma
    return finish(dark * 255.0, quantize)
