"""params.yaml and datasets.yaml are loaded strictly: bad keys fail before any work, naming key and file."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import REPOSITORY, repository_params, write_params_files
from vaerepro.config import load_params
from vaerepro.structured import ConfigError


def write(tmp_path: Path, data: dict) -> Path:
    """params.yaml (and datasets.yaml, from data["datasets"]) in tmp_path; the params.yaml path."""
    return write_params_files(tmp_path, data)


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


def test_unknown_nested_key_gives_full_path_and_the_datasets_file(tmp_path):
    data = repository_params()
    data["datasets"]["mnist"]["validaton_count"] = 10
    with pytest.raises(
        ConfigError, match=r"'datasets.mnist.validaton_count' in .*datasets.yaml;.*allowed keys.*validation_count"
    ):
        load_params(write(tmp_path, data))


def test_mistyped_value(tmp_path):
    data = repository_params()
    data["datasets"]["lol"]["validation_count"] = "fifteen"
    with pytest.raises(ConfigError, match=r"'datasets.lol.validation_count' in .*datasets.yaml must be an integer"):
        load_params(write(tmp_path, data))


def test_datasets_in_params_yaml_points_to_the_registry(tmp_path):
    data = repository_params()
    path = write(tmp_path, data)
    path.write_text(path.read_text() + yaml.safe_dump({"datasets": data["datasets"]}))
    with pytest.raises(
        ConfigError, match=r"'datasets' in .*params.yaml: the dataset registry .* belongs in .*datasets.yaml"
    ):
        load_params(path)


def test_unknown_top_level_key_in_the_registry_names_it(tmp_path):
    data = repository_params()
    path = write(tmp_path, data)
    (tmp_path / "datasets.yaml").write_text(yaml.safe_dump({"datasets": data["datasets"], "local_copy": "x"}))
    with pytest.raises(ConfigError, match=r"unknown key 'local_copy' in .*datasets.yaml; allowed keys here: datasets"):
        load_params(path)


def test_missing_registry(tmp_path):
    path = write(tmp_path, {key: value for key, value in repository_params().items() if key != "datasets"})
    with pytest.raises(ConfigError, match=r"dataset registry .*datasets.yaml not found"):
        load_params(path)


def test_registry_path_can_be_given(tmp_path):
    data = repository_params()
    data["datasets"]["mnist"]["validation_count"] = 7
    write(tmp_path / "elsewhere", data)
    params = load_params(REPOSITORY / "params.yaml", datasets_path=tmp_path / "elsewhere" / "datasets.yaml")
    assert (
        params.datasets["mnist"].validation_count == 7
        and params.experiments == load_params(REPOSITORY / "params.yaml").experiments
    )


def test_train_dataset_is_required(tmp_path):
    # dvc.yaml interpolates ${item.train_dataset}; DVC has no default for a missing key.
    data = repository_params()
    del data["experiments"]["vae-mnist"]["train_dataset"]
    with pytest.raises(
        ConfigError, match=r"missing required key 'experiments.vae-mnist.train_dataset' in .*params.yaml"
    ):
        load_params(write(tmp_path, data))


def test_bool_is_not_an_int(tmp_path):
    data = repository_params() | {"seed": True}
    with pytest.raises(ConfigError, match="'seed'.*integer"):
        load_params(write(tmp_path, data))


def test_bad_profile(tmp_path):
    data = repository_params() | {"profile": "quick"}
    with pytest.raises(ConfigError, match=r"'profile'.*one of 'smoke', 'cpu', 'full'"):
        load_params(write(tmp_path, data))


def test_missing_required_key(tmp_path):
    data = repository_params()
    del data["seed"]
    with pytest.raises(ConfigError, match="missing required key 'seed'"):
        load_params(write(tmp_path, data))


def test_unknown_dataset(tmp_path):
    data = repository_params()
    data["datasets"]["imagenet"] = data["datasets"]["mnist"]
    with pytest.raises(ConfigError, match=r"unknown dataset 'datasets.imagenet' in .*datasets.yaml"):
        load_params(write(tmp_path, data))


def test_experiment_must_name_a_defined_dataset(tmp_path):
    data = repository_params() | {
        "experiments": {"vae-svhn": {"model": "vae", "dataset": "svhn", "train_dataset": "svhn"}}
    }
    with pytest.raises(
        ConfigError,
        match=r"'experiments.vae-svhn.dataset' in .*params.yaml .*not defined under 'datasets' in .*datasets.yaml",
    ):
        load_params(write(tmp_path, data))


def test_experiment_unknown_profile(tmp_path):
    data = repository_params() | {
        "experiments": {
            "vae-mnist": {"model": "vae", "dataset": "mnist", "train_dataset": "mnist", "train": {"medium": {}}}
        }
    }
    with pytest.raises(ConfigError, match="experiments.vae-mnist.train.medium"):
        load_params(write(tmp_path, data))


def test_not_yaml(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("seed: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(path)
    path = write(tmp_path, repository_params())
    (tmp_path / "datasets.yaml").write_text("datasets: {mnist: [\n")
    with pytest.raises(ConfigError, match=r"datasets.yaml is not valid YAML"):
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
    assert set(params.fid.reference) == {"mnist", "cifar10", "celeba_hq"} and params.fid.count_for("smoke") >= 2
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
