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

import numpy as np
import torch

from vaerepro.evaluation.classifier import classifier_frechet
from vaerepro.evaluation.extras import GenerativeEvaluation, evaluation_for
from vaerepro.evaluation.fid import FidScorer
from vaerepro.evaluation.latent import active_units
from vaerepro.evaluation.settings import EvaluateSettings
from vaerepro.evaluation.sharpness import SHARPNESS_CONVENTION, laplacian_energy
from vaerepro.evaluation.tensors import to_model_input
from vaerepro.metrics.likelihood import importance_sampled_nll, nats_to_bits_per_dim
from vaerepro.records import measured, not_measured

NO_CLASSIFIER = "no classifier for this dataset (it has no labels)"
NO_FID_REFERENCE = "no FID reference statistics for this dataset (params.yaml fid.reference)"


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
    recorded as not measured, with the reason). What differs between models (how samples are
    drawn, extra measures) comes from the model's :mod:`vaerepro.evaluation.extras`.
    """
    extras = evaluation_for(model.registered_name)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    count = len(test_images) if settings.test_count is None else min(settings.test_count, len(test_images))
    images = to_model_input(test_images[:count])
    inputs = (
        torch.bernoulli(images, generator=torch.Generator().manual_seed(settings.binarize_seed)) if binarize else images
    )
    labels = None if test_labels is None else torch.from_numpy(np.array(test_labels[:count], dtype=np.int64))
    result = GenerativeEvaluation(test_images=images)

    totals = {"negative_elbo": [], "nll": [], "kl": [], "mse": []}
    means, reconstructions = [], []
    for start in range(0, count, settings.batch_size):
        x = inputs[start : start + settings.batch_size].to(device)
        y = None
        if model.uses_labels:
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
    result.metrics["negative_elbo"] = measured(
        float(sum(totals["negative_elbo"]) / count), "nats", likelihood, test_count=count, binarized=binarize
    )
    result.metrics["nll_importance_sampled"] = measured(
        nll,
        "nats",
        f"IWAE bound, k={settings.importance_samples}; {likelihood}",
        importance_samples=settings.importance_samples,
        test_count=count,
    )
    reason = extras.bits_per_dim_not_measured(model)
    if reason is not None:
        result.metrics["bits_per_dim"] = not_measured(reason)
    else:
        result.metrics["bits_per_dim"] = measured(
            float(nats_to_bits_per_dim(nll, dims)),
            "bits/dim",
            f"NLL / ({channels}·{height}·{width}·ln 2); {likelihood}",
        )
    result.metrics["kl"] = measured(float(sum(totals["kl"]) / count), "nats", "analytic KL(q(z|x) || p(z)) per image")
    result.metrics["reconstruction_mse"] = measured(
        float(sum(totals["mse"]) / count),
        "[0,1]² per pixel",
        "mean squared error of the decoder mean at the posterior mean vs the model input",
    )
    units = active_units(torch.cat(means))
    result.metrics["active_units"] = measured(
        units["active"], "units", f"Burda et al. 2016: Cov_x E_q[z_u] > {units['threshold']}", total=units["total"]
    )
    result.reconstructions = torch.cat(reconstructions)

    # Sampling on the CPU is seeded by ``generator``; a GPU draws from its own (seeded) RNG.
    result.samples = extras.draw_samples(
        model, settings.sample_count, inputs, generator if device.type == "cpu" else None
    )
    sample_set_measures(result, model, classifier, fid)
    return result


def sample_set_measures(
    result: GenerativeEvaluation, model: torch.nn.Module, classifier: torch.nn.Module | None, fid: FidScorer | None
) -> None:
    """What every generative evaluation measures once ``result`` holds its test images,
    reconstructions and sample sets: sharpness of the three, the classifier Fréchet distance of
    the main samples, the model's own sample measures, and FID of every sample set."""
    extras = evaluation_for(model.registered_name)
    reference = result.test_images

    def sharpness(images: torch.Tensor) -> dict:
        return measured(float(laplacian_energy(images).mean()), "energy", SHARPNESS_CONVENTION, count=len(images))

    result.metrics["sharpness_test_images"] = sharpness(reference)
    result.metrics["sharpness_reconstructions"] = sharpness(result.reconstructions)
    main_samples = result.samples["samples"]
    result.metrics["sharpness_samples"] = sharpness(main_samples)
    if classifier is None:
        result.metrics["classifier_frechet_distance"] = not_measured(NO_CLASSIFIER)
    else:
        result.metrics["classifier_frechet_distance"] = classifier_frechet(classifier, main_samples, reference)
    result.metrics.update(extras.sample_measures(model, result, classifier, reference))
    fid_measures(result, fid, extras.sample_set_descriptions)


def fid_measures(result: GenerativeEvaluation, fid: FidScorer | None, descriptions: dict[str, str]) -> None:
    """``fid`` of the main samples and ``fid_<set>`` of every other sample set (two-stage: both samplers)."""
    for name, images in result.samples.items():
        key = "fid" if name == "samples" else f"fid{name.removeprefix('samples')}"
        description = descriptions.get(name, name.replace("_", " "))
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
