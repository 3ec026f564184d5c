"""How much of a difference is noise: the rule behind "tie" in the scorecard and in the tables.

A difference between two numbers is only a result when it is larger than the measurement's
own noise. The noise is estimated from the per-image values a record keeps
(``per_image``: image name → value), else from the entry's ``std`` and image count:

* two of our entries scored on the same images (paired): the standard error of the per-image
  differences, ``sd(a_i − b_i) / √n``;
* otherwise each side's standard error of its mean, ``sd / √n`` (a published constant has
  none), combined as ``√(se_a² + se_b²)``.

The rule (:func:`separated`): a difference counts only when it exceeds
``TIE_STANDARD_ERRORS`` (2) standard errors, about a 95 % interval, and only when at least
``MIN_IMAGES`` (3) images were scored: with one or two images neither the spread nor a winner
can be told. A difference that fails this is a *tie*. Where no spread is recorded at all (an
FID over a set of samples, a parameter count), the noise is unknown and the numbers decide as
they stand; the report says so in its legend.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TIE_STANDARD_ERRORS = 2.0
MIN_IMAGES = 3


@dataclass(frozen=True)
class Noise:
    """The standard error of a number (or of a difference) and the images it rests on."""

    standard_error: float
    images: int
    paired: bool = False

    def describe(self) -> str:
        kind = "paired per-image differences" if self.paired else "per-image spread"
        return f"standard error {self.standard_error:.3g} from {kind} over {self.images} images"


def _finite_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def per_image_values(entry: Mapping[str, Any] | None) -> dict[str, float]:
    """The finite per-image values of a metric entry, by image name (a list is named by position)."""
    raw = (entry or {}).get("per_image")
    if isinstance(raw, Mapping):
        items = raw.items()
    elif isinstance(raw, list):
        items = ((str(index), value) for index, value in enumerate(raw))
    else:
        return {}
    return {str(name): float(value) for name, value in items if _finite_number(value)}


def image_count(entry: Mapping[str, Any] | None) -> int | None:
    """How many images an entry's mean rests on: its per-image values, else its ``images`` field."""
    values = per_image_values(entry)
    if values:
        return len(values)
    count = (entry or {}).get("images")
    return int(count) if _finite_number(count) else None


def _standard_error(values: list[float]) -> float:
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) >= 2 else math.inf


def entry_noise(entry: Mapping[str, Any] | None) -> Noise | None:
    """The standard error of an entry's mean, or None when the entry records no spread."""
    values = per_image_values(entry)
    if values:
        return Noise(_standard_error(list(values.values())), len(values))
    count, spread = image_count(entry), (entry or {}).get("std")
    if count is not None and _finite_number(spread):
        # ``std`` is the population deviation over the images (numpy's default); ddof 1 instead.
        corrected = float(spread) * math.sqrt(count / (count - 1)) if count >= 2 else math.inf
        return Noise(corrected / math.sqrt(count) if count >= 1 else math.inf, count)
    return None


def difference_noise(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None) -> Noise | None:
    """The noise of ``left − right``; ``right`` None stands for a published constant (no noise)."""
    left_values, right_values = per_image_values(left), per_image_values(right)
    shared = sorted(set(left_values) & set(right_values))
    if shared and len(shared) == len(left_values) == len(right_values):
        differences = [left_values[name] - right_values[name] for name in shared]
        return Noise(_standard_error(differences), len(shared), paired=True)
    sides = [noise for noise in (entry_noise(left), entry_noise(right)) if noise is not None]
    if not sides:
        return None
    combined = math.sqrt(sum(noise.standard_error**2 for noise in sides))
    return Noise(combined, min(noise.images for noise in sides))


def separated(difference: float, noise: Noise | None) -> bool:
    """Whether ``difference`` is a result rather than noise (module docstring: the rule)."""
    if noise is None:
        return difference != 0
    if noise.images < MIN_IMAGES:
        return False
    return abs(difference) > TIE_STANDARD_ERRORS * noise.standard_error


def rule_in_words() -> str:
    """The rule as the report's legend prints it."""
    return (
        f"A difference within {TIE_STANDARD_ERRORS:g} standard errors is a tie, and so is any "
        f"difference over fewer than {MIN_IMAGES} images: neither is a win. The standard error "
        "comes from the per-image values: of the per-image differences when both numbers scored "
        "the same images, else of each mean (sd/√n), combined. Numbers recorded without a spread "
        "(FID over a sample set, parameter counts) decide as they stand."
    )
