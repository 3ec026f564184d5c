"""What the report knows about metric keys and datasets: direction, display name, task.

A metric's *direction* decides what "reproduced" means (DESIGN.md, report): for a
lower-is-better metric (FID, NLL, bits/dim) beating the claimed number counts as reproduced;
for a higher-is-better one (PSNR, SSIM, UIQM) so does exceeding it. A claim may override the
direction in the registry (``direction: equal`` for counts such as parameters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Direction = Literal["lower_is_better", "higher_is_better", "equal"]
DIRECTIONS: tuple[str, ...] = ("lower_is_better", "higher_is_better", "equal")

# key → (display name, direction). Unknown keys default to "equal" and their own name.
METRICS: dict[str, tuple[str, Direction]] = {
    "nll_importance_sampled": ("NLL (importance sampled)", "lower_is_better"),
    "negative_elbo": ("negative ELBO", "lower_is_better"),
    "bits_per_dim": ("bits/dim", "lower_is_better"),
    "reconstruction_mse": ("reconstruction MSE", "lower_is_better"),
    "kl": ("KL(q(z|x) ‖ p(z))", "equal"),
    "fid": ("FID", "lower_is_better"),
    "fid_first_stage": ("FID of first-stage samples", "lower_is_better"),
    "classifier_frechet_distance": ("classifier Fréchet distance", "lower_is_better"),
    "classifier_frechet_distance_first_stage": (
        "classifier Fréchet distance of first-stage samples",
        "lower_is_better",
    ),
    "inception_score": ("Inception score", "higher_is_better"),
    "conditional_accuracy": ("conditional accuracy", "higher_is_better"),
    "psnr": ("PSNR", "higher_is_better"),
    "psnr_input": ("PSNR of the degraded input", "higher_is_better"),
    "psnr_y": ("PSNR (Y)", "higher_is_better"),
    "ssim_rgb": ("SSIM (RGB mean)", "higher_is_better"),
    "ssim_y": ("SSIM (Y)", "higher_is_better"),
    "psnr_b": ("PSNR-B", "higher_is_better"),
    "psnr_gt_mean": ("PSNR (GT-mean)", "higher_is_better"),
    "ssim_rgb_gt_mean": ("SSIM (RGB, GT-mean)", "higher_is_better"),
    "uciqe": ("UCIQE", "higher_is_better"),
    "uiqm": ("UIQM", "higher_is_better"),
    "seconds_per_image": ("time per image", "lower_is_better"),
    "posterior_sample_spread": ("posterior sample spread", "equal"),
    "codebook_usage": ("codebook usage", "equal"),
    "codebook_usage_top": ("codebook usage, top level", "equal"),
    "codebook_usage_bottom": ("codebook usage", "equal"),
    "codebook_perplexity_top": ("codebook perplexity, top level", "equal"),
    "codebook_perplexity_bottom": ("codebook perplexity", "equal"),
    "bits_per_dim_uniform_prior": ("bits/dim, uniform code prior", "lower_is_better"),
    "reconstruction_psnr": ("reconstruction PSNR", "higher_is_better"),
    "reconstruction_ssim": ("reconstruction SSIM", "higher_is_better"),
    "fid_reconstructions": ("reconstruction FID", "lower_is_better"),
    "sampling_seconds_per_image": ("sampling time per image", "lower_is_better"),
    "kl_latent_vs_image": ("noise KL, latent vs image", "lower_is_better"),
    "active_units": ("active units", "equal"),
    "sharpness_samples": ("sharpness of samples", "equal"),
    "sharpness_reconstructions": ("sharpness of reconstructions", "equal"),
    "sharpness_test_images": ("sharpness of test images", "equal"),
    "compression_factor": ("compression factor", "equal"),
    "parameter_count": ("parameters", "equal"),
    "parameter_count_full_profile": ("parameters of the full profile's model", "equal"),
    "active_latent_groups": ("latent groups in use", "equal"),
    "fid_held_out": ("FID, held-out caption phrasings", "lower_is_better"),
    "text_to_image_accuracy": ("classifier accuracy of images from captions", "higher_is_better"),
    "text_to_image_accuracy_held_out": ("the same, held-out phrasings", "higher_is_better"),
}

# Report sections, by the task each metrics record states (``task``); "other": no record yet.
TASK_TITLES: dict[str, str] = {
    "generation": "Generation",
    "denoising": "Denoising",
    "enhancement": "Enhancement",
    "classification": "Measuring instruments (classifiers)",
    "other": "Not run yet",
}


def metric_name(key: str) -> str:
    """Display name; restoration keys ``<metric>_input``, ``<metric>_reference`` and
    ``<metric>@<stress tag>`` are named after their base metric."""
    if key in METRICS:
        return METRICS[key][0]
    base, at, tag = key.partition("@")
    if at:
        return f"{metric_name(base)} @ {tag}"
    for suffix, what in (("_input", "input"), ("_reference", "reference")):
        if key.endswith(suffix) and key[: -len(suffix)] in METRICS:
            return f"{metric_name(key[: -len(suffix)])} of the {what}"
    return key.replace("_", " ")


def metric_direction(key: str) -> Direction:
    return METRICS.get(key, (key, "equal"))[1]


def split_experiment(experiment: str) -> tuple[str, str]:
    """``<model>-<dataset>`` → (model, dataset). The dataset is after the last hyphen."""
    model, _, dataset = experiment.rpartition("-")
    return (model, dataset) if model else (experiment, "")


def task_of(record: Mapping[str, Any] | None) -> str:
    """The report section of an experiment: the task its metrics record states ("other" without one)."""
    task = (record or {}).get("task")
    return str(task) if task in TASK_TITLES else "other"
