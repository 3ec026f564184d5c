"""Pixel noise models ``p(x | s)`` for DivNoising (Prakash, Krull & Jug, ICLR 2021).

DivNoising (arXiv 2006.06072) factorises the imaging noise over pixels, ``p(x | s) =
prod_i p(x_i | s_i)``: every noisy value ``x_i`` depends only on the clean signal ``s_i`` at
the same pixel (spatially independent noise, zero mean: ``E[x_i | s_i] = s_i``). The paper's
VAE decoder predicts ``s`` and this noise model is the likelihood of the ELBO. The paper uses
a Gaussian with known sigma for synthetic noise and, for real noise, a noise model that is
measured from calibration data, *bootstrapped* from the noisy data (its reference code fits a
Gaussian-mixture noise model to pairs of noisy images and a pseudo-clean denoised version of
them, e.g. from Noise2Void), or co-learned with the VAE.

Here:

* :class:`GaussianNoiseModel` — ``x_i ~ N(s_i, sigma^2)`` with a known sigma (AWGN).
* :class:`SignalDependentGaussianNoiseModel` — ``x_i ~ N(s_i, a_c * s_i + b_c)`` with a
  per-channel line for the variance (shot noise + read noise: the heteroscedastic Gaussian
  approximation of Poisson-Gaussian sensor noise). It replaces the paper's bootstrapped
  Gaussian-mixture model with a two-parameter model; :func:`fit_signal_dependent_variance`
  fits ``a_c, b_c`` from noisy images alone (the bootstrap idea: a pre-denoised estimate of
  ``s`` stands in for the unknown clean image).

Scale: every value is on the [0, 1] intensity scale (``sigma = 25/255`` for AWGN sigma 25 on
0-255). Shapes: ``noisy`` and ``signal`` are (B, C, H, W); ``log_prob`` returns the
elementwise log density (B, C, H, W) in nats, the caller sums over pixels.

The variance is floored at the variance of 8-bit quantisation, ``(1/255)^2 / 12``: every
8-bit observation carries at least that much noise, and the floor keeps the density finite
where a line set by hand would reach zero or below. A fitted line never gets there: the fit
keeps it at or above half the smallest variance it measured, on all of [0, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as functional
from torch import nn

from vaerepro.models.distributions import gaussian_log_density

QUANTISATION_VARIANCE = (1.0 / 255.0) ** 2 / 12.0
# MAD → standard deviation for a Gaussian: sigma = MAD / Phi^-1(3/4).
_MAD_TO_STD = 1.482602218505602
# A Gaussian truncated at +-c sigma keeps 1 - 2 c phi(c) / (2 Phi(c) - 1) of its variance.
_CLIP_SIGMAS = 3.0
_TRUNCATED_VARIANCE_FRACTION = 1.0 - 2 * _CLIP_SIGMAS * math.exp(-0.5 * _CLIP_SIGMAS**2) / math.sqrt(
    2 * math.pi
) / math.erf(_CLIP_SIGMAS / math.sqrt(2))


class NoiseModel(nn.Module):
    """``p(x | s)`` factorised over pixels; subclasses give the per-pixel variance."""

    def variance(self, signal: torch.Tensor) -> torch.Tensor:
        """Per-pixel noise variance (B, C, H, W) given the clean signal (B, C, H, W)."""
        raise NotImplementedError

    def log_prob(self, noisy: torch.Tensor, signal: torch.Tensor) -> torch.Tensor:
        """Elementwise ``log p(x_i | s_i)`` (B, C, H, W), nats; differentiable in ``signal``."""
        if noisy.shape != signal.shape:
            raise ValueError(f"noisy {tuple(noisy.shape)} and signal {tuple(signal.shape)} differ in shape")
        return gaussian_log_density(signal, torch.log(self.variance(signal)), noisy)

    @property
    def description(self) -> str:
        raise NotImplementedError


class GaussianNoiseModel(NoiseModel):
    """``x = s + n``, ``n ~ N(0, sigma^2)`` with a known ``sigma`` on the [0, 1] scale."""

    def __init__(self, sigma: float) -> None:
        super().__init__()
        if not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"GaussianNoiseModel: sigma must be a positive number on the [0, 1] scale, got {sigma}")
        self.sigma = float(sigma)

    def variance(self, signal: torch.Tensor) -> torch.Tensor:
        return torch.full_like(signal, max(self.sigma**2, QUANTISATION_VARIANCE))

    @property
    def description(self) -> str:
        return f"Gaussian, known sigma {self.sigma * 255:g}/255"


class SignalDependentGaussianNoiseModel(NoiseModel):
    """``x_i ~ N(s_i, max(a_c * s_i + b_c, (1/255)^2/12))`` per channel ``c``.

    ``slope`` (a, shape (C,)) and ``intercept`` (b, shape (C,)) are buffers, so a checkpoint
    keeps them; ``fitted`` (bool buffer) says whether they were set (by :meth:`fit` or
    :meth:`set_parameters`). Until then the model refuses to give densities. ``radius`` is
    the ring radius :meth:`fit` uses (see :func:`fit_signal_dependent_variance`).
    """

    def __init__(self, channels: int, radius: int = 1) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"SignalDependentGaussianNoiseModel: channels must be >= 1, got {channels}")
        if radius < 1:
            raise ValueError(f"SignalDependentGaussianNoiseModel: radius must be >= 1, got {radius}")
        self.radius = radius
        self.register_buffer("slope", torch.zeros(channels))
        self.register_buffer("intercept", torch.full((channels,), QUANTISATION_VARIANCE))
        self.register_buffer("fitted", torch.tensor(False))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted)

    def set_parameters(self, slope: torch.Tensor, intercept: torch.Tensor) -> None:
        """Store ``a`` and ``b`` ((C,) each, [0, 1] intensity scale) and mark the model fitted."""
        slope, intercept = (
            torch.as_tensor(slope).reshape(-1),
            torch.as_tensor(intercept).reshape(-1),
        )
        if slope.shape != self.slope.shape or intercept.shape != self.intercept.shape:
            raise ValueError(
                f"expected {self.slope.numel()} slopes and intercepts, got {slope.numel()} and {intercept.numel()}"
            )
        if not (torch.isfinite(slope).all() and torch.isfinite(intercept).all()):
            raise ValueError("noise-model parameters must be finite")
        self.slope.copy_(slope)
        self.intercept.copy_(intercept)
        self.fitted.fill_(True)

    @torch.no_grad()
    def fit(self, noisy: torch.Tensor, signal: torch.Tensor | None = None) -> None:
        """Fit ``a, b`` with :func:`fit_signal_dependent_variance` and store them."""
        slope, intercept = fit_signal_dependent_variance(noisy, signal, radius=self.radius)
        self.set_parameters(slope, intercept)

    def variance(self, signal: torch.Tensor) -> torch.Tensor:
        if not self.is_fitted:
            raise RuntimeError("the signal-dependent noise model is not fitted yet (call fit() on noisy data first)")
        shape = (1, -1) + (1,) * (signal.ndim - 2)
        line = self.slope.view(shape).to(signal) * signal + self.intercept.view(shape).to(signal)
        return line.clamp_min(QUANTISATION_VARIANCE)

    @property
    def description(self) -> str:
        if not self.is_fitted:
            return "signal-dependent Gaussian (not fitted)"
        pairs = ", ".join(
            f"a={a:.3g} b={b:.3g}" for a, b in zip(self.slope.tolist(), self.intercept.tolist(), strict=True)
        )
        return f"signal-dependent Gaussian, variance a*s + b per channel ({pairs})"


def ring_statistics(noisy: torch.Tensor, radius: int = 1) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Mean and unbiased variance of the ring of pixels at Chebyshev distance ``radius``.

    (B, C, H, W) → two (B, C, H - 2r, W - 2r) tensors and the ring's size (8r). Radius 1 is
    the 8 neighbours; the centre pixel (and, for r > 1, everything nearer) is left out.
    """
    if radius < 1:
        raise ValueError(f"radius must be >= 1, got {radius}")
    channels, side = noisy.shape[1], 2 * radius + 1
    kernel = torch.zeros(channels, 1, side, side, dtype=noisy.dtype, device=noisy.device)
    kernel[..., 0, :] = kernel[..., -1, :] = kernel[..., :, 0] = kernel[..., :, -1] = 1
    size = 8 * radius
    kernel = kernel / size
    mean = functional.conv2d(noisy, kernel, groups=channels)
    second_moment = functional.conv2d(noisy * noisy, kernel, groups=channels)
    variance = (second_moment - mean * mean).clamp_min(0) * size / (size - 1)
    return mean, variance, size


@torch.no_grad()
def fit_signal_dependent_variance(
    noisy: torch.Tensor,
    signal: torch.Tensor | None = None,
    *,
    radius: int = 1,
    bins: int = 16,
    min_values_per_bin: int = 64,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fit ``Var[x | s] = a_c * s + b_c`` per channel from noisy images; returns (a, b), (C,) each.

    Args:
        noisy: (B, C, H, W) noisy images on the [0, 1] scale (the only data needed).
        signal: optional pseudo-clean estimate of the same shape (the paper's bootstrapping:
            e.g. a denoiser's output). When ``None``, each pixel's estimate is the mean of the
            ``K = 8 * radius`` pixels on the ring at distance ``radius`` (interior pixels only);
            for spatially independent noise the centre pixel's noise is independent of that
            estimate, so the residual's variance is ``(1 + 1/K) Var[x | s]`` where the signal
            and the noise level are locally constant, and is corrected by K/(K+1). In each bin
            only the more homogeneous half of the pixels (lower variance on the ring) is used
            (:func:`_homogeneous`).
        radius: 1 (the 8 neighbours) is best for spatially independent noise; 2 tolerates
            short-range noise correlation (demosaiced, processed camera noise, whose nearest
            neighbours share part of the centre's noise and would hide it from radius 1) at
            the price of more signal leaking into the residual.
        bins: equal-count bins of the signal estimate per channel.
        min_values_per_bin: with fewer values per bin than this, a constant variance is fitted.

    Method: in each bin the residual's variance is estimated robustly (:func:`_robust_variance`:
    values beyond 3 MAD-sigmas, i.e. edges and texture that the pre-denoised estimate leaves in
    the residual, are dropped and the truncation corrected for); an iteratively reweighted
    least-squares line through the (median signal, variance) points, with weights
    ``1/line(s)^2`` (a variance estimate's error grows with the variance), gives ``a, b``; the
    line is kept at or above half the smallest bin variance on all of [0, 1]
    (:func:`_bounded_line`), so extrapolating it never predicts (almost) no noise.
    When the bins' signals span less than 0.05 (a flat image) only ``b`` is fitted (a = 0).
    """
    if noisy.ndim != 4:
        raise ValueError(f"expected (B, C, H, W) noisy images, got shape {tuple(noisy.shape)}")
    noisy = noisy.detach().double()
    if signal is None:
        if min(noisy.shape[-2:]) < 2 * radius + 1:
            raise ValueError(
                f"need images of at least {2 * radius + 1}x{2 * radius + 1} pixels to estimate the noise, "
                f"got {tuple(noisy.shape[-2:])}"
            )
        estimate, spread, ring = ring_statistics(noisy, radius)
        residual = noisy[..., radius:-radius, radius:-radius] - estimate
        correction = ring / (ring + 1)
    else:
        if signal.shape != noisy.shape:
            raise ValueError(f"signal {tuple(signal.shape)} and noisy {tuple(noisy.shape)} differ in shape")
        estimate = signal.detach().double()
        residual = noisy - estimate
        spread = None
        correction = 1.0
    slopes, intercepts = [], []
    for channel in range(noisy.shape[1]):
        values = estimate[:, channel].reshape(-1)
        residuals = residual[:, channel].reshape(-1)
        spreads = None if spread is None else spread[:, channel].reshape(-1)
        slope, intercept = _fit_line(values, residuals, spreads, correction, bins, min_values_per_bin)
        slopes.append(slope)
        intercepts.append(intercept)
    return torch.tensor(slopes, dtype=torch.float32), torch.tensor(intercepts, dtype=torch.float32)


def _robust_variance(residuals: torch.Tensor) -> float:
    """Variance of the Gaussian core of ``residuals``: values beyond 3 MAD-sigmas are dropped
    (edges and texture the pre-denoised estimate leaves behind) and the truncated variance is
    divided by what truncation at 3 sigma leaves of a Gaussian's variance."""
    centred = residuals - residuals.median()
    scale = _MAD_TO_STD * centred.abs().median()
    if not scale > 0:
        return 0.0
    kept = centred[centred.abs() <= _CLIP_SIGMAS * scale]
    return float(kept.square().mean() / _TRUNCATED_VARIANCE_FRACTION)


def _homogeneous(residuals: torch.Tensor, spreads: torch.Tensor | None) -> torch.Tensor:
    """The residuals of the more homogeneous half of the pixels (lower neighbour variance).

    For Gaussian noise the neighbours' sample variance is independent of their mean and of
    the centre pixel, so this selection leaves the residual's noise variance unbiased while it
    drops most pixels next to edges, whose neighbours disagree.
    """
    if spreads is None or residuals.numel() < 4:
        return residuals
    return residuals[spreads <= spreads.median()]


def _fit_line(
    values: torch.Tensor,
    residuals: torch.Tensor,
    spreads: torch.Tensor | None,
    correction: float,
    bins: int,
    min_values_per_bin: int,
) -> tuple[float, float]:
    order = torch.argsort(values)
    values, residuals = values[order], residuals[order]
    spreads = None if spreads is None else spreads[order]
    groups = min(bins, values.numel() // min_values_per_bin)
    if groups < 2:
        return 0.0, max(correction * _robust_variance(_homogeneous(residuals, spreads)), QUANTISATION_VARIANCE)
    centres, variances = [], []
    for indices in torch.tensor_split(torch.arange(values.numel()), groups):
        centres.append(float(values[indices].median()))
        kept = _homogeneous(residuals[indices], None if spreads is None else spreads[indices])
        variances.append(max(correction * _robust_variance(kept), QUANTISATION_VARIANCE))
    centre = torch.tensor(centres, dtype=torch.float64)
    variance = torch.tensor(variances, dtype=torch.float64)
    if float(centre.max() - centre.min()) < 0.05:
        return 0.0, float(variance.median())
    # Weighted least squares with weights 1 / line(s)^2 from the previous pass (the error of a
    # variance estimate grows with the variance); weighting by the noisy estimates themselves
    # would favour the bins that happen to come out low and bias the line downwards.
    weight = torch.ones_like(variance)
    for _ in range(3):
        mean_centre = (weight * centre).sum() / weight.sum()
        mean_variance = (weight * variance).sum() / weight.sum()
        slope = (weight * (centre - mean_centre) * (variance - mean_variance)).sum() / (
            weight * (centre - mean_centre) ** 2
        ).sum()
        intercept = mean_variance - slope * mean_centre
        weight = 1.0 / (slope * centre + intercept).clamp_min(QUANTISATION_VARIANCE) ** 2
    slope, intercept = _bounded_line(centre, variance, weight, slope, intercept)
    return float(slope), float(intercept)


def _bounded_line(
    centre: torch.Tensor, variance: torch.Tensor, weight: torch.Tensor, slope: torch.Tensor, intercept: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the line at or above half the quietest bin's variance everywhere on [0, 1].

    Beyond the bins' signal range the line extrapolates. Where it reaches zero (processed
    camera noise whose variance falls towards the bright end: CC15's red channel fitted
    a = -8.7e-4, b = 6.7e-4, zero at s = 0.78), the floor of the variance makes the ELBO reward
    reproducing the noise there. So an end of [0, 1] where the line falls below
    ``min(bin variances) / 2`` is pinned at that value and the slope refitted (weighted least
    squares through the pinned point); pinned at s = 0 the slope comes out >= 0, pinned at s = 1
    <= 0, so the other end then stays above the bound too.
    """
    bound = variance.min() / 2
    for end in (0.0, 1.0):
        if slope * end + intercept < bound:
            offset = centre - end
            slope = (weight * offset * (variance - bound)).sum() / (weight * offset**2).sum()
            intercept = bound - slope * end
    return slope, intercept
