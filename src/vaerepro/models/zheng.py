"""Zheng, Tan, Zhang, Shi, Ma & Bao, "An unsupervised deep learning approach for real-world
image denoising", ICLR 2021 (OpenReview tIjRAiFmU3y): an encoder maps the noisy image into a
latent space where the noise is additive white Gaussian, a Gaussian denoiser (BM3D) removes it
there, and the whole thing is trained on the noisy images alone.

Sources. The paper's abstract and Section 1 (the model ``y = x + n``, the AWGN assumption
``n ~ N(0, σ²I)``, and the claim) were read from the stored ICLR text; the text available here
stops after the introduction, so the method below was taken from the authors' official
implementation (github.com/zhengdihan/Unsupervised_denoising, ``nn_bm3d_cc.py`` and
``models/unet.py``, read, not copied) and is described in the paper's own terms. Equation
numbers of Section 3 could not be checked and are therefore not quoted.

Model (as implemented in the authors' code; the paper calls it an "encoder-decoder structure approximating the likelihood"). The
clean image x is a latent-space point; the latent code z of the noisy image y satisfies
``p(z | x) = N(x, σ²I)`` (AWGN in latent space, σ = ``latent_noise_sigma``), and a decoder
models the real-noise likelihood ``p(y | z) = N(D(z), s_y²I)``. With the variational posterior
``q(z | y) = N(E(y), s_q²I)`` the negative ELBO of ``log p(y | x)`` is, up to constants,

    ½ ‖D(E(y) + s_q ε) − y‖² / s_y²  +  ½ ‖E(y) − x‖² / σ²,      ε ~ N(0, I)

(reconstruction + the KL between two fixed-variance Gaussians). MAP estimation of x adds a
prior λR(x), and the problem ``min −ELBO + λR(v)  s.t.  x = v`` is solved by ADMM with
penalty ρ (``admm_penalty``) and scaled dual u:

1. network step(s) on the loss above, and the closed-form x-update
   ``x = (E(y)/σ² + ρ(v − u)) / (1/σ² + ρ)``;
2. the prior's proximal step is a Gaussian denoiser: ``v = BM3D(x + u)`` (plug-and-play);
3. ``u ← u + η(x − v)``.

The restored image is v, the BM3D output *in latent space* (the latent space is the clean
image's space, ``p(z | x) = N(x, σ²I)``): the authors score v, not a decoding of it, since
the decoder maps back to the noisy image. ``output: decoded`` (``D(v)``) is offered only as an
ablation. Authors' CC settings (0–255 scale): σ = 3, s_q = s_y = 1, ρ = 1, η = 0.5, Adam with
lr 1e-2, 500 network steps per ADMM iteration, BM3D σ = 15 in the first iteration and 5 after,
both nets the 4-level U-Net below with 3 latent channels (= image channels).

What this implementation changes, and why (this repository trains one network on random
crops of all training images through one shared loop, not one network per test image):

* Amortised ADMM, one iteration per batch, u = 0. There is no per-image state (v, u) to carry
  between steps, so each step runs the proximal step on the current (detached) encoder output,
  ``v = D_σ(E(y))``, takes the x-update ``x = (E(y)/σ² + ρv)/(1/σ² + ρ)`` and minimises the
  negative ELBO above with x fixed. At test time ``enhance`` returns ``D_σ(E(y))``, one
  proximal step instead of the authors' few ADMM iterations.
* The proximal step runs on a ``prior_crop_size``² centre window of the first ``prior_items``
  crops of each batch, the windows tiled into one mosaic so BM3D runs once per step (BM3D is
  CPU-only; the ``bm3d`` library costs ≈ 1 CPU-second per call even for a 16×16 RGB image,
  plus ≈ 0.1 ms per pixel). The prior term is a per-pixel mean, so its weight does not depend
  on the window size.
* Encoder and decoder are identity-initialised residual U-Nets (``residual: true``: output =
  input + U-Net, last convolution zero-initialised). The authors start from a random U-Net
  and spend their first ADMM iteration with v = y, which pulls E towards the identity; the
  residual start reaches that state without per-image state. ``residual: false`` is their
  plain U-Net.
* ``training_denoiser: nlmeans`` (optional, not the default) swaps BM3D for non-local means in
  the training-time proximal step only, when BM3D's CPU cost leaves too few steps.
* ``denoiser_sigma: null`` (default) estimates the latent noise level per image with the
  wavelet MAD estimate used by the CBM3D baseline (:mod:`vaerepro.baselines.denoise`), so the
  comparison with CBM3D is like for like; a number fixes it (0–255 scale; the authors used 15
  in the first ADMM iteration and 5 after it on CC). On CC the MAD estimate is far too low
  (≈ 0.9 against a noise standard deviation ≈ 4.5: camera noise is spatially correlated, so
  the finest wavelet band misses most of it) and BM3D then removes almost nothing; use 5
  there, and score CBM3D with the same σ for a like-for-like comparison.
* No early stopping on the clean image (the authors stop ADMM when PSNR against the clean
  reference drops; an unsupervised method may not look at it).

Shapes: ``degraded`` (B, C, H, W) in [0, 1], C ∈ {1, 3} (BM3D for grayscale, CBM3D for RGB);
latent ``E(y)`` (B, C, H, W) on the same [0, 1] scale; U-Nets downsample ``num_downsamplings``
times (``size_multiple`` = 2 ** num_downsamplings; other sizes are padded by the caller or
handled by replicate-padding inside the U-Net).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as functional
from torch import nn

from vaerepro.baselines.denoise import bm3d_denoise, estimate_noise_sigma, nl_means_denoise
from vaerepro.models.registry import register
from vaerepro.models.restoration import RestorationModel
from vaerepro.structured import ranged

PIXEL_SCALE = 255.0  # noise levels are given on the 0–255 scale, images live on [0, 1]
BM3D_MINIMUM_SIZE = 16  # the bm3d library segfaults on an 8×8 image; 9×9 works, 16 leaves margin


@dataclass(frozen=True)
class ZhengOptions:
    """Options of ``model: zheng``; noise levels on the 0–255 scale.

    Attributes:
        image_shape: (C, H, W) from the data; C must be 1 or 3 (the latent has C channels).
        base_channels: U-Net width at full resolution (authors: 64); doubles per level.
        num_downsamplings: U-Net levels below full resolution (authors: 4, widths 64…512).
        batch_norm: BatchNorm after each 3×3 convolution, as in the authors' U-Net.
        residual: identity-initialised residual encoder/decoder (see module docstring).
        latent_noise_sigma: σ of ``p(z | x) = N(x, σ²I)`` (authors on CC: 3).
        posterior_sigma: s_q, std of ``q(z | y) = N(E(y), s_q²I)`` (authors: 1).
        likelihood_sigma: s_y, std of ``p(y | z) = N(D(z), s_y²I)`` (authors: 1).
        admm_penalty: ρ of the ADMM x-update, for squared errors on the 0–255 scale (authors: 1).
        denoiser: the Gaussian denoiser D_σ in latent space: ``bm3d`` (BM3D/CBM3D, the paper's
            main variant) or ``nlmeans`` (the paper's NN+NLM variant; also cheap for tests).
        training_denoiser: the denoiser of the training-time proximal step; null = ``denoiser``
            (the paper). ``nlmeans`` with ``denoiser: bm3d`` is a compute shortcut: NLM costs
            milliseconds where BM3D costs seconds per call on a CPU (see module docstring).
        denoiser_sigma: σ given to the denoiser (both uses); null = wavelet-MAD estimate per
            image (the CBM3D baseline's choice); the authors fixed 5 on CC.
        prior_items: crops per batch that get the proximal step and the prior term.
        prior_crop_size: side of the centre window of those crops (capped at the crop size); at
            least ``BM3D_MINIMUM_SIZE``.
        output: ``denoised_latent`` (the paper's output, ``D_σ(E(y))``) or ``decoded``
            (``D(D_σ(E(y)))``, an ablation that is not the paper's).
    """

    image_shape: tuple[int, int, int] = ranged((3, 64, 64), minimum=1)
    base_channels: int = ranged(64, minimum=1)
    num_downsamplings: int = ranged(4, minimum=1)
    batch_norm: bool = True
    residual: bool = True
    latent_noise_sigma: float = ranged(3.0, above=0)
    posterior_sigma: float = ranged(1.0, above=0)
    likelihood_sigma: float = ranged(1.0, above=0)
    admm_penalty: float = ranged(1.0, above=0)
    denoiser: Literal["bm3d", "nlmeans"] = "bm3d"
    training_denoiser: Literal["bm3d", "nlmeans"] | None = None
    denoiser_sigma: float | None = ranged(None, above=0)
    prior_items: int = ranged(4, minimum=1)
    prior_crop_size: int = ranged(32, minimum=BM3D_MINIMUM_SIZE)
    output: Literal["denoised_latent", "decoded"] = "denoised_latent"


def _double_convolution(in_channels: int, out_channels: int, batch_norm: bool) -> nn.Sequential:
    """(3×3 conv → [BatchNorm] → ReLU) × 2, spatial size kept."""
    layers: list[nn.Module] = []
    for source in (in_channels, out_channels):
        layers.append(nn.Conv2d(source, out_channels, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """The U-Net (Ronneberger et al. 2015) of the authors' code, width and depth as options.

    Level widths w_k = base · 2^k for k < D (D = ``num_downsamplings``); the bottom level (after
    D max-pools) keeps w_{D-1}. Each up step upsamples ×2 (bilinear, corners aligned),
    concatenates the skip of its level, and applies a double convolution to w_{k-1} channels
    (w_0 at the top); a 1×1 convolution maps to ``out_channels``. For D = 4, base = 64 this is
    64-128-256-512-512 down and 256-128-64-64 up, as in the authors' network.

    With ``residual`` the output is ``input + U-Net(input)`` and the 1×1 output convolution
    starts at zero, so the network starts as the identity.

    Shapes: (B, in_channels, H, W) → (B, out_channels, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        base_channels: int,
        num_downsamplings: int,
        batch_norm: bool,
        residual: bool,
    ) -> None:
        super().__init__()
        if residual and in_channels != out_channels:
            raise ValueError("a residual U-Net needs as many output channels as input channels")
        self.residual = residual
        widths = [base_channels * 2**level for level in range(num_downsamplings)]
        self.first = _double_convolution(in_channels, widths[0], batch_norm)
        self.down = nn.ModuleList(
            _double_convolution(widths[level - 1], widths[level], batch_norm) for level in range(1, num_downsamplings)
        )
        self.down.append(_double_convolution(widths[-1], widths[-1], batch_norm))  # bottom level
        self.up = nn.ModuleList(
            _double_convolution(2 * widths[level], widths[max(level - 1, 0)], batch_norm)
            for level in reversed(range(num_downsamplings))
        )
        self.last = nn.Conv2d(widths[0], out_channels, 1)
        if residual:
            nn.init.zeros_(self.last.weight)
            nn.init.zeros_(self.last.bias)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self.first(image)
        skips = [features]
        for block in self.down:
            features = block(functional.max_pool2d(features, 2))
            skips.append(features)
        skips.pop()  # the bottom level is not a skip
        for block in self.up:
            skip = skips.pop()
            features = functional.interpolate(features, scale_factor=2, mode="bilinear", align_corners=True)
            pad_height, pad_width = (
                skip.shape[-2] - features.shape[-2],
                skip.shape[-1] - features.shape[-1],
            )
            if pad_height or pad_width:  # odd sizes: max-pool floored, so pad back (replicate)
                features = functional.pad(features, (0, pad_width, 0, pad_height), mode="replicate")
            features = block(torch.cat([skip, features], dim=1))
        out = self.last(features)
        return image + out if self.residual else out


@register("zheng", ZhengOptions)
class ZhengDenoiser(RestorationModel):
    """Encoder–decoder + Gaussian denoiser in latent space (Zheng et al., ICLR 2021)."""

    task = "denoising"

    supervised: ClassVar[bool] = False

    def __init__(self, options: ZhengOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        channels = int(options.image_shape[0])
        # Not ranges: a channel count is a choice of two values, and the Literal choices are
        # checked by from_mapping only, so options built directly are checked here.
        if channels not in (1, 3):
            raise ValueError(
                f"zheng: the latent has the image's {channels} channel(s), but BM3D/CBM3D denoise 1 or 3 channels"
            )
        for name in ("denoiser", "training_denoiser"):
            value = getattr(options, name)
            if value not in ("bm3d", "nlmeans") and not (name == "training_denoiser" and value is None):
                raise ValueError(f"zheng: {name} must be 'bm3d' or 'nlmeans', got {value!r}")
        if options.output not in ("denoised_latent", "decoded"):
            raise ValueError(f"zheng: output must be 'denoised_latent' or 'decoded', got {options.output!r}")
        network = {
            "base_channels": options.base_channels,
            "num_downsamplings": options.num_downsamplings,
            "batch_norm": options.batch_norm,
            "residual": options.residual,
        }
        self.encoder = UNet(channels, channels, **network)
        self.decoder = UNet(channels, channels, **network)

    @property
    def training_denoiser(self) -> str:
        """The denoiser of the training-time proximal step."""
        return self.options.training_denoiser or self.options.denoiser

    @property
    def size_multiple(self) -> int:
        return 2**self.options.num_downsamplings

    @property
    def minimum_size(self) -> int:
        """At least the size multiple and BM3D_MINIMUM_SIZE (the bm3d library crashes on 8×8)."""
        return max(self.size_multiple, BM3D_MINIMUM_SIZE)

    def encode(self, degraded: torch.Tensor) -> torch.Tensor:
        """Posterior mean ``E(y)``: (B, C, H, W) → latent (B, C, H, W) on the image's [0, 1] scale."""
        return self.encoder(degraded)

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Likelihood mean ``D(z)``: latent (B, C, H, W) → (B, C, H, W) in image space."""
        return self.decoder(latent)

    def gaussian_denoise(self, latent: torch.Tensor, denoiser: str | None = None) -> torch.Tensor:
        """D_σ applied to each latent image (BM3D/CBM3D or NLM, on the CPU in float64).

        (B, C, H, W) → (B, C, H, W), same device and dtype, no gradient. ``denoiser``: ``bm3d``
        or ``nlmeans``, default the ``denoiser`` option. σ is ``denoiser_sigma`` / 255, or the
        wavelet-MAD estimate of each latent image.
        """
        denoiser = self.options.denoiser if denoiser is None else denoiser
        images = latent.detach().float().permute(0, 2, 3, 1).cpu().numpy().astype(np.float64)
        denoised = np.stack([self._denoise_one(image, denoiser) for image in images])
        return torch.from_numpy(denoised).permute(0, 3, 1, 2).to(latent.device, latent.dtype)

    def denoise_as_mosaic(self, windows: torch.Tensor, denoiser: str | None = None) -> torch.Tensor:
        """D_σ of k windows (k, C, h, w) in one call, tiled into a near-square mosaic.

        BM3D's cost here has a large fixed part per call (≈ 0.3 s per channel on a 16×16
        image), so the training step denoises its windows together; empty mosaic cells repeat
        windows cyclically. One σ is estimated for the whole mosaic. Returns (k, C, h, w).
        """
        count, channels, height, width = windows.shape
        columns = math.ceil(math.sqrt(count))
        rows = math.ceil(count / columns)
        tiles = [windows[index % count] for index in range(rows * columns)]
        mosaic = torch.cat(
            [torch.cat(tiles[row * columns : (row + 1) * columns], dim=-1) for row in range(rows)],
            dim=-2,
        )
        denoised = self.gaussian_denoise(mosaic.unsqueeze(0), denoiser)[0]  # (C, rows·h, columns·w)
        cells = denoised.reshape(channels, rows, height, columns, width).permute(1, 3, 0, 2, 4)
        return cells.reshape(rows * columns, channels, height, width)[:count]

    def _denoise_one(self, image: np.ndarray, denoiser: str) -> np.ndarray:
        """float64 H×W×C latent → denoised H×W×C."""
        if self.options.denoiser_sigma is None:
            with warnings.catch_warnings():  # a constant latent has no wavelet detail: NaN estimate
                warnings.simplefilter("ignore", RuntimeWarning)
                sigma = estimate_noise_sigma(image)
        else:
            sigma = self.options.denoiser_sigma / PIXEL_SCALE
        if not sigma > 0:  # also NaN
            return image.copy()  # nothing to remove (e.g. a constant latent)
        denoise = bm3d_denoise if denoiser == "bm3d" else nl_means_denoise
        return np.asarray(denoise(image, sigma), dtype=np.float64)

    def admm_x_update(self, latent_mean: torch.Tensor, proximal: torch.Tensor) -> torch.Tensor:
        """Closed-form ADMM x-update with u = 0: ``x = (E(y)/σ² + ρv) / (1/σ² + ρ)``.

        σ and ρ are on the 0–255 scale, so 1/σ² and ρ weigh squared 0–255 errors alike and the
        mix does not depend on the pixel scale. Shapes (B, C, h, w) → (B, C, h, w).
        """
        precision = 1.0 / self.options.latent_noise_sigma**2
        penalty = self.options.admm_penalty
        return (precision * latent_mean + penalty * proximal) / (precision + penalty)

    def _prior_window(self, latent: torch.Tensor) -> torch.Tensor:
        """Centre ``prior_crop_size`` window of the first ``prior_items`` latents, (k, C, h, w)."""
        items = latent[: self.options.prior_items]
        height, width = items.shape[-2:]
        side_height, side_width = (
            min(self.options.prior_crop_size, height),
            min(self.options.prior_crop_size, width),
        )
        top, left = (height - side_height) // 2, (width - side_width) // 2
        return items[..., top : top + side_height, left : left + side_width]

    def forward(self, degraded: torch.Tensor, clean: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Negative ELBO with the ADMM target (module docstring); ``clean`` is never used.

        ``degraded`` (B, C, H, W) in [0, 1]. Returns scalars ``loss`` = ``recon`` + ``prior``,
        where ``recon`` = ½ mean((D(E(y) + s_q ε) − y)² / s_y²) and ``prior`` =
        ½ mean((E(y) − x)² / σ²) on the 0–255 scale over the prior window, and
        ``latent_residual`` = RMS of E(y) − D_σ(E(y)) there (0–255 scale, no gradient).
        """
        del clean  # unsupervised: the clean image is never looked at
        self.check_input(degraded)
        mean = self.encode(degraded)
        noise = torch.randn_like(mean) * (self.options.posterior_sigma / PIXEL_SCALE)
        reconstruction = self.decode(mean + noise)
        recon = 0.5 * ((reconstruction - degraded) * (PIXEL_SCALE / self.options.likelihood_sigma)).square().mean()
        window = self._prior_window(mean)
        with torch.no_grad():
            # plug-and-play proximal step v = D_σ(E(y)), then the closed-form x-update
            proximal = self.denoise_as_mosaic(window, self.training_denoiser)
            target = self.admm_x_update(window.detach(), proximal)
            latent_residual = ((window - proximal) * PIXEL_SCALE).square().mean().sqrt()
        prior = 0.5 * ((window - target) * (PIXEL_SCALE / self.options.latent_noise_sigma)).square().mean()
        return {
            "loss": recon + prior,
            "recon": recon,
            "prior": prior,
            "latent_residual": latent_residual,
        }

    def enhance(self, degraded: torch.Tensor) -> torch.Tensor:
        """Encode → Gaussian denoiser in latent space (→ decode for ``output: decoded``).

        (B, C, H, W) in [0, 1] → (B, C, H, W) clamped to [0, 1].
        """
        self.check_input(degraded)
        restored = self.gaussian_denoise(self.encode(degraded))
        if self.options.output == "decoded":
            restored = self.decode(restored)
        return restored.clamp(0.0, 1.0)
