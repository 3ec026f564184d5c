"""JPEG compression with Pillow at a given quality factor.

Settings (stated because results depend on them): Pillow's libjpeg encoder, baseline,
``quality=q``, 4:2:0 chroma subsampling (``subsampling=2``, Pillow's default for RGB),
``optimize=False``; grayscale images are encoded as single-channel JPEG. libjpeg is
deterministic, so the same input and quality give the same bytes.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from vaerepro.data.degradations.checks import check_images

JPEG_SETTINGS = "pillow libjpeg baseline, 4:2:0 subsampling, optimize=False"


def jpeg_compress(images: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode each uint8 (N, H, W, C) image as JPEG at ``quality`` (1–95)."""
    check_images(images)
    if not isinstance(quality, int | np.integer) or not 1 <= quality <= 95:
        raise ValueError(f"JPEG quality must be an integer from 1 to 95 (Pillow's range), got {quality!r}")
    output = np.empty_like(images)
    for index, image in enumerate(images):
        grayscale = image.shape[-1] == 1
        pil_image = Image.fromarray(image[..., 0] if grayscale else image, mode="L" if grayscale else "RGB")
        buffer = io.BytesIO()
        pil_image.save(buffer, format="JPEG", quality=int(quality), subsampling=2, optimize=False)
        with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
            array = np.asarray(decoded.convert("L" if grayscale else "RGB"), dtype=np.uint8)
        output[index] = array[..., None] if grayscale else array
    return output
