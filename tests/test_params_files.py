"""The layout of the params files: shared presets in one place, no experiment edits another,
and the dataset registry tracked by DVC from its own file."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import REPOSITORY
from vaerepro.config import DATASETS_FILE

PRESETS = "templates"


class AnchorRecordingLoader(yaml.SafeLoader):
    """A SafeLoader that remembers every anchored node (``&name``) it composes."""

    def __init__(self, stream):
        super().__init__(stream)
        self.anchored: list[tuple[str, yaml.Node]] = []

    def compose_node(self, parent, index):
        event = self.peek_event()
        anchor = getattr(event, "anchor", None) if not isinstance(event, yaml.AliasEvent) else None
        node = super().compose_node(parent, index)
        if anchor is not None:
            self.anchored.append((anchor, node))
        return node


def _walk(node: yaml.Node, path: str, into: dict[int, str]) -> None:
    """Record the first key path at which each node object appears (aliases reuse the object)."""
    if id(node) in into:
        return
    into[id(node)] = path
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            _walk(value, f"{path}.{key.value}" if path else str(key.value), into)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, f"{path}[{index}]", into)


def anchors_outside(text: str, section: str = PRESETS) -> list[str]:
    """``anchor at key.path`` for every anchor defined anywhere but under top-level ``section``.

    The document is walked in file order, so a node's first path is where its anchor is written
    (an alias can only follow its anchor).
    """
    loader = AnchorRecordingLoader(text)
    try:
        root = loader.get_single_node()
    finally:
        loader.dispose()
    paths: dict[int, str] = {}
    if root is not None:
        _walk(root, "", paths)
    return [
        f"&{anchor} at {paths[id(node)]}"
        for anchor, node in loader.anchored
        if not (paths[id(node)] == section or paths[id(node)].startswith(f"{section}."))
    ]


def test_every_anchor_of_params_yaml_is_a_shared_preset():
    outside = anchors_outside((REPOSITORY / "params.yaml").read_text())
    assert not outside, f"anchors defined outside '{PRESETS}' (an experiment that others alias): {outside}"


def test_the_anchor_check_finds_an_anchor_inside_an_experiment():
    text = """
templates:
  train: {smoke: &shared {steps: 1}}
experiments:
  a-mnist:
    train: {smoke: *shared}
    options: &a_options {latent_dim: 2}
  b-mnist:
    options: {<<: *a_options, latent_dim: 3}
    evaluate:
      - &deep {x: 1}
"""
    assert anchors_outside(text) == [
        "&a_options at experiments.a-mnist.options",
        "&deep at experiments.b-mnist.evaluate[0]",
    ]
    assert anchors_outside("templates: {a: &a 1}\nb: *a\n") == []


def test_the_anchor_check_fails_on_the_repository_file_with_an_anchor_moved_into_an_experiment():
    text = (REPOSITORY / "params.yaml").read_text()
    assert "    options: *zheng_options\n" in text
    moved = text.replace("    options: &zheng_options {", "    options_template: {", 1).replace(
        "    options: *zheng_options\n",
        "    options: &zheng_options {base_channels: 64, num_downsamplings: 4, denoiser: bm3d, denoiser_sigma: 5, "
        "prior_items: 4, prior_crop_size: 64}\n",
        1,
    )
    assert anchors_outside(moved) == ["&zheng_options at experiments.zheng-cc15.options"]
    with pytest.raises(AssertionError, match="zheng_options"):
        assert not anchors_outside(moved), anchors_outside(moved)


def test_presets_come_first_and_the_registry_is_its_own_file():
    params = yaml.safe_load((REPOSITORY / "params.yaml").read_text())
    assert list(params)[:4] == ["seed", "profile", "local_copy", PRESETS]
    assert "datasets" not in params
    assert list(yaml.safe_load((REPOSITORY / DATASETS_FILE).read_text())) == ["datasets"]


def test_dvc_yaml_tracks_dataset_params_from_the_registry_file():
    """Every ``datasets.*`` param of a stage is listed under the registry's file name (DVC would
    otherwise look for it in params.yaml), and ``vars`` loads the registry for ``${datasets}``."""
    dvc = yaml.safe_load((REPOSITORY / "dvc.yaml").read_text())
    assert DATASETS_FILE in dvc["vars"]
    registry_keys: dict[str, list[str]] = {}
    for name, stage in dvc["stages"].items():
        body = stage.get("do", stage)
        for entry in body.get("params", []):
            if isinstance(entry, str):
                assert not entry.startswith("datasets"), f"{name}: '{entry}' is read from params.yaml"
            else:
                for file, keys in entry.items():
                    assert file == DATASETS_FILE, f"{name}: params from {file}"
                    registry_keys[name] = keys
    assert registry_keys == {
        "download": [
            "datasets.${key}.files",
            "datasets.${key}.checksum_manifest",
            "datasets.${key}.manual_instructions",
        ],
        "prepare": ["datasets.${key}"],
    }


@pytest.mark.parametrize("name", ["params.yaml", DATASETS_FILE, "dvc.yaml", "dvc.lock"])
def test_dvc_reads_each_yaml_file_with_the_c_loader_and_gets_the_same_data(name):
    """DVC parses these with ruamel's safe loader, which is libyaml when ``ruamel.yaml.clib`` is
    installed (a dependency, for speed). libyaml is stricter than PyYAML's pure loader (a URL in
    a flow list ``[https://...]`` is an error there), so every file must parse with it too."""
    from ruamel.yaml import YAML

    loader = YAML(typ="safe")
    assert "CParser" in loader.Parser.__name__, "ruamel.yaml.clib is not installed: DVC falls back to pure Python"
    text = (REPOSITORY / name).read_text()
    assert loader.load(text) == yaml.safe_load(text)


def test_the_c_loader_check_fails_on_a_url_in_a_flow_list():
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    with pytest.raises(YAMLError):
        YAML(typ="safe").load("urls: [https://example.org/a.gz]\n")


def test_the_committed_profile_is_the_one_dvc_lock_and_the_records_were_made_with():
    """A fresh clone's ``dvc status`` must not report changed params: the committed params.yaml
    states the profile its committed results (dvc.lock, reports/metrics) were made with."""
    profile = yaml.safe_load((REPOSITORY / "params.yaml").read_text())["profile"]
    lock = yaml.safe_load((REPOSITORY / "dvc.lock").read_text())["stages"]
    locked = {
        name: stage["params"]["params.yaml"]["profile"]
        for name, stage in lock.items()
        if "profile" in (stage.get("params") or {}).get("params.yaml", {})
    }
    assert locked and {name: value for name, value in locked.items() if value != profile} == {}
    records = sorted((REPOSITORY / "reports" / "metrics").glob("*.json"))
    assert records
    for path in records:
        assert json.loads(path.read_text())["profile"] == profile, path.name


def test_dvc_plots_are_the_committed_training_curves():
    """``dvc plots show`` must draw on a fresh clone: its plots are committed files, all of them."""
    plots = yaml.safe_load((REPOSITORY / "dvc.yaml").read_text())["plots"]
    committed = sorted(
        path.relative_to(REPOSITORY).as_posix() for path in REPOSITORY.glob("reports/figures/*/training_curves.png")
    )
    assert committed and sorted(plots) == committed


def test_each_evaluation_depends_on_its_own_instruments_only():
    """evaluate@'s deps, as DVC resolves them from dvc.yaml and params.yaml: an MNIST model's on
    the MNIST classifier and FID reference, a restoration model's on no classifier or FID file."""
    from dvc.repo import Repo

    raw = yaml.safe_load((REPOSITORY / "params.yaml").read_text())["experiments"]
    assert all("instruments" in entry for entry in raw.values()), "dvc.yaml interpolates it for every experiment"
    with Repo(str(REPOSITORY)) as repo:
        deps = {
            stage.name.split("@", 1)[1]: {dep.def_path for dep in stage.deps}
            for stage in repo.index.stages
            if stage.name.startswith("evaluate@")
        }
    assert set(deps) == set(raw)
    instruments = ("models/classifiers", "data/fid_reference", "models/fid_inception")
    classifiers = yaml.safe_load((REPOSITORY / "params.yaml").read_text())["classifiers"]
    for name, paths in deps.items():
        dataset = raw[name]["dataset"]
        used = sorted(path for path in paths if path.startswith(instruments))
        if "restoration" in raw[name]:
            assert used == [], name
        else:  # CelebA-HQ has FID but no classifier of its own
            classifier = [f"models/classifiers/{dataset}"] if dataset in classifiers else []
            assert used == sorted([*classifier, f"data/fid_reference/{dataset}", "models/fid_inception"]), name


def test_an_experiment_naming_another_datasets_instrument_is_refused(tmp_path):
    """A restoration experiment that names the MNIST classifier would put it in its lineage."""
    from vaerepro.config import load_params
    from vaerepro.structured import ConfigError

    text = (REPOSITORY / "params.yaml").read_text()
    wrong = text.replace("    instruments: *cc15_instruments", "    instruments: *mnist_instruments", 1)
    assert wrong != text
    (tmp_path / "params.yaml").write_text(wrong)
    with pytest.raises(ConfigError, match=r"experiments\.\w+-cc15\.instruments' .* must be .*data/prepared/cc15"):
        load_params(tmp_path / "params.yaml", REPOSITORY / DATASETS_FILE)


@pytest.mark.parametrize("profile", ["smoke", "cpu", "full"])
@pytest.mark.parametrize("name", ["vqvae2-celeba_hq", "vqgan-celeba_hq"])
def test_the_celeba_hq_experiments_build_at_every_profile(tmp_path, name, profile):
    """No CelebA-HQ here: the prepared data's summary is written by hand (256x256 RGB), so the
    experiments' options resolve and their models build as a user with the data would get them."""
    import torch

    from vaerepro.config import load_params
    from vaerepro.experiment import resolve
    from vaerepro.models.registry import build_model

    prepared = tmp_path / "celeba_hq"
    prepared.mkdir()
    shape = {"images": {"shape": [3000, 256, 256, 3], "dtype": "uint8"}}
    (prepared / "summary.json").write_text(json.dumps({"splits": {"test": {"arrays": shape}}}))
    params = load_params(REPOSITORY / "params.yaml").with_profile(profile)
    experiment = resolve(params, name, prepared_root=tmp_path)
    assert experiment.options.image_shape == (3, 256, 256)
    with torch.device("meta"):  # built without memory or initialisation cost: the shapes are what is checked
        model = build_model(experiment.model, experiment.options)
    # The papers' grids at every profile (f = 4 and 8 for VQ-VAE-2, f = 16 for VQGAN).
    grid = {"vqvae2-celeba_hq": {"bottom": (64, 64), "top": (32, 32)}, "vqgan-celeba_hq": {"bottom": (16, 16)}}
    assert model.grids == grid[name]


@pytest.mark.parametrize("profile", ["smoke", "cpu", "full"])
def test_every_experiments_train_and_evaluate_sections_parse_at_every_profile(profile):
    """The typed settings' ranges, checked for every experiment before any stage runs them (a
    smoke AWGN test_count of 1 once failed only inside the CI pipeline)."""
    from vaerepro.evaluation.settings import parse_evaluate_settings
    from vaerepro.training.settings import parse_train_settings

    raw = yaml.safe_load((REPOSITORY / "params.yaml").read_text())
    for name, entry in raw["experiments"].items():
        if "train" in entry:
            parse_train_settings(
                entry["train"][profile], source="params.yaml", path=f"experiments.{name}.train.{profile}"
            )
        parse_evaluate_settings(
            entry["evaluate"][profile], source="params.yaml", path=f"experiments.{name}.evaluate.{profile}"
        )
