"""Evaluation of the discrete-latent generators (``vqvae``: VQ-VAE and VQ-VAE-2; ``vqgan``; the
DALL-E-style ``dvae``, whose samples are drawn from captions) on a test split.

What issue 16 asks of them, and the survey's claims need:

* reconstruction: squared error, PSNR and SSIM of the decoder output at the nearest codes
  against the test image (8-bit, :mod:`vaerepro.metrics`), and the FID of the reconstructions
  (the "reconstruction FID" of the VQGAN paper's Table 5, here against the dataset's reference
  statistics at the pipeline's N);
* likelihood: the bound ``-log p(x) <= -log p(x | z_q(x)) - log p(z_q(x))`` in nats and in
  bits/dim (:mod:`vaerepro.models.vqvae`), with the learned prior and with the uniform prior of
  training time (VQ-VAE Sec. 3.2; its 4.67 bits/dim on CIFAR-10 is such a bound);
* codes: usage (fraction of the K codes the test set uses) and perplexity
  ``exp(H(p))`` of the test set's code distribution, per level, with the counts for a
  histogram;
* samples from the prior (ancestral sampling, :meth:`VQVAE.sample_codes`): FID at the
  dataset's N, the classifier Fréchet distance, sharpness against the data, and the sampling
  time per image.
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
from vaerepro.evaluation.tensors import to_model_input, to_uint8_images
from vaerepro.metrics.batched import psnr_batch, ssim_batch
from vaerepro.metrics.ssim import WINDOW_SIZE as SSIM_WINDOW
from vaerepro.models.vector_quantizer import count_statistics
from vaerepro.records import measured, not_measured


@torch.no_grad()
def evaluate_discrete_latent(
    model: torch.nn.Module,
    test_images: np.ndarray,
    settings: EvaluateSettings,
    *,
    seed: int,
    classifier: torch.nn.Module | None,
    fid: FidScorer | None = None,
) -> GenerativeEvaluation:
    """All metrics of one discrete-latent experiment. ``test_images``: uint8 (N, H, W, C)."""
    extras = evaluation_for(model.registered_name)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    count = len(test_images) if settings.test_count is None else min(settings.test_count, len(test_images))
    images = to_model_input(test_images[:count])
    result = GenerativeEvaluation(test_images=images)
    size = model.options.codebook_size
    counts = {name: torch.zeros(size, dtype=torch.float64) for name in model.level_names}
    reconstruction_nats, prior_nats, squared_errors, reconstructions = [], [], [], []
    for start in range(0, count, settings.batch_size):
        x = images[start : start + settings.batch_size].to(device)
        codes = model.encode_codes(x)
        for name, indices in codes.items():
            counts[name] += torch.bincount(indices.flatten().cpu(), minlength=size).double()
        reconstruction_nats.append(model.reconstruction_nats(x, codes).double().cpu())
        prior_nats.append(model.prior_nats(codes).double().cpu())
        reconstruction = model.decode_codes(codes).clamp(0, 1)
        squared_errors.append((reconstruction - x).pow(2).flatten(1).mean(1).double().cpu())
        reconstructions.append(reconstruction.cpu())
    result.reconstructions = torch.cat(reconstructions)

    channels, height, width = images.shape[1:]
    dims = channels * height * width
    reconstruction_mean = float(torch.cat(reconstruction_nats).mean())
    prior_mean = float(torch.cat(prior_nats).mean())
    likelihood = model.likelihood_description
    scale = getattr(model, "likelihood_scale", None)
    # The decoder's variance (VQ-VAE, VQGAN): the frozen autoencoder's training squared error
    # (1.0 if never fitted); the dVAE's logit-Laplace decoder predicts its own scale.
    variance = (
        {} if scale is None else {"likelihood_variance": scale.variance(), "likelihood_variance_fitted": scale.fitted}
    )
    result.metrics["negative_elbo"] = measured(
        reconstruction_mean + prior_mean,
        "nats",
        likelihood,
        test_count=count,
        reconstruction_nats=reconstruction_mean,
        prior_nats=prior_mean,
        **variance,
    )
    reason = extras.bits_per_dim_not_measured(model)
    if reason is not None:
        result.metrics["bits_per_dim"] = result.metrics["bits_per_dim_uniform_prior"] = not_measured(reason)
    else:
        result.metrics["bits_per_dim"] = measured(
            (reconstruction_mean + prior_mean) / (dims * math.log(2)),
            "bits/dim",
            f"bound: (-log p(x|z_q) - log p(z_q)) / ({channels}·{height}·{width}·ln 2), learned prior; {likelihood}",
            test_count=count,
        )
        uniform = model.uniform_prior_nats()
        result.metrics["bits_per_dim_uniform_prior"] = measured(
            (reconstruction_mean + uniform) / (dims * math.log(2)),
            "bits/dim",
            f"bound with the uniform prior of training time (log K = log {size} nats per code, VQ-VAE Sec. 3.2)",
            test_count=count,
        )
    result.metrics["reconstruction_mse"] = measured(
        float(torch.cat(squared_errors).mean()),
        "[0,1]² per pixel",
        "mean squared error of the decoder output at the nearest codes vs the test image",
        test_count=count,
    )
    outputs, references = to_uint8_images(result.reconstructions), to_uint8_images(images)
    for key, batch in (("reconstruction_psnr", psnr_batch), ("reconstruction_ssim", ssim_batch)):
        if key.endswith("ssim") and min(height, width) < SSIM_WINDOW:
            result.metrics[key] = not_measured(
                f"SSIM's {SSIM_WINDOW}×{SSIM_WINDOW} window does not fit {height}×{width} images"
            )
            continue
        summary = batch(outputs, references)
        unit = "dB" if key.endswith("psnr") else "SSIM"
        result.metrics[key] = measured(
            summary["mean"], unit, summary["convention"], std=summary["std"], test_count=summary["num_images"]
        )
    for name, level_counts in counts.items():
        perplexity, usage = count_statistics(level_counts)
        grid = model.grids[name]
        result.metrics[f"codebook_usage_{name}"] = measured(
            float(usage),
            "fraction of codes",
            f"share of the K = {size} codes of the {name} level ({grid[0]}×{grid[1]} grid) used by the test set",
            used=int((level_counts > 0).sum()),
            codebook_size=size,
            counts=[int(value) for value in level_counts.tolist()],
        )
        result.metrics[f"codebook_perplexity_{name}"] = measured(
            float(perplexity),
            "codes",
            f"exp(entropy) of the {name} level's code distribution over the test set (K = {size} at most)",
        )

    started = time.perf_counter()
    result.samples = extras.draw_samples(
        model, settings.sample_count, images, generator if device.type == "cpu" else None
    )
    elapsed = time.perf_counter() - started
    drawn = sum(len(images) for images in result.samples.values())  # the dVAE draws two sets
    result.metrics["sampling_seconds_per_image"] = measured(
        elapsed / drawn,
        "s/image",
        f"ancestral sampling of the codes and decoding, batch of {settings.sample_count} on {device.type}",
    )

    sample_set_measures(result, model, classifier, fid)
    if fid is None:
        result.metrics["fid_reconstructions"] = result.metrics["fid"]
    elif len(result.reconstructions) < fid.reference.count:
        result.metrics["fid_reconstructions"] = not_measured(
            f"{len(result.reconstructions)} test images reconstructed, fewer than the reference N = "
            f"{fid.reference.count} (raise evaluate.test_count)"
        )
    else:
        result.metrics["fid_reconstructions"] = fid.score(result.reconstructions, "reconstructions of test images")
    return result
