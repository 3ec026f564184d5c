"""Fetch (download@) and prepare (prepare@) for every dataset, from fixtures in official formats."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests import dataset_fixtures as fixtures
from vaerepro.data.datasets import handler
from vaerepro.data.errors import ChecksumMismatch, CorruptArchive, MissingDatasetFile
from vaerepro.data.fetch import fetch
from vaerepro.data.prepare import prepare
from vaerepro.data.prepared import load_split


def run(tmp_path: Path, params, name: str) -> dict:
    fetch(name, params, tmp_path / "raw", tmp_path / "downloads")
    return prepare(name, params, tmp_path / "raw", tmp_path / "prepared")


def mnist_sources(written: dict) -> dict:
    return {
        "files": [
            {"name": name, "md5": digests["md5"], "sha256": digests["sha256"]} for name, digests in written.items()
        ]
    }


def test_mnist_from_local_copy(tmp_path, write_params):
    written = fixtures.write_mnist(tmp_path / "local" / "mnist", train_count=30, test_count=10)
    params = write_params(datasets={"mnist": mnist_sources(written) | {"validation_count": 5}})
    summary = run(tmp_path, params, "mnist")
    assert summary["variant"] == "official"
    assert summary["source"]["verification"]["official_checksum"] == 4
    assert {name: split["count"] for name, split in summary["splits"].items()} == {
        "train": 25,
        "validation": 5,
        "test": 10,
    }
    train = load_split(tmp_path / "prepared" / "mnist", "train")
    assert train["images"].shape == (25, 28, 28, 1) and train["images"].dtype == np.uint8
    assert train["labels"].dtype == np.int64
    assert train.variant == "official"
    # The validation carve-out is a pure function of the seed: run again, same arrays.
    again = prepare("mnist", params, tmp_path / "raw", tmp_path / "prepared-again")
    assert again["splits"] == summary["splits"]


def test_mnist_images_round_trip_exactly(tmp_path, write_params):
    written = fixtures.write_mnist(tmp_path / "local" / "mnist")
    params = write_params(datasets={"mnist": mnist_sources(written) | {"validation_count": 0}})
    run(tmp_path, params, "mnist")
    expected = np.random.default_rng(fixtures.RNG_SEED).integers(0, 256, size=(30, 28, 28), dtype=np.uint8)
    assert np.array_equal(load_split(tmp_path / "prepared" / "mnist", "train")["images"][..., 0], expected)


def test_local_copy_checksum_mismatch_names_both_hashes_and_uses_nothing(tmp_path, write_params):
    written = fixtures.write_mnist(tmp_path / "local" / "mnist")
    sources = mnist_sources(written)
    sources["files"][0]["sha256"] = "f" * 64
    params = write_params(datasets={"mnist": sources})
    with pytest.raises(ChecksumMismatch) as caught:
        fetch("mnist", params, tmp_path / "raw", tmp_path / "downloads")
    assert "f" * 64 in str(caught.value) and written["train-images-idx3-ubyte.gz"]["sha256"] in str(caught.value)
    assert not (tmp_path / "raw" / "mnist").exists()
    assert (tmp_path / "local" / "mnist" / "train-images-idx3-ubyte.gz").exists()  # a user's file is never touched


def test_downloaded_file_with_bad_checksum_is_moved_aside(tmp_path, write_params):
    written = fixtures.write_mnist(tmp_path / "downloads" / "mnist")
    sources = mnist_sources(written)
    sources["files"][1]["md5"] = "0" * 32
    params = write_params(local_copy=None, datasets={"mnist": sources})
    with pytest.raises(ChecksumMismatch, match="0" * 32):
        fetch("mnist", params, tmp_path / "raw", tmp_path / "downloads")
    name = sources["files"][1]["name"]
    assert not (tmp_path / "downloads" / "mnist" / name).exists()
    assert len(list((tmp_path / "downloads" / "mnist").glob(f"{name}.rejected-*"))) == 1
    assert not (tmp_path / "raw" / "mnist").exists()


def test_manual_dataset_missing_gives_instructions(tmp_path, write_params):
    params = write_params()
    with pytest.raises(MissingDatasetFile) as caught:
        fetch("lol", params, tmp_path / "raw", tmp_path / "downloads")
    message = str(caught.value)
    assert "LOLdataset.zip" in message and str(tmp_path / "downloads" / "lol") in message and "local_copy" in message


def test_truncated_idx_is_a_clear_error_and_leaves_no_prepared_dir(tmp_path, write_params):
    written = fixtures.write_mnist(tmp_path / "local" / "mnist")
    path = tmp_path / "local" / "mnist" / "t10k-images-idx3-ubyte.gz"
    import gzip

    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100], mtime=0))
    written = {
        name: {
            "md5": fixtures.md5((tmp_path / "local" / "mnist" / name).read_bytes()),
            "sha256": fixtures.sha256((tmp_path / "local" / "mnist" / name).read_bytes()),
        }
        for name in written
    }
    params = write_params(datasets={"mnist": mnist_sources(written)})
    fetch("mnist", params, tmp_path / "raw", tmp_path / "downloads")
    with pytest.raises(CorruptArchive, match="t10k-images-idx3-ubyte.gz"):
        prepare("mnist", params, tmp_path / "raw", tmp_path / "prepared")
    assert not (tmp_path / "prepared").exists() or list((tmp_path / "prepared").iterdir()) == []


def test_cifar10_official_archive_verifies_members_before_unpickling(tmp_path, write_params):
    info = fixtures.write_cifar_archive(tmp_path / "local" / "cifar10", per_batch=6)
    sources = {
        "files": [{"name": "cifar-10-python.tar.gz", "md5": info["md5"]}],
        "member_md5": info["members"],
        "validation_count": 4,
    }
    params = write_params(datasets={"cifar10": sources})
    summary = run(tmp_path, params, "cifar10")
    assert summary["variant"] == "official"
    assert summary["splits"]["train"]["count"] == 26 and summary["splits"]["test"]["count"] == 6
    test = load_split(tmp_path / "prepared" / "cifar10", "test")
    assert test["images"].shape == (6, 32, 32, 3)
    expected_first = np.random.default_rng(fixtures.RNG_SEED)
    for _ in range(5):  # the five training batches were drawn first
        expected_first.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)
    assert np.array_equal(test["images"], expected_first.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8))


def test_cifar10_member_with_wrong_md5_is_never_unpickled(tmp_path, write_params, monkeypatch):
    info = fixtures.write_cifar_archive(tmp_path / "local" / "cifar10")
    members = dict(info["members"]) | {"data_batch_1": "1" * 32}
    params = write_params(
        datasets={
            "cifar10": {
                "files": [{"name": "cifar-10-python.tar.gz", "md5": info["md5"]}],
                "member_md5": members,
            }
        }
    )
    fetch("cifar10", params, tmp_path / "raw", tmp_path / "downloads")
    unpickled = []
    import vaerepro.data.datasets.cifar10 as cifar_module

    monkeypatch.setattr(cifar_module, "load_batch", lambda data: unpickled.append(data))
    with pytest.raises(ChecksumMismatch, match="data_batch_1"):
        prepare("cifar10", params, tmp_path / "raw", tmp_path / "prepared")
    assert unpickled == []


def test_cifar10_jpeg_copy_is_marked_lossy_everywhere(tmp_path, write_params):
    fixtures.write_cifar_jpeg_archives(tmp_path / "local" / "cifar10", per_class=2)
    (tmp_path / "local" / "cifar10" / "cifar-10-batches-py").mkdir()
    (tmp_path / "local" / "cifar10" / "cifar-10-batches-py" / "batches.meta").write_bytes(b"meta only")
    params = write_params(datasets={"cifar10": {"validation_count": 2}})
    summary = run(tmp_path, params, "cifar10")
    assert summary["variant"] == "lossy-jpeg-q75"
    assert any("incomplete" in note for note in summary["source"]["notes"])
    train = load_split(tmp_path / "prepared" / "cifar10", "train")
    assert train.variant == "lossy-jpeg-q75"
    assert len(train) == 18 and sorted(set(np.asarray(train["labels"]))) == list(range(10))


def test_cifar10_jpeg_archive_mismatch_against_manifest(tmp_path, write_params):
    fixtures.write_cifar_jpeg_archives(tmp_path / "local" / "cifar10", per_class=1)
    params = write_params(keep_manifests=True)  # the manifest lists the real archives' sha256
    with pytest.raises(ChecksumMismatch, match="CIFAR-10-images_t"):
        fetch("cifar10", params, tmp_path / "raw", tmp_path / "downloads")


@pytest.mark.parametrize("packed", [False, True])
def test_lol_folders_and_official_zip(tmp_path, write_params, packed):
    if packed:
        (tmp_path / "local" / "lol").mkdir(parents=True)
        fixtures.write_lol_zip(
            tmp_path / "build",
            tmp_path / "local" / "lol" / "LOLdataset.zip",
            train_pairs=6,
            test_pairs=3,
        )
    else:
        fixtures.write_lol(tmp_path / "local" / "lol", train_pairs=6, test_pairs=3)
    params = write_params(datasets={"lol": {"validation_count": 2}})
    summary = run(tmp_path, params, "lol")
    assert summary["variant"] == "subset-our485-6-of-485"
    assert {name: split["count"] for name, split in summary["splits"].items()} == {
        "train": 4,
        "validation": 2,
        "test": 3,
    }
    test = load_split(tmp_path / "prepared" / "lol", "test")
    assert test["inputs"].shape == test["targets"].shape == (3, 16, 24, 3)
    assert test.names == ["1.png", "2.png", "3.png"]
    verification = summary["source"]["verification"]
    assert verification["unverified"] == (1 if packed else 18)  # the zip: no published checksum


def test_lol_pair_without_partner_is_named(tmp_path, write_params):
    fixtures.write_lol(tmp_path / "local" / "lol")
    (tmp_path / "local" / "lol" / "eval15" / "high" / "2.png").unlink()
    params = write_params(datasets={"lol": {"validation_count": 0}})
    fetch("lol", params, tmp_path / "raw", tmp_path / "downloads")
    with pytest.raises(CorruptArchive, match="'2.png'"):
        prepare("lol", params, tmp_path / "raw", tmp_path / "prepared")


def test_euvp_funiegan_test_pairs(tmp_path, write_params):
    fixtures.write_euvp_funiegan(tmp_path / "local" / "euvp", pairs=4)
    params = write_params()
    summary = run(tmp_path, params, "euvp")
    assert summary["variant"] == "funiegan-test-23-pairs"
    assert list(summary["splits"]) == ["test"] and summary["splits"]["test"]["count"] == 4


def test_cc15_pairs(tmp_path, write_params):
    fixtures.write_cc15(tmp_path / "local" / "cc15", pairs=3)
    summary = run(tmp_path, write_params(), "cc15")
    assert summary["variant"] == "subset-3-of-15"
    split = load_split(tmp_path / "prepared" / "cc15", "test")
    assert split.names == ["d800_iso1600_1", "d800_iso1600_2", "d800_iso1600_3"]
    assert split["inputs"].shape == (3, 32, 32, 3)


def test_celeba_hq_folder(tmp_path, write_params, monkeypatch):
    celeba = handler("celeba_hq")
    monkeypatch.setattr(celeba, "image_size", 8)
    monkeypatch.setattr(celeba, "test_count", 3)
    fixtures.write_celeba_hq(tmp_path / "local" / "celeba_hq", count=12, size=16)
    params = write_params(datasets={"celeba_hq": {"validation_count": 2}})
    summary = run(tmp_path, params, "celeba_hq")
    assert summary["variant"] == "subset-12-of-30000+resized-from-16x16-lanczos"
    assert {name: split["count"] for name, split in summary["splits"].items()} == {
        "train": 7,
        "validation": 2,
        "test": 3,
    }
    test = load_split(tmp_path / "prepared" / "celeba_hq", "test")
    assert test["images"].shape == (3, 8, 8, 3)
    assert test.names[-1].endswith("00011.png")


def test_celeba_hq_refuses_to_upsample(tmp_path, write_params, monkeypatch):
    monkeypatch.setattr(handler("celeba_hq"), "test_count", 3)
    fixtures.write_celeba_hq(tmp_path / "local" / "celeba_hq", count=12, size=16)
    params = write_params()
    fetch("celeba_hq", params, tmp_path / "raw", tmp_path / "downloads")
    with pytest.raises(CorruptArchive, match="refusing to upsample"):
        prepare("celeba_hq", params, tmp_path / "raw", tmp_path / "prepared")


def test_known_copy_manifest_verifies_listed_files(tmp_path, write_params):
    fixtures.write_cc15(tmp_path / "local" / "cc15", pairs=2)
    manifest = tmp_path / "cc15.sha256"
    files = sorted((tmp_path / "local" / "cc15").iterdir())
    manifest.write_text("".join(f"{fixtures.sha256(path.read_bytes())}  {path.name}\n" for path in files[:3]))
    params = write_params(datasets={"cc15": {"checksum_manifest": str(manifest)}})
    record = fetch("cc15", params, tmp_path / "raw", tmp_path / "downloads")
    assert record["verification"] == {
        "official_checksum": 0,
        "known_copy_checksum": 3,
        "unverified": 1,
    }
    manifest.write_text(f"{'a' * 64}  {files[0].name}\n")
    with pytest.raises(ChecksumMismatch, match="a" * 64):
        fetch("cc15", params, tmp_path / "raw", tmp_path / "downloads")


def test_real_manifest_rejects_a_file_that_differs(tmp_path, write_params):
    fixtures.write_cc15(tmp_path / "local" / "cc15", pairs=1)  # same names as the real crops
    with pytest.raises(ChecksumMismatch, match="d800_iso1600_1"):
        fetch("cc15", write_params(keep_manifests=True), tmp_path / "raw", tmp_path / "downloads")


def test_raw_output_depends_on_content_only(tmp_path, write_params):
    """Same files from two different local paths → byte-identical raw output (stable DVC hash)."""
    for copy in ("a", "b"):
        fixtures.write_cc15(tmp_path / copy / "cc15", pairs=2)
    first = fetch("cc15", write_params(local_copy=str(tmp_path / "a")), tmp_path / "raw1", tmp_path / "dl")
    second = fetch("cc15", write_params(local_copy=str(tmp_path / "b")), tmp_path / "raw2", tmp_path / "dl")
    assert first == second
    assert (tmp_path / "raw1" / "cc15" / "source.json").read_bytes() == (
        tmp_path / "raw2" / "cc15" / "source.json"
    ).read_bytes()


def test_prepare_without_download_says_which_stage(tmp_path, write_params):
    with pytest.raises(CorruptArchive, match="download@mnist"):
        prepare("mnist", write_params(), tmp_path / "raw", tmp_path / "prepared")


@pytest.mark.parametrize("member", ["../../outside.png", "/etc/outside.png"])
def test_zip_with_traversal_refused_at_download_before_it_is_recorded(tmp_path, write_params, member):
    (tmp_path / "local" / "lol").mkdir(parents=True)
    with zipfile.ZipFile(tmp_path / "local" / "lol" / "LOLdataset.zip", "w") as archive:
        archive.writestr("our485/low/1.png", fixtures.png_bytes(np.zeros((4, 4, 3), np.uint8)))
        archive.writestr(member, b"x")
    params = write_params()
    from vaerepro.data.errors import UnsafeArchiveMember

    with pytest.raises(UnsafeArchiveMember, match="outside.png"):
        fetch("lol", params, tmp_path / "raw", tmp_path / "downloads")
    assert not (tmp_path / "raw" / "lol").exists()  # never recorded as a verified copy
    assert not (tmp_path / "outside.png").exists()


def lol_expected(names: list[int], side: str) -> np.ndarray:
    """The eval15 images write_lol wrote as ``<n>.png`` (each folder restarts its seed: low 1, high 2)."""
    rng = np.random.default_rng(1 if side == "low" else 2)
    drawn = [fixtures.random_image(rng, 16, 24) for _ in range(max(names))]
    return np.stack([drawn[name - 1] for name in names])


def test_lol_corrupt_test_image_is_skipped_and_recorded(tmp_path, write_params, capsys):
    fixtures.write_lol(tmp_path / "local" / "lol", train_pairs=6, test_pairs=3)
    fixtures.truncate_file(tmp_path / "local" / "lol" / "eval15" / "low" / "2.png")
    params = write_params(datasets={"lol": {"validation_count": 2}})
    summary = run(tmp_path, params, "lol")
    assert {name: split["count"] for name, split in summary["splits"].items()} == {
        "train": 4,
        "validation": 2,
        "test": 2,
    }
    (skipped,) = summary["splits"]["test"]["skipped"]
    assert skipped["name"] == "2.png"
    assert "eval15/low/2.png" in skipped["error"] and "truncated" in skipped["error"]
    assert "skipped" not in summary["splits"]["train"] and "skipped" not in summary["splits"]["validation"]
    # The marker says the test set lacks a pair, whatever the training set's own subset marker.
    assert summary["variant"] == "subset-our485-6-of-485+subset-1-pairs-skipped"
    written = json.loads((tmp_path / "prepared" / "lol" / "summary.json").read_text())
    assert written["splits"]["test"]["skipped"] == [skipped] and written["sha256"] == summary["sha256"]
    test = load_split(tmp_path / "prepared" / "lol", "test")
    assert test.names == ["1.png", "3.png"]
    assert np.array_equal(test["inputs"], lol_expected([1, 3], "low"))
    assert np.array_equal(test["targets"], lol_expected([1, 3], "high"))
    console = capsys.readouterr().err
    assert "eval15/low/2.png" in console and "prepare@lol: skipped 1 pair(s)" in console


def test_skipped_pairs_are_part_of_the_hashed_summary(tmp_path, write_params):
    fixtures.write_lol(tmp_path / "local" / "lol", train_pairs=4, test_pairs=3)
    params = write_params(datasets={"lol": {"validation_count": 0}})
    complete = run(tmp_path, params, "lol")
    assert all("skipped" not in split for split in complete["splits"].values())
    # Not an image at all (Pillow's message would name a memory address: it must not leak in).
    (tmp_path / "local" / "lol" / "eval15" / "high" / "3.png").write_bytes(b"not a png")
    shutil.rmtree(tmp_path / "raw")
    first = run(tmp_path, params, "lol")
    again = prepare("lol", params, tmp_path / "raw", tmp_path / "prepared-again")
    assert first["splits"]["test"]["skipped"] == [
        {
            "name": "3.png",
            "error": "cannot decode image eval15/high/3.png: not a recognised image format (9 bytes)",
        }
    ]
    assert again == first and first["sha256"] != complete["sha256"]
    # Only the skip record differs from a copy that simply lacks the pair: it is hashed too.
    (tmp_path / "local" / "lol" / "eval15" / "high" / "3.png").unlink()
    (tmp_path / "local" / "lol" / "eval15" / "low" / "3.png").unlink()
    shutil.rmtree(tmp_path / "raw")
    without = run(tmp_path, params, "lol")
    assert without["splits"]["test"]["arrays"] == first["splits"]["test"]["arrays"]
    assert without["sha256"] != first["sha256"]


def test_lol_corrupt_training_pair_stays_recorded_on_train(tmp_path, write_params):
    (tmp_path / "local" / "lol").mkdir(parents=True)
    fixtures.write_lol(tmp_path / "build", train_pairs=6, test_pairs=2)
    fixtures.truncate_file(tmp_path / "build" / "our485" / "high" / "102.png", keep=0.3)
    with zipfile.ZipFile(tmp_path / "local" / "lol" / "LOLdataset.zip", "w") as archive:
        for file in sorted((tmp_path / "build").rglob("*.png")):
            archive.write(file, f"LOLdataset/{file.relative_to(tmp_path / 'build').as_posix()}")
    params = write_params(datasets={"lol": {"validation_count": 2}})
    summary = run(tmp_path, params, "lol")
    assert {name: split["count"] for name, split in summary["splits"].items()} == {
        "train": 3,
        "validation": 2,
        "test": 2,
    }
    assert [item["name"] for item in summary["splits"]["train"]["skipped"]] == ["102.png"]
    assert "LOLdataset/our485/high/102.png" in summary["splits"]["train"]["skipped"][0]["error"]
    assert "skipped" not in summary["splits"]["validation"]
    assert summary["variant"] == "subset-our485-5-of-485+subset-1-pairs-skipped"
    names = (
        load_split(tmp_path / "prepared" / "lol", "train").names
        + load_split(tmp_path / "prepared" / "lol", "validation").names
    )
    assert sorted(names) == ["100.png", "101.png", "103.png", "104.png", "105.png"]


def test_pair_of_another_size_is_skipped_even_when_it_comes_first(tmp_path, write_params):
    fixtures.write_lol(tmp_path / "local" / "lol", train_pairs=4, test_pairs=4)
    eval15 = tmp_path / "local" / "lol" / "eval15"
    (eval15 / "low" / "1.png").write_bytes(fixtures.png_bytes(np.zeros((20, 24, 3), np.uint8)))
    (eval15 / "high" / "3.png").write_bytes(fixtures.png_bytes(np.zeros((16, 30, 3), np.uint8)))
    summary = run(tmp_path, write_params(datasets={"lol": {"validation_count": 0}}), "lol")
    skipped = summary["splits"]["test"]["skipped"]
    assert [item["name"] for item in skipped] == ["1.png", "3.png"]
    assert "eval15/low/1.png is 24x20" in skipped[0]["error"] and "are 24x16" in skipped[0]["error"]
    assert "eval15/high/3.png is 30x16" in skipped[1]["error"]
    test = load_split(tmp_path / "prepared" / "lol", "test")
    assert test.names == ["2.png", "4.png"] and test["inputs"].shape == (2, 16, 24, 3)
    assert np.array_equal(test["inputs"], lol_expected([2, 4], "low"))


def test_lol_all_test_pairs_corrupt_is_a_clear_error(tmp_path, write_params):
    fixtures.write_lol(tmp_path / "local" / "lol", train_pairs=4, test_pairs=3)
    for path in sorted((tmp_path / "local" / "lol" / "eval15" / "high").iterdir()):
        fixtures.truncate_file(path)
    params = write_params(datasets={"lol": {"validation_count": 0}})
    fetch("lol", params, tmp_path / "raw", tmp_path / "downloads")
    with pytest.raises(
        CorruptArchive,
        match=r"LOL eval15: none of the 3 image pair\(s\) could be decoded.*eval15/high/1.png",
    ):
        prepare("lol", params, tmp_path / "raw", tmp_path / "prepared")
    assert not (tmp_path / "prepared").exists() or list((tmp_path / "prepared").iterdir()) == []


def test_euvp_corrupt_jpeg_is_skipped(tmp_path, write_params):
    fixtures.write_euvp_funiegan(tmp_path / "local" / "euvp", pairs=4)
    fixtures.truncate_file(tmp_path / "local" / "euvp" / "funiegan_data_test" / "GTr_A" / "3.jpg", keep=0.2)
    summary = run(tmp_path, write_params(), "euvp")
    assert summary["splits"]["test"]["count"] == 3
    assert [item["name"] for item in summary["splits"]["test"]["skipped"]] == ["3.jpg"]
    assert summary["variant"] == "funiegan-test-23-pairs+subset-1-pairs-skipped"
    assert load_split(tmp_path / "prepared" / "euvp", "test").names == ["1.jpg", "2.jpg", "4.jpg"]


def test_cc15_corrupt_crop_is_skipped(tmp_path, write_params):
    fixtures.write_cc15(tmp_path / "local" / "cc15", pairs=3)
    fixtures.truncate_file(tmp_path / "local" / "cc15" / "d800_iso1600_1_real.png")
    summary = run(tmp_path, write_params(), "cc15")
    (skipped,) = summary["splits"]["test"]["skipped"]
    assert skipped["name"] == "d800_iso1600_1" and "d800_iso1600_1_real.png" in skipped["error"]
    assert summary["variant"] == "subset-2-of-15+subset-1-pairs-skipped"
    assert load_split(tmp_path / "prepared" / "cc15", "test").names == [
        "d800_iso1600_2",
        "d800_iso1600_3",
    ]


def test_cc15_all_crops_corrupt_is_a_clear_error(tmp_path, write_params):
    fixtures.write_cc15(tmp_path / "local" / "cc15", pairs=2)
    for path in (tmp_path / "local" / "cc15").glob("*_mean.png"):
        path.write_bytes(b"")
    params = write_params()
    fetch("cc15", params, tmp_path / "raw", tmp_path / "downloads")
    with pytest.raises(CorruptArchive, match=r"CC15: none of the 2 image pair\(s\).*the file is empty"):
        prepare("cc15", params, tmp_path / "raw", tmp_path / "prepared")


def test_raw_lineage_is_the_same_for_local_copies_at_two_paths(tmp_path, write_params):
    """No absolute path in the source record: the same data on two machines gives one dvc.lock."""
    first = tmp_path / "first" / "local" / "cifar10"
    fixtures.write_cifar_jpeg_archives(first, per_class=1)
    (first / "cifar-10-batches-py").mkdir()
    (first / "cifar-10-batches-py" / "batches.meta").write_bytes(b"meta only")
    shutil.copytree(first, tmp_path / "second" / "deeper" / "local" / "cifar10")  # the same bytes elsewhere
    records = []
    for place in ("first/local", "second/deeper/local"):
        params = write_params(local_copy=str(tmp_path / place))
        fetch("cifar10", params, tmp_path / place / "raw", tmp_path / place / "downloads")
        records.append((tmp_path / place / "raw" / "cifar10" / "source.json").read_bytes())
    assert records[0] == records[1]
    assert str(tmp_path).encode() not in records[0] and b"incomplete" in records[0]


def test_prepare_refuses_raw_files_changed_after_download_verified_them(tmp_path, write_params):
    fixtures.write_cifar_jpeg_archives(tmp_path / "local" / "cifar10", per_class=1)
    params = write_params(datasets={"cifar10": {"validation_count": 2}})
    fetch("cifar10", params, tmp_path / "raw", tmp_path / "downloads")
    archive = tmp_path / "raw" / "cifar10" / "jpeg_q75" / "CIFAR-10-images_test_jpg.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit: would decode to one silently corrupt image
    archive.write_bytes(bytes(data))
    with pytest.raises(
        ChecksumMismatch, match=r"CIFAR-10-images_test_jpg.tar.gz \(changed since download@cifar10.*dvc checkout"
    ):
        prepare("cifar10", params, tmp_path / "raw", tmp_path / "prepared")
    assert not (tmp_path / "prepared" / "cifar10").exists()
    archive.unlink()
    with pytest.raises(CorruptArchive, match="missing from the raw data"):
        prepare("cifar10", params, tmp_path / "raw", tmp_path / "prepared")
