"""DivNoising's evaluation extras: the spread of its posterior samples, and a figure of them.

DivNoising's point (Prakash, Krull & Jug, ICLR 2021) is that it returns a *distribution* of
denoised images, not one estimate. Two things are recorded per evaluation:

* ``posterior_sample_spread``: the per-pixel standard deviation across ``count`` decoded
  posterior samples ``g(z^k)``, ``z^k ~ q(z | x)`` (clamped to [0, 1], ddof = 1), averaged over
  every sub-pixel of a centre crop (at most 128 x 128) of each of the first few test inputs,
  then over those crops. 0 would mean the samples are identical (a collapsed posterior).
* ``mmse_samples``: how many samples ``enhance`` averages for the scored MMSE estimate.

Figure ``posterior_samples.png``: one row per crop — noisy input, four posterior samples,
their mean over all ``count`` samples, the per-pixel std map (mean over channels, scaled so
that the row's largest std is white) and the reference.

Cost: ``spread_samples`` samples of ``spread_images`` crops (params.yaml, per profile:
``evaluate.<profile>.extras``; 8 of 1 in smoke, 64 of 2 in full); the crops are at most 128 x 128, so this takes seconds even on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from vaerepro.evaluation.extras import register_evaluation
from vaerepro.evaluation.extras.base import ModelEvaluation, RestorationContext, RestorationExtras
from vaerepro.evaluation.tensors import to_uint8_images
from vaerepro.image_grids import save_grid
from vaerepro.records import measured, not_measured
from vaerepro.structured import check_ranges, ranged

if TYPE_CHECKING:
    from vaerepro.models.divnoising import DivNoising

CROP_SIZE = 128
SAMPLES_SHOWN = 4


@dataclass(frozen=True)
class PosteriorSpreadOptions:
    """``experiments.<divnoising experiment>.evaluate.<profile>.extras``.

    Attributes:
        spread_images: how many of the first test inputs are sampled (one figure row each).
        spread_samples: decoded posterior samples per input (>= 2: a standard deviation needs two).
    """

    spread_images: int = ranged(2, minimum=1)
    spread_samples: int = ranged(64, minimum=2)

    def __post_init__(self) -> None:
        check_ranges(self)


FIGURE_NAME = "posterior_samples.png"


def _centre_crop(image: np.ndarray, multiple: int) -> np.ndarray | None:
    """Centre crop of an H×W×C image to at most CROP_SIZE, sides a multiple of ``multiple``."""
    height, width = image.shape[:2]
    side_height = min(CROP_SIZE, height) // multiple * multiple
    side_width = min(CROP_SIZE, width) // multiple * multiple
    if min(side_height, side_width) < 1:
        return None
    top, left = (height - side_height) // 2, (width - side_width) // 2
    return image[top : top + side_height, left : left + side_width]


@register_evaluation("divnoising")
class DivNoisingEvaluation(ModelEvaluation):
    options_class = PosteriorSpreadOptions

    def restoration_extras(self, model: DivNoising, context: RestorationContext) -> RestorationExtras:
        """Posterior-sample spread and the ``posterior_samples.png`` figure."""
        return posterior_sample_extras(model, context)


@torch.no_grad()
def posterior_sample_extras(model: DivNoising, context: RestorationContext) -> RestorationExtras:
    """Metrics ``posterior_sample_spread`` and ``mmse_samples``; figure ``posterior_samples``."""
    settings = context.options or PosteriorSpreadOptions()
    count = settings.spread_samples
    extras = RestorationExtras()
    extras.metrics["mmse_samples"] = measured(
        model.options.posterior_samples,
        "samples",
        "decoded posterior samples z ~ q(z|x) averaged per image for the scored MMSE estimate (enhance)",
    )
    rows, labels, spreads, names = [], [], [], []
    generator = torch.Generator().manual_seed(int(context.seed))
    was_training = model.training
    model.eval()
    try:
        for index in range(min(settings.spread_images, len(context.inputs))):
            noisy = _centre_crop(np.asarray(context.inputs[index]), model.size_multiple)
            reference = _centre_crop(np.asarray(context.targets[index]), model.size_multiple)
            if noisy is None or reference is None or min(noisy.shape[:2]) < model.minimum_size:
                continue
            if noisy.shape[-1] != model.channels:
                continue
            tensor = torch.from_numpy(np.ascontiguousarray(noisy)).permute(2, 0, 1).unsqueeze(0).float().div(255.0)
            samples = (
                model.sample_posterior(tensor.to(context.device), count, generator)[:, 0].float().clamp(0, 1).cpu()
            )
            deviation = samples.std(dim=0, correction=1)  # (C, H, W)
            spreads.append(float(deviation.mean()))
            names.append(str(context.names[index]))
            std_map = deviation.mean(0, keepdim=True)
            std_map = (std_map / std_map.max().clamp_min(1e-8)).expand(model.channels, -1, -1)
            columns = torch.cat(
                [
                    tensor,
                    samples[:SAMPLES_SHOWN],
                    samples.mean(0, keepdim=True),
                    std_map.unsqueeze(0),
                    torch.from_numpy(np.ascontiguousarray(reference)).permute(2, 0, 1).unsqueeze(0).float().div(255.0),
                ]
            )
            rows.append(to_uint8_images(columns))
            labels.append(str(context.names[index])[:13])
    finally:
        model.train(was_training)

    if not spreads:
        reason = "no test input could be cropped to the network's size multiple with the model's channel count"
        extras.metrics["posterior_sample_spread"] = not_measured(reason)
        return extras
    extras.metrics["posterior_sample_spread"] = measured(
        float(np.mean(spreads)),
        "[0,1] intensity",
        f"per-pixel std (ddof=1) across {count} decoded posterior samples (clamped to [0,1]), averaged over "
        f"all sub-pixels of a centre crop (<= {CROP_SIZE}x{CROP_SIZE}) of each of the first {len(spreads)} test input(s)",
        samples=count,
        per_image=dict(zip(names, spreads, strict=True)),
    )
    path = context.figure_dir / FIGURE_NAME
    shown = min(SAMPLES_SHOWN, count)
    title = (
        f"DivNoising: noisy | {shown} posterior samples | mean of {count} samples | "
        f"per-pixel std (white = row max) | reference"
    )
    save_grid(path, rows, row_labels=labels, title=title)
    extras.figures["posterior_samples"] = path.relative_to(context.reports_root).as_posix()
    return extras
