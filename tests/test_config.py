"""params.yaml is loaded strictly: bad keys fail before any work, naming key and file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import REPOSITORY, repository_params
from vaerepro.config import load_params
from vaerepro.structured import ConfigError


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_repository_params_load():
    params = load_params(REPOSITORY / "params.yaml")
    assert params.profile in ("smoke", "full")
    assert set(params.datasets) == {"mnist", "cifar10", "celeba_hq", "lol", "euvp", "cc15"}
    assert params.datasets["mnist"].files[0].md5 == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert params.root == REPOSITORY


def test_unknown_top_level_key_names_key_and_file(tmp_path):
    data = repository_params() | {"sed": 3}
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match=r"unknown key 'sed' in .*params.yaml"):
        load_params(path)


def test_unknown_nested_key_gives_full_path(tmp_path):
    data = repository_params()
    data["datasets"]["mnist"]["validaton_count"] = 10
    with pytest.raises(ConfigError, match=r"'datasets.mnist.validaton_count'.*allowed keys.*validation_count"):
        load_params(write(tmp_path, data))


def test_mistyped_value(tmp_path):
    data = repository_params()
    data["datasets"]["lol"]["validation_count"] = "fifteen"
    with pytest.raises(ConfigError, match=r"'datasets.lol.validation_count' in .* must be an integer"):
        load_params(write(tmp_path, data))


def test_bool_is_not_an_int(tmp_path):
    data = repository_params() | {"seed": True}
    with pytest.raises(ConfigError, match="'seed'.*integer"):
        load_params(write(tmp_path, data))


def test_bad_profile(tmp_path):
    data = repository_params() | {"profile": "quick"}
    with pytest.raises(ConfigError, match=r"'profile'.*one of 'smoke', 'full'"):
        load_params(write(tmp_path, data))


def test_missing_required_key(tmp_path):
    data = repository_params()
    del data["seed"]
    with pytest.raises(ConfigError, match="missing required key 'seed'"):
        load_params(write(tmp_path, data))


def test_unknown_dataset(tmp_path):
    data = repository_params()
    data["datasets"]["imagenet"] = data["datasets"]["mnist"]
    with pytest.raises(ConfigError, match="unknown dataset 'datasets.imagenet'"):
        load_params(write(tmp_path, data))


def test_experiment_must_name_a_defined_dataset(tmp_path):
    data = repository_params() | {"experiments": {"vae-svhn": {"model": "vae", "dataset": "svhn", "train_dataset": "svhn"}}}
    with pytest.raises(ConfigError, match="experiments.vae-svhn.dataset"):
        load_params(write(tmp_path, data))


def test_experiment_unknown_profile(tmp_path):
    data = repository_params() | {
        "experiments": {"vae-mnist": {"model": "vae", "dataset": "mnist", "train_dataset": "mnist", "train": {"medium": {}}}}
    }
    with pytest.raises(ConfigError, match="experiments.vae-mnist.train.medium"):
        load_params(write(tmp_path, data))


def test_not_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")


def test_local_copy_resolves_relative_to_file(tmp_path):
    data = repository_params() | {"local_copy": "copies"}
    params = load_params(write(tmp_path, data))
    assert params.local_copy_dir == (tmp_path / "copies").resolve()


def test_params_are_frozen():
    params = load_params(REPOSITORY / "params.yaml")
    with pytest.raises(AttributeError):
        params.seed = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        params.datasets["mnist"].member_md5["x"] = "y"  # type: ignore[index]


def test_fid_section_is_checked(tmp_path):
    params = load_params(REPOSITORY / "params.yaml")
    assert set(params.fid.reference) == {"mnist", "cifar10"} and params.fid.count_for("smoke") >= 2
    for change, message in (
        (lambda fid: fid["reference"].update(svhn={"split": "test"}), r"'fid.reference.svhn'.*no dataset"),
        (lambda fid: fid["count"].update(smoke=1), r"'fid.count.smoke'.*>= 2"),
        (lambda fid: fid["count"].update(medium=10), r"unknown profile 'fid.count.medium'"),
        (lambda fid: fid.update(batch_size=0), r"'fid.batch_size'.*>= 1"),
        (lambda fid: fid["reference"]["mnist"].update(flor_split="train"), r"'fid.reference.mnist.flor_split'"),
    ):
        data = repository_params()
        change(data["fid"])
        with pytest.raises(ConfigError, match=message):
            load_params(write(tmp_path, data))
