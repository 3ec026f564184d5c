"""Restoration experiments end to end on tiny prepared paired data: degradation specs, crop
batches, classical methods, padding, per-image failures, and the metrics record."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import repository_params, write_params_files
from vaerepro.config import load_params
from vaerepro.data.degradations.spec import degradation_seed, degrade, parse_degradation
from vaerepro.data.prepare import array_sha256
from vaerepro.experiment import resolve
from vaerepro.experiment.evaluate import evaluate_experiment, extras_options
from vaerepro.experiment.restoration import evaluate_restoration
from vaerepro.experiment.train import train_experiment
from vaerepro.metrics.gt_mean import match_reference_mean
from vaerepro.models import build_model, register
from vaerepro.models.restoration import RestorationModel, pad_to_multiple, restore_image
from vaerepro.records import SCHEMA_VERSION, MetricsRecord, read_record, write_record
from vaerepro.report.budget import record_budget
from vaerepro.structured import ConfigError
from vaerepro.training import load_model
from vaerepro.training.crops import CropPairStream

# ----------------------------------------------------------------------------- degradations


def test_degradation_spec_parses_and_rejects_bad_input():
    assert parse_degradation({"kind": "awgn", "sigma": 25}, source="p", path="x").sigma == 25.0
    with pytest.raises(ConfigError, match=r"unknown degradation kind 'blur'.*awgn"):
        parse_degradation({"kind": "blur"}, source="p", path="x")
    with pytest.raises(ConfigError, match="quality"):
        parse_degradation({"kind": "jpeg"}, source="p", path="x")
    with pytest.raises(ConfigError, match="x.degradation|x"):
        parse_degradation({"kind": "awgn", "sigma": 25, "seed": 3}, source="p", path="x")


def test_degradation_is_seeded_per_role_and_keeps_shape_and_dtype():
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), dtype=np.uint8)
    noise = parse_degradation({"kind": "awgn", "sigma": 25}, source="p", path="x")
    train_a, train_b = degrade(images, noise, 7, "train"), degrade(images, noise, 7, "train")
    test = degrade(images, noise, 7, "test")
    assert train_a.dtype == np.uint8 and train_a.shape == images.shape
    np.testing.assert_array_equal(train_a, train_b)
    assert not np.array_equal(train_a, test)  # train and test noise never coincide
    assert len({degradation_seed(7, role) for role in ("train", "test", "stress:a", "stress:b")}) == 4
    residual = train_a.astype(float) - images
    interior = (images > 80) & (images < 175)  # away from clipping
    assert abs(residual[interior].std() - 25) < 2.5
    np.testing.assert_array_equal(degrade(images, None, 7, "test"), images)


# ----------------------------------------------------------------------------- crop batches


def test_crop_stream_is_deterministic_and_cuts_the_same_window_from_both():
    rng = np.random.default_rng(1)
    clean = rng.integers(0, 256, (5, 20, 24, 3), dtype=np.uint8)
    noisy = (255 - clean).astype(np.uint8)  # a pixelwise function of clean: windows must agree
    stream = CropPairStream(noisy, clean, crop_size=8, batch_size=4, seed=3)
    batch = stream.batch(5)
    assert batch["image"].shape == (4, 3, 8, 8) and batch["target"].shape == (4, 3, 8, 8)
    torch.testing.assert_close(batch["image"], 1 - batch["target"], atol=1e-6, rtol=0)
    torch.testing.assert_close(
        CropPairStream(noisy, clean, crop_size=8, batch_size=4, seed=3).batch(5)["image"], batch["image"]
    )
    assert not torch.equal(stream.batch(6)["image"], batch["image"])
    unsupervised = CropPairStream(noisy, clean, crop_size=8, batch_size=4, seed=3, with_targets=False).batch(5)
    assert set(unsupervised) == {"image"}
    with pytest.raises(ValueError, match="crop_size 32 does not fit the 20x24"):
        CropPairStream(noisy, clean, crop_size=32, batch_size=4, seed=3)


# ----------------------------------------------------------------------------- models


@dataclass(frozen=True)
class _ScaleOptions:
    image_shape: tuple[int, int, int] = (3, 16, 16)


@register("test_scale", _ScaleOptions)
class _LearnedScale(RestorationModel):
    """A one-parameter supervised "network" that needs multiples of 8 (for padding tests)."""

    task = "enhancement"

    def __init__(self, options):
        super().__init__(options)
        self.gain = torch.nn.Parameter(torch.tensor(0.5))

    @property
    def size_multiple(self) -> int:
        return 8

    def forward(self, degraded, clean=None):
        if clean is None:
            raise ValueError("test_scale is supervised")
        loss = ((degraded * self.gain - clean) ** 2).mean()
        return {"loss": loss, "recon": loss.detach()}

    def enhance(self, degraded):
        height, width = degraded.shape[-2:]
        if height % 8 or width % 8:
            raise AssertionError("restore_image must pad to the size multiple")
        if float(degraded.mean()) > 0.99:
            raise RuntimeError("cannot process a white image")  # a per-image failure
        return (degraded * self.gain).clamp(0, 1)


def test_restore_image_pads_to_the_multiple_and_crops_back():
    model = build_model("test_scale", {"image_shape": [3, 16, 16]}, seed=0)
    image = np.random.default_rng(0).random((13, 21, 3))
    restored = restore_image(model, image)
    assert restored.shape == (13, 21, 3)
    np.testing.assert_allclose(restored, image * 0.5, atol=1e-6)
    padded, size = pad_to_multiple(torch.zeros(1, 3, 13, 21), 8)
    assert padded.shape[-2:] == (16, 24) and size == (13, 21)


def test_grayscale_image_to_rgb_model_and_too_small_image_fail_clearly():
    model = build_model("test_scale", {"image_shape": [3, 16, 16]}, seed=0)
    with pytest.raises(ValueError, match=r"takes RGB images \(3 channels\) but got grayscale \(1 channels\)"):
        restore_image(model, np.zeros((16, 16, 1)))
    with pytest.raises(ValueError, match="smaller than the 8x8 minimum"):
        restore_image(model, np.zeros((4, 16, 3)))


@pytest.mark.parametrize("name", ["identity", "bm3d", "nlmeans", "gamma", "histeq", "clahe", "grayworld"])
def test_classical_methods_keep_shape_and_range(name):
    model = build_model(name, {"image_shape": [3, 24, 24]})
    assert not model.trainable and count_parameters(model) == 0
    image = np.random.default_rng(2).random((24, 24, 3)) * 0.5 + 0.1
    restored = restore_image(model, image)
    assert restored.shape == image.shape and restored.min() >= 0 and restored.max() <= 1
    if name == "identity":
        np.testing.assert_allclose(restored, image, atol=1e-6)
    with pytest.raises(RuntimeError, match="no loss to train"):
        model(torch.zeros(1, 3, 8, 8))


def count_parameters(model) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def test_colour_methods_refuse_grayscale_data_at_construction():
    with pytest.raises(ValueError, match="clahe: works on RGB images"):
        build_model("clahe", {"image_shape": [1, 24, 24]})


def test_gt_mean_rescaling_matches_hand_computation():
    reference = np.full((2, 2, 3), 100, dtype=np.uint8)
    output = np.full((2, 2, 3), 50, dtype=np.uint8)
    np.testing.assert_array_equal(match_reference_mean(output, reference), reference)  # 50·(100/50) = 100
    saturating = np.array([[[10, 10, 10], [250, 250, 250]]], dtype=np.uint8)  # mean 130 → ×(200/130)
    scaled = match_reference_mean(saturating, np.full((1, 2, 3), 200, dtype=np.uint8))
    np.testing.assert_array_equal(scaled[0, :, 0], [round(10 * 200 / 130), 255])  # clipped at white


# ----------------------------------------------------------------------------- pipeline


def write_paired(
    root: Path, name: str = "lol", size: tuple[int, int] = (20, 28), train: int = 6, test: int = 4
) -> None:
    """A prepared paired dataset as prepare@ writes it: dark inputs, bright targets."""
    rng = np.random.default_rng(0)
    splits = {}
    for split, count in (("train", train), ("test", test)):
        targets = rng.integers(60, 200, size=(count, *size, 3), dtype=np.uint8)
        inputs = (targets // 2).astype(np.uint8)
        if split == "test":
            inputs[-1] = 255  # the test model refuses white images: one per-image failure
        directory = root / name / split
        directory.mkdir(parents=True)
        arrays = {"inputs": inputs, "targets": targets}
        for key, array in arrays.items():
            np.save(directory / f"{key}.npy", array)
        (directory / "names.json").write_text(json.dumps([f"{split}{i}.png" for i in range(count)]))
        splits[split] = {
            "count": count,
            "arrays": {
                key: {"shape": list(array.shape), "dtype": "uint8", "sha256": array_sha256(array)}
                for key, array in arrays.items()
            },
        }
    summary = {
        "dataset": name,
        "title": name,
        "paired": True,
        "variant": "fixture",
        "class_names": [],
        "splits": splits,
        "sha256": "fixture",
        "source": {},
        "split_seed": 0,
        "validation_count": 0,
    }
    (root / name / "summary.json").write_text(json.dumps(summary))


PAIRS = {
    "train": {"split": "train", "source": "inputs"},
    "test": {"split": "test", "source": "inputs"},
    "stress": {"jpeg50": {"kind": "jpeg", "quality": 50}},
    "crop_size": 8,
    "metrics": ["psnr", "ssim_rgb", "psnr_b", "psnr_gt_mean", "uiqm"],
    "comparison_method": "gamma",
}


def params_with(tmp_path: Path, experiments: dict):
    raw = repository_params()
    raw.update(profile="smoke", experiments=experiments, classifiers={}, templates={})
    return load_params(write_params_files(tmp_path, raw))


def learned_entry(**overrides) -> dict:
    return {
        "model": "test_scale",
        "dataset": "lol",
        "train_dataset": "lol",
        "restoration": PAIRS,
        "train": {
            "smoke": {
                "steps": 30,
                "batch_size": 4,
                "learning_rate": 0.05,
                "log_every": 10,
                "checkpoint_every": 30,
                "progress_bar": False,
            }
        },
        "evaluate": {"smoke": {"test_count": None}},
        **overrides,
    }


def test_train_and_evaluate_a_restoration_experiment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_paired(tmp_path / "data" / "prepared")
    params = params_with(tmp_path, {"test_scale-lol": learned_entry()})
    experiment = resolve(params, "test_scale-lol")
    result = train_experiment(experiment, params, tmp_path / "models" / "test_scale-lol")
    assert result.completed and result.step == 30
    model = load_model(result.checkpoint_path)
    assert float(model.gain.detach()) > 1.5  # learned to brighten (the targets are 2x the inputs)

    evaluation = evaluate_restoration(
        model,
        experiment,
        seed=params.seed,
        device=torch.device("cpu"),
        figure_dir=tmp_path / "reports/figures/test_scale-lol",
        reports_root=tmp_path / "reports",
    )
    metrics = evaluation.metrics
    # One white test image makes the model raise: recorded, the other three scored.
    assert metrics["psnr"]["images"] == 3 and metrics["psnr"]["failed"][0]["name"] == "test3.png"
    assert "RuntimeError: cannot process a white image" in metrics["psnr"]["failed"][0]["error"]
    assert metrics["psnr_input"]["images"] == 4  # doing nothing never fails
    assert metrics["psnr"]["value"] > metrics["psnr_input"]["value"] + 5
    for key in (
        "ssim_rgb",
        "psnr_b",
        "psnr_gt_mean",
        "uiqm",
        "uiqm_input",
        "uiqm_reference",
        "seconds_per_image",
        "psnr@jpeg50",
        "psnr_input@jpeg50",
    ):
        assert metrics[key]["value"] is not None and np.isfinite(metrics[key]["value"]), key
    assert (
        "gt-mean" in metrics["psnr_gt_mean"]["convention"] and "JPEG quality 50" in metrics["psnr@jpeg50"]["test_set"]
    )
    assert set(evaluation.figures) == {"panels", "crops"}
    assert all((tmp_path / "reports" / path).is_file() for path in evaluation.figures.values())

    from vaerepro.experiment.provenance import budget_for, provenance_for

    provenance = provenance_for(experiment, params, result.checkpoint_path, evaluate_seconds=1.0)
    budget = budget_for(experiment, provenance["training"], metrics)
    write_record(
        tmp_path / "reports/metrics/test_scale-lol.json", MetricsRecord(provenance, metrics, evaluation.figures, budget)
    )
    record = read_record(tmp_path / "reports/metrics/test_scale-lol.json")
    assert record["data_variant"] == "fixture" and record["training"]["steps"] == 30
    # No train.full section in this entry: the budget says what it lacks rather than guessing.
    assert record["budget"]["unit"] == "unknown" and "train.full.steps" in record["budget"]["note"]


def test_evaluate_stage_states_the_budget_of_every_number(tmp_path, monkeypatch):
    """evaluate@'s body writes the budget block: steps trained against the full profile's (the
    paper's budget) and the evaluation N; a classical method states that nothing was trained.
    The report's derivation for records written before the block gives the same block."""
    monkeypatch.chdir(tmp_path)
    write_paired(tmp_path / "data" / "prepared")
    learned = learned_entry()
    learned["train"] = {**learned["train"], "full": {"steps": 300, "batch_size": 4}}
    classical = {
        "model": "gamma",
        "dataset": "lol",
        "train_dataset": "lol",
        "restoration": {"test": PAIRS["test"], "metrics": ["psnr"]},
        "evaluate": {"smoke": {"test_count": 2}},
    }
    params = params_with(tmp_path, {"test_scale-lol": learned, "gamma-lol": classical})
    written = {}
    for name in ("test_scale-lol", "gamma-lol"):
        experiment = resolve(params, name)
        train_experiment(experiment, params, tmp_path / "models" / name)
        record = evaluate_experiment(
            experiment, params, models_root=tmp_path / "models", reports_root=tmp_path / "reports"
        )
        write_record(tmp_path / "reports/metrics" / f"{name}.json", record)
        written[name] = read_record(tmp_path / "reports/metrics" / f"{name}.json")
    assert written["test_scale-lol"]["schema_version"] == SCHEMA_VERSION
    assert written["test_scale-lol"]["budget"] == {
        "unit": "steps",
        "trained": 30,
        "paper": 300,
        "fraction": 0.1,  # 30 x 4 of 300 x 4 images: the batch sizes agree, so steps and examples too
        "batch_size": 4,
        "paper_batch_size": 4,
        "step_fraction": 0.1,
        "paper_stated": True,
        "paper_source": "params.yaml experiments.test_scale-lol.train.full.steps (the full profile runs the paper's "
        "budget)",
        "evaluation_n": 3,  # the white test image fails: three of four scored
        "evaluation_n_source": "psnr.images",
    }
    assert written["gamma-lol"]["budget"] == {
        "unit": "none",
        "note": "no training: classical method",
        "evaluation_n": 2,
        "evaluation_n_source": "psnr.images",
    }
    for record in written.values():
        before_the_field = {key: value for key, value in record.items() if key != "budget"} | {"schema_version": 2}
        assert record_budget(before_the_field) == record["budget"]


def test_classical_experiment_trains_nothing_and_refuses_a_train_section(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_paired(tmp_path / "data" / "prepared")
    entry = {
        "model": "gamma",
        "dataset": "lol",
        "train_dataset": "lol",
        "restoration": {"test": PAIRS["test"]},
        "evaluate": {"smoke": {"test_count": 2}},
    }
    params = params_with(
        tmp_path, {"gamma-lol": entry, "clahe-lol": {**entry, "model": "clahe", "train": {"smoke": {"steps": 3}}}}
    )
    experiment = resolve(params, "gamma-lol")
    assert experiment.train is None
    result = train_experiment(experiment, params, tmp_path / "models" / "gamma-lol")
    assert result.step == 0 and result.completed
    assert load_model(result.checkpoint_path).registered_name == "gamma"
    assert len(experiment.test_pairs(params.seed)) == 2
    with pytest.raises(ConfigError, match="classical method with nothing to train"):
        resolve(params, "clahe-lol")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (learned_entry(restoration=None), r"restoration' is missing.*restoration model"),
        (learned_entry(restoration={**PAIRS, "metrics": ["psnr", "lpips"]}), r"unknown restoration metric\(s\) lpips"),
        (learned_entry(restoration={**PAIRS, "comparison_method": "vae"}), "must name a classical method"),
        (learned_entry(restoration={k: v for k, v in PAIRS.items() if k != "train"}), r"restoration.train' is missing"),
        (learned_entry(restoration={**PAIRS, "test": {"split": "test", "degradation": {"kind": "awgn"}}}), "sigma"),
        (learned_entry(train_dataset="nope"), "train_dataset' .* names dataset 'nope'"),
    ],
)
def test_bad_restoration_config_fails_at_stage_start(tmp_path, monkeypatch, entry, message):
    monkeypatch.chdir(tmp_path)
    write_paired(tmp_path / "data" / "prepared")
    entry = {key: value for key, value in entry.items() if value is not None}
    with pytest.raises(ConfigError, match=message):
        resolve(params_with(tmp_path, {"test_scale-lol": entry}), "test_scale-lol")


def test_restoration_section_on_a_generative_model_is_rejected(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_paired(tmp_path / "data" / "prepared")
    entry = {
        "model": "vae",
        "dataset": "lol",
        "train_dataset": "lol",
        "restoration": PAIRS,
        "train": {"smoke": {"steps": 1}},
    }
    with pytest.raises(ConfigError, match="is not a restoration model"):
        resolve(params_with(tmp_path, {"vae-lol": entry}), "vae-lol")


def test_profile_options_and_crop_size_apply_to_their_profile_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_paired(tmp_path / "data" / "prepared")
    entry = {
        "model": "bm3d",
        "dataset": "lol",
        "train_dataset": "lol",
        "restoration": {"test": PAIRS["test"]},
        "options": {"noise_sigma": 5},
        "profile_options": {"smoke": {"noise_sigma": 9}},
    }
    params = params_with(tmp_path, {"bm3d-lol": entry})
    assert resolve(params, "bm3d-lol").options.noise_sigma == 9
    full = params_with(tmp_path, {"bm3d-lol": entry})
    object.__setattr__(full, "profile", "full")
    assert resolve(full, "bm3d-lol").options.noise_sigma == 5
    with pytest.raises(ConfigError, match="unknown profile 'experiments.bm3d-lol.profile_options.medium'"):
        params_with(tmp_path, {"bm3d-lol": {**entry, "profile_options": {"medium": {}}}})


def test_train_crop_size_overrides_the_restoration_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_paired(tmp_path / "data" / "prepared")
    entry = learned_entry()
    entry["train"]["smoke"] = {**entry["train"]["smoke"], "crop_size": 32}  # larger than the 20x28 images
    params = params_with(tmp_path, {"test_scale-lol": entry})
    with pytest.raises(
        ConfigError, match=r"train.<profile>.crop_size' in params.yaml is 32, which does not fit the 20x28"
    ):
        train_experiment(resolve(params, "test_scale-lol"), params, tmp_path / "models" / "x")
    entry["train"]["smoke"]["crop_size"] = 12  # test_scale needs multiples of 8
    params = params_with(tmp_path, {"test_scale-lol": entry})
    with pytest.raises(ConfigError, match="is 12, which is not a multiple of 8"):
        train_experiment(resolve(params, "test_scale-lol"), params, tmp_path / "models" / "x")


def test_supervised_training_on_the_test_split_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_paired(tmp_path / "data" / "prepared")
    entry = learned_entry(restoration={**PAIRS, "train": {"split": "test", "source": "inputs"}})
    with pytest.raises(ConfigError, match="would learn the test references"):
        resolve(params_with(tmp_path, {"test_scale-lol": entry}), "test_scale-lol")


def test_unknown_profile_option_is_named_where_it_is_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_paired(tmp_path / "data" / "prepared")
    entry = learned_entry(profile_options={"smoke": {"gain": 2}})
    with pytest.raises(ConfigError, match=r"experiments.test_scale-lol.profile_options.smoke.gain"):
        resolve(params_with(tmp_path, {"test_scale-lol": entry}), "test_scale-lol")


def test_inception_score_is_recorded_as_not_measured_without_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAEREPRO_INCEPTION_WEIGHTS", str(tmp_path / "missing.pth"))
    write_paired(tmp_path / "data" / "prepared")
    entry = {
        "model": "identity",
        "dataset": "lol",
        "train_dataset": "lol",
        "restoration": {"test": PAIRS["test"], "metrics": ["psnr", "inception_score"]},
        "evaluate": {"smoke": {"test_count": 2}},
    }
    params = params_with(tmp_path, {"identity-lol": entry})
    experiment = resolve(params, "identity-lol")
    model = build_model("identity", experiment.options)
    metrics = evaluate_restoration(
        model,
        experiment,
        seed=params.seed,
        device=torch.device("cpu"),
        figure_dir=tmp_path / "reports/figures/x",
        reports_root=tmp_path / "reports",
    ).metrics
    for key in ("inception_score", "inception_score_input", "inception_score_reference"):
        assert metrics[key]["value"] is None and "missing.pth" in metrics[key]["not_measured"], key
    assert metrics["psnr"]["value"] is not None


def test_evaluation_extras_options_are_read_from_the_evaluate_section(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_paired(tmp_path / "data" / "prepared")
    entry = {
        "model": "divnoising",
        "dataset": "lol",
        "train_dataset": "lol",
        "restoration": PAIRS,
        "options": {"noise_model": "gaussian_known", "noise_sigma": 25},
        "train": {"smoke": {"steps": 2, "batch_size": 2}},
        "evaluate": {"smoke": {"test_count": 2, "extras": {"spread_images": 1, "spread_samples": 8}}},
    }
    experiment = resolve(params_with(tmp_path, {"divnoising-lol": entry}), "divnoising-lol")
    options = extras_options(experiment, "smoke")
    assert (options.spread_images, options.spread_samples) == (1, 8)
    typo = {**entry, "evaluate": {"smoke": {"extras": {"spread_image": 1}}}}
    with pytest.raises(ConfigError, match=r"experiments\.divnoising-lol\.evaluate\.smoke\.extras\.spread_image"):
        extras_options(resolve(params_with(tmp_path, {"divnoising-lol": typo}), "divnoising-lol"), "smoke")
    classical = {
        "model": "bm3d",
        "dataset": "lol",
        "train_dataset": "lol",
        "restoration": {"test": PAIRS["test"]},
        "evaluate": {"smoke": {"extras": {"spread_images": 1}}},
    }
    with pytest.raises(ConfigError, match="model 'bm3d' has no evaluation extras options"):
        extras_options(resolve(params_with(tmp_path, {"bm3d-lol": classical}), "bm3d-lol"), "smoke")
