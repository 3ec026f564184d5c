"""Deterministic, seeded degradations that make restoration test and training pairs.

Every function takes clean images as uint8 (N, H, W, C) arrays, a seed, and its physical
parameters, and returns degraded images of the same shape; the same seed gives the same
output bit for bit. Noise functions return float32 on the 0–255 scale (unclipped, as the
denoising literature evaluates) unless ``quantize=True`` asks for clipped, rounded uint8.
"""

from vaerepro.data.degradations.jpeg import jpeg_compress
from vaerepro.data.degradations.lowlight import darken
from vaerepro.data.degradations.noise import add_gaussian_noise, add_poisson_gaussian_noise
from vaerepro.data.degradations.underwater import UnderwaterRanges, underwater

__all__ = [
    "UnderwaterRanges",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "darken",
    "jpeg_compress",
    "underwater",
]
