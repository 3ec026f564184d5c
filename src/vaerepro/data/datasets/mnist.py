"""MNIST (LeCun, Cortes & Burges 1998) from the four official IDX files.

IDX format (from the dataset's web page): big-endian; magic ``0x00000801`` (labels, 1 dim)
or ``0x00000803`` (images, 3 dims), then one uint32 per dimension, then the uint8 data.
Splits: the official 60,000 train / 10,000 test; a validation set is carved from train.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from vaerepro.config import DatasetParams
from vaerepro.data.datasets.base import DatasetHandler
from vaerepro.data.errors import CorruptArchive
from vaerepro.data.splits import Split

FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def read_idx(path: Path) -> np.ndarray:
    """Parse a gzip'ed IDX file into a uint8 array of its declared shape.

    Raises:
        CorruptArchive: not gzip, wrong magic number, or fewer bytes than the header declares.
    """
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, zlib.error) as error:
        raise CorruptArchive(f"cannot decompress {path.name}: {error}") from error
    if len(data) < 4:
        raise CorruptArchive(f"{path.name} is too short to be an IDX file")
    zero, data_type, dimensions = struct.unpack(">HBB", data[:4])
    if zero != 0 or data_type != 0x08 or dimensions not in (1, 3):
        raise CorruptArchive(f"{path.name} has an unexpected IDX magic number {data[:4].hex()}")
    header_bytes = 4 + 4 * dimensions
    shape = struct.unpack(f">{dimensions}I", data[4:header_bytes])
    expected = int(np.prod(shape))
    if len(data) - header_bytes != expected:
        raise CorruptArchive(
            f"{path.name} declares shape {shape} ({expected} bytes) but holds {len(data) - header_bytes} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes).reshape(shape)


class MNIST(DatasetHandler):
    name = "mnist"
    title = "MNIST"
    class_names = tuple(f"digit {digit}" for digit in range(10))

    def decode(self, raw: Path, form: str, params: DatasetParams) -> dict[str, Split]:
        splits = {}
        for split, (images_file, labels_file) in FILES.items():
            images = read_idx(raw / images_file)
            labels = read_idx(raw / labels_file)
            if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
                raise CorruptArchive(f"MNIST {split}: images {images.shape} and labels {labels.shape} do not match")
            splits[split] = Split(
                {"images": images[..., None].copy(), "labels": labels.astype(np.int64)},
                [str(index) for index in range(len(images))],
            )
        return splits
