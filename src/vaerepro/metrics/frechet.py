"""Fréchet distance between Gaussians fitted to Inception features: FID (Heusel et al. 2017, Eq. 6).

``d^2 = ||mu_1 - mu_2||^2 + Tr(Sigma_1 + Sigma_2 - 2 (Sigma_1 Sigma_2)^{1/2})``

pytorch-fid's ``calculate_frechet_distance`` forms ``scipy.linalg.sqrtm(Sigma_1 Sigma_2)`` (a
Schur decomposition of a non-symmetric 2048x2048 matrix, 40-60 s on a 2-core CPU) only to
take its trace. The trace needs eigenvalues only: ``Sigma_1 Sigma_2`` is similar to the
symmetric positive semi-definite ``M = Sigma_1^{1/2} Sigma_2 Sigma_1^{1/2}``, so

``Tr (Sigma_1 Sigma_2)^{1/2} = sum_i sqrt(lambda_i(M))``.

With any factor ``Sigma_1 = A A^T``, ``M`` has the same non-zero eigenvalues as the
symmetric ``A^T Sigma_2 A``, and eigenvalues alone (no eigenvectors) are cheap and robust to
compute. ``A`` comes from LAPACK's pivoted Cholesky (``?pstrf``), which also handles
singular covariances (fewer samples than dimensions): it stops at the numerical rank ``r``
and gives a d x r factor. About 6 d^3 flops in all, in float64: a few seconds at 2048
dimensions on a 2-core CPU against pytorch-fid's Schur-based ``sqrtm``; equal to its value to
~1e-12 relative on full-rank statistics (see ``benchmarks/frechet_benchmark.py``). Tiny
negative eigenvalues from rounding are clipped to zero; for rank-deficient covariances
every route (this one and sqrtm) is limited by rounding noise in the near-zero eigenvalues.
(Eigendecompositions with eigenvectors were avoided on purpose: LAPACK's divide-and-conquer
and MRRR drivers can take 10x longer on the clustered spectra of feature covariances.)

Statistics follow pytorch-fid: ``mu = mean(features, 0)``, ``Sigma = np.cov(features,
rowvar=False)`` (unbiased, N - 1), in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FID_CONVENTION = (
    "fid-heusel-2017: pytorch-fid InceptionV3 with the TF inception-2015-12-05 weights (source and sha256 "
    "recorded beside each value), pool3 2048-d; pytorch-fid preprocessing: [0,1] RGB, torch bilinear resize to 299, "
    "scaled to [-1,1]; mu=mean, Sigma=np.cov (N-1); Frechet distance via eigenvalues of A^T S2 A "
    "(equals pytorch_fid.calculate_frechet_distance)"
)
FRECHET_CONVENTION = (
    "frechet-distance: ||mu1-mu2||^2 + tr(S1) + tr(S2) - 2 sum sqrt(eigvalsh(A^T S2 A)), S1 = A A^T by "
    "pivoted Cholesky, negative rounding eigenvalues clipped, float64"
)


@dataclass(frozen=True)
class FeatureStatistics:
    """Gaussian fit of N feature vectors: ``mean`` (d,), ``covariance`` (d, d), float64."""

    mean: np.ndarray
    covariance: np.ndarray
    num_samples: int


def _check_finite(name: str, array: np.ndarray) -> None:
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or Inf values")


def feature_statistics(features: Any) -> FeatureStatistics:
    """Mean and unbiased covariance of (N, d) features; needs N >= 2."""
    values = np.asarray(features.detach().cpu().numpy() if hasattr(features, "detach") else features, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"features must have shape (N, d), got {values.shape}")
    if values.shape[0] < 2:
        raise ValueError(f"too few samples for a covariance: need at least 2 feature vectors, got {values.shape[0]}")
    if values.shape[1] < 1:
        raise ValueError(f"features must have at least one dimension, got shape {values.shape}")
    _check_finite("features", values)
    return FeatureStatistics(
        mean=values.mean(axis=0),
        covariance=np.atleast_2d(np.cov(values, rowvar=False)),
        num_samples=int(values.shape[0]),
    )


def _check_statistics(mu: Any, sigma: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    mean = np.atleast_1d(np.asarray(mu, dtype=np.float64))
    covariance = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
    if mean.ndim != 1:
        raise ValueError(f"{name} mean must be a vector, got shape {mean.shape}")
    if covariance.shape != (mean.size, mean.size):
        raise ValueError(
            f"{name} covariance has shape {covariance.shape}, expected {(mean.size, mean.size)} to match its mean"
        )
    _check_finite(f"{name} mean", mean)
    _check_finite(f"{name} covariance", covariance)
    scale = max(float(np.abs(covariance).max()), np.finfo(np.float64).tiny)
    if float(np.abs(covariance - covariance.T).max()) > 1e-8 * scale:
        raise ValueError(f"{name} covariance is not symmetric")
    return mean, covariance


def _square_root_factor(covariance: np.ndarray, name: str) -> np.ndarray:
    """A (d, r) matrix ``A`` with ``A A^T = covariance`` (r = numerical rank), by pivoted Cholesky.

    LAPACK ``dpstrf``: ``P^T C P = L L^T`` with pivots ``piv`` (1-based), so ``A = P L``.
    """
    # Lazily: scipy.linalg costs ~145 ms, and the stages that import this module only for
    # feature_statistics (the FID reference, classifier training) never get here.
    import scipy.linalg

    lower, pivots, rank, info = scipy.linalg.lapack.dpstrf(covariance, lower=1)
    if info < 0:
        raise ValueError(f"{name} covariance: LAPACK dpstrf rejected argument {-info}")
    factor = np.empty((covariance.shape[0], rank))
    factor[pivots - 1] = np.tril(lower)[:, :rank]
    if rank < covariance.shape[0]:
        # Stopped early: fine for a singular PSD matrix (tiny remainder), not for an indefinite one.
        remainder = covariance - factor @ factor.T
        if float(np.abs(remainder).max()) > 1e-8 * max(float(np.abs(covariance).max()), np.finfo(np.float64).tiny):
            raise ValueError(f"{name} covariance is not positive semi-definite")
    return factor


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``Tr((Sigma_1 Sigma_2)^{1/2})`` for symmetric PSD float64 (d, d) matrices."""
    factor = _square_root_factor(sigma1, "first")
    middle = factor.T @ sigma2 @ factor
    middle = 0.5 * (middle + middle.T)  # exact symmetry for the symmetric eigensolver
    eigenvalues = np.linalg.eigvalsh(middle)
    scale = max(float(np.abs(eigenvalues).max()), np.finfo(np.float64).tiny) if eigenvalues.size else 1.0
    if eigenvalues.size and eigenvalues.min() < -1e-6 * scale:
        raise ValueError("second covariance is not positive semi-definite")
    return float(np.sqrt(np.clip(eigenvalues, 0.0, None)).sum())


def frechet_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """Squared Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2); mu (d,), sigma (d, d)."""
    mean1, covariance1 = _check_statistics(mu1, sigma1, "first")
    mean2, covariance2 = _check_statistics(mu2, sigma2, "second")
    if mean1.shape != mean2.shape:
        raise ValueError(f"statistics have different dimensions: {mean1.size} vs {mean2.size}")
    difference = mean1 - mean2
    return float(
        difference @ difference
        + np.trace(covariance1)
        + np.trace(covariance2)
        - 2.0 * trace_sqrt_product(covariance1, covariance2)
    )


def fid_from_statistics(first: FeatureStatistics, second: FeatureStatistics) -> dict[str, float | int | str]:
    """FID between two fitted feature sets, with their sample counts and the convention."""
    return {
        "fid": frechet_distance(first.mean, first.covariance, second.mean, second.covariance),
        "num_samples_first": first.num_samples,
        "num_samples_second": second.num_samples,
        "feature_dims": int(first.mean.size),
        "convention": FID_CONVENTION,
    }


def fid_from_features(features_first: Any, features_second: Any) -> dict[str, float | int | str]:
    """FID of two (N, d) feature arrays (e.g. generated vs. reference pool3 features).

    Returns ``{"fid", "num_samples_first", "num_samples_second", "feature_dims", "convention"}``.
    With fewer samples than dimensions the covariances are rank-deficient and FID is biased
    upwards (pytorch-fid recommends >= 2048 samples); the sample counts are reported so a
    reader can tell.
    """
    first, second = feature_statistics(features_first), feature_statistics(features_second)
    if first.mean.size != second.mean.size:
        raise ValueError(f"feature dimensions differ: {first.mean.size} vs {second.mean.size}")
    return fid_from_statistics(first, second)
