"""Decoding image files to uint8 arrays with clear errors for unreadable files."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from vaerepro.data.errors import CorruptArchive


def decode_image(data: bytes, name: str, mode: str = "RGB") -> np.ndarray:
    """Decode one encoded image (PNG/JPEG/...) to uint8 H×W×C.

    Raises:
        CorruptArchive: the bytes are not a readable image (names the file). The message
            depends only on the bytes (no object addresses), as it may be recorded in a
            prepared dataset's hashed summary.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            converted = image.convert(mode)
    except UnidentifiedImageError as error:
        reason = "the file is empty" if not data else f"not a recognised image format ({len(data)} bytes)"
        raise CorruptArchive(f"cannot decode image {name}: {reason}") from error
    except (OSError, ValueError) as error:
        raise CorruptArchive(f"cannot decode image {name}: {error}") from error
    array = np.asarray(converted, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def decode_stack(
    names: Sequence[str],
    read: Callable[[str], bytes],
    *,
    description: str,
    mode: str = "RGB",
    resize_to: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode many images into one N×H×W×C uint8 array; all must share one size.

    ``resize_to`` (height, width), when given, downsamples larger images with Pillow's
    Lanczos filter (used for CelebA-HQ 1024² → 256²); otherwise a size mismatch is an error
    naming the odd file.
    """
    if not names:
        raise CorruptArchive(f"no images found for {description}")
    stack: np.ndarray | None = None
    for index, name in enumerate(tqdm(names, desc=f"decode {description}", unit="img", leave=False)):
        image = decode_image(read(name), name, mode)
        if resize_to is not None and image.shape[:2] != resize_to:
            pil_image = Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image)
            image = np.asarray(pil_image.resize(resize_to[::-1], Image.Resampling.LANCZOS), dtype=np.uint8)
            image = image[:, :, None] if image.ndim == 2 else image
        if stack is None:
            stack = np.empty((len(names), *image.shape), dtype=np.uint8)
        elif image.shape != stack.shape[1:]:
            raise CorruptArchive(
                f"{name} is {image.shape[1]}x{image.shape[0]} but the other images of {description} "
                f"are {stack.shape[2]}x{stack.shape[1]}"
            )
        stack[index] = image
    assert stack is not None
    return stack
