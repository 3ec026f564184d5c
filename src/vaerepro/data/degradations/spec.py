"""A degradation named in ``params.yaml``, applied to prepared images to make restoration pairs.

``experiments.<name>.restoration.{train,test}.degradation`` and ``...restoration.stress.<tag>``
are mappings such as ``{kind: awgn, sigma: 25}``. This module validates them (unknown kind or
key → :class:`~vaerepro.structured.ConfigError` naming the key path) and applies them to uint8
(N, H, W, C) arrays, deterministically: the seed is derived from the global seed and the
role (``train``, ``test``, ``stress:<tag>``) so train and test noise never coincide.

Kinds (all outputs uint8, clipped and rounded, as a saved image would be):

* ``awgn``: additive white Gaussian noise, ``sigma`` on the 0–255 scale.
* ``poisson_gaussian``: ``photon_gain`` and ``read_noise_sigma`` on the [0, 1] scale.
* ``jpeg``: Pillow JPEG round trip at ``quality`` (settings in :mod:`.jpeg`).
* ``underwater``: the image-formation model of :mod:`.underwater` with its default ranges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from vaerepro.data.degradations.jpeg import JPEG_SETTINGS, jpeg_compress
from vaerepro.data.degradations.noise import add_gaussian_noise, add_poisson_gaussian_noise
from vaerepro.data.degradations.underwater import underwater
from vaerepro.structured import ConfigError, from_mapping


@dataclass(frozen=True)
class AWGN:
    kind: Literal["awgn"]
    sigma: float

    def describe(self) -> str:
        return f"additive white Gaussian noise, sigma {self.sigma:g} on 0-255, clipped and rounded to 8 bits"

    def apply(self, images: np.ndarray, seed: int) -> np.ndarray:
        return add_gaussian_noise(images, self.sigma, seed, quantize=True)


@dataclass(frozen=True)
class PoissonGaussian:
    kind: Literal["poisson_gaussian"]
    photon_gain: float
    read_noise_sigma: float

    def describe(self) -> str:
        return (
            f"Poisson-Gaussian noise, gain {self.photon_gain:g}, read-noise sigma {self.read_noise_sigma:g} "
            f"on [0, 1], clipped and rounded to 8 bits"
        )

    def apply(self, images: np.ndarray, seed: int) -> np.ndarray:
        return add_poisson_gaussian_noise(images, self.photon_gain, self.read_noise_sigma, seed, quantize=True)


@dataclass(frozen=True)
class JPEG:
    kind: Literal["jpeg"]
    quality: int

    def describe(self) -> str:
        return f"JPEG quality {self.quality} ({JPEG_SETTINGS})"

    def apply(self, images: np.ndarray, seed: int) -> np.ndarray:
        return jpeg_compress(images, self.quality)


@dataclass(frozen=True)
class Underwater:
    kind: Literal["underwater"]

    def describe(self) -> str:
        return "synthetic underwater image formation (Akkaynak & Treibitz 2018), default parameter ranges"

    def apply(self, images: np.ndarray, seed: int) -> np.ndarray:
        return underwater(images, seed, quantize=True)[0]


Degradation = AWGN | PoissonGaussian | JPEG | Underwater
_KINDS: dict[str, type] = {"awgn": AWGN, "poisson_gaussian": PoissonGaussian, "jpeg": JPEG, "underwater": Underwater}
_ROLES = {"train": 1, "test": 2}


def parse_degradation(mapping: Mapping[str, Any], *, source: str | None, path: str) -> Degradation:
    """Validate a ``{kind: ..., ...}`` mapping.

    Raises:
        ConfigError: not a mapping, unknown ``kind``, or a missing/unknown/mistyped key.
    """
    if not isinstance(mapping, Mapping) or "kind" not in mapping:
        raise ConfigError(f"'{path}' in {source} must be a mapping with a 'kind' ({', '.join(_KINDS)})")
    kind = mapping["kind"]
    if kind not in _KINDS:
        raise ConfigError(f"unknown degradation kind '{kind}' at '{path}.kind' in {source}; known: {', '.join(_KINDS)}")
    return from_mapping(_KINDS[kind], mapping, path=path, source=source)


def degradation_seed(seed: int, role: str) -> int:
    """A seed for one role (``train``, ``test``, ``stress:<tag>``), independent of the others."""
    key = [seed, _ROLES[role]] if role in _ROLES else [seed, 3, *role.encode()]
    return int(np.random.SeedSequence(key).generate_state(1)[0])


def degrade(images: np.ndarray, degradation: Degradation | None, seed: int, role: str) -> np.ndarray:
    """Apply ``degradation`` (None: the images as they are) with the role's derived seed."""
    if degradation is None:
        return np.asarray(images)
    return degradation.apply(np.ascontiguousarray(images), degradation_seed(seed, role))
