"""Seeded, resumable batches and strict training settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaerepro.structured import ConfigError
from vaerepro.training import BatchStream, TrainSettings, parse_train_settings


def indexed_images(count: int = 10) -> np.ndarray:
    """Image i is filled with the value i, so a batch reveals which images it holds."""
    return np.repeat(np.arange(count, dtype=np.uint8), 2 * 2 * 3).reshape(count, 2, 2, 3)


def test_batch_is_a_pure_function_of_seed_and_step():
    first = BatchStream(indexed_images(), np.arange(10), batch_size=4, seed=3)
    second = BatchStream(indexed_images(), np.arange(10), batch_size=4, seed=3)
    for step in (7, 0, 3):
        first.batch(step)
    for step in (5, 0, 12):
        torch.testing.assert_close(first.batch(step), second.batch(step))
    other_seed = BatchStream(indexed_images(), np.arange(10), batch_size=4, seed=4)
    assert not torch.equal(first.batch(0)["label"], other_seed.batch(0)["label"])


def test_batches_walk_through_whole_epochs_with_aligned_labels():
    stream = BatchStream(indexed_images(), np.arange(10) + 100, batch_size=5, seed=0)
    seen = []
    for step in range(4):
        batch = stream.batch(step)
        assert batch["image"].shape == (5, 3, 2, 2) and batch["image"].dtype == torch.float32
        assert batch["label"].dtype == torch.long
        image_ids = (batch["image"][:, 0, 0, 0] * 255).round().long()
        assert torch.equal(image_ids + 100, batch["label"])
        seen += image_ids.tolist()
    assert sorted(seen[:10]) == list(range(10)) and sorted(seen[10:]) == list(range(10))
    assert seen[:10] != seen[10:], "each epoch should have its own order"


def test_dynamic_binarisation_is_seeded_and_unbiased():
    images = np.full((4, 16, 16, 1), 64, dtype=np.uint8)
    stream = BatchStream(images, batch_size=4, seed=1, binarize=True)
    batch = stream.batch(2)["image"]
    assert set(batch.unique().tolist()) <= {0.0, 1.0}
    assert batch.mean().item() == pytest.approx(64 / 255, abs=0.05)
    assert torch.equal(batch, BatchStream(images, batch_size=4, seed=1, binarize=True).batch(2)["image"])
    assert not torch.equal(batch, stream.batch(3)["image"])
    assert "label" not in stream.batch(0)


def test_bad_arrays_are_rejected():
    with pytest.raises(ValueError, match="uint8"):
        BatchStream(np.zeros((2, 4, 4, 1), dtype=np.float32), batch_size=1, seed=0)
    with pytest.raises(ValueError, match="3 labels for 2 images"):
        BatchStream(np.zeros((2, 4, 4, 1), dtype=np.uint8), np.arange(3), batch_size=1, seed=0)


def test_train_settings_are_strict_and_name_the_key_path():
    parsed = parse_train_settings({"steps": 10, "gradient_clip": 1, "adam_betas": [0.5, 0.9]})
    assert parsed == TrainSettings(steps=10, gradient_clip=1.0, adam_betas=(0.5, 0.9))
    with pytest.raises(ConfigError, match="experiments.vae-mnist.train.smoke.step'"):
        parse_train_settings({"step": 10}, path="experiments.vae-mnist.train.smoke", source="params.yaml")
    with pytest.raises(ConfigError, match="'experiments.x.train.smoke.batch_size' in params.yaml must be >= 1"):
        parse_train_settings({"steps": 10, "batch_size": 0}, path="experiments.x.train.smoke", source="params.yaml")
    with pytest.raises(ConfigError, match="optimizer"):
        parse_train_settings({"steps": 10, "optimizer": "sgd"})
