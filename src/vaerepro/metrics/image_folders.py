"""Reading folders of 8-bit images for the command-line tool.

Files with the extensions pytorch-fid accepts (bmp, jpg, jpeg, pgm, png, ppm, tif, tiff,
webp), found recursively, in sorted order. Modes: ``L`` -> (H, W) grayscale, ``RGB`` ->
(H, W, 3), ``P`` (palette) -> RGB, ``RGBA``/``LA`` only when fully opaque (alpha dropped);
anything else (16-bit, CMYK, float) is refused with its name. For FID/IS every image is
converted to RGB as pytorch-fid does (``Image.convert('RGB')``), but an image with transparent
pixels is refused there too (pytorch-fid would silently drop the alpha channel). A file that
cannot be decoded (truncated, not an image) is refused with its name. Every error here is a
``ValueError`` whose message names the file(s), so the command line can print it as one line.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = frozenset({"bmp", "jpg", "jpeg", "pgm", "png", "ppm", "tif", "tiff", "webp"})

# What Pillow's decoders raise on a damaged file: OSError ("image file is truncated", "cannot
# identify image file"), SyntaxError (bad headers), EOFError, ValueError (inconsistent tiles),
# struct.error and zlib.error (cut-off chunks), DecompressionBombError (absurd dimensions).
_DECODE_ERRORS = (OSError, SyntaxError, EOFError, ValueError, struct.error, zlib.error, Image.DecompressionBombError)


class UnsupportedImage(ValueError):
    """The file decodes but is not an image the metrics accept (mode, transparency); names the file."""


def list_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursive, sorted); refuses a missing or image-less folder."""
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"not a folder: {root}")
    files = sorted(
        path for path in root.rglob("*") if path.is_file() and path.suffix.lower().lstrip(".") in IMAGE_EXTENSIONS
    )
    if not files:
        raise ValueError(f"no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) found in {root}")
    return files


def read_image(path: Path, *, force_rgb: bool = False) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) array of one image file; an unreadable file raises ``ValueError`` naming it."""
    try:
        return _decode(path, force_rgb)
    except UnsupportedImage:
        raise  # already names the file and says what to do
    except _DECODE_ERRORS as error:
        reason = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(f"{path} is not a readable image ({reason}); remove or replace it") from error


def _decode(path: Path, force_rgb: bool) -> np.ndarray:
    with Image.open(path) as image:
        image.load()  # decode now, so a truncated file fails here and not inside NumPy
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            alpha = np.asarray(image.convert("RGBA" if image.mode != "LA" else "LA"))[..., -1]
            if alpha.min() < 255:  # dropping alpha would score colours nobody sees
                raise UnsupportedImage(
                    f"{path} has transparent pixels (mode {image.mode}); flatten it onto a background first"
                )
        if force_rgb:
            return np.asarray(image.convert("RGB"))
        if image.mode in ("L", "RGB"):
            return np.asarray(image)
        if image.mode == "P":
            return np.asarray(image.convert("RGB"))
        if image.mode in ("RGBA", "LA"):  # fully opaque (checked above): the alpha channel is dropped
            return np.asarray(image.convert("RGB" if image.mode == "RGBA" else "L"))
        raise UnsupportedImage(f"{path} has image mode {image.mode}; only 8-bit grayscale or RGB images are supported")


def pair_images(output_folder: str | Path, reference_folder: str | Path) -> list[tuple[str, Path, Path]]:
    """Match files of two folders by relative path without extension (``a/x.png`` <-> ``a/x.jpg``).

    Refuses names present on one side only, and duplicate stems on either side.
    """

    def by_stem(folder: str | Path) -> dict[str, Path]:
        root = Path(folder)
        mapping: dict[str, Path] = {}
        for path in list_images(root):
            stem = path.relative_to(root).with_suffix("").as_posix()
            if stem in mapping:
                raise ValueError(
                    f"two images named {stem} (any extension) in {root}: {mapping[stem].name}, {path.name}"
                )
            mapping[stem] = path
        return mapping

    outputs, references = by_stem(output_folder), by_stem(reference_folder)
    only_outputs = sorted(set(outputs) - set(references))
    only_references = sorted(set(references) - set(outputs))
    if only_outputs or only_references:
        raise ValueError(
            f"folders do not pair up: {output_folder} has {len(outputs)} image(s), {reference_folder} has "
            f"{len(references)}; {len(only_outputs)} only in {output_folder} (e.g. {only_outputs[:3]}), "
            f"{len(only_references)} only in {reference_folder} (e.g. {only_references[:3]})"
        )
    return [(stem, outputs[stem], references[stem]) for stem in sorted(outputs)]


def iterate_rgb_batches(files: list[Path], batch_size: int) -> Iterator[np.ndarray]:
    """uint8 (B, H, W, 3) batches in file order; a change of image size starts a new batch.

    Files are decoded by a small thread pool one batch ahead (PIL releases the GIL while
    decoding), so reading overlaps with the network's work.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    chunks = [files[start : start + batch_size] for start in range(0, len(files), batch_size)]

    def read_chunk(chunk: list[Path]) -> list[np.ndarray]:
        return [read_image(path, force_rgb=True) for path in chunk]

    with ThreadPoolExecutor(max_workers=2) as pool:
        upcoming = pool.submit(read_chunk, chunks[0]) if chunks else None
        for index in range(len(chunks)):
            images = upcoming.result()
            upcoming = pool.submit(read_chunk, chunks[index + 1]) if index + 1 < len(chunks) else None
            group: list[np.ndarray] = []
            for image in images:
                if group and image.shape != group[0].shape:
                    yield np.stack(group)
                    group = []
                group.append(image)
            if group:
                yield np.stack(group)
