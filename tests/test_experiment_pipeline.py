"""train@ / classifier@ / evaluate@ bodies on a tiny prepared dataset: from params to a valid
metrics record with figures, and clear errors at stage start for bad configurations."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import repository_params, write_params_files
from vaerepro.config import load_params
from vaerepro.data.prepare import array_sha256
from vaerepro.evaluation.classifier import evaluate_classifier, load_classifier
from vaerepro.evaluation.fid import FidScorer, compute_reference
from vaerepro.evaluation.figures import save_generative_figures
from vaerepro.evaluation.generative import evaluate_generative
from vaerepro.experiment import resolve, resolve_classifier
from vaerepro.experiment.provenance import budget_for, provenance_for
from vaerepro.experiment.train import train_experiment
from vaerepro.metrics.inception import load_fid_inception
from vaerepro.metrics.inception_wheel import installed_wheel_weights_path
from vaerepro.records import MetricsRecord, read_record, write_record
from vaerepro.structured import ConfigError
from vaerepro.training import load_model, read_checkpoint

TINY_TRAIN = {"steps": 4, "batch_size": 8, "log_every": 2, "checkpoint_every": 4, "progress_bar": False}
TINY_EVALUATE = {"test_count": 20, "importance_samples": 3, "batch_size": 10, "sample_count": 20}


def write_prepared(root: Path, name: str = "mnist", size: int = 8, train: int = 40, test: int = 20) -> None:
    """A prepared-dataset directory as prepare@ writes it (images, labels, names, summary)."""
    rng = np.random.default_rng(0)
    splits = {}
    for split, count in (("train", train), ("test", test)):
        images = rng.integers(0, 256, size=(count, size, size, 1), dtype=np.uint8)
        labels = np.arange(count, dtype=np.int64) % 10
        directory = root / name / split
        directory.mkdir(parents=True)
        np.save(directory / "images.npy", images)
        np.save(directory / "labels.npy", labels)
        (directory / "names.json").write_text(json.dumps([str(i) for i in range(count)]))
        splits[split] = {
            "count": count,
            "arrays": {
                "images": {"shape": list(images.shape), "dtype": "uint8", "sha256": array_sha256(images)},
                "labels": {"shape": list(labels.shape), "dtype": "int64", "sha256": array_sha256(labels)},
            },
        }
    summary = {
        "dataset": name,
        "title": name,
        "paired": False,
        "variant": "official",
        "class_names": [],
        "splits": splits,
        "sha256": "fixture",
        "source": {},
        "split_seed": 0,
        "validation_count": 0,
    }
    (root / name / "summary.json").write_text(json.dumps(summary))


def params_with(tmp_path: Path, experiments: dict, classifiers: dict | None = None):
    raw = repository_params()
    raw.update(profile="smoke", experiments=experiments, classifiers=classifiers or {}, templates={})
    return load_params(write_params_files(tmp_path, raw))


def experiment_entry(model: str, options: dict) -> dict:
    return {
        "model": model,
        "dataset": "mnist",
        "train_dataset": "mnist",
        "options": options,
        "train": {"smoke": {**TINY_TRAIN, "dynamic_binarization": model != "two_stage_vae"}},
        "evaluate": {"smoke": TINY_EVALUATE},
    }


CASES = {
    "vae2d-mnist": (
        "vae",
        {"latent_dim": 2, "hidden_channels": 4},
        {"samples", "reconstructions", "interpolations", "latent_manifold"},
    ),
    "cvae-mnist": ("cvae", {"condition": "label", "latent_dim": 4, "hidden_units": 16}, {"samples", "reconstructions"}),
    "cvae_quadrant-mnist": (
        "cvae",
        {"condition": "quadrant", "latent_dim": 4, "hidden_units": 16},
        {"samples", "reconstructions"},
    ),
    "two_stage-mnist": (
        "two_stage_vae",
        {"latent_dim": 4, "hidden_channels": 4, "second_stage_hidden_units": 16, "second_stage_hidden_layers": 1},
        {"samples", "reconstructions", "interpolations"},
    ),
}


@pytest.fixture(scope="module")
def fid_model():
    return load_fid_inception(installed_wheel_weights_path(), "cpu")


@pytest.mark.parametrize("name", sorted(CASES))
def test_train_evaluate_record(tmp_path, monkeypatch, name, fid_model):
    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "data" / "prepared")
    model_name, options, expected_figures = CASES[name]
    params = params_with(
        tmp_path,
        {name: experiment_entry(model_name, options)},
        {"mnist": {"options": {"hidden_channels": 4, "feature_dim": 8}, "train": {"smoke": TINY_TRAIN}}},
    )
    classifier_run = train_experiment(
        resolve_classifier(params, "mnist"), params, tmp_path / "models/classifiers/mnist"
    )
    accuracy = evaluate_classifier(classifier_run.checkpoint_path, resolve_classifier(params, "mnist").split("test"))
    assert 0 <= accuracy["test_accuracy"]["value"] <= 1

    experiment = resolve(params, name)
    assert list(experiment.options.image_shape) == [1, 8, 8]  # taken from the data
    result = train_experiment(experiment, params, tmp_path / "models" / name)
    assert result.completed and (tmp_path / "models" / name / "train_summary.json").is_file()
    model = load_model(result.checkpoint_path).eval()
    test = experiment.split("test")
    reference = compute_reference(
        "mnist",
        np.asarray(test["images"][:4]),
        np.asarray(experiment.split("train")["images"][:4]),
        fid_model,
        split="test",
        floor_split="train",
    )
    evaluation = evaluate_generative(
        model,
        test["images"],
        test["labels"],
        experiment.evaluate,
        binarize=experiment.train.dynamic_binarization,
        seed=params.seed,
        classifier=load_classifier(classifier_run.checkpoint_path),
        fid=FidScorer(fid_model, reference),
    )
    figures = save_generative_figures(
        model,
        evaluation,
        tmp_path / "reports/figures" / name,
        tmp_path / "reports",
        name,
        tmp_path / "models" / name / "dvclive",
    )
    assert expected_figures <= set(figures)
    assert all((tmp_path / "reports" / path).is_file() for path in figures.values())
    provenance = provenance_for(experiment, params, result.checkpoint_path, evaluate_seconds=1.0)
    budget = budget_for(experiment, provenance["training"], evaluation.metrics)
    write_record(
        tmp_path / "reports/metrics" / f"{name}.json", MetricsRecord(provenance, evaluation.metrics, figures, budget)
    )
    record = read_record(tmp_path / "reports/metrics" / f"{name}.json")
    # The likelihood's test images are the evaluation N; this entry has no full profile to compare with.
    assert record["budget"]["evaluation_n"] == TINY_EVALUATE["test_count"]
    assert record["budget"]["evaluation_n_source"] == "negative_elbo.test_count"
    assert record["profile"] == "smoke" and record["data_variant"] == "official"
    assert record["parameter_count"] > 0 and record["wall_time_seconds"]["train"] > 0
    metrics = record["metrics"]
    for key in (
        "negative_elbo",
        "nll_importance_sampled",
        "kl",
        "reconstruction_mse",
        "active_units",
        "sharpness_samples",
        "sharpness_test_images",
        "classifier_frechet_distance",
    ):
        assert metrics[key]["value"] is not None and np.isfinite(metrics[key]["value"]), key
    # The importance-sampled bound is never looser than the ELBO (up to Monte Carlo noise).
    assert metrics["nll_importance_sampled"]["value"] <= metrics["negative_elbo"]["value"] + 5.0
    assert metrics["fid"]["value"] > 0 and metrics["fid"]["num_samples"] == 4 and metrics["fid"]["unit"] == "FID@4"
    assert metrics["fid"]["floor"] == reference.record["floor"] and metrics["fid"]["weights_sha256"]
    if name == "cvae-mnist":
        assert 0 <= metrics["conditional_accuracy"]["value"] <= 1
    if name == "two_stage-mnist":
        assert metrics["classifier_frechet_distance_first_stage"]["value"] is not None
        assert metrics["fid_first_stage"]["value"] > 0 and metrics["fid_first_stage"]["num_samples"] == 4
    if name == "cvae_quadrant-mnist":
        assert metrics["bits_per_dim"]["value"] is None


def test_image_shape_that_disagrees_with_the_data_fails_at_stage_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "data" / "prepared")
    params = params_with(tmp_path, {"vae-mnist": experiment_entry("vae", {"image_shape": [1, 28, 28]})})
    with pytest.raises(ConfigError, match=r"image_shape.*\(1, 28, 28\).*\(1, 8, 8\)"):
        resolve(params, "vae-mnist")


def test_image_size_the_model_cannot_take_fails_at_stage_start(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "data" / "prepared", size=10)  # 10 is not divisible by 2² downsampling
    params = params_with(tmp_path, {"vae-mnist": experiment_entry("vae", {"num_downsamplings": 2})})
    with pytest.raises(ConfigError, match="not divisible"):
        train_experiment(resolve(params, "vae-mnist"), params, tmp_path / "models" / "vae-mnist")


def test_unknown_option_and_missing_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "data" / "prepared")
    params = params_with(tmp_path, {"vae-mnist": experiment_entry("vae", {"latent_size": 3})})
    with pytest.raises(ConfigError, match="experiments.vae-mnist.options.latent_size"):
        resolve(params, "vae-mnist")
    entry = experiment_entry("vae", {})
    entry["train"] = {"full": TINY_TRAIN}
    params = params_with(tmp_path, {"vae-mnist": entry})
    with pytest.raises(ConfigError, match="experiments.vae-mnist.train.smoke"):
        resolve(params, "vae-mnist")


def test_experiment_names_must_end_in_their_dataset(tmp_path):
    with pytest.raises(ConfigError, match="<model>-<dataset>"):
        params_with(tmp_path, {"vae-cifar10": experiment_entry("vae", {})})


def test_vqvae_train_evaluate_record(tmp_path, monkeypatch, fid_model):
    """VQ-VAE-2 through train@'s body (both phases), the discrete-latent evaluation with real FID
    of samples and reconstructions, its figures and a valid record with its evaluation N."""
    from tests.test_models_contract import TINY_VQ
    from vaerepro.evaluation.discrete_latent import evaluate_discrete_latent

    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "data" / "prepared")
    name = "vqvae2-mnist"
    entry = {**experiment_entry("vqvae", {**TINY_VQ, "levels": 2}), "evaluate": {"smoke": {**TINY_EVALUATE}}}
    entry["train"]["smoke"].pop("dynamic_binarization")
    params = params_with(tmp_path, {name: entry})
    experiment = resolve(params, name)
    result = train_experiment(experiment, params, tmp_path / "models" / name)
    assert result.completed
    logged = {path.stem for path in (tmp_path / "models" / name / "dvclive/plots/metrics/train").glob("*.tsv")}
    assert {"recon", "commitment", "top_perplexity", "bottom_usage", "top_prior_bits_per_code"} <= logged
    model = load_model(result.checkpoint_path).eval()
    assert model.phase == "prior"  # the checkpoint is the end of training
    test = experiment.split("test")
    reference = compute_reference(
        "mnist",
        np.asarray(test["images"][:4]),
        np.asarray(experiment.split("train")["images"][:4]),
        fid_model,
        split="test",
        floor_split="train",
    )
    evaluation = evaluate_discrete_latent(
        model,
        test["images"],
        experiment.evaluate,
        seed=params.seed,
        classifier=None,
        fid=FidScorer(fid_model, reference),
    )
    figures = save_generative_figures(
        model,
        evaluation,
        tmp_path / "reports/figures" / name,
        tmp_path / "reports",
        name,
        tmp_path / "models" / name / "dvclive",
    )
    assert {"samples", "reconstructions", "reconstructions_per_level", "codebook_usage", "training_curves"} <= set(
        figures
    )
    provenance = provenance_for(experiment, params, result.checkpoint_path, evaluate_seconds=1.0)
    budget = budget_for(experiment, provenance["training"], evaluation.metrics)
    write_record(
        tmp_path / "reports/metrics" / f"{name}.json", MetricsRecord(provenance, evaluation.metrics, figures, budget)
    )
    record = read_record(tmp_path / "reports/metrics" / f"{name}.json")
    assert record["budget"]["evaluation_n"] == TINY_EVALUATE["test_count"]
    metrics = record["metrics"]
    for key in ("fid", "fid_reconstructions"):
        assert metrics[key]["value"] > 0 and metrics[key]["num_samples"] == 4, key
    assert metrics["bits_per_dim"]["value"] > 0 and metrics["codebook_usage_top"]["value"] > 0


def test_vdvae_train_evaluate_record(tmp_path, monkeypatch, fid_model):
    """VDVAE through train@'s body with update skipping and the weights' average, the
    hierarchical evaluation (ELBO, KL per group, real FID of samples), its figures, and the full
    profile's parameter count recorded from a smoke run."""
    from tests.test_models_contract import TINY_VDVAE
    from vaerepro.evaluation.hierarchical import evaluate_hierarchical
    from vaerepro.experiment.evaluate import full_profile_parameter_count
    from vaerepro.models import build_model

    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "data" / "prepared")
    name = "vdvae-mnist"
    tiny = {**TINY_VDVAE, "enc_blocks": "8x1,8d2,4x1,4d4,1x1", "likelihood": "bernoulli"}
    full_options = {"width": 24, "zdim": 4, "enc_blocks": "8x2,8d2,4x1,4d4,1x1", "dec_blocks": "1x1,4m1,4x2,8m4,8x2"}
    entry = experiment_entry("vdvae", tiny)
    entry["options"] = {**tiny, **full_options}
    entry["profile_options"] = {"smoke": tiny}
    entry["train"]["smoke"].update(skip_threshold=1e6, weight_ema=0.5, optimizer="adamw", warmup_steps=2)
    entry["train"]["full"] = {**entry["train"]["smoke"], "steps": 100}
    entry["evaluate"]["full"] = TINY_EVALUATE
    params = params_with(tmp_path, {name: entry})
    experiment = resolve(params, name)
    result = train_experiment(experiment, params, tmp_path / "models" / name)
    assert result.completed and result.metrics["skipped_updates"] == 0.0
    assert "ema_state" in read_checkpoint(result.checkpoint_path)
    model = load_model(result.checkpoint_path).eval()
    test = experiment.split("test")
    reference = compute_reference(
        "mnist",
        np.asarray(test["images"][:4]),
        np.asarray(experiment.split("train")["images"][:4]),
        fid_model,
        split="test",
        floor_split="train",
    )
    evaluation = evaluate_hierarchical(
        model,
        test["images"],
        experiment.evaluate,
        binarize=True,
        seed=params.seed,
        classifier=None,
        fid=FidScorer(fid_model, reference),
    )
    evaluation.metrics["parameter_count_full_profile"] = full_profile_parameter_count(experiment, params)
    figures = save_generative_figures(
        model,
        evaluation,
        tmp_path / "reports/figures" / name,
        tmp_path / "reports",
        name,
        tmp_path / "models" / name / "dvclive",
    )
    assert {"samples", "reconstructions", "samples_by_temperature", "kl_per_group", "training_curves"} <= set(figures)
    metrics = evaluation.metrics
    groups = metrics["active_latent_groups"]
    assert groups["total"] == len(model.block_resolutions) == 5 and len(groups["kl_per_group"]) == 5
    assert metrics["kl"]["value"] == pytest.approx(sum(groups["kl_per_group"]), rel=1e-6)
    assert metrics["bits_per_dim"]["value"] == pytest.approx(metrics["negative_elbo"]["value"] / (64 * np.log(2)))
    assert metrics["fid"]["value"] > 0 and metrics["fid"]["num_samples"] == 4
    full_model = build_model("vdvae", {**tiny, **full_options, "image_shape": [1, 8, 8]})
    expected = sum(parameter.numel() for parameter in full_model.parameters())
    assert metrics["parameter_count_full_profile"]["value"] == expected != sum(p.numel() for p in model.parameters())
    assert metrics["parameter_count_full_profile"]["independent_of_training"] is True


@pytest.mark.parametrize("averaged", [True, False])
def test_evaluate_scores_the_weights_its_settings_name_and_records_which(tmp_path, monkeypatch, averaged):
    """evaluate.<profile>.averaged_weights picks the weights' moving average or the last step's
    weights of a run that kept both (the CPU tier scores VDVAE's trained weights), and the record
    says which was scored."""
    import vaerepro.experiment.evaluate as evaluate_module
    from tests.test_models_contract import TINY_VDVAE

    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "data" / "prepared")
    name = "vdvae-mnist"
    tiny = {**TINY_VDVAE, "enc_blocks": "8x1,8d2,4x1,4d4,1x1", "likelihood": "bernoulli"}
    entry = experiment_entry("vdvae", tiny)
    entry["train"]["smoke"].update(weight_ema=0.5, optimizer="adamw", warmup_steps=2)
    entry["evaluate"]["smoke"] = {**TINY_EVALUATE, "averaged_weights": averaged}
    params = params_with(tmp_path, {name: entry})
    experiment = resolve(params, name)
    result = train_experiment(experiment, params, tmp_path / "models" / name)
    checkpoint = read_checkpoint(result.checkpoint_path)
    scored = {}

    def capture(model, *args, **kwargs):
        scored.update({key: value.clone() for key, value in model.state_dict().items()})
        return evaluate_module.Evaluated({}, {})

    monkeypatch.setattr(evaluate_module, "_evaluate_generation", capture)
    record = evaluate_module.evaluate_experiment(experiment, params)
    expected = checkpoint["ema_state"] if averaged else checkpoint["model_state"]
    other = checkpoint["model_state"] if averaged else checkpoint["ema_state"]
    assert all(torch.equal(scored[key], expected[key]) for key in expected)
    assert not all(torch.equal(scored[key], other[key]) for key in other)
    described = record.provenance["evaluated_weights"]
    assert described.startswith("exponential moving average") if averaged else described.startswith("trained weights")
    assert "decay 0.5" in described


def test_dvae_train_evaluate_record(tmp_path, monkeypatch, fid_model):
    """The dVAE + caption transformer through train@'s body (both phases, labels as captions),
    then the discrete-latent evaluation with its text-to-image extras: FID and the classifier's
    accuracy for captions in training and held-out phrasings, no bits/dim (a continuous density)."""
    from tests.test_models_contract import TINY_DVAE
    from vaerepro.evaluation.discrete_latent import evaluate_discrete_latent

    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "data" / "prepared")
    name = "dvae-mnist"
    entry = experiment_entry("dvae", {**TINY_DVAE, "captions": "mnist", "kl_warmup_steps": 2, "temperature_steps": 3})
    entry["train"]["smoke"].pop("dynamic_binarization")
    classifier_entry = {
        "options": {"hidden_channels": 4, "feature_dim": 8},
        "train": {"smoke": {**TINY_TRAIN, "steps": 2}},
    }
    params = params_with(tmp_path, {name: entry}, classifiers={"mnist": classifier_entry})
    experiment = resolve(params, name)
    result = train_experiment(experiment, params, tmp_path / "models" / name)
    assert result.completed and "prior_bits_per_code" in result.metrics
    model = load_model(result.checkpoint_path).eval()
    classifier_run = resolve_classifier(params, "mnist")
    classifier_result = train_experiment(classifier_run, params, tmp_path / "models" / "classifiers" / "mnist")
    classifier = load_classifier(classifier_result.checkpoint_path)
    test = experiment.split("test")
    reference = compute_reference(
        "mnist",
        np.asarray(test["images"][:4]),
        np.asarray(experiment.split("train")["images"][:4]),
        fid_model,
        split="test",
        floor_split="train",
    )
    evaluation = evaluate_discrete_latent(
        model,
        test["images"],
        experiment.evaluate,
        seed=params.seed,
        classifier=classifier,
        fid=FidScorer(fid_model, reference),
    )
    metrics = evaluation.metrics
    for key in ("fid", "fid_held_out", "fid_reconstructions"):
        assert metrics[key]["value"] > 0 and metrics[key]["num_samples"] == 4, key
    for key in ("text_to_image_accuracy", "text_to_image_accuracy_held_out"):
        assert 0 <= metrics[key]["value"] <= 1 and metrics[key]["count"] == TINY_EVALUATE["sample_count"], key
    assert metrics["bits_per_dim"]["value"] is None and "logit-Laplace" in metrics["bits_per_dim"]["not_measured"]
    assert "likelihood_variance" not in metrics["negative_elbo"]
    assert 0 < metrics["codebook_usage_bottom"]["value"] <= 1
    figures = save_generative_figures(
        model,
        evaluation,
        tmp_path / "reports/figures" / name,
        tmp_path / "reports",
        name,
        tmp_path / "models" / name / "dvclive",
    )
    assert {"samples", "reconstructions", "codebook_usage", "training_curves"} <= set(figures)
    assert figures["samples"].endswith("samples_from_captions.png")
