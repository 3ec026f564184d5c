"""The per-image restoration harness: failures are recorded per image, the rest still finish."""

from __future__ import annotations

import numpy as np
import pytest

from vaerepro.evaluation.restoration import evaluate_pairs, summarize
from vaerepro.pixels import to_uint8


def mean_abs_error(output: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(output.astype(float) - reference).mean())


@pytest.fixture
def pairs():
    targets = np.stack([np.full((4, 4, 3), value, np.uint8) for value in (10, 20, 30)])
    inputs = targets // 2
    return inputs, targets, ["a", "b", "c"]


def test_identity_method_scores_each_image(pairs):
    inputs, targets, names = pairs
    results, kept = evaluate_pairs(lambda image: image, inputs, targets, names, {"mae": mean_abs_error}, keep_outputs=2)
    assert [result.metrics["mae"] for result in results] == [5.0, 10.0, 15.0]
    assert len(kept) == 2 and kept[0].dtype == np.uint8
    summary = summarize(results)
    assert summary["mean"]["mae"] == pytest.approx(10.0) and summary["failed"] == []


def test_one_failing_image_is_recorded_and_the_rest_finish(pairs):
    inputs, targets, names = pairs

    def flaky(image: np.ndarray) -> np.ndarray:
        if image.mean() > 0.045:  # the third image (value 15/255)
            raise RuntimeError("out of memory")
        return image * 2

    results, _ = evaluate_pairs(flaky, inputs, targets, names, {"mae": mean_abs_error})
    assert results[2].error == "RuntimeError: out of memory" and results[2].metrics == {}
    assert results[0].metrics["mae"] == pytest.approx(0.0, abs=0.5)
    summary = summarize(results)
    assert summary["succeeded"] == 2 and summary["failed"][0]["name"] == "c"


@pytest.mark.parametrize(
    ("method", "message"),
    [(lambda image: image[:2], "shape"), (lambda image: image * np.nan, "NaN")],
)
def test_bad_outputs_are_failures_not_numbers(pairs, method, message):
    inputs, targets, names = pairs
    results, _ = evaluate_pairs(method, inputs, targets, names, {"mae": mean_abs_error})
    assert all(message in result.error for result in results)


def test_outputs_are_clipped_and_rounded_to_8_bits():
    assert to_uint8(np.array([-0.1, 0.5, 1.2, 0.999])).tolist() == [0, 128, 255, 255]
