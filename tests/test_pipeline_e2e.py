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
from tests.conftest import REPOSITORY, repository_params, write_params_files

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
    params = repository_params()
    params["local_copy"] = "../copies"
    params["datasets"] = {"mnist": params["datasets"]["mnist"]}
    params["classifiers"] = {}
    params["experiments"] = {}
    params["fid"]["reference"] = {"mnist": params["fid"]["reference"]["mnist"]}
    params["datasets"]["mnist"]["validation_count"] = 8
    for entry in params["datasets"]["mnist"]["files"]:
        entry.update(written[entry["name"]])
    write_params_files(root, params)
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
    shutil.copy(REPOSITORY / ".dvcignore", root / ".dvcignore")  # __pycache__ is not code lineage
    return root, environment


def read_params(root: Path) -> dict:
    """The project's params.yaml and datasets.yaml as one dict (see tests/conftest.py)."""
    return yaml.safe_load((root / "params.yaml").read_text()) | yaml.safe_load((root / "datasets.yaml").read_text())


def test_dvc_repro_prepare_mnist_offline(project):
    root, environment = project
    result = sh([sys.executable, "-m", "dvc", "repro", "prepare@mnist"], root, environment)
    assert "train 32, test 10, validation 8" in result.stdout
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    assert set(lock["stages"]) == {"lineage", "local_copy@mnist", "download@mnist", "prepare@mnist"}
    # Each stage's code lineage is one hashed fingerprint, written by the lineage stage.
    assert {dep["path"] for dep in lock["stages"]["prepare@mnist"]["deps"]} == {
        "data/raw/mnist",
        "lineage/prepare.json",
    }
    fingerprint = yaml.safe_load((root / "lineage" / "prepare.json").read_text())
    assert "pipeline/prepare.py" in fingerprint["files"] and "src/vaerepro/data/prepare.py" in fingerprint["files"]
    prepare_lock = lock["stages"]["prepare@mnist"]
    # The registry's values are tracked from their own file, the global knobs from params.yaml.
    assert (
        set(prepare_lock["params"]) == {"datasets.yaml"} and "datasets.mnist" in prepare_lock["params"]["datasets.yaml"]
    )
    download_params = lock["stages"]["download@mnist"]["params"]
    assert set(download_params["params.yaml"]) == {"local_copy"}
    assert set(download_params["datasets.yaml"]) == {
        f"datasets.mnist.{key}" for key in ("files", "checksum_manifest", "manual_instructions")
    }
    assert any(dep["path"] == "data/raw/mnist" for dep in prepare_lock["deps"])
    assert (root / "reports" / "figures" / "data" / "mnist.png").stat().st_size > 1000
    status = sh([sys.executable, "-m", "dvc", "status", "prepare@mnist"], root, environment)
    assert "up to date" in status.stdout
    # Editing an unrelated key of another section leaves the stages up to date; editing
    # this dataset's split re-runs prepare only.
    params = read_params(root)
    params["fid"]["batch_size"] = 25
    params["datasets"]["mnist"]["validation_count"] = 4
    write_params_files(root, params)
    rerun = sh([sys.executable, "-m", "dvc", "repro", "prepare@mnist"], root, environment)
    assert "Stage 'download@mnist' didn't change" in rerun.stdout
    assert "train 36, test 10, validation 4" in rerun.stdout

    # A code edit re-runs the stages that import the file and no other.
    with (root / "src" / "vaerepro" / "data" / "prepare.py").open("a") as file:
        file.write("\n# an edit\n")
    status = sh([sys.executable, "-m", "dvc", "status"], root, environment)
    assert "lineage:" in status.stdout  # the lineage stage sees the edit first
    rerun = sh([sys.executable, "-m", "dvc", "repro", "prepare@mnist"], root, environment)
    assert "Running stage 'lineage'" in rerun.stdout and "Running stage 'prepare@mnist'" in rerun.stdout
    assert "Stage 'download@mnist' didn't change" in rerun.stdout


def test_bad_params_fail_before_work(project):
    root, environment = project
    params = read_params(root)
    params["datasets"]["mnist"]["validaton_count"] = 3
    write_params_files(root, params)
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "repro", "prepare@mnist"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert "unknown key 'datasets.mnist.validaton_count' in datasets.yaml" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
    assert not (root / "data" / "raw" / "mnist").exists()


def _add_tiny_vae(root: Path, steps: int, checkpoint_every: int) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["profile"] = "smoke"
    train = {
        "steps": steps,
        "batch_size": 8,
        "learning_rate": 0.001,
        "dynamic_binarization": True,
        "log_every": 50,
        "checkpoint_every": checkpoint_every,
        "progress_bar": False,
    }
    params["experiments"] = {
        "vae-mnist": {
            "model": "vae",
            "dataset": "mnist",
            "train_dataset": "mnist",
            "instruments": _instruments(params, "mnist"),  # dvc.yaml interpolates it
            "options": {"architecture": "conv", "latent_dim": 2, "hidden_channels": 4, "likelihood": "bernoulli"},
            "train": {"smoke": train, "full": train},
            "evaluate": {"smoke": {}, "full": {}},
        }
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _instruments(params: dict, dataset: str) -> dict[str, str]:
    """What config.expected_instruments accepts for a generative experiment on ``dataset``."""
    data = f"data/prepared/{dataset}"
    fid = dataset in (params.get("fid") or {}).get("reference", {})
    return {
        "classifier": f"models/classifiers/{dataset}" if dataset in (params.get("classifiers") or {}) else data,
        "fid_reference": f"data/fid_reference/{dataset}" if fid else data,
        "fid_weights": "models/fid_inception" if fid else data,
    }


def _checkpoint_step(path: Path) -> int:
    import torch

    return int(torch.load(path, map_location="cpu", weights_only=True)["step"])


def test_killed_dvc_repro_of_training_resumes_and_ends_as_an_uninterrupted_run(project):
    import signal
    import time

    import torch

    root, environment = project
    _add_tiny_vae(root, steps=1500, checkpoint_every=100)
    sh([sys.executable, "-m", "dvc", "repro", "prepare@mnist"], root, environment)
    checkpoint = root / "models" / "vae-mnist" / "checkpoint.pt"
    process = subprocess.Popen(
        [sys.executable, "-m", "dvc", "repro", "train@vae-mnist"],
        cwd=root,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while not checkpoint.is_file() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # dvc and the training process: as `kill -9` would
    process.wait()
    assert checkpoint.is_file(), "training never wrote a checkpoint before the kill"
    killed_at = _checkpoint_step(checkpoint)
    assert 0 < killed_at < 1500
    (checkpoint.parent / f".{checkpoint.name}.999999.tmp").write_bytes(b"half-written")  # a kill mid-save

    resumed = sh([sys.executable, "-m", "dvc", "repro", "train@vae-mnist"], root, environment)
    assert "step 1500/1500" in resumed.stdout
    assert not list(checkpoint.parent.glob(".*.tmp"))  # no temporary inside the recorded output
    resumed_state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert resumed_state["step"] == 1500

    # The same stage forced to run again starts over (the previous run had finished) and, run
    # without interruption, ends with the same weights.
    straight = sh([sys.executable, "-m", "dvc", "repro", "-f", "train@vae-mnist"], root, environment)
    assert "starting over from step 0" in straight.stdout
    straight_state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    for name, tensor in straight_state["model_state"].items():
        torch.testing.assert_close(resumed_state["model_state"][name], tensor, rtol=0, atol=0, msg=name)


def test_a_failing_stage_leaves_committed_summaries_in_place(project):
    root, environment = project
    sh([sys.executable, "-m", "dvc", "repro", "prepare@mnist"], root, environment)
    summary = root / "reports" / "data" / "mnist.json"
    before = summary.read_bytes()
    params = read_params(root)
    params["datasets"]["mnist"]["validation_count"] = 10**6  # more than the training split: prepare@ fails
    write_params_files(root, params)
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "repro", "prepare@mnist"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert summary.read_bytes() == before
    assert (root / "reports" / "figures" / "data" / "mnist.png").is_file()


def test_a_changed_local_copy_file_reruns_its_download_stage(project, tmp_path):
    root, environment = project
    sh([sys.executable, "-m", "dvc", "repro", "prepare@mnist"], root, environment)
    local_file = tmp_path / "copies" / "mnist" / "t10k-labels-idx1-ubyte.gz"
    original = local_file.read_bytes()
    local_file.write_bytes(original[:-10])  # the copy is damaged after a successful run
    broken = subprocess.run(
        [sys.executable, "-m", "dvc", "repro", "prepare@mnist"],
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # Before issue 13 DVC said "up to date" here: download@ did not depend on the copy's content.
    assert broken.returncode != 0 and "Running stage 'download@mnist'" in broken.stdout
    assert "t10k-labels-idx1-ubyte.gz" in broken.stdout + broken.stderr
    local_file.write_bytes(original)  # repaired: the recorded content again, restored without `-f`
    sh([sys.executable, "-m", "dvc", "repro", "prepare@mnist"], root, environment)
    assert (root / "data" / "raw" / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes() == original
    status = sh([sys.executable, "-m", "dvc", "status", "download@mnist"], root, environment)
    assert "download@mnist" not in status.stdout.replace("local_copy@mnist", "")
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    assert str(tmp_path) not in yaml.safe_dump(lock)  # lineage holds no absolute path
