"""Zheng et al.'s evaluation extras: is the noise more Gaussian in latent space than in image space?

The paper's evidence for its premise is the KL divergence of the noise from a Gaussian on the
CC dataset, 0.3821 in latent space against 0.4701 in image space (see
:mod:`vaerepro.metrics.noise_gaussianity` for the estimator and what could not be checked).
Per test image, with the 8-bit clean reference x:

* image-space noise: ``y − x`` (0–255 scale);
* latent-space noise: ``255 · E(y) − x``, E(y) the encoder mean at full resolution (reflect-
  padded to the network's size multiple and cropped back), as in the authors' code.

Metric ``kl_latent_vs_image``: value = the latent-space KL averaged over the test images, with
one histogram bin per grey level (``bin_width = 1`` on the 0–255 scale) in both spaces, so the
integer-valued image-space noise and the continuous latent-space noise are binned alike; with
the image-space average (``image``), the per-image values, the KL of the noise pooled over all
images (``pooled_latent``, ``pooled_image``), and the same averages with the authors' 128-bin
min–max histograms (``latent_128_bins``, ``image_128_bins``), which inflate the image-space
value through 8-bit quantisation (see :mod:`vaerepro.metrics.noise_gaussianity`). Lower latent
than image KL supports the claim.

Figures (in ``context.figure_dir``, recorded relative to ``context.reports_root``):

* ``noise_histograms.png``: the pooled noise histograms (one bin per grey level, density) in
  image and latent space, each with its moment-matched Gaussian density overlaid and its KL
  in the title;
* ``residual_maps.png``: for the first few images with an output, centre crops of the input,
  the output and the reference, and |input − reference| and |output − reference| (mean over
  channels, ×4, white = 64 grey levels or more).

Cost: one encoder pass per test image; no BM3D.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from vaerepro.evaluation.extras import register_evaluation
from vaerepro.evaluation.extras.base import ModelEvaluation, RestorationContext, RestorationExtras
from vaerepro.metrics.noise_gaussianity import (
    DEFAULT_BINS,
    GaussianityFit,
    estimator_description,
    histogram_kl_to_gaussian,
)
from vaerepro.models.restoration import pad_to_multiple
from vaerepro.pixels import to_uint8
from vaerepro.records import measured, not_measured

if TYPE_CHECKING:
    from vaerepro.models.zheng import ZhengDenoiser

HISTOGRAM_FIGURE = "noise_histograms.png"
RESIDUAL_FIGURE = "residual_maps.png"
RESIDUAL_GAIN = 4.0
RESIDUAL_IMAGES = 3
RESIDUAL_CROP = 192
GREY_LEVEL = 1.0  # histogram bin width on the 0–255 scale


@register_evaluation("zheng")
class ZhengEvaluation(ModelEvaluation):
    def restoration_extras(self, model: ZhengDenoiser, context: RestorationContext) -> RestorationExtras:
        """``kl_latent_vs_image`` and figures ``noise_histograms``, ``residual_maps``."""
        return latent_noise_extras(model, context)


@torch.no_grad()
def latent_noise(model: ZhengDenoiser, noisy: np.ndarray, clean: np.ndarray, device: torch.device) -> np.ndarray:
    """``255 · E(noisy) − clean`` as float64 H×W×C, for uint8 H×W×C ``noisy`` and ``clean``."""
    tensor = torch.from_numpy(noisy.astype(np.float32) / np.float32(255)).permute(2, 0, 1).unsqueeze(0).to(device)
    model.check_input(tensor)
    padded, (height, width) = pad_to_multiple(tensor, model.size_multiple)
    latent = model.encode(padded)[..., :height, :width]
    return latent[0].permute(1, 2, 0).double().cpu().numpy() * 255.0 - clean.astype(np.float64)


def latent_noise_extras(model: ZhengDenoiser, context: RestorationContext) -> RestorationExtras:
    """Metric ``kl_latent_vs_image`` and figures ``noise_histograms``, ``residual_maps``."""
    count = len(context.inputs)
    if count == 0:
        return RestorationExtras(metrics={"kl_latent_vs_image": not_measured("no test images")})
    was_training = model.training
    model.eval()
    try:
        latent_samples = [
            latent_noise(model, context.inputs[index], context.targets[index], context.device) for index in range(count)
        ]
    finally:
        model.train(was_training)
    image_samples = [
        context.inputs[index].astype(np.float64) - context.targets[index].astype(np.float64) for index in range(count)
    ]
    try:
        latent_fits = [histogram_kl_to_gaussian(sample, bin_width=GREY_LEVEL) for sample in latent_samples]
        image_fits = [histogram_kl_to_gaussian(sample, bin_width=GREY_LEVEL) for sample in image_samples]
        latent_128 = [histogram_kl_to_gaussian(sample, bins=DEFAULT_BINS).kl for sample in latent_samples]
        image_128 = [histogram_kl_to_gaussian(sample, bins=DEFAULT_BINS).kl for sample in image_samples]
        pooled_latent = histogram_kl_to_gaussian(
            np.concatenate([sample.ravel() for sample in latent_samples]), bin_width=GREY_LEVEL
        )
        pooled_image = histogram_kl_to_gaussian(
            np.concatenate([sample.ravel() for sample in image_samples]), bin_width=GREY_LEVEL
        )
    except ValueError as error:  # e.g. an input identical to its reference: zero-variance noise
        return RestorationExtras(metrics={"kl_latent_vs_image": not_measured(f"noise KL undefined: {error}")})

    latent_kl = [fit.kl for fit in latent_fits]
    image_kl = [fit.kl for fit in image_fits]
    metric = measured(
        float(np.mean(latent_kl)),
        "nats",
        f"{estimator_description(bin_width=GREY_LEVEL)} (0-255 scale); per test image, averaged over "
        "images; latent noise = 255*E(noisy) - clean (encoder mean), image noise = noisy - clean "
        "(Zheng et al. 2021: 0.3821 latent vs 0.4701 image on CC, estimator not stated in the text "
        "available here)",
        latent=float(np.mean(latent_kl)),
        image=float(np.mean(image_kl)),
        images=count,
        bin_width=GREY_LEVEL,
        per_image_latent=latent_kl,
        per_image_image=image_kl,
        names=list(context.names),
        pooled_latent=pooled_latent.kl,
        pooled_image=pooled_image.kl,
        latent_128_bins=float(np.mean(latent_128)),
        image_128_bins=float(np.mean(image_128)),
        convention_128_bins=estimator_description(bins=DEFAULT_BINS),
        latent_noise_std=pooled_latent.std,
        image_noise_std=pooled_image.std,
    )
    context.figure_dir.mkdir(parents=True, exist_ok=True)
    figures = {
        "noise_histograms": _relative(
            save_noise_histograms(context.figure_dir / HISTOGRAM_FIGURE, pooled_image, pooled_latent, count),
            context,
        )
    }
    residuals = save_residual_maps(context.figure_dir / RESIDUAL_FIGURE, context)
    if residuals is not None:
        figures["residual_maps"] = _relative(residuals, context)
    return RestorationExtras(metrics={"kl_latent_vs_image": metric}, figures=figures)


def _relative(path, context: RestorationContext) -> str:
    return path.relative_to(context.reports_root).as_posix() if path.is_relative_to(context.reports_root) else str(path)


def save_noise_histograms(path, image_fit: GaussianityFit, latent_fit: GaussianityFit, images: int):
    """Two panels: histogram (density) of the image- and latent-space noise, fitted Gaussian on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vaerepro.data.integrity import atomic_file

    figure, axes = plt.subplots(1, 2, figsize=(10, 3.6), dpi=100)
    panels = (
        ("image space: noisy − clean", image_fit),
        ("latent space: 255·E(noisy) − clean", latent_fit),
    )
    for axis, (title, fit) in zip(axes, panels, strict=True):
        widths = np.diff(fit.edges)
        axis.bar(
            fit.edges[:-1],
            fit.histogram / widths,
            width=widths,
            align="edge",
            color="#8fb3d9",
            edgecolor="none",
            label="noise histogram",
        )
        grid = np.linspace(fit.edges[0], fit.edges[-1], 400)
        density = np.exp(-0.5 * ((grid - fit.mean) / fit.std) ** 2) / (fit.std * np.sqrt(2 * np.pi))
        axis.plot(
            grid,
            density,
            color="#c0392b",
            linewidth=1.4,
            label=f"N({fit.mean:.2f}, {fit.std:.2f}²)",
        )
        axis.set_xlim(max(fit.edges[0], fit.mean - 6 * fit.std), min(fit.edges[-1], fit.mean + 6 * fit.std))
        axis.set_title(f"{title}\nKL to Gaussian = {fit.kl:.4f} nats", fontsize=9)
        axis.set_xlabel("noise (0–255 scale)", fontsize=8)
        axis.tick_params(labelsize=7)
        axis.legend(fontsize=7)
    axes[0].set_ylabel("density", fontsize=8)
    figure.suptitle(
        f"Noise pooled over {images} test image(s), one bin per grey level (shown: mean ± 6 std)",
        fontsize=9,
    )
    figure.tight_layout()
    with atomic_file(path) as handle:
        figure.savefig(handle, format="png")
    plt.close(figure)
    return path


def _centre(image: np.ndarray, size: int) -> np.ndarray:
    height, width = image.shape[:2]
    side_height, side_width = min(size, height), min(size, width)
    top, left = (height - side_height) // 2, (width - side_width) // 2
    return image[top : top + side_height, left : left + side_width]


def _residual_map(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """|image − reference|, mean over channels, ×RESIDUAL_GAIN, as uint8 H×W×1."""
    difference = np.abs(image.astype(np.float64) - reference.astype(np.float64)).mean(axis=-1, keepdims=True)
    return to_uint8(difference * RESIDUAL_GAIN, peak=255.0)


def save_residual_maps(path, context: RestorationContext):
    """Residual-map grid for the first RESIDUAL_IMAGES images with an output; None if none has one."""
    from vaerepro.image_grids import save_grid

    chosen = [index for index, output in enumerate(context.outputs) if output is not None][:RESIDUAL_IMAGES]
    if not chosen:
        return None
    rows = {"input": [], "output": [], "reference": [], "|input − ref|": [], "|output − ref|": []}
    for index in chosen:
        noisy, output, reference = (
            _centre(image, RESIDUAL_CROP)
            for image in (context.inputs[index], context.outputs[index], context.targets[index])
        )
        rows["input"].append(noisy)
        rows["output"].append(output)
        rows["reference"].append(reference)
        rows["|input − ref|"].append(np.repeat(_residual_map(noisy, reference), reference.shape[-1], axis=-1))
        rows["|output − ref|"].append(np.repeat(_residual_map(output, reference), reference.shape[-1], axis=-1))
    title = f"centre crops; |x - ref| (channel mean) x{RESIDUAL_GAIN:g}, white = {255 / RESIDUAL_GAIN:.0f}+ levels"
    save_grid(path, [np.stack(images) for images in rows.values()], row_labels=list(rows), title=title)
    return path
