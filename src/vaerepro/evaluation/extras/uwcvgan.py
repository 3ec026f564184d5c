"""UW-CVGAN's evaluation extras: the survey's compression factor and the codebook's usage.

The survey credits UW-CVGAN with compressing a 256×256×3 input to a small latent; the record
states the count both ways it can be read (elements, and bits against the code-index map or
the float latent). ``codebook_usage`` exists only for the vector quantiser: the paper's capsule
layer replaces the codebook (Pucci et al. 2023), so there the entry says why it is not measured.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch

from vaerepro.evaluation.extras import register_evaluation
from vaerepro.evaluation.extras.base import ModelEvaluation, RestorationContext, RestorationExtras
from vaerepro.models.restoration import pad_to_multiple
from vaerepro.models.vector_quantizer import CapsuleBottleneck, count_statistics
from vaerepro.records import measured, not_measured

if TYPE_CHECKING:
    from vaerepro.models.uwcvgan import UWCVGAN

# The compression factor is reported for the paper's input size.
REFERENCE_SIDE = 256
# Bits per element of the 8-bit input images and of a float32 continuous latent.
INPUT_BITS = 8
FLOAT_BITS = 32


@register_evaluation("uwcvgan")
class UWCVGANEvaluation(ModelEvaluation):
    def restoration_extras(self, model: UWCVGAN, context: RestorationContext) -> RestorationExtras:
        """``compression_factor`` (for the paper's 256×256 input) and ``codebook_usage`` on the test inputs."""
        was_training = model.training
        model.eval()
        try:
            metrics = {
                "compression_factor": compression_factor(model),
                "codebook_usage": codebook_usage(model, context.inputs, context.device),
            }
        finally:
            model.train(was_training)
        return RestorationExtras(metrics=metrics)


def compression_factor(model: UWCVGAN, image_shape: tuple[int, int, int] | None = None) -> dict:
    """The survey's compression count for a (C, 256, 256) input (or ``image_shape``)."""
    image_shape = image_shape or (model.channels, REFERENCE_SIDE, REFERENCE_SIDE)
    latent_shape = model.latent_shape(image_shape)
    input_elements = int(np.prod(image_shape))
    latent_elements = int(np.prod(latent_shape))
    input_bits = INPUT_BITS * input_elements
    details: dict = {
        "input_elements": input_elements,
        "latent_elements": latent_elements,
        "image_shape": list(image_shape),
        "latent_shape": list(latent_shape),
    }
    if model.options.quantizer == "vector":
        index_bits = latent_shape[1] * latent_shape[2] * math.log2(model.options.codebook_size)
        details["bits_ratio"] = input_bits / index_bits
        details["bits_convention"] = (
            f"{INPUT_BITS} bits per input element over h·w·log2(codebook_size) bits of the code-index map"
        )
    else:
        details["bits_ratio"] = input_bits / (FLOAT_BITS * latent_elements)
        details["bits_convention"] = (
            f"{INPUT_BITS} bits per input element over {FLOAT_BITS} bits (float32) per element of the continuous "
            f"capsule latent (the capsule layer has no codebook, so there is no index map)"
        )
        grid_height = CapsuleBottleneck.grid_size(latent_shape[1])
        grid_width = CapsuleBottleneck.grid_size(latent_shape[2])
        capsule_elements = model.options.capsule_types * grid_height * grid_width
        details["capsule_map_elements"] = capsule_elements
        details["capsule_map_ratio"] = input_elements / capsule_elements
        details["capsule_map_note"] = (
            "the capsule-length map (capsule_types × grid) is the narrowest tensor; the stored latent is computed "
            "from it by the transposed and 1×1 convolutions, so storing the map instead would compress by "
            "capsule_map_ratio"
        )
    return measured(
        input_elements / latent_elements,
        "elements ratio",
        "C·H·W of the input over channels·h·w of the quantised latent (the survey's count)",
        **details,
    )


@torch.no_grad()
def codebook_usage(model: UWCVGAN, images: np.ndarray, device: torch.device) -> dict:
    """Fraction of codes used over uint8 (N, H, W, C) ``images`` (vector quantiser only)."""
    if model.options.quantizer != "vector":
        return not_measured(
            "the paper's capsule layer replaces the codebook (no discrete codes to count); codebook usage exists "
            "only for quantizer: vector"
        )
    if len(images) == 0:
        return not_measured("no test inputs to encode")
    counts = torch.zeros(model.options.codebook_size, device=device)
    positions = 0
    for image in images:
        tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32) / 255.0)
        tensor = tensor.permute(2, 0, 1).unsqueeze(0).to(device)
        model.check_input(tensor)
        padded, _ = pad_to_multiple(tensor, model.size_multiple)
        indices = model.quantize_latent(padded).indices
        counts += torch.bincount(indices.flatten(), minlength=model.options.codebook_size).float()
        positions += indices.numel()
    perplexity, usage = count_statistics(counts)
    return measured(
        float(usage),
        "fraction of codes",
        "codes of the codebook chosen at least once over all latent positions of the test inputs "
        "(padded to the size multiple), divided by codebook_size",
        codes_used=int((counts > 0).sum()),
        codebook_size=model.options.codebook_size,
        latent_positions=positions,
        test_images=len(images),
        perplexity=float(perplexity),
    )
