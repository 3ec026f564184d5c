"""Discretised mixture of logistics: the pixel likelihood of PixelCNN++ and of VDVAE's output.

Salimans, Karpathy, Chen & Kingma, "PixelCNN++: Improving the PixelCNN with Discretized
Logistic Mixture Likelihood and Other Modifications", ICLR 2017 (arXiv:1701.05517), Sec. 2.1-2.2;
used unchanged by Child, "Very Deep VAEs Generalize Autoregressive Models and Can Outperform
Them on Images", ICLR 2021 (arXiv:2011.10650), whose decoder ends in this likelihood.

Each pixel has ``K`` mixture components shared by its sub-pixels. Data are rescaled to
[-1, 1], so the 8-bit value ``k`` sits at ``x = 2k/255 - 1`` and owns the bin
``[x - 1/255, x + 1/255]`` (width ``2/255``). Eq. 2 of PixelCNN++ for one sub-pixel and one
component with mean ``mu`` and scale ``s``::

    P(x) = sigma((x + 1/255 - mu) / s) - sigma((x - 1/255 - mu) / s)    (interior bins)
    P(x = -1) = sigma((-1 + 1/255 - mu) / s)                              (bin 0 takes the left tail)
    P(x = +1) = 1 - sigma((1 - 1/255 - mu) / s)                           (bin 255 takes the right tail)

and, where that difference is below 1e-5 (a bin far in a tail), the density at the bin centre
times the bin width, ``log p = log pdf(x) + log(2/255)``. Log-scales are clamped below at -7.

RGB coupling (PixelCNN++ Sec. 2.2): the sub-pixels of one component are conditionally
dependent through linear terms on the *true* lower channels,

    mu_g = mu'_g + c0 · x_r,    mu_b = mu'_b + c1 · x_r + c2 · x_g,    c = tanh(raw coefficients),

so one pixel's probability under component ``i`` is a product of three discretised logistics,
and the mixture is ``log sum_i softmax(logits)_i · prod_c P_i(x_c)``.

Parameter layout (channels-first, ``K = num_mixtures``, ``C`` image channels): channels
``[0, K)`` mixture logits; ``[K, K + C·K)`` means, channel-major (channel c's K means are
``K + c·K ...``); then ``C·K`` log-scales in the same order; then, for ``C = 3`` only, ``3·K``
coupling coefficients (``c0`` for all components, then ``c1``, then ``c2``). That is
``10·K`` channels for RGB and ``3·K`` for grey images (:func:`mixture_parameter_count`). The
reference code packs the same numbers in another order (channels-last); only the layout of the
last 1×1 convolution's outputs differs, not the model.

One deviation, numerical only: an interior bin's mass is taken as the CDF difference on the side
of the mean it lies on (``sigma(-lower) - sigma(-upper)`` right of the mean), which is the same
number in exact arithmetic but does not cancel to zero in float32 far right of the mean.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

NUM_8BIT_BINS = 256
# PixelCNN++: narrower logistics than exp(-7) do not change an 8-bit bin's mass, only blow up gradients.
MIN_LOG_SCALE = -7.0
# Below this bin mass the CDF difference has lost its precision: use density × bin width instead.
MIN_BIN_MASS = 1e-5
# Uniform draws stay this far inside (0, 1) so that log(u) and log(1 - u) stay finite.
_UNIFORM_MARGIN = 1e-5


def mixture_parameter_count(channels: int, num_mixtures: int) -> int:
    """Output channels a network must predict per pixel for ``num_mixtures`` components.

    RGB (3 channels): ``10·K`` (a logit, 3 means, 3 log-scales, 3 coupling coefficients per
    component); grey (1 channel): ``3·K`` (a logit, a mean, a log-scale).
    """
    if num_mixtures < 1:
        raise ValueError(f"num_mixtures must be >= 1, got {num_mixtures}")
    if channels == 3:
        return 10 * num_mixtures
    if channels == 1:
        return 3 * num_mixtures
    raise ValueError(f"the logistic mixture models 1- or 3-channel images, not {channels} channels")


def _split(
    parameters: torch.Tensor, num_mixtures: int, channels: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(logits (B, K, H, W), means (B, C, K, H, W), log-scales (B, C, K, H, W), coefficients (B, 3, K, H, W) or None)."""
    expected = mixture_parameter_count(channels, num_mixtures)
    if parameters.ndim != 4 or parameters.shape[1] != expected:
        raise ValueError(
            f"a {num_mixtures}-component logistic mixture over {channels} channels needs (B, {expected}, H, W) "
            f"parameters, got {tuple(parameters.shape)}"
        )
    batch, _, height, width = parameters.shape
    k = num_mixtures
    logits = parameters[:, :k]
    means = parameters[:, k : k + channels * k].reshape(batch, channels, k, height, width)
    log_scales = parameters[:, k + channels * k : k + 2 * channels * k].reshape(batch, channels, k, height, width)
    log_scales = log_scales.clamp_min(MIN_LOG_SCALE)
    coefficients = None
    if channels == 3:
        coefficients = torch.tanh(parameters[:, 7 * k :].reshape(batch, 3, k, height, width))
    return logits, means, log_scales, coefficients


def logistic_mixture_log_likelihood(
    target: torch.Tensor, parameters: torch.Tensor, num_mixtures: int, bins: int = NUM_8BIT_BINS
) -> torch.Tensor:
    """``log P(target)`` in nats per image, (B,), summed over pixels and channels.

    Args:
        target: (B, C, H, W) in [0, 1] holding values ``k / (bins - 1)``; C is 1 or 3.
        parameters: (B, P, H, W) with ``P = mixture_parameter_count(C, num_mixtures)``, laid out
            as the module docstring says.
        num_mixtures: K, the number of components.
        bins: number of quantisation levels (256 for 8-bit data).

    Computed in float32 even under autocast. A proper probability of the quantised image: the
    masses of the ``bins`` levels of one sub-pixel sum to 1 (up to the tail approximation).
    """
    target, parameters = target.float(), parameters.float()
    channels = target.shape[1]
    logits, means, log_scales, coefficients = _split(parameters, num_mixtures, channels)
    if target.shape[0] != parameters.shape[0] or target.shape[2:] != parameters.shape[2:]:
        raise ValueError(f"target {tuple(target.shape)} and parameters {tuple(parameters.shape)} disagree")
    x = (target * 2.0 - 1.0).unsqueeze(2)  # (B, C, 1, H, W) on [-1, 1]
    if coefficients is not None:  # condition G on the true R, B on the true R and G (PixelCNN++ Sec. 2.2)
        mean_g = means[:, 1] + coefficients[:, 0] * x[:, 0]
        mean_b = means[:, 2] + coefficients[:, 1] * x[:, 0] + coefficients[:, 2] * x[:, 1]
        means = torch.stack((means[:, 0], mean_g, mean_b), dim=1)
    half_width = 1.0 / (bins - 1)  # half of the bin width 2 / (bins - 1)
    centred = x - means
    inverse_scale = torch.exp(-log_scales)
    upper = inverse_scale * (centred + half_width)
    lower = inverse_scale * (centred - half_width)
    log_cdf_upper = -F.softplus(-upper)  # log sigma(upper): bin 0 takes everything below its upper edge
    log_survival_lower = -F.softplus(lower)  # log(1 - sigma(lower)): the top bin takes the right tail
    right_of_mean = centred > 0
    mass = torch.where(
        right_of_mean,
        torch.sigmoid(-lower) - torch.sigmoid(-upper),
        torch.sigmoid(upper) - torch.sigmoid(lower),
    )
    middle = inverse_scale * centred
    log_density_middle = middle - log_scales - 2.0 * F.softplus(middle)  # log pdf at the bin centre
    log_mass = torch.where(
        mass > MIN_BIN_MASS,
        torch.log(mass.clamp_min(1e-12)),
        log_density_middle + math.log(2.0 * half_width),
    )
    bottom = x < -1.0 + half_width
    top = x > 1.0 - half_width
    log_probs = torch.where(bottom, log_cdf_upper, torch.where(top, log_survival_lower, log_mass))
    per_component = log_probs.sum(dim=1) + F.log_softmax(logits, dim=1)  # (B, K, H, W)
    return torch.logsumexp(per_component, dim=1).flatten(1).sum(1)


def _uniform(shape: torch.Size, like: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform draws in ``[margin, 1 - margin]``, from ``generator`` (on its device) when given."""
    device = like.device if generator is None else generator.device
    draws = torch.rand(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)
    return draws * (1.0 - 2.0 * _UNIFORM_MARGIN) + _UNIFORM_MARGIN


def sample_logistic_mixture(
    parameters: torch.Tensor,
    num_mixtures: int,
    generator: torch.Generator | None = None,
    channels: int = 3,
    bins: int = NUM_8BIT_BINS,
) -> torch.Tensor:
    """One image per parameter map, (B, C, H, W) in [0, 1] on the grid ``k / (bins - 1)``.

    Picks a component per pixel by the Gumbel-max trick on the logits, draws each sub-pixel from
    its logistic by inverting the CDF, couples G and B to the *sampled* (clamped) lower channels,
    clamps to [-1, 1], and rounds to the nearest level (the reference leaves the value unrounded
    until it casts to uint8; rounding here makes the sample a value of the modelled 8-bit data).
    Random numbers come from ``generator`` when given, else from the global RNG.
    """
    parameters = parameters.float()
    logits, means, log_scales, coefficients = _split(parameters, num_mixtures, channels)
    gumbel = -torch.log(-torch.log(_uniform(logits.shape, logits, generator)))
    choice = torch.argmax(logits + gumbel, dim=1)  # (B, H, W)
    one_hot = F.one_hot(choice, num_mixtures).permute(0, 3, 1, 2).unsqueeze(1).to(means.dtype)  # (B, 1, K, H, W)
    mean = (means * one_hot).sum(2)  # (B, C, H, W)
    log_scale = (log_scales * one_hot).sum(2)
    u = _uniform(mean.shape, mean, generator)
    draw = mean + torch.exp(log_scale) * (torch.log(u) - torch.log1p(-u))
    red = draw[:, 0].clamp(-1.0, 1.0)
    sampled = [red]
    if coefficients is not None:
        coupling = (coefficients * one_hot).sum(2)  # (B, 3, H, W)
        green = (draw[:, 1] + coupling[:, 0] * red).clamp(-1.0, 1.0)
        blue = (draw[:, 2] + coupling[:, 1] * red + coupling[:, 2] * green).clamp(-1.0, 1.0)
        sampled += [green, blue]
    image = (torch.stack(sampled, dim=1) + 1.0) / 2.0
    return torch.round(image * (bins - 1)) / (bins - 1)


def logistic_mixture_mode(parameters: torch.Tensor, num_mixtures: int, channels: int = 3) -> torch.Tensor:
    """A deterministic image for a parameter map, (B, C, H, W) in [0, 1], quantised.

    The mean of the most probable component per pixel, with G and B coupled to the R (and G)
    values chosen that way: the mode of that component's logistics, used for reconstructions.
    """
    parameters = parameters.float()
    logits, means, _, coefficients = _split(parameters, num_mixtures, channels)
    one_hot = F.one_hot(torch.argmax(logits, dim=1), num_mixtures).permute(0, 3, 1, 2).unsqueeze(1).to(means.dtype)
    mean = (means * one_hot).sum(2)
    red = mean[:, 0].clamp(-1.0, 1.0)
    values = [red]
    if coefficients is not None:
        coupling = (coefficients * one_hot).sum(2)
        green = (mean[:, 1] + coupling[:, 0] * red).clamp(-1.0, 1.0)
        blue = (mean[:, 2] + coupling[:, 1] * red + coupling[:, 2] * green).clamp(-1.0, 1.0)
        values += [green, blue]
    image = (torch.stack(values, dim=1) + 1.0) / 2.0
    return torch.round(image * (NUM_8BIT_BINS - 1)) / (NUM_8BIT_BINS - 1)
