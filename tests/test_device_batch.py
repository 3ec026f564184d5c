"""The device batch round trip on the CPU: pack → run (--device cpu) → import → evaluate.

The same commands a GPU machine gets, with tiny models and a 15-second run, so the batch works
the first time a GPU is at hand (issue 15).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import repository_params, write_params_files
from tests.test_experiment_pipeline import TINY_EVALUATE, write_prepared
from vaerepro.device_batch.import_results import ImportRefused, import_batch
from vaerepro.device_batch.limits import CHECKS, LOG, RESULTS_ARCHIVE, TIMING
from vaerepro.device_batch.pack import PackError, pack
from vaerepro.training.checkpoints import read_checkpoint

REPOSITORY = Path(__file__).resolve().parents[1]
MACHINE_WITHOUT = """
import sys

MISSING = {"yaml", "dvc", "dvclive", "ruamel", "torchvision", "pytorch_fid"}


class NotOnThisMachine:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in MISSING:
            raise ModuleNotFoundError(f"No module named {name!r} (not on the GPU machine)")
        return None


sys.meta_path.insert(0, NotOnThisMachine())
"""
QUICK = {"batch_size": 8, "log_every": 5, "progress_bar": False, "dynamic_binarization": True}


def _entry(model: str, options: dict, full_steps: int) -> dict:
    return {
        "model": model,
        "dataset": "mnist",
        "train_dataset": "mnist",
        "options": options,
        "train": {
            "smoke": {"steps": 4, "checkpoint_every": 4, **QUICK},
            "full": {"steps": full_steps, "checkpoint_every": full_steps, **QUICK},
        },
        "evaluate": {"smoke": TINY_EVALUATE, "full": TINY_EVALUATE},
    }


def _repository(root: Path, profile: str) -> Path:
    raw = repository_params()
    experiments = {
        # a run far longer than the time box: stopped by the time limit
        "vae-mnist": _entry("vae", {"architecture": "mlp", "latent_dim": 2, "hidden_units": 16}, 10**7),
        # a run that ends well inside it
        "cvae-mnist": _entry("cvae", {"condition": "label", "latent_dim": 2, "hidden_units": 16}, 30),
    }
    raw.update(profile=profile, experiments=experiments, classifiers={}, templates={})
    raw["fid"] = {**raw["fid"], "reference": {}}  # FID needs weights the test does not have
    write_params_files(root, raw)
    if not (root / "data" / "prepared" / "mnist").exists():
        write_prepared(root / "data" / "prepared", train=64)
    return root


def test_pack_refuses_what_cannot_travel(tmp_path):
    repository = _repository(tmp_path, "smoke")
    with pytest.raises(PackError, match="no experiment 'nope'"):
        pack(repository, ["nope"])
    (repository / "data/prepared/mnist/summary.json").unlink()
    with pytest.raises(PackError, match="no experiment to pack: prepare mnist or cc15 first"):
        pack(repository)


def test_round_trip_on_the_cpu(tmp_path):
    repository = _repository(tmp_path / "repo", "smoke")
    manifest = pack(repository, profile="full", minutes=0.5)
    pack_dir = repository / "device_pack"
    assert sorted(manifest["experiments"]) == ["cvae-mnist", "vae-mnist"]
    assert manifest["profile"] == "full" and manifest["datasets"]["mnist"]["splits"] == ["train"]
    assert json.loads((pack_dir / "params.json").read_text())["profile"] == "full"
    assert manifest["vendor"]["packages"][:2] == ["tqdm", "pytorch_fid"]

    # The machine's side, as its one command runs it (from the code's repository root), on a
    # Python that cannot import what the GPU machines lack (PyYAML, dvc, dvclive, torchvision,
    # pytorch-fid): a sitecustomize on the path refuses them, in the run and in its trainers.
    blocker = tmp_path / "machine"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(MACHINE_WITHOUT)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "vaerepro.device_batch.run", "--pack", str(pack_dir), "--out", str(out)]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), "src"])}
    completed = subprocess.run(
        [*command, "--device", "cpu"], cwd=REPOSITORY, env=environment, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    files = sorted(path.name for path in out.iterdir())
    assert files == [CHECKS, f"{RESULTS_ARCHIVE}.part00", LOG, TIMING]
    rows = {row["experiment"]: row for row in json.loads((out / TIMING).read_text())["rows"]}
    assert rows["vae-mnist"]["stopped_by_time_limit"] and 0 < rows["vae-mnist"]["steps"] < 10**7
    assert rows["cvae-mnist"]["completed"] and rows["cvae-mnist"]["steps"] == 30
    assert rows["cvae-mnist"]["samples"] == "samples/cvae-mnist.png" and rows["vae-mnist"]["returned"]
    assert json.loads((out / CHECKS).read_text())["skipped"] == "no CUDA device"

    # Import: refused while params.yaml is at another profile, then placed and checked.
    with pytest.raises(ImportRefused, match="params.yaml says profile 'smoke', the batch ran 'full'"):
        import_batch(out, repository, commit=False)
    assert not (repository / "models").exists()  # nothing placed when refused
    _repository(repository, "full")
    result = import_batch(out, repository, commit=False)
    assert result["imported"] == ["cvae-mnist", "vae-mnist"]
    checkpoint = read_checkpoint(repository / "models/vae-mnist/checkpoint.pt")
    assert checkpoint["optimizers"] == {} and checkpoint["step"] == rows["vae-mnist"]["steps"]
    summary = json.loads((repository / "models/vae-mnist/train_summary.json").read_text())
    assert summary["device_batch"]["device"] == "cpu" and summary["stopped_by_time_limit"]
    assert (repository / "models/vae-mnist/dvclive/plots/metrics/train/loss.tsv").is_file()
    assert (repository / "reports/device_batch/samples/cvae-mnist.png").is_file()

    # evaluate@ runs here on the imported checkpoint, as `dvc repro evaluate@...` would.
    # (full profile on a CPU, on purpose: vaerepro.experiment.device_guard would stop it otherwise)
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY / "src"), "VAEREPRO_FULL_ON_CPU": "1"}
    subprocess.run(
        [sys.executable, str(REPOSITORY / "pipeline/evaluate.py"), "vae-mnist"],
        cwd=repository, env=environment, check=True, capture_output=True,
    )  # fmt: skip
    record = json.loads((repository / "reports/metrics/vae-mnist.json").read_text())
    assert record["profile"] == "full" and record["training"]["step"] == rows["vae-mnist"]["steps"]
    assert record["budget"]["trained"] == rows["vae-mnist"]["steps"]

    # A returned checkpoint cannot be resumed: its optimizer state stayed on the machine.
    completed = subprocess.run(
        [sys.executable, str(REPOSITORY / "pipeline/train.py"), "vae-mnist", "--stop-at-step", "1000000"],
        cwd=repository, env=environment, capture_output=True, text=True,
    )  # fmt: skip
    assert completed.returncode != 0 and "without its optimizer state" in completed.stderr

    # Params edited since the pack: the returned run is not this checkout's, and is refused.
    params_path = repository / "params.yaml"
    params_path.write_text(params_path.read_text().replace("hidden_units: 16", "hidden_units: 17", 1))
    with pytest.raises(ImportRefused, match="vae-mnist: its params entry differs from the one the batch ran"):
        import_batch(out, repository, commit=False)


def test_the_pack_keeps_what_can_come_back():
    """Weights barely compress: the experiments are taken in order while their sum fits."""
    from vaerepro.device_batch.pack import fit_return_limit

    mib = 1 << 20
    kept, left_out = fit_return_limit({"a": 30 * mib, "zheng": 107 * mib, "b": 25 * mib, "c": 10 * mib}, 60 * mib)
    assert kept == ["a", "b"]
    assert set(left_out) == {"zheng", "c"} and "107.0 MiB" in left_out["zheng"] and "55.0 of 60 MiB" in left_out["c"]


def test_the_return_size_counts_the_weights_average_where_a_run_keeps_one(tmp_path):
    """A run with weight_ema brings back two copies of its weights (the average is what
    evaluation scores), so the return budget counts both."""
    from tests.test_experiment_pipeline import experiment_entry, params_with
    from tests.test_models_contract import TINY_VDVAE
    from vaerepro.device_batch.pack import weights_bytes

    write_prepared(tmp_path / "data" / "prepared")
    plain = experiment_entry("vdvae", {**TINY_VDVAE, "likelihood": "bernoulli"})
    averaged = experiment_entry("vdvae", {**TINY_VDVAE, "likelihood": "bernoulli"})
    averaged["train"]["smoke"]["weight_ema"] = 0.99
    params = params_with(tmp_path, {"vdvae-mnist": plain, "vdvae_ema-mnist": averaged})
    single = weights_bytes(params, "vdvae-mnist", tmp_path)
    assert single > 0 and weights_bytes(params, "vdvae_ema-mnist", tmp_path) == 2 * single
