"""Ranges of options and settings are declared once, on the dataclass field (``structured.ranged``).

From params.yaml a violation names the key path and the file; built directly, the class and
field; a tuple's items and a mapping's values are each checked; ``None`` (an unset optional
value) passes. No options/settings module checks a range by hand any more.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from pathlib import Path

import pytest

from tests.test_experiment_pipeline import experiment_entry, params_with, write_prepared
from vaerepro.config import FidParams
from vaerepro.evaluation.settings import EvaluateSettings, parse_evaluate_settings
from vaerepro.experiment import resolve
from vaerepro.models import build_model, options_class, registered_models
from vaerepro.models.two_stage_vae import TwoStageVAEOptions
from vaerepro.models.vae import VAE, VAEOptions
from vaerepro.models.zheng import ZhengOptions
from vaerepro.structured import ConfigError, Range, check_ranges, from_mapping, ranged
from vaerepro.training.settings import TrainSettings, parse_train_settings


def test_a_range_error_in_params_names_the_key_path_and_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path / "data" / "prepared")
    cases = [
        ("options", {"latent_dim": 0}, r"options\.latent_dim' in params\.yaml must be >= 1, got 0"),
        ("train", {"batch_size": 0}, r"train\.smoke\.batch_size' in params\.yaml must be >= 1, got 0"),
        ("train", {"learning_rate": 0}, r"train\.smoke\.learning_rate' in params\.yaml must be > 0, got 0\.0"),
        ("evaluate", {"test_count": 1}, r"evaluate\.smoke\.test_count' in params\.yaml must be >= 2 or null, got 1"),
    ]
    for section, change, message in cases:
        entry = experiment_entry("vae", {})
        if section == "options":
            entry["options"] = change
        else:
            entry[section] = {"smoke": {**entry[section]["smoke"], **change}}
        params = params_with(tmp_path, {"vae-mnist": entry})
        with pytest.raises(ConfigError, match=rf"^'experiments\.vae-mnist\.{message}$"):
            resolve(params, "vae-mnist")


def test_a_range_error_of_a_checkpoint_or_section_names_its_path():
    with pytest.raises(ConfigError, match=r"^'model_options\.latent_dim' in run/last\.pt must be >= 1, got -4$"):
        build_model("vae", {"latent_dim": -4}, source="run/last.pt", path="model_options")
    with pytest.raises(ConfigError, match=r"^'x\.train\.smoke\.weight_decay' in params\.yaml must be >= 0, got -1\.0$"):
        parse_train_settings({"steps": 1, "weight_decay": -1}, source="params.yaml", path="x.train.smoke")
    with pytest.raises(ConfigError, match=r"^'x\.evaluate\.smoke\.sample_count' in params\.yaml must be >= 1, got 0$"):
        parse_evaluate_settings({"sample_count": 0}, source="params.yaml", path="x.evaluate.smoke")


def test_directly_built_options_and_settings_are_checked_too():
    with pytest.raises(ConfigError, match=r"^'VAEOptions\.latent_dim' must be >= 1, got 0$"):
        VAE(VAEOptions(latent_dim=0))
    with pytest.raises(ConfigError, match=r"^'VAEOptions\.kl_weight' must be >= 0, got -1\.0$"):
        build_model("vae", VAEOptions(kl_weight=-1.0))  # typed options: checked by the model's constructor
    with pytest.raises(ConfigError, match=r"^'TrainSettings\.steps' must be >= 1, got 0$"):
        TrainSettings(steps=0)
    with pytest.raises(ConfigError, match=r"^'EvaluateSettings\.importance_samples' must be >= 1, got 0$"):
        EvaluateSettings(importance_samples=0)
    with pytest.raises(ConfigError, match=r"^'FidParams\.batch_size' must be >= 1, got 0$"):
        FidParams(batch_size=0)
    assert issubclass(ConfigError, ValueError)


def test_every_item_of_a_tuple_and_every_value_of_a_mapping_is_checked():
    with pytest.raises(ConfigError, match=r"^'o\.image_shape\[1\]' in params\.yaml must be >= 1, got 0$"):
        build_model("vae", {"image_shape": [1, 0, 8]}, source="params.yaml", path="o")
    with pytest.raises(ConfigError, match=r"^'TrainSettings\.adam_betas\[1\]' must be in \[0, 1\), got 1\.0$"):
        TrainSettings(steps=1, adam_betas=(0.9, 1.0))
    with pytest.raises(ConfigError, match=r"^'o\.multi_scale_dilations\[2\]' must be >= 1, got -1$"):
        build_model("lacl", {"multi_scale_dilations": [1, 2, -1]}, path="o")
    with pytest.raises(ConfigError, match=r"^'fid\.count\.smoke' in params\.yaml must be >= 2, got 1$"):
        from_mapping(FidParams, {"count": {"smoke": 1, "full": 100}}, path="fid", source="params.yaml")
    assert TrainSettings(steps=1, adam_betas=(0.0, 0.5)).adam_betas == (0.0, 0.5)


def test_none_passes_an_optional_ranged_field():
    assert TrainSettings(steps=1, gradient_clip=None, crop_size=None).gradient_clip is None
    assert EvaluateSettings(test_count=None).test_count is None
    assert ZhengOptions(denoiser_sigma=None).denoiser_sigma is None
    assert parse_train_settings({"steps": 1, "gradient_clip": None}).gradient_clip is None
    with pytest.raises(ConfigError, match=r"'gradient_clip' must be > 0 or null, got 0\.0$"):
        parse_train_settings({"steps": 1, "gradient_clip": 0})


def test_bounds_are_inclusive_or_exclusive_as_declared():
    assert TwoStageVAEOptions(first_stage_fraction=0.5).first_stage_fraction == 0.5
    for outside in (0.0, 1.0, math.nan):
        with pytest.raises(ConfigError, match=r"first_stage_fraction' must be in \(0, 1\)"):
            from_mapping(TwoStageVAEOptions, {"first_stage_fraction": outside})
    assert [Range(minimum=1).describe(), Range(above=0).describe(), Range(maximum=1).describe()] == [
        ">= 1",
        "> 0",
        "<= 1",
    ]
    assert Range(minimum=0, below=1).describe() == "in [0, 1)" and Range(above=0, maximum=1).describe() == "in (0, 1]"
    assert Range(minimum=0, maximum=1).contains(1) and not Range(minimum=0, below=1).contains(1)
    for wrong in ({}, {"minimum": 0, "above": 0}, {"maximum": 1, "below": 1}):
        with pytest.raises(TypeError):
            ranged(1, **wrong)


def project_options_classes() -> list[type]:
    """Options classes of the project's models (tests register toy models of their own)."""
    return [
        options_class(name) for name in registered_models() if options_class(name).__module__.startswith("vaerepro.")
    ]


def test_defaults_lie_in_their_ranges_and_every_model_declares_ranges():
    assert len(project_options_classes()) >= 13
    for cls in project_options_classes():
        check_ranges(cls())  # a default outside its own range would be a bug
        ranged_fields = {field.name for field in dataclasses.fields(cls) if "range" in field.metadata}
        assert "image_shape" in ranged_fields, f"{cls.__qualname__} declares no range for image_shape"
    for cls in (EvaluateSettings, FidParams):
        check_ranges(cls())
    check_ranges(TrainSettings(steps=1))


# Hand-written range checks of the styles this replaced. A message that names a bound is a range
# check written by hand; ``allowed`` lists the few that check a method's argument, not an option.
OLD_STYLE = re.compile(
    r"check_positive|_check_options|must be positive|must be >=? ?-?\d|must be <=? ?-?\d|must be in [\[(]"
    r"|must lie in|must be at least"
)
ALLOWED = {"divnoising.py": ['f"divnoising: count must be >= 1, got {count}"']}


def old_style_range_checks(path: Path) -> list[str]:
    text = path.read_text()
    for allowed in ALLOWED.get(path.name, []):
        text = text.replace(allowed, "")
    return [
        f"{path.name}:{text.count(chr(10), 0, match.start()) + 1}: {match.group()}"
        for match in OLD_STYLE.finditer(text)
    ]


def test_the_detector_finds_the_old_styles():
    samples = [
        'check_positive("vae", latent_dim=options.latent_dim)',
        "_check_options(options)",
        'raise ValueError(f"zheng: {name} must be positive, got {value}")',
        'raise ValueError(f"lacl: {name} must be >= 1, got {value}")',
        'raise ValueError(f"lacl: temperature must be > 0, got {options.temperature}")',
        'raise ValueError(f"two_stage_vae: first_stage_fraction must be in (0, 1), got {value}")',
        'problems.append(("adam_betas", f"must lie in [0, 1), got {settings.adam_betas}"))',
        'raise ValueError(f"zheng: prior_crop_size must be at least {BM3D_MINIMUM_SIZE}")',
    ]
    assert all(OLD_STYLE.search(sample) for sample in samples)


def test_no_options_or_settings_module_checks_a_range_by_hand():
    classes = project_options_classes() + [TrainSettings, EvaluateSettings, FidParams]
    modules = sorted({Path(inspect.getsourcefile(cls)) for cls in classes})
    assert {path.name for path in modules} >= {"vae.py", "lacl.py", "zheng.py", "settings.py", "config.py"}
    found = [finding for path in modules for finding in old_style_range_checks(path)]
    assert not found, "declare these ranges with vaerepro.structured.ranged instead:\n" + "\n".join(found)
