"""Evaluation settings: the ``experiments.<name>.evaluate.<profile>`` section of params.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaerepro.structured import check_ranges, from_mapping, ranged


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
            checked against its ``options_class`` at the start of ``evaluate@``.
        averaged_weights: score the moving average of the weights where the run kept one
            (``TrainSettings.weight_ema``; VDVAE evaluates its EMA, Child 2021 Sec. 4); False
            scores the weights of the last step. At a reduced budget the average still carries
            weights from early training (decay 0.999 after 3,000 steps: 5 % the initial ones).
    """

    test_count: int | None = ranged(None, minimum=2)
    importance_samples: int = ranged(5000, minimum=1)
    batch_size: int = ranged(100, minimum=1)
    sample_count: int = ranged(10000, minimum=1)
    binarize_seed: int = 0
    extras: dict[str, Any] = field(default_factory=dict)
    averaged_weights: bool = True

    def __post_init__(self) -> None:
        check_ranges(self)  # settings built directly; parsed ones were checked with their key path


def parse_evaluate_settings(mapping: Mapping[str, Any], *, source: str | None, path: str) -> EvaluateSettings:
    """Strictly parse an ``evaluate`` section; a range error names the key path and the file."""
    return from_mapping(EvaluateSettings, mapping, path=path, source=source)
