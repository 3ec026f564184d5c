"""VDVAE: a very deep hierarchical VAE with a ResNet bottom-up encoder and top-down decoder.

Child, "Very Deep VAEs Generalize Autoregressive Models and Can Outperform Them on Images",
ICLR 2021 (arXiv:2011.10650); architecture and defaults as in the reference code
(openai/vdvae: ``vae.py``, ``vae_helpers.py``, ``hps.py``, preset ``cifar10``).

Generative model: latent groups ``z_1 ... z_L`` (one per decoder block, each a (zdim, r, r) map
at the block's resolution r), ``p(z) = prod_i p(z_i | z_<i)`` and ``p(x | z)``; the posterior
``q(z_i | z_<i, x)`` shares the top-down path and reads the bottom-up encoder's activation at
the same resolution. The objective is the hierarchical ELBO over the L groups

    log p(x) >= E_q[log p(x | z)] - sum_i E_q[ KL(q(z_i | z_<i, x) || p(z_i | z_<i)) ],

each KL analytic between diagonal Gaussians given the sampled ``z_<i`` (one sample per step).
``forward`` returns it per dimension as the loss, in nats, as the reference trains.

Blocks (the paper's architecture diagram, as the reference code builds it):

* :class:`Block` — GELU, 1×1, GELU, 3×3, GELU, 3×3, GELU, 1×1 (3×3 → 1×1 at resolution ≤ 2),
  bottleneck width ``width · bottleneck_multiple``, optional residual add, then average-pooling
  by ``down_rate``.
* Encoder — 3×3 input convolution to ``width``, then the residual blocks of ``enc_blocks``; the
  last activation at each resolution is what the decoder reads there.
* :class:`TopDownBlock` — from the state ``h`` at its resolution (plus the nearest-upsampled state
  of a lower resolution for an ``m`` token): posterior ``(mu_q, log sigma_q) = enc([h, a])``,
  prior and residual ``(mu_p, log sigma_p, h') = prior(h)``; ``h <- h + h'``;
  ``h <- resnet(h + z_proj(z))``. Each decoder resolution starts from a learned bias map.
* Output — ``h · gain + bias`` at the image resolution, then a 1×1 convolution to the
  likelihood's parameters: a discretised mixture of logistics (:mod:`.logistic_mixture`,
  Salimans et al. 2017, PixelCNN++) for 8-bit data, or Bernoulli logits for binarised MNIST.

Initialisation as in the reference: every convolution's bias starts at zero; the last 1×1 of
each encoder block is scaled by ``sqrt(1 / n_enc_blocks)``, ``z_proj`` and the last 1×1 of each
top-down ``resnet`` by ``sqrt(1 / n_dec_blocks)``; the prior's last 1×1 starts at zero, so at
initialisation every prior is exactly ``N(0, I)`` and adds nothing to the state.

Layer strings (``hps.py``): comma-separated tokens ``RxN`` (N blocks at resolution R), ``RdK``
(encoder: one block at R, then average-pool by K), ``RmM`` (decoder: one block at R that first
adds the nearest-upsampled state of resolution M), ``R`` (one block at R).

Deviations from the reference, none of which changes the parameter count: inputs are mapped to
[-1, 1] by ``2x - 1`` instead of the reference's per-dataset standardisation; one width for all
resolutions (no ``custom_width_str``, used only by the FFHQ-1024 preset); the mixture's output
channels are ordered channels-first (:mod:`.logistic_mixture`); the low-bit (5-bit FFHQ-256)
likelihood variant is not offered. Gradient skipping, gradient clipping and the EMA of weights
belong to the training loop, not here.

Shapes: x (B, C, H, W) in [0, 1] with H = W; latent group i is (B, zdim, r_i, r_i).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from vaerepro.models.base import RegisteredModel
from vaerepro.models.distributions import DiagonalGaussian, bernoulli_log_likelihood, standard_normal
from vaerepro.models.logistic_mixture import (
    logistic_mixture_log_likelihood,
    logistic_mixture_mode,
    mixture_parameter_count,
    sample_logistic_mixture,
)
from vaerepro.models.registry import register
from vaerepro.structured import ranged

# Resolutions at or below this use 1×1 instead of 3×3 inside blocks (a 3×3 on a 1×1 or 2×2 map
# would mostly see zero padding), as in the reference.
MAX_RESOLUTION_WITHOUT_3X3 = 2

CIFAR10_ENC_BLOCKS = "32x11,32d2,16x6,16d2,8x6,8d2,4x3,4d4,1x3"
CIFAR10_DEC_BLOCKS = "1x1,4m1,4x2,8m4,8x5,16m8,16x10,32m16,32x21"

LIKELIHOOD_DESCRIPTIONS = {
    "logistic_mixture": "discretised mixture of logistics (PixelCNN++), 256 bins per sub-pixel (nats of 8-bit data)",
    "bernoulli": "Bernoulli on binarised pixels (nats of binary data)",
}


@dataclass(frozen=True)
class VDVAEOptions:
    """Options of ``model: vdvae``; defaults: the reference ``cifar10`` preset (39.15M parameters)."""

    image_shape: tuple[int, int, int] = ranged((3, 32, 32), minimum=1)
    # Channels of the residual stream at every resolution (cifar10: 384).
    width: int = ranged(384, minimum=1)
    # Channels of each latent group (cifar10: 16).
    zdim: int = ranged(16, minimum=1)
    # Bottleneck of every block: its inner 1×1/3×3 convolutions have width · this channels.
    bottleneck_multiple: float = ranged(0.25, above=0)
    # Bottom-up path: "32x11" = 11 blocks at 32×32, "32d2" = a block at 32 then pool by 2.
    enc_blocks: str = CIFAR10_ENC_BLOCKS
    # Top-down path: "4m1" = a block at 4×4 that adds the upsampled 1×1 state; one latent group per block.
    dec_blocks: str = CIFAR10_DEC_BLOCKS
    # Logistic components per pixel (cifar10: 10, the PixelCNN++ value).
    num_mixtures: int = ranged(10, minimum=1)
    # Learned starting state for decoder resolutions up to this; above it the state starts at zero.
    no_bias_above: int = ranged(64, minimum=0)
    likelihood: Literal["logistic_mixture", "bernoulli"] = "logistic_mixture"


_TOKEN = re.compile(r"(\d+)(?:([xdm])(\d+))?")


def parse_layer_string(text: str, option: str) -> list[tuple[int, str, int | None]]:
    """Blocks of a layer string as ``(resolution, kind, number)``: kind ``""`` (a plain block),
    ``"d"`` (number = pooling factor) or ``"m"`` (number = mixed-in resolution); ``RxN`` expands
    to N plain blocks. ``option`` names the option in error messages."""
    blocks: list[tuple[int, str, int | None]] = []
    for token in text.split(","):
        match = _TOKEN.fullmatch(token.strip())
        if match is None:
            raise ValueError(
                f"vdvae: {option} token '{token}' is not one of R, RxN, RdK, RmM (R, N, K, M integers), in '{text}'"
            )
        resolution, kind, number = int(match[1]), match[2] or "", match[3]
        if resolution < 1:
            raise ValueError(
                f"vdvae: {option} token '{token}' has resolution {resolution}; a resolution is a positive size"
            )
        if kind == "x":
            if int(number) < 1:
                raise ValueError(
                    f"vdvae: {option} token '{token}' repeats a block {number} times; give a positive count"
                )
            blocks += [(resolution, "", None)] * int(number)
        else:
            blocks.append((resolution, kind, None if number is None else int(number)))
    return blocks


def _encoder_layout(text: str, image_size: int) -> tuple[list[tuple[int, int | None]], list[int]]:
    """Encoder blocks as (resolution, pooling factor or None) and the resolutions it produces."""
    layout: list[tuple[int, int | None]] = []
    current = image_size
    produced = [image_size]
    for resolution, kind, number in parse_layer_string(text, "enc_blocks"):
        if kind == "m":
            raise ValueError(f"vdvae: enc_blocks has a mixin token '{resolution}m{number}'; only the decoder mixes in")
        if resolution != current:
            raise ValueError(
                f"vdvae: enc_blocks has a block at resolution {resolution} where the encoder is at {current} "
                f"(the image is {image_size}×{image_size} and each 'RdK' pools by K); resolution {resolution} "
                "is not reachable there"
            )
        if kind == "d":
            if number < 1 or current % number:
                raise ValueError(
                    f"vdvae: enc_blocks token '{resolution}d{number}' pools {current}×{current} by {number}, "
                    "which does not divide it"
                )
            current //= number
            if current not in produced:
                produced.append(current)
        layout.append((resolution, number if kind == "d" else None))
    return layout, produced


def _decoder_layout(text: str, image_size: int, encoder_resolutions: list[int]) -> list[tuple[int, int | None]]:
    """Decoder blocks as (resolution, mixed-in resolution or None), checked against the encoder."""
    layout: list[tuple[int, int | None]] = []
    seen: set[int] = set()
    for resolution, kind, number in parse_layer_string(text, "dec_blocks"):
        if kind == "d":
            raise ValueError(f"vdvae: dec_blocks has a pooling token '{resolution}d{number}'; only the encoder pools")
        if resolution not in encoder_resolutions:
            raise ValueError(
                f"vdvae: dec_blocks has a block at resolution {resolution}, which is not reachable from the image "
                f"size {image_size} by enc_blocks (the encoder produces {sorted(encoder_resolutions, reverse=True)})"
            )
        if kind == "m" and (number not in seen or number >= resolution or resolution % number):
            raise ValueError(
                f"vdvae: dec_blocks token '{resolution}m{number}' mixes in resolution {number}, which must be a "
                f"lower resolution dividing {resolution} that an earlier decoder block produced "
                f"(so far: {sorted(seen) or 'none'})"
            )
        seen.add(resolution)
        layout.append((resolution, number if kind == "m" else None))
    if max(seen) != image_size:
        raise ValueError(
            f"vdvae: the highest resolution of dec_blocks is {max(seen)}, not the image size {image_size}; "
            "the decoder must end at the image resolution"
        )
    return layout


def _conv(in_channels: int, out_channels: int, kernel_size: int, zero_weights: bool = False) -> nn.Conv2d:
    """A same-padded convolution with a zero bias (and zero weights if asked), as the reference builds them."""
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
    with torch.no_grad():
        conv.bias.zero_()
        if zero_weights:
            conv.weight.zero_()
    return conv


class Block(nn.Module):
    """Bottleneck residual block: GELU→1×1→GELU→k×k→GELU→k×k→GELU→1×1 (k = 3, or 1 if not
    ``use_3x3``), plus the input when ``residual``, then average-pooled by ``down_rate``.

    (B, in, r, r) → (B, out, r / down_rate, r / down_rate).
    """

    def __init__(
        self,
        in_channels: int,
        middle_channels: int,
        out_channels: int,
        down_rate: int | None = None,
        residual: bool = False,
        use_3x3: bool = True,
        zero_last: bool = False,
    ) -> None:
        super().__init__()
        if residual and in_channels != out_channels:
            raise ValueError(f"a residual block needs in == out channels, got {in_channels} and {out_channels}")
        kernel = 3 if use_3x3 else 1
        self.down_rate = down_rate
        self.residual = residual
        self.c1 = _conv(in_channels, middle_channels, 1)
        self.c2 = _conv(middle_channels, middle_channels, kernel)
        self.c3 = _conv(middle_channels, middle_channels, kernel)
        self.c4 = _conv(middle_channels, out_channels, 1, zero_weights=zero_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.c1(F.gelu(x))
        out = self.c2(F.gelu(out))
        out = self.c3(F.gelu(out))
        out = self.c4(F.gelu(out))
        if self.residual:
            out = x + out
        if self.down_rate is not None:
            out = F.avg_pool2d(out, kernel_size=self.down_rate, stride=self.down_rate)
        return out


class Encoder(nn.Module):
    """Bottom-up path: image (B, C, H, H) on [-1, 1] → {resolution r: (B, width, r, r)}."""

    def __init__(self, channels: int, width: int, middle: int, layout: list[tuple[int, int | None]]) -> None:
        super().__init__()
        self.in_conv = _conv(channels, width, 3)
        self.blocks = nn.ModuleList(
            Block(width, middle, width, down_rate, residual=True, use_3x3=resolution > MAX_RESOLUTION_WITHOUT_3X3)
            for resolution, down_rate in layout
        )
        with torch.no_grad():
            for block in self.blocks:
                block.c4.weight.mul_(math.sqrt(1.0 / len(layout)))

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        h = self.in_conv(x)
        activations = {h.shape[-1]: h}
        for block in self.blocks:
            h = block(h)
            activations[h.shape[-1]] = h  # the last activation at each resolution wins
        return activations


class TopDownBlock(nn.Module):
    """One latent group at ``resolution``: posterior, prior, and the state update (the reference's DecBlock)."""

    def __init__(self, resolution: int, mixin: int | None, width: int, middle: int, zdim: int, n_blocks: int) -> None:
        super().__init__()
        use_3x3 = resolution > MAX_RESOLUTION_WITHOUT_3X3
        self.resolution = resolution
        self.mixin = mixin
        self.zdim = zdim
        self.enc = Block(2 * width, middle, 2 * zdim, use_3x3=use_3x3)
        self.prior = Block(width, middle, 2 * zdim + width, use_3x3=use_3x3, zero_last=True)
        self.z_proj = _conv(zdim, width, 1)
        self.resnet = Block(width, middle, width, residual=True, use_3x3=use_3x3)
        with torch.no_grad():
            self.z_proj.weight.mul_(math.sqrt(1.0 / n_blocks))
            self.resnet.c4.weight.mul_(math.sqrt(1.0 / n_blocks))

    def block_input(self, states: dict[int, torch.Tensor], like: torch.Tensor) -> torch.Tensor:
        """The state at this resolution (zeros if none yet), plus the upsampled mixed-in state."""
        h = states.get(self.resolution)
        if h is None:
            h = like.new_zeros(like.shape[0], like.shape[1], self.resolution, self.resolution)
        if self.mixin is not None:
            h = h + F.interpolate(states[self.mixin], scale_factor=self.resolution // self.mixin, mode="nearest")
        return h

    def posterior(self, h: torch.Tensor, activation: torch.Tensor) -> DiagonalGaussian:
        """``q(z | z_<i, x)`` (B, zdim, r, r), from the state and the encoder's activation."""
        mean, log_std = self.enc(torch.cat([h, activation], dim=1)).chunk(2, dim=1)
        return DiagonalGaussian(mean, 2.0 * log_std)

    def prior_and_residual(self, h: torch.Tensor) -> tuple[DiagonalGaussian, torch.Tensor]:
        """``p(z | z_<i)`` (B, zdim, r, r) and the feature (B, width, r, r) added to the state."""
        features = self.prior(h)
        mean, log_std = features[:, : self.zdim], features[:, self.zdim : 2 * self.zdim]
        return DiagonalGaussian(mean, 2.0 * log_std), features[:, 2 * self.zdim :]

    def update(self, h: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.resnet(h + self.z_proj(z))


LatentChoice = Literal["posterior_sample", "posterior_mean", "prior_sample"]


@register("vdvae", VDVAEOptions)
class VDVAE(RegisteredModel):
    task = "generation"

    def __init__(self, options: VDVAEOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        channels, height, width = options.image_shape
        if height != width:
            raise ValueError(f"vdvae: image_shape must be square (H = W), got {height}×{width}")
        middle = int(options.width * options.bottleneck_multiple)
        if middle < 1:
            raise ValueError(
                f"vdvae: width {options.width} × bottleneck_multiple {options.bottleneck_multiple} leaves no channels"
            )
        if options.likelihood == "logistic_mixture":
            if channels not in (1, 3):
                raise ValueError(
                    f"vdvae: likelihood 'logistic_mixture' models 1- or 3-channel images; image_shape has {channels}"
                )
            output_channels = mixture_parameter_count(channels, options.num_mixtures)
        else:
            output_channels = channels
        encoder_layout, encoder_resolutions = _encoder_layout(options.enc_blocks, height)
        decoder_layout = _decoder_layout(options.dec_blocks, height, encoder_resolutions)
        self.image_shape = options.image_shape
        self.encoder = Encoder(channels, options.width, middle, encoder_layout)
        self.decoder_blocks = nn.ModuleList(
            TopDownBlock(resolution, mixin, options.width, middle, options.zdim, len(decoder_layout))
            for resolution, mixin in decoder_layout
        )
        resolutions = sorted({resolution for resolution, _ in decoder_layout})
        self.state_biases = nn.ParameterDict(
            {
                str(resolution): nn.Parameter(torch.zeros(1, options.width, resolution, resolution))
                for resolution in resolutions
                if resolution <= options.no_bias_above
            }
        )
        self.gain = nn.Parameter(torch.ones(1, options.width, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, options.width, 1, 1))
        self.out_conv = _conv(options.width, output_channels, 1)

    # -- what the evaluation reads ------------------------------------------------------------

    @property
    def block_resolutions(self) -> tuple[int, ...]:
        """Resolution of each latent group, in decoder order (columns of :meth:`kl_per_block`)."""
        return tuple(block.resolution for block in self.decoder_blocks)

    @property
    def likelihood_description(self) -> str:
        return LIKELIHOOD_DESCRIPTIONS[self.options.likelihood]

    # -- the two paths ------------------------------------------------------------------------

    def _decode(
        self,
        batch: int,
        activations: dict[int, torch.Tensor] | None,
        choice: LatentChoice,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the top-down path; returns the likelihood parameters (B, P, H, W) and, when
        ``activations`` are given, each block's KL summed per image, (B,) each."""
        like = self.gain
        states = {int(resolution): bias.expand(batch, -1, -1, -1) for resolution, bias in self.state_biases.items()}
        kls: list[torch.Tensor] = []
        for block in self.decoder_blocks:
            h = block.block_input(states, like.expand(batch, -1, -1, -1))
            prior, residual = block.prior_and_residual(h)
            if activations is None:  # ancestral sampling; temperature scales the prior's std
                noise = standard_normal(prior.mean.shape, like=prior.mean, generator=generator)
                z = prior.mean + temperature * prior.standard_deviation * noise
            else:
                posterior = block.posterior(h, activations[block.resolution])
                z = posterior.mean if choice == "posterior_mean" else posterior.sample(generator)
                kls.append(posterior.kl(prior).float().flatten(1).sum(1))
            states[block.resolution] = block.update(h + residual, z)
        top = states[self.image_shape[1]] * self.gain + self.bias
        return self.out_conv(top), kls

    def _encode(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        return self.encoder(x * 2.0 - 1.0)

    def _log_likelihood(self, x: torch.Tensor, parameters: torch.Tensor) -> torch.Tensor:
        """``log p(x | z)`` in nats per image, (B,)."""
        if self.options.likelihood == "bernoulli":
            return bernoulli_log_likelihood(parameters, x).flatten(1).sum(1)
        return logistic_mixture_log_likelihood(x, parameters, self.options.num_mixtures)

    def _terms(self, x: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(−log p(x|z) (B,), KL per block (B, n_blocks)), with z drawn from the posterior."""
        parameters, kls = self._decode(x.shape[0], self._encode(x), "posterior_sample", generator)
        return -self._log_likelihood(x, parameters), torch.stack(kls, dim=1)

    # -- training -----------------------------------------------------------------------------

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Loss: −ELBO per dimension in nats (batch mean), as the reference trains.

        Terms (batch means): ``recon`` = −log p(x|z) nats per image; ``kl`` = sum of the KLs of
        all latent groups, nats per image; ``nll_bound_nats`` = −ELBO per image (an upper bound on
        −log p(x)); ``elbo`` = the ELBO itself (= −nll_bound_nats, the sign ``vae`` uses);
        ``bits_per_dim`` = −ELBO / (C·H·W·ln 2).
        """
        reconstruction, kl_blocks = self._terms(x)
        kl = kl_blocks.sum(1)
        bound = reconstruction + kl  # (B,)
        dimensions = math.prod(self.image_shape)
        per_dimension = bound.mean() / dimensions
        return {
            "loss": per_dimension,
            "recon": reconstruction.mean(),
            "kl": kl.mean(),
            "nll_bound_nats": bound.mean(),
            "elbo": -bound.mean(),
            "bits_per_dim": per_dimension.detach() / math.log(2.0),
        }

    # -- evaluation -----------------------------------------------------------------------------

    def negative_elbo(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """−ELBO in nats per image, (B,), one posterior sample per latent group."""
        reconstruction, kl_blocks = self._terms(x, generator)
        return reconstruction + kl_blocks.sum(1)

    def kl_per_block(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """KL of each latent group in nats per image, (B, n_blocks), columns in decoder order."""
        return self._terms(x, generator)[1]

    @torch.no_grad()
    def sample(
        self,
        n: int,
        y: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        """``n`` ancestral samples, (n, C, H, W) in [0, 1].

        Every latent group is drawn from its prior with the std scaled by ``temperature`` (the
        reference's sampling temperature); then the image: a draw from the logistic mixture
        (8-bit levels), or, for ``bernoulli``, the pixel probabilities (the mean image, not a
        binary draw, as the other Bernoulli models here return).
        """
        parameters, _ = self._decode(n, None, "prior_sample", generator, temperature)
        if self.options.likelihood == "bernoulli":
            return torch.sigmoid(parameters.float())
        return sample_logistic_mixture(parameters, self.options.num_mixtures, generator, self.image_shape[0])

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The image from the posterior means of every latent group, (B, C, H, W) in [0, 1]:
        the most probable component's (coupled) means for the mixture, probabilities for Bernoulli."""
        parameters, _ = self._decode(x.shape[0], self._encode(x), "posterior_mean")
        if self.options.likelihood == "bernoulli":
            return torch.sigmoid(parameters.float())
        return logistic_mixture_mode(parameters, self.options.num_mixtures, self.image_shape[0])
