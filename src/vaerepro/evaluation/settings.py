"""Evaluation settings: the ``experiments.<name>.evaluate.<profile>`` section of params.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaerepro.structured import ConfigError, from_mapping


@dataclass(frozen=True)
class EvaluateSettings:
    """How an experiment is evaluated.

    Attributes:
        test_count: evaluate on the first this-many test images (None: the whole test split).
        importance_samples: k of the importance-sampled NLL (Burda et al. 2016 use 5,000).
        batch_size: images per forward pass.
        sample_count: generated samples for sample-quality measures (classifier Fréchet
            distance, sharpness, conditional accuracy; FID when its weights exist).
        binarize_seed: seed of the one fixed stochastic binarisation of the test set
            (binarised-MNIST evaluation), so every model sees the same binary test images.
        extras: knobs of the model's own evaluation extras (:mod:`vaerepro.evaluation.extras`),
            checked against its ``options_class`` when the experiment is resolved.
    """

    test_count: int | None = None
    importance_samples: int = 5000
    batch_size: int = 100
    sample_count: int = 10000
    binarize_seed: int = 0
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in ("importance_samples", "batch_size", "sample_count"):
            if getattr(self, key) < 1:
                raise ConfigError(f"evaluate setting '{key}' must be >= 1, got {getattr(self, key)}")
        if self.test_count is not None and self.test_count < 2:
            raise ConfigError(f"evaluate setting 'test_count' must be >= 2 or null, got {self.test_count}")


def parse_evaluate_settings(mapping: Mapping[str, Any], *, source: str | None, path: str) -> EvaluateSettings:
    """Strictly parse an ``evaluate`` section; a range error names the key path and the file."""
    try:
        return from_mapping(EvaluateSettings, mapping, path=path, source=source)
    except ConfigError as error:
        if path and path not in str(error):  # raised by __post_init__, which knows no path
            raise ConfigError(f"'{path}'{f' in {source}' if source else ''}: {error}") from None
        raise
