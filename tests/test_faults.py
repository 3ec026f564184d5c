"""Fault injection (issue 13): each fault ends in one message that names the file or key and
says what to do, a non-zero exit for the stage, and nothing committed lost.

The SIGKILL-through-``dvc repro``, failing-stage and stale-local-copy cases run DVC in a temp
repo (tests/test_pipeline_e2e.py); these are the in-process ones.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_models_contract import make
from tests.test_training_loop import settings, stream
from vaerepro.cli_errors import is_expected
from vaerepro.metrics.cli import main as metrics_main
from vaerepro.records import MalformedMetrics, MetricsRecord, read_record, write_record
from vaerepro.report.headline import headline_metrics
from vaerepro.report.records import load_records
from vaerepro.training import CheckpointUnusable, load_model, read_checkpoint, train
from vaerepro.training import checkpoints as checkpoint_module

PROVENANCE = {
    "experiment": "vae-mnist",
    "model": "vae",
    "dataset": "mnist",
    "task": "generation",
    "data_variant": "official",
    "dataset_sha256": "x",
    "profile": "smoke",
    "device": "cpu",
    "seed": 0,
    "git_revision": "r",
    "wall_time_seconds": {},
    "parameter_count": 1,
    "environment": {},
    "params": {},
}


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"\x80\x04garbage pickle"])
def test_an_unreadable_checkpoint_is_named_on_resume_and_on_load(tmp_path, content):
    train(make("vae-conv-bernoulli"), stream(), settings(steps=1), tmp_path, seed=0)
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(content if content else b"")
    for action in (
        lambda: train(make("vae-conv-bernoulli"), stream(), settings(steps=2), tmp_path, seed=0),
        lambda: load_model(checkpoint),
    ):
        with pytest.raises(CheckpointUnusable, match=f"checkpoint {checkpoint} .*cannot be read.*delete it") as caught:
            action()
        assert is_expected(caught.value)
    truncated = tmp_path / "half"
    train(make("vae-conv-bernoulli"), stream(), settings(steps=1), truncated, seed=0)
    data = (truncated / "checkpoint.pt").read_bytes()
    (truncated / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointUnusable, match="empty, truncated or not a checkpoint"):
        read_checkpoint(truncated / "checkpoint.pt")
    with pytest.raises(CheckpointUnusable, match="no checkpoint at .*dvc repro train@"):
        read_checkpoint(tmp_path / "elsewhere" / "checkpoint.pt")


def test_a_full_disk_during_a_checkpoint_names_the_file_and_keeps_the_previous_one(tmp_path, monkeypatch):
    train(make("vae-conv-bernoulli"), stream(), settings(steps=2), tmp_path, seed=0, stop_at_step=1)
    before = (tmp_path / "checkpoint.pt").read_bytes()

    def full_disk(payload, handle):
        handle.write(b"partial")
        raise RuntimeError(
            "[enforce fail at inline_container.cc] . PytorchStreamWriter failed writing file data/0: file write failed"
        ) from OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module.torch, "save", full_disk)
    with pytest.raises(
        CheckpointUnusable,
        match=r"could not write checkpoint .*checkpoint.pt: No space left on device; "
        r"the previous checkpoint there is unchanged",
    ):
        train(make("vae-conv-bernoulli"), stream(), settings(steps=2), tmp_path, seed=0)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_read_only_output_folder_is_named_before_any_work(tmp_path, monkeypatch):
    # Root ignores permission bits, so the refusal a read-only folder gives is injected.
    def read_only(self, data):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "write_bytes", read_only)
    with pytest.raises(CheckpointUnusable, match=f"cannot write checkpoints to {tmp_path / 'run'}: Permission denied"):
        train(make("vae-conv-bernoulli"), stream(), settings(steps=1), tmp_path / "run", seed=0)


def _record(tmp_path: Path, metrics: dict) -> Path:
    path = tmp_path / "metrics" / "vae-mnist.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"schema_version": 2, **PROVENANCE, "metrics": metrics, "figures": {}}))
    return path


@pytest.mark.parametrize(
    ("value", "shown"), [("12.5", "'12.5'"), (float("nan"), "nan"), (float("inf"), "inf"), (True, "True")]
)
def test_a_non_numeric_or_non_finite_metric_value_is_named_and_the_report_goes_on(tmp_path, value, shown):
    path = _record(tmp_path, {"psnr": {"value": value, "unit": "dB", "convention": "c"}})
    with pytest.raises(
        MalformedMetrics, match=f"{path.name}: metric 'psnr' has value {shown}; expected a finite number"
    ):
        read_record(path)
    records = load_records(path.parent)
    assert "vae-mnist" in records.errors and not records.records
    assert headline_metrics(records.records) == {}


def test_a_non_finite_result_is_written_as_not_measured_never_as_bare_nan(tmp_path):
    path = tmp_path / "vae-mnist.json"
    write_record(
        path,
        MetricsRecord(
            PROVENANCE,
            {
                "psnr": {"value": float("inf"), "unit": "dB", "convention": "c"},
                "ssim": {"value": 0.5, "unit": "", "convention": "c"},
            },
            budget={"unit": "none", "note": "no training: classical method", "evaluation_n": None},
        ),
    )
    text = path.read_text()
    assert "Infinity" not in text and "NaN" not in text
    json.loads(text, parse_constant=lambda name: pytest.fail(f"bare {name} in {path}"))
    record = read_record(path)
    assert (
        record["metrics"]["psnr"]["value"] is None
        and "non-finite value (inf)" in record["metrics"]["psnr"]["not_measured"]
    )
    assert record["metrics"]["ssim"]["value"] == 0.5


@pytest.mark.parametrize("content", [b"not an image at all", "truncated"])
def test_an_unreadable_image_in_the_metrics_cli_is_named(tmp_path, capsys, content):
    folder = tmp_path / "images"
    folder.mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(folder / "good.png")
    if content == "truncated":
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(folder / "bad.png")
        data = (folder / "bad.png").read_bytes()
        (folder / "bad.png").write_bytes(data[: len(data) // 2])
    else:
        (folder / "bad.png").write_bytes(content)
    status = metrics_main(["no-reference", str(folder), "-q"])
    error = capsys.readouterr().err
    assert status == 1 and f"{folder / 'bad.png'} is not a readable image" in error and "Traceback" not in error


def test_out_of_range_options_and_settings_name_the_key_and_the_file():
    from vaerepro.evaluation.settings import parse_evaluate_settings
    from vaerepro.models import build_model
    from vaerepro.structured import ConfigError

    with pytest.raises(
        ConfigError, match=r"^'experiments.vae-mnist.options.latent_dim' in params.yaml must be >= 1, got -4$"
    ):
        build_model(
            "vae",
            {"image_shape": [1, 8, 8], "latent_dim": -4},
            source="params.yaml",
            path="experiments.vae-mnist.options",
        )
    with pytest.raises(
        ConfigError,
        match=r"^'experiments.vae-mnist.evaluate.smoke.test_count' in params.yaml must be >= 2 or null, got -5$",
    ):
        parse_evaluate_settings({"test_count": -5}, source="params.yaml", path="experiments.vae-mnist.evaluate.smoke")


def test_transparent_images_are_refused_for_every_metric_with_their_name(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    rgba = np.random.default_rng(2).integers(0, 256, (16, 16, 4), dtype=np.uint8)
    rgba[0, 0, 3] = 0
    Image.fromarray(rgba, "RGBA").save(folder / "clear.png")
    for command in (["no-reference", str(folder), "-q"], ["fid", str(folder), str(folder), "-q"]):
        assert metrics_main(command) == 1
        assert f"{folder / 'clear.png'} has transparent pixels" in capsys.readouterr().err
    opaque = rgba.copy()
    opaque[..., 3] = 255
    Image.fromarray(opaque, "RGBA").save(folder / "clear.png")
    assert metrics_main(["no-reference", str(folder), "-q"]) == 0
