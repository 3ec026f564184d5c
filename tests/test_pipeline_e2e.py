"""End to end: `dvc repro prepare@mnist` in a fresh git repo, offline, from a fixture copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import dataset_fixtures as fixtures
from tests.conftest import REPOSITORY

pytestmark = pytest.mark.slow


def sh(command: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict]:
    """A copy of the pipeline in a new git repo; params trimmed to MNIST on a fixture copy."""
    root = tmp_path / "project"
    root.mkdir()
    for item in ("dvc.yaml", "pipeline", "src"):
        source = REPOSITORY / item
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / item)
    written = fixtures.write_mnist(tmp_path / "copies" / "mnist", train_count=40, test_count=10)
    params = yaml.safe_load((REPOSITORY / "params.yaml").read_text())
    params["local_copy"] = "../copies"
    params["datasets"] = {"mnist": params["datasets"]["mnist"]}
    params["classifiers"] = {}
    params["experiments"] = {}
    params["fid"]["reference"] = {"mnist": params["fid"]["reference"]["mnist"]}
    params["datasets"]["mnist"]["validation_count"] = 8
    for entry in params["datasets"]["mnist"]["files"]:
        entry.update(written[entry["name"]])
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    environment = dict(os.environ)
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment['PATH']}"
    environment["PYTHONPATH"] = str(root / "src")
    for command in (
        ["git", "init", "-q"],
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init"],
        [sys.executable, "-m", "dvc", "init", "-q"],
        [sys.executable, "-m", "dvc", "config", "core.analytics", "false"],
    ):
        sh(command, root, environment)
    return root, environment


def test_dvc_repro_prepare_mnist_offline(project):
    root, environment = project
    result = sh([sys.executable, "-m", "dvc", "repro", "prepare@mnist"], root, environment)
    assert "train 32, test 10, validation 8" in result.stdout
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"download@mnist", "prepare@mnist"}
    prepare_lock = lock["stages"]["prepare@mnist"]
    assert "datasets.mnist" in prepare_lock["params"]["params.yaml"]
    assert any(dep["path"] == "data/raw/mnist" for dep in prepare_lock["deps"])
    assert (root / "reports" / "figures" / "data" / "mnist.png").stat().st_size > 1000
    status = sh([sys.executable, "-m", "dvc", "status", "prepare@mnist"], root, environment)
    assert "up to date" in status.stdout
    # Editing an unrelated key of another section leaves the stages up to date; editing
    # this dataset's split re-runs prepare only.
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["datasets"]["mnist"]["validation_count"] = 4
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    rerun = sh([sys.executable, "-m", "dvc", "repro", "prepare@mnist"], root, environment)
    assert "Stage 'download@mnist' didn't change" in rerun.stdout
    assert "train 36, test 10, validation 4" in rerun.stdout


def test_bad_params_fail_before_work(project):
    root, environment = project
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["datasets"]["mnist"]["validaton_count"] = 3
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = subprocess.run([sys.executable, "-m", "dvc", "repro", "prepare@mnist"], cwd=root, env=environment,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "unknown key 'datasets.mnist.validaton_count'" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert not (root / "data" / "raw" / "mnist").exists()
