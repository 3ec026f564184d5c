"""Evaluation of the VAE family (``vae``, ``cvae``, ``two_stage_vae``) on a test split.

Likelihood (Kingma & Welling 2014; Burda, Grosse & Salakhutdinov 2016):
* ``negative_elbo`` — E[-log p(x|z)] + KL(q(z|x) || p(z)), one posterior sample per image,
  analytic KL, in nats per image, averaged over the test images;
* ``nll_importance_sampled`` — -log (1/k) Σ p(x, z_i)/q(z_i|x), z_i ~ q(z|x), in nats;
* ``bits_per_dim`` — that NLL / (C·H·W·ln 2), with the model's stated discretisation.
  On dynamically binarised MNIST the test set is binarised once with a fixed seed, so every
  model is scored on the same binary images.

Representation and the survey's claims (section 4): ``reconstruction_mse`` (pixels on [0, 1],
against the model input), ``kl``, ``active_units`` (Burda et al.), and Laplacian-energy
sharpness of test images, reconstructions and samples ("VAE images are blurry").

Samples are judged by FID against the dataset's reference statistics at a fixed N (``fid``;
two-stage VAEs also ``fid_first_stage``, Dai & Wipf's Table 1 comparison; see
:mod:`vaerepro.evaluation.fid`) and by the pipeline's own classifier
(``classifier_frechet_distance``, ``conditional_accuracy``; see
:mod:`vaerepro.evaluation.classifier`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vaerepro.evaluation.classifier import classifier_frechet, conditional_accuracy
from vaerepro.evaluation.fid import FidScorer
from vaerepro.evaluation.latent import active_units
from vaerepro.evaluation.record import measured, not_measured
from vaerepro.evaluation.settings import EvaluateSettings
from vaerepro.evaluation.sharpness import SHARPNESS_CONVENTION, laplacian_energy
from vaerepro.evaluation.tensors import to_model_input
from vaerepro.metrics.likelihood import importance_sampled_nll, nats_to_bits_per_dim

NO_CLASSIFIER = "no classifier for this dataset (it has no labels)"
NO_FID_REFERENCE = "no FID reference statistics for this dataset (params.yaml fid.reference)"


@dataclass
class GenerativeEvaluation:
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Tensors (float, (N, C, H, W) in [0, 1]) kept for the figures.
    test_images: torch.Tensor | None = None
    reconstructions: torch.Tensor | None = None
    samples: dict[str, torch.Tensor] = field(default_factory=dict)


def model_kind(model: torch.nn.Module) -> str:
    """``vae``, ``cvae_label``, ``cvae_quadrant`` or ``two_stage``: what the evaluation adds."""
    name = type(model).__name__.lower()
    if "twostage" in name:
        return "two_stage"
    if name == "cvae":
        return f"cvae_{model.options.condition}"
    return "vae"


@torch.no_grad()
def evaluate_generative(
    model: torch.nn.Module,
    test_images: np.ndarray,
    test_labels: np.ndarray | None,
    settings: EvaluateSettings,
    *,
    binarize: bool,
    seed: int,
    classifier: torch.nn.Module | None,
    fid: FidScorer | None = None,
) -> GenerativeEvaluation:
    """All metrics of one generative experiment. ``test_images``: uint8 (N, H, W, C).

    ``fid``: scores sample sets against the dataset's reference statistics (None: FID is
    recorded as not measured, with the reason).
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    kind = model_kind(model)
    count = len(test_images) if settings.test_count is None else min(settings.test_count, len(test_images))
    images = to_model_input(test_images[:count])
    inputs = torch.bernoulli(images, generator=torch.Generator().manual_seed(settings.binarize_seed)) if binarize else images
    labels = None if test_labels is None else torch.from_numpy(np.array(test_labels[:count], dtype=np.int64))
    result = GenerativeEvaluation(test_images=images)

    totals = {"negative_elbo": [], "nll": [], "kl": [], "mse": []}
    means, reconstructions = [], []
    for start in range(0, count, settings.batch_size):
        x = inputs[start : start + settings.batch_size].to(device)
        y = None
        if kind == "cvae_label":
            y = labels[start : start + settings.batch_size].to(device)
        reconstruction_nats, kl = elbo_terms(model, x, y)
        totals["negative_elbo"].append((reconstruction_nats + kl).sum().cpu())
        totals["kl"].append(kl.sum().cpu())
        log_weights = model.log_importance_weights(x, y, num_samples=settings.importance_samples, generator=None)
        totals["nll"].append(importance_sampled_nll(log_weights.double()).sum().cpu())
        means.append(model.encode(x, y).mode().flatten(1).double().cpu())
        reconstruction = model.reconstruct(x, y)
        reconstructions.append(reconstruction.cpu())
        totals["mse"].append((reconstruction - x).pow(2).flatten(1).mean(1).double().sum().cpu())

    channels, height, width = inputs.shape[1:]
    dims = channels * height * width
    nll = float(sum(totals["nll"]) / count)
    likelihood = model.likelihood_description
    result.metrics["negative_elbo"] = measured(float(sum(totals["negative_elbo"]) / count), "nats", likelihood,
                                               test_count=count, binarized=binarize)
    result.metrics["nll_importance_sampled"] = measured(nll, "nats", f"IWAE bound, k={settings.importance_samples}; {likelihood}",
                                                        importance_samples=settings.importance_samples, test_count=count)
    if kind == "cvae_quadrant":
        result.metrics["bits_per_dim"] = not_measured("conditional likelihood of the missing quadrants only, not of whole images")
    else:
        result.metrics["bits_per_dim"] = measured(float(nats_to_bits_per_dim(nll, dims)), "bits/dim",
                                                  f"NLL / ({channels}·{height}·{width}·ln 2); {likelihood}")
    result.metrics["kl"] = measured(float(sum(totals["kl"]) / count), "nats", "analytic KL(q(z|x) || p(z)) per image")
    result.metrics["reconstruction_mse"] = measured(float(sum(totals["mse"]) / count), "[0,1]² per pixel",
                                                    "mean squared error of the decoder mean at the posterior mean vs the model input")
    units = active_units(torch.cat(means))
    result.metrics["active_units"] = measured(units["active"], "units", f"Burda et al. 2016: Cov_x E_q[z_u] > {units['threshold']}",
                                              total=units["total"])
    result.reconstructions = torch.cat(reconstructions)

    result.samples = draw_samples(model, kind, settings.sample_count, inputs, generator, device)
    reference = result.test_images
    sharpness = lambda images: measured(float(laplacian_energy(images).mean()), "energy", SHARPNESS_CONVENTION,  # noqa: E731
                                        count=len(images))
    result.metrics["sharpness_test_images"] = sharpness(reference)
    result.metrics["sharpness_reconstructions"] = sharpness(result.reconstructions)
    main_samples = result.samples["samples"]
    result.metrics["sharpness_samples"] = sharpness(main_samples)

    sample_measures(result, kind, classifier, reference, labels_for_samples(kind, len(main_samples)))
    fid_measures(result, fid)
    return result


SAMPLE_SET_DESCRIPTIONS = {
    "samples": "samples",
    "samples_first_stage": "first-stage samples (z ~ N(0, I) decoded by stage 1)",
}


def fid_measures(result: GenerativeEvaluation, fid: FidScorer | None) -> None:
    """``fid`` of the main samples and ``fid_<set>`` of every other sample set (two-stage: both samplers)."""
    for name, images in result.samples.items():
        key = "fid" if name == "samples" else f"fid{name.removeprefix('samples')}"
        description = SAMPLE_SET_DESCRIPTIONS.get(name, name.replace("_", " "))
        result.metrics[key] = not_measured(NO_FID_REFERENCE) if fid is None else fid.score(images, description)


def elbo_terms(model, x: torch.Tensor, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image E[-log p(x|z)] (one posterior sample) and analytic KL(q(z|x) || p(z|·)), float64.

    Uses the latent-variable interface (encode, prior, log_likelihood_given_latent) rather
    than ``forward``, whose terms depend on the training phase (two-stage VAE) and KL weight.
    """
    posterior = model.encode(x, y)
    z = posterior.sample()
    reconstruction_nats = -model.log_likelihood_given_latent(x, z, y).double()
    kl = posterior.kl(model.prior(x, y)).flatten(1).sum(1).double()
    return reconstruction_nats, kl


def labels_for_samples(kind: str, count: int) -> torch.Tensor | None:
    """Balanced class labels 0, 1, …, 9, 0, … for class-conditional sampling."""
    return torch.arange(count) % 10 if kind == "cvae_label" else None


def draw_samples(model, kind: str, count: int, inputs: torch.Tensor, generator: torch.Generator, device) -> dict[str, torch.Tensor]:
    """Samples by kind: prior samples, class-conditional, quadrant completions, or both stages."""
    cpu_generator = generator if device.type == "cpu" else None
    if kind == "cvae_label":
        return {"samples": model.sample(count, labels_for_samples(kind, count).to(device), generator=cpu_generator).cpu()}
    if kind == "cvae_quadrant":
        given = inputs[: min(count, len(inputs))].to(device)
        return {"samples": model.complete(given, generator=cpu_generator).cpu()}
    if kind == "two_stage":
        return {
            "samples": model.sample(count, generator=cpu_generator, via="second_stage").cpu(),
            "samples_first_stage": model.sample(count, generator=cpu_generator, via="first_stage").cpu(),
        }
    return {"samples": model.sample(count, generator=cpu_generator).cpu()}


def sample_measures(result: GenerativeEvaluation, kind: str, classifier, reference: torch.Tensor, labels) -> None:
    """Classifier-based sample quality; for two-stage VAEs, both samplers (Dai & Wipf's comparison)."""
    if classifier is None:
        result.metrics["classifier_frechet_distance"] = not_measured(NO_CLASSIFIER)
        return
    result.metrics["classifier_frechet_distance"] = classifier_frechet(classifier, result.samples["samples"], reference)
    if kind == "two_stage":
        result.metrics["classifier_frechet_distance_first_stage"] = classifier_frechet(
            classifier, result.samples["samples_first_stage"], reference
        )
    if kind == "cvae_label":
        result.metrics["conditional_accuracy"] = conditional_accuracy(classifier, result.samples["samples"], labels)


def interpolate(model, first: torch.Tensor, second: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Decoded linear interpolations between the posterior means of image pairs.

    Returns (pairs·steps, C, H, W): row r holds the path from ``first[r]`` to ``second[r]``.
    """
    start, end = model.encode(first).mode(), model.encode(second).mode()
    weights = torch.linspace(0, 1, steps, device=start.device)
    codes = start[:, None] * (1 - weights[None, :, None]) + end[:, None] * weights[None, :, None]
    return decode_means(model, codes.flatten(0, 1))


def decode_means(model, codes: torch.Tensor) -> torch.Tensor:
    """Decoder means for latent codes (vae or two-stage stage 1)."""
    decoded = model.decode(codes)
    return decoded if not hasattr(model, "likelihood") else model.likelihood.mean(decoded)


def latent_manifold(model, side: int = 20) -> torch.Tensor:
    """The decoded 2-D latent grid at Gaussian quantiles (Kingma & Welling 2014, fig. 4)."""
    quantiles = torch.tensor([0.05 + 0.9 * index / (side - 1) for index in range(side)])
    values = math.sqrt(2) * torch.erfinv(2 * quantiles - 1)
    grid = torch.stack(torch.meshgrid(values.flip(0), values, indexing="ij"), dim=-1).reshape(-1, 2)
    return decode_means(model, grid.to(next(model.parameters()).device))
