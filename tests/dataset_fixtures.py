"""Tiny datasets in their official on-disk formats, built in a temp dir for tests.

Formats: MNIST IDX (gzip), CIFAR-10 python pickles in ``cifar-10-python.tar.gz``, the
CIFAR-10 JPEG folder archives, LOL / EUVP / CC15 image folders (and a LOL zip), CelebA-HQ
as an image folder. Content is seeded random noise with known labels.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

RNG_SEED = 7


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX (magic 0x0000 08 <ndim>, big-endian dims, data)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(directory: Path, train_count: int = 30, test_count: int = 10) -> dict[str, dict[str, str]]:
    """Write the four MNIST files; return {file name: {md5, sha256}} of what was written."""
    rng = np.random.default_rng(RNG_SEED)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for prefix, count in (("train", train_count), ("t10k", test_count)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = (np.arange(count) % 10).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            data = gzip.compress(idx_bytes(array), mtime=0)
            name = f"{prefix}-{kind}-ubyte.gz"
            (directory / name).write_bytes(data)
            written[name] = {"md5": md5(data), "sha256": sha256(data)}
    return written


def cifar_batch_bytes(images: np.ndarray, labels: list[int]) -> bytes:
    """A batch exactly as the official files hold it: a dict with bytes keys, pickled."""
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    batch = {
        b"batch_label": b"fixture",
        b"labels": labels,
        b"data": rows,
        b"filenames": [b"x.png"] * len(labels),
    }
    return pickle.dumps(batch, protocol=2)


def write_cifar_archive(directory: Path, per_batch: int = 6) -> dict:
    """Write ``cifar-10-python.tar.gz``; return its md5 and the md5 of each member."""
    rng = np.random.default_rng(RNG_SEED)
    directory.mkdir(parents=True, exist_ok=True)
    members = {}
    for name in [f"data_batch_{index}" for index in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
        members[name] = cifar_batch_bytes(images, [index % 10 for index in range(per_batch)])
    members["batches.meta"] = pickle.dumps({b"label_names": [b"airplane"]}, protocol=2)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    data = buffer.getvalue()
    (directory / "cifar-10-python.tar.gz").write_bytes(data)
    return {
        "md5": md5(data),
        "sha256": sha256(data),
        "members": {name: md5(d) for name, d in members.items()},
    }


def png_bytes(array: np.ndarray, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=format)
    return buffer.getvalue()


def random_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


def write_cifar_jpeg_archives(directory: Path, per_class: int = 2) -> None:
    """The lossy JPEG copy's layout: jpeg_q75/CIFAR-10-images_<split>_jpg.tar.gz."""
    rng = np.random.default_rng(RNG_SEED)
    classes = (
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    )
    (directory / "jpeg_q75").mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        with tarfile.open(directory / "jpeg_q75" / f"CIFAR-10-images_{split}_jpg.tar.gz", "w:gz") as archive:
            for class_name in classes:
                for index in range(per_class):
                    data = png_bytes(random_image(rng, 32, 32), "JPEG")
                    info = tarfile.TarInfo(f"CIFAR-10-images/{split}/{class_name}/{index:04d}.jpg")
                    info.size = len(data)
                    archive.addfile(info, io.BytesIO(data))


def write_image_folder(directory: Path, names: list[str], size: tuple[int, int], seed: int, fmt: str = "PNG") -> None:
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_bytes(png_bytes(random_image(rng, *size), fmt))


def write_lol(directory: Path, train_pairs: int = 6, test_pairs: int = 3) -> None:
    """LOL layout: our485/{low,high}, eval15/{low,high}, numbered PNGs."""
    for split, count, offset in (("our485", train_pairs, 100), ("eval15", test_pairs, 1)):
        names = [f"{offset + index}.png" for index in range(count)]
        write_image_folder(directory / split / "low", names, (16, 24), seed=1)
        write_image_folder(directory / split / "high", names, (16, 24), seed=2)


def write_lol_zip(directory: Path, path: Path, **counts: int) -> None:
    """LOLdataset.zip as the authors distribute it: a top folder holding the split folders."""
    write_lol(directory, **counts)
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(directory.rglob("*.png")):
            archive.write(file, f"LOLdataset/{file.relative_to(directory).as_posix()}")


def write_euvp_funiegan(directory: Path, pairs: int = 4) -> None:
    names = [f"{index}.jpg" for index in range(1, pairs + 1)]
    write_image_folder(directory / "funiegan_data_test" / "A", names, (32, 32), seed=3, fmt="JPEG")
    write_image_folder(directory / "funiegan_data_test" / "GTr_A", names, (32, 32), seed=4, fmt="JPEG")


def write_cc15(directory: Path, pairs: int = 3) -> None:
    rng = np.random.default_rng(5)
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(pairs):
        stem = f"d800_iso1600_{index + 1}"
        (directory / f"{stem}_real.png").write_bytes(png_bytes(random_image(rng, 32, 32)))
        (directory / f"{stem}_mean.png").write_bytes(png_bytes(random_image(rng, 32, 32)))


def write_celeba_hq(directory: Path, count: int = 12, size: int = 16) -> None:
    """A CelebA-HQ-like folder of numbered images (tests shrink the handler's sizes to match)."""
    rng = np.random.default_rng(6)
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (directory / f"{index:05d}.png").write_bytes(png_bytes(random_image(rng, size, size)))


def truncate_file(path: Path, keep: float = 0.5) -> None:
    """Damage an image file as an interrupted copy would: keep only its first bytes."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
