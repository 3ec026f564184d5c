"""Evaluation of the very deep hierarchical VAE (``vdvae``, Child 2021) on a test split.

VDVAE's published test metric is the ELBO in bits per dimension (Child 2021, Table 1: 2.87 on
CIFAR-10 is a bound from one posterior sample per latent group, no importance sampling); its
latent groups are spatial maps at every resolution, so the importance-weighted bound and the
active-unit count of :mod:`vaerepro.evaluation.generative` (one Gaussian vector per image) do not
apply. Measured here:

* likelihood: −ELBO per image in nats, split into the reconstruction term and the KL summed
  over the groups, and in bits/dim for 8-bit data (the logistic mixture); for binarised MNIST
  the nats per image, as for the other MNIST VAEs;
* the KL of each latent group (resolution by resolution, per image) with the number of groups
  that carry information (KL above :data:`ACTIVE_GROUP_NATS`): a deep hierarchy whose upper
  groups collapse to the prior is visible here;
* reconstructions from the posterior means (MSE against the model input), samples from the
  prior at temperature 1 (FID at the dataset's N, classifier Fréchet distance, sharpness) and
  the sampling time per image.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from vaerepro.evaluation.extras import GenerativeEvaluation, evaluation_for
from vaerepro.evaluation.fid import FidScorer
from vaerepro.evaluation.generative import sample_set_measures
from vaerepro.evaluation.settings import EvaluateSettings
from vaerepro.evaluation.tensors import to_model_input
from vaerepro.records import measured, not_measured

# A latent group "carries information" when its mean KL exceeds this (nats per image): the
# per-group analogue of Burda et al.'s active units, at the scale of a whole spatial map.
ACTIVE_GROUP_NATS = 0.01


@torch.no_grad()
def evaluate_hierarchical(
    model: torch.nn.Module,
    test_images: np.ndarray,
    settings: EvaluateSettings,
    *,
    binarize: bool,
    seed: int,
    classifier: torch.nn.Module | None,
    fid: FidScorer | None = None,
) -> GenerativeEvaluation:
    """All metrics of one ``vdvae`` experiment. ``test_images``: uint8 (N, H, W, C)."""
    extras = evaluation_for(model.registered_name)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    count = len(test_images) if settings.test_count is None else min(settings.test_count, len(test_images))
    images = to_model_input(test_images[:count])
    inputs = (
        torch.bernoulli(images, generator=torch.Generator().manual_seed(settings.binarize_seed)) if binarize else images
    )
    result = GenerativeEvaluation(test_images=images)
    # One posterior sample per group; seeded on the CPU (a GPU draws from its seeded global RNG).
    posterior_generator = torch.Generator().manual_seed(seed + 1) if device.type == "cpu" else None
    bounds, kls, squared_errors, reconstructions = [], [], [], []
    for start in range(0, count, settings.batch_size):
        x = inputs[start : start + settings.batch_size].to(device)
        kl_blocks = model.kl_per_block(x, posterior_generator).double().cpu()  # (B, groups)
        bound = model.negative_elbo(x, posterior_generator).double().cpu()  # (B,) another draw
        bounds.append(bound)
        kls.append(kl_blocks)
        reconstruction = model.reconstruct(x).clamp(0, 1)
        squared_errors.append((reconstruction - x).pow(2).flatten(1).mean(1).double().cpu())
        reconstructions.append(reconstruction.cpu())
    result.reconstructions = torch.cat(reconstructions)

    channels, height, width = inputs.shape[1:]
    dims = channels * height * width
    negative_elbo = torch.cat(bounds)
    kl_blocks = torch.cat(kls)
    likelihood = model.likelihood_description
    mean_bound = float(negative_elbo.mean())
    result.metrics["negative_elbo"] = measured(
        mean_bound,
        "nats",
        f"-ELBO per image, one posterior sample per latent group; {likelihood}",
        std=float(negative_elbo.std()) if count > 1 else 0.0,
        test_count=count,
        binarized=binarize,
    )
    reason = extras.bits_per_dim_not_measured(model)
    if reason is not None:
        result.metrics["bits_per_dim"] = not_measured(reason)
    else:
        result.metrics["bits_per_dim"] = measured(
            mean_bound / (dims * math.log(2)),
            "bits/dim",
            f"ELBO bound (Child 2021's test metric): -ELBO / ({channels}·{height}·{width}·ln 2); {likelihood}",
            std=float(negative_elbo.std()) / (dims * math.log(2)) if count > 1 else 0.0,
            test_count=count,
        )
    per_group = kl_blocks.mean(0)
    resolutions = list(model.block_resolutions)
    result.metrics["kl"] = measured(
        float(kl_blocks.sum(1).mean()),
        "nats",
        "KL(q(z_l|z_<l, x) || p(z_l|z_<l)) summed over the latent groups, per image (analytic, at one sample of the groups above)",
    )
    active = int((per_group > ACTIVE_GROUP_NATS).sum())
    result.metrics["active_latent_groups"] = measured(
        active,
        "groups",
        f"latent groups whose mean KL exceeds {ACTIVE_GROUP_NATS} nats per image",
        total=len(resolutions),
        kl_per_group=[float(value) for value in per_group.tolist()],
        resolutions=resolutions,
    )
    result.metrics["reconstruction_mse"] = measured(
        float(torch.cat(squared_errors).mean()),
        "[0,1]² per pixel",
        "mean squared error of the likelihood's mode at the posterior means of every group vs the model input",
        test_count=count,
    )

    started = time.perf_counter()
    result.samples = extras.draw_samples(
        model, settings.sample_count, inputs, generator if device.type == "cpu" else None
    )
    elapsed = time.perf_counter() - started
    result.metrics["sampling_seconds_per_image"] = measured(
        elapsed / settings.sample_count,
        "s/image",
        f"ancestral sampling through every latent group, {settings.sample_count} images on {device.type}",
    )

    sample_set_measures(result, model, classifier, fid)
    return result
