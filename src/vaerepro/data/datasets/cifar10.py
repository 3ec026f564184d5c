"""CIFAR-10 (Krizhevsky 2009): the official python pickles, or a lossy JPEG copy.

Forms:
* ``official`` — ``cifar-10-python.tar.gz`` (md5 published by the author), or its extracted
  ``cifar-10-batches-py/`` folder. Each batch member's md5 is verified *before* it is
  unpickled, and unpickling goes through a restricted unpickler that only admits the numpy
  types a batch contains: a pickle can run code, so an unverified one is never loaded.
* ``lossy-jpeg-q75`` — the CIFAR-10-images JPEG folders (quality 75), as tar.gz or
  extracted. Pixels differ from the originals: likelihoods and FID on it are not comparable
  with published CIFAR-10 numbers, and the variant marker says so everywhere downstream.
  Within a class the images keep the original batch order; across classes the order is
  class-major (the interleaving of the original batches is not recoverable).

Splits: official 50,000 train / 10,000 test; validation carved from train.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from vaerepro.config import DatasetParams
from vaerepro.data.datasets.base import DatasetHandler, LocalMatch, folder_files
from vaerepro.data.errors import ChecksumMismatch, CorruptArchive
from vaerepro.data.images import decode_stack
from vaerepro.data.integrity import bytes_digest
from vaerepro.data.source_tree import open_tree
from vaerepro.data.splits import Split

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BATCHES = {"train": tuple(f"data_batch_{index}" for index in range(1, 6)), "test": ("test_batch",)}
JPEG_ARCHIVES = {"train": "CIFAR-10-images_train_jpg.tar.gz", "test": "CIFAR-10-images_test_jpg.tar.gz"}


class _BatchUnpickler(pickle.Unpickler):
    """Admits only what a CIFAR-10 batch holds: builtins containers and numpy arrays."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("_codecs", "encode"),  # how protocol-2 pickles written by Python 3 store bytes; harmless
    }

    def find_class(self, module: str, name: str):  # noqa: ANN201 - pickle API
        if (module, name) not in self.ALLOWED:
            raise CorruptArchive(f"CIFAR-10 batch refers to {module}.{name}, which a batch never holds")
        return super().find_class(module, name)


def load_batch(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Unpickle one verified batch → (images N×32×32×3 uint8, labels N int64)."""
    try:
        batch = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
        pixels = np.asarray(batch[b"data"], dtype=np.uint8)
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (pickle.UnpicklingError, KeyError, EOFError, TypeError, ValueError) as error:
        raise CorruptArchive(f"cannot read CIFAR-10 batch: {error}") from error
    # Rows are 3072 bytes: 1024 red, 1024 green, 1024 blue, each row-major 32×32.
    return pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels


class CIFAR10(DatasetHandler):
    name = "cifar10"
    title = "CIFAR-10"
    class_names = CLASSES

    def find_other_forms(self, directory: Path, params: DatasetParams) -> LocalMatch | None:
        notes = []
        extracted = folder_files(directory, "cifar-10-batches-py", ("",))
        wanted = [*BATCHES["train"], *BATCHES["test"], "batches.meta"]
        present = {relative.split("/")[-1] for relative in extracted.values()}
        if set(wanted) <= present:
            files = {path: relative for path, relative in extracted.items() if path.name in wanted}
            return LocalMatch(form="official-extracted", variant="official", files=files)
        if present:
            notes.append(
                f"official batches incomplete in the local copy's cifar-10-batches-py/ "
                f"(found {len(set(wanted) & present)} of {len(wanted)} files)"
            )
        for folder in ("jpeg_q75", "."):
            archives = {directory / folder / name for name in JPEG_ARCHIVES.values()}
            if all(path.is_file() for path in archives):
                notes.append("using the lossy JPEG quality-75 copy: not comparable with published CIFAR-10 numbers")
                return LocalMatch(
                    form="jpeg-archives",
                    variant="lossy-jpeg-q75",
                    files={path: f"jpeg_q75/{path.name}" for path in sorted(archives)},
                    notes=notes,
                )
        jpeg_root = directory / "CIFAR-10-images"
        if (jpeg_root / "train").is_dir() and (jpeg_root / "test").is_dir():
            files = {
                path: f"CIFAR-10-images/{path.relative_to(jpeg_root).as_posix()}"
                for path in sorted(jpeg_root.rglob("*.jpg"))
            }
            notes.append("using the lossy JPEG quality-75 copy: not comparable with published CIFAR-10 numbers")
            return LocalMatch(form="jpeg-folders", variant="lossy-jpeg-q75", files=files, notes=notes)
        return None

    def decode(self, raw: Path, form: str, params: DatasetParams) -> dict[str, Split]:
        if form in ("official", "official-extracted"):
            return self._decode_batches(raw, form, params)
        if form == "jpeg-archives":
            return {
                split: self._decode_jpeg_tree(open_tree(raw / "jpeg_q75" / archive), split)
                for split, archive in JPEG_ARCHIVES.items()
            }
        if form == "jpeg-folders":
            tree = open_tree(raw)
            return {split: self._decode_jpeg_tree(tree, split) for split in ("train", "test")}
        raise CorruptArchive(f"unknown CIFAR-10 form '{form}' in raw data")

    def _decode_batches(self, raw: Path, form: str, params: DatasetParams) -> dict[str, Split]:
        source = raw / "cifar-10-python.tar.gz" if form == "official" else raw
        with open_tree(source) as tree:
            members = {name.split("/")[-1]: name for name in tree.names()}
            splits = {}
            for split, batch_names in BATCHES.items():
                images, labels = [], []
                for batch_name in batch_names:
                    if batch_name not in members:
                        raise CorruptArchive(f"CIFAR-10 member {batch_name} missing from {source.name}")
                    data = tree.read(members[batch_name])
                    expected = params.member_md5.get(batch_name)
                    actual = bytes_digest(data, "md5")
                    if expected is None:
                        raise CorruptArchive(
                            f"no md5 for CIFAR-10 member {batch_name} in datasets.yaml "
                            "(datasets.cifar10.member_md5); refusing to unpickle an unverified batch"
                        )
                    if actual != expected:
                        raise ChecksumMismatch(f"{source.name}:{batch_name}", "md5", expected, actual, None)
                    batch_images, batch_labels = load_batch(data)
                    images.append(batch_images)
                    labels.append(batch_labels)
                stacked = np.concatenate(images)
                splits[split] = Split(
                    {"images": stacked, "labels": np.concatenate(labels)},
                    [f"{split}/{index}" for index in range(len(stacked))],
                )
        return splits

    def _decode_jpeg_tree(self, tree, split: str) -> Split:
        names, labels = [], []
        for label, class_name in enumerate(CLASSES):
            prefix = f"CIFAR-10-images/{split}/{class_name}/"
            members = sorted(name for name in tree.names() if name.startswith(prefix) and name.endswith(".jpg"))
            names.extend(members)
            labels.extend([label] * len(members))
        images = decode_stack(names, tree.read, description=f"CIFAR-10 {split} (JPEG q75)")
        return Split({"images": images, "labels": np.asarray(labels, dtype=np.int64)}, names)
