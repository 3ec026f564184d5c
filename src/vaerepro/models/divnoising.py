"""DivNoising (Prakash, Krull & Jug, "Fully unsupervised diversity denoising with convolutional
variational autoencoders", ICLR 2021, arXiv:2006.06072).

What the paper does and what is implemented here:

* **Model.** A fully convolutional VAE trained on noisy images only. The decoder does not
  model the noisy image directly: it predicts a clean signal ``s = g(z)``, and the
  likelihood of the ELBO is the *imaging noise model*, ``p(x | z) = p_NM(x | g(z)) =
  prod_i p_NM(x_i | s_i)`` (the paper's method section: the VAE evidence lower bound of
  Kingma & Welling, ``log p(x) >= E_q[log p_NM(x | g(z))] - KL(q(z | x) || N(0, I))``, with
  the decoder likelihood replaced by the noise model). The noise model explains
  pixel-independent noise at no cost, while putting that noise through the latent bottleneck
  would cost KL, so training drives ``g(z)`` towards the signal.
  ``forward`` returns the negative ELBO **per sub-pixel** (nats / (C·H·W), averaged over the
  batch): ``recon`` = mean ``-log p_NM(x | s)`` per sub-pixel with one reparameterised
  sample ``z ~ q(z | x)``, ``kl`` = the analytic KL summed over latent units divided by
  C·H·W, ``loss = recon + kl_weight * kl`` (``kl_weight = 1`` is the ELBO; the authors'
  code normalises both terms the same way). ``clean`` is never used.
* **Architecture** (the authors' reference code, juglab/DivNoising; ``num_downsamplings = 2``,
  ``hidden_channels = 32``, ``latent_channels = 64``): encoder = per level
  ``convolutions_per_level`` 3x3 convolutions with ReLU then 2x2 max-pooling, channels
  ``hidden_channels * 2^level``; a 3x3 convolution gives the mean and log-variance of the
  latent map ``z`` (B, latent_channels, H/2^D, W/2^D); decoder = per level 3x3 convolutions
  with ReLU then a 2x2 stride-2 transposed convolution; a last 3x3 convolution gives ``s``.
  Being fully convolutional, the model takes any size that is a multiple of 2^D.
* **Noise models** (:mod:`.noise_models`). ``gaussian_known``: ``x ~ N(s, sigma^2)`` with the
  known sigma (``noise_sigma``, **0-255 scale**, e.g. 25 for AWGN sigma 25), the paper's
  model for synthetically corrupted data. ``estimated``: the paper's "fully unsupervised"
  setting, where the noise model is *bootstrapped* from the noisy data (its reference code
  fits a Gaussian-mixture noise model to pairs of noisy images and a Noise2Void
  pre-denoising of them). Simplified here: a Gaussian whose variance is a per-channel linear
  function of the signal, ``a_c * s + b_c`` (the heteroscedastic Gaussian approximation of
  shot + read noise), fitted from the noisy data with a ring mean (the pixels at distance
  ``noise_estimate_radius``) as the pre-denoised estimate and robust per-intensity-bin
  variances (:func:`~vaerepro.models.noise_models.fit_signal_dependent_variance`). Like the
  paper's, this noise model is pixel-independent: spatially correlated noise (processed
  camera images such as CC15, whose noise has a lag-1 correlation of about 0.6) violates it,
  and part of such noise is then explained as signal.
* **When the estimated noise model is fitted.** Lazily, on the **first training batch**
  (the first ``forward`` in training mode), before any gradient step, from the noisy crops
  alone; ``a, b`` are then buffers (``noise_model.slope``, ``noise_model.intercept``,
  ``noise_model.fitted``), so checkpoints keep them and they never change afterwards. Why:
  the training loop only ever hands the model random noisy crops, the noise model must
  exist before the first ELBO is evaluated, and one batch of crops (e.g. 16 x 3 x 64 x 64
  values) pins down two parameters per channel well. A ``forward`` in eval mode before any
  training fits a temporary model from its own batch and stores nothing.
* **Inference.** The paper's consensus estimate is the MMSE estimate: the mean of many
  denoised samples ``s^k = g(z^k)``, ``z^k ~ q(z | x)`` (the authors' prediction example
  averages 1000 samples).
  ``enhance`` averages ``posterior_samples`` decoded posterior samples drawn from a CPU
  generator seeded with ``sample_seed``, so it is deterministic and the same on every
  device; ``sample_posterior`` returns the individual samples (the paper's diverse
  denoisings). The paper's MAP estimate (mean-shift clustering of samples) is not
  implemented.

Initialisation: the log-variance half of the latent head starts with bias -6 (posterior std
about 0.05), so early training sees a nearly deterministic autoencoder. With PyTorch's default
initialisation (posterior std about 1) the posterior collapsed to the prior (KL per sub-pixel
→ 5e-4, the decoder putting out the mean image) within 200 Adam steps on CC15 crops; the
authors' code instead detects collapse (KL < 1e-7), restarts, and after 20 restarts anneals
the KL weight from 0 to 1.

Other simplifications: inputs are centred with fixed constants (``(x - 0.5) / 0.25``, and
``s = 0.5 + 0.25 * output``) instead of the dataset mean and standard deviation the authors
use; no KL annealing or posterior-collapse restarts (the authors' code falls back to them);
no test-time augmentation; no co-learned noise model; the 8-bit clipping of AWGN data is not
modelled (values at 0 or 255 are treated as Gaussian observations).

Shapes: ``degraded`` (B, C, H, W) in [0, 1], H and W multiples of ``size_multiple``;
``z`` (B, latent_channels, H/2^D, W/2^D); decoded signals (B, C, H, W).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

from vaerepro.models.distributions import DiagonalGaussian, standard_normal
from vaerepro.models.noise_models import (
    GaussianNoiseModel,
    NoiseModel,
    SignalDependentGaussianNoiseModel,
)
from vaerepro.models.registry import register
from vaerepro.models.restoration import RestorationModel
from vaerepro.structured import ranged

if TYPE_CHECKING:
    from collections.abc import Iterator

# Fixed input/output scaling (the authors normalise by the dataset's mean and std).
_CENTRE, _SCALE = 0.5, 0.25
# Posterior log-variances are clamped to this range to keep exp() finite early in training.
_LOG_VARIANCE_RANGE = (-30.0, 20.0)
# Initial bias of the posterior log-variance (posterior std e^-3 ≈ 0.05 at the start).
_INITIAL_LOG_VARIANCE = -6.0
# Decoded pixels per decoder call when drawing many samples (bounds activation memory).
_PIXELS_PER_DECODE = 2**21


@dataclass(frozen=True)
class DivNoisingOptions:
    """Options of ``model: divnoising``.

    ``image_shape`` is filled from the data; only its channel count matters to the fully
    convolutional network. ``noise_sigma`` is on the **0-255 scale** and required (only) for
    ``noise_model: gaussian_known``. ``noise_estimate_radius`` (``estimated`` only): each
    pixel's pre-denoised estimate is the mean of the ring of pixels at this distance (1 = the 8
    neighbours, right for spatially independent noise; 2 = the default, tolerates the
    short-range correlation of processed camera noise). ``posterior_samples`` decoded samples
    are averaged for the MMSE estimate of ``enhance``; ``sample_seed`` seeds them.
    """

    image_shape: tuple[int, int, int] = ranged((3, 64, 64), minimum=1)
    hidden_channels: int = ranged(32, minimum=1)
    convolutions_per_level: int = ranged(2, minimum=1)
    num_downsamplings: int = ranged(2, minimum=0)
    latent_channels: int = ranged(64, minimum=1)
    noise_model: Literal["gaussian_known", "estimated"] = "estimated"
    noise_sigma: float | None = ranged(None, above=0)
    noise_estimate_radius: int = ranged(2, minimum=1)
    posterior_samples: int = ranged(100, minimum=1)
    sample_seed: int = 0
    kl_weight: float = ranged(1.0, minimum=0)


def _convolutions(channels_in: int, channels_out: int, count: int) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for index in range(count):
        layers += [
            nn.Conv2d(channels_in if index == 0 else channels_out, channels_out, kernel_size=3, padding=1),
            nn.ReLU(),
        ]
    return layers


@register("divnoising", DivNoisingOptions)
class DivNoising(RestorationModel):
    """Fully convolutional VAE whose likelihood is an explicit pixel noise model."""

    task = "denoising"

    supervised = False

    def __init__(self, options: DivNoisingOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        channels = options.image_shape[0]
        self.noise_model: NoiseModel = self._build_noise_model(options)

        encoder: list[nn.Module] = []
        width_in = channels
        for level in range(options.num_downsamplings):
            width_out = options.hidden_channels * 2**level
            encoder += _convolutions(width_in, width_out, options.convolutions_per_level)
            encoder.append(nn.MaxPool2d(kernel_size=2, stride=2))
            width_in = width_out
        if options.num_downsamplings == 0:
            encoder += _convolutions(width_in, options.hidden_channels, options.convolutions_per_level)
            width_in = options.hidden_channels
        self.encoder = nn.Sequential(*encoder)
        self.latent_head = nn.Conv2d(width_in, 2 * options.latent_channels, kernel_size=3, padding=1)
        with torch.no_grad():
            self.latent_head.bias[options.latent_channels :] = _INITIAL_LOG_VARIANCE

        decoder: list[nn.Module] = []
        width_in = options.latent_channels
        for level in reversed(range(options.num_downsamplings)):
            width_out = options.hidden_channels * 2**level
            decoder += _convolutions(width_in, width_out, options.convolutions_per_level)
            decoder.append(nn.ConvTranspose2d(width_out, width_out, kernel_size=2, stride=2))
            width_in = width_out
        if options.num_downsamplings == 0:
            decoder += _convolutions(width_in, options.hidden_channels, options.convolutions_per_level)
            width_in = options.hidden_channels
        decoder.append(nn.Conv2d(width_in, channels, kernel_size=3, padding=1))
        self.decoder = nn.Sequential(*decoder)

    @staticmethod
    def _build_noise_model(options: DivNoisingOptions) -> NoiseModel:
        # Not ranges: whether noise_sigma is needed depends on noise_model (its range, > 0, is declared).
        if options.noise_model == "gaussian_known":
            if options.noise_sigma is None:
                raise ValueError("divnoising: noise_model 'gaussian_known' needs noise_sigma (0-255 scale, e.g. 25)")
            return GaussianNoiseModel(options.noise_sigma / 255.0)
        if options.noise_sigma is not None:
            raise ValueError(
                "divnoising: noise_sigma applies only to noise_model 'gaussian_known'; "
                "the 'estimated' noise model is fitted from the noisy training data"
            )
        return SignalDependentGaussianNoiseModel(options.image_shape[0], options.noise_estimate_radius)

    @property
    def size_multiple(self) -> int:
        return 2**self.options.num_downsamplings

    @property
    def noise_model_description(self) -> str:
        return self.noise_model.description

    def _check_size(self, degraded: torch.Tensor) -> None:
        self.check_input(degraded)
        height, width = degraded.shape[-2:]
        if height % self.size_multiple or width % self.size_multiple:
            raise ValueError(
                f"divnoising: image {height}x{width} is not a multiple of {self.size_multiple} "
                f"(2 ** num_downsamplings); pad it (restoration.pad_to_multiple) or crop to a multiple"
            )

    def encode(self, degraded: torch.Tensor) -> DiagonalGaussian:
        """``q(z | x)``: a Gaussian over the latent map, (B, latent_channels, H/2^D, W/2^D)."""
        mean, log_variance = self.latent_head(self.encoder((degraded - _CENTRE) / _SCALE)).chunk(2, dim=1)
        return DiagonalGaussian(mean, log_variance.clamp(*_LOG_VARIANCE_RANGE))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent map (N, latent_channels, h, w) → predicted clean signal ``s`` (N, C, H, W).

        Not clamped: ``s`` is the mean of the noise model and may leave [0, 1] slightly.
        """
        return _CENTRE + _SCALE * self.decoder(z)

    def _likelihood_model(self, degraded: torch.Tensor) -> NoiseModel:
        """The noise model, fitting the ``estimated`` one on the first training batch."""
        model = self.noise_model
        if isinstance(model, SignalDependentGaussianNoiseModel) and not model.is_fitted:
            if self.training:
                model.fit(degraded)
            else:  # eval before any training: fit a throwaway copy, leave the buffers alone
                temporary = SignalDependentGaussianNoiseModel(self.channels, model.radius).to(degraded.device)
                temporary.fit(degraded)
                return temporary
        return model

    def forward(self, degraded: torch.Tensor, clean: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Negative ELBO per sub-pixel of noisy crops (B, C, H, W); ``clean`` is ignored.

        Returns scalars: ``loss`` = recon + kl_weight * kl, ``recon`` = -log p_NM(x | g(z))
        per sub-pixel (one z ~ q(z | x)), ``kl`` = KL(q(z | x) || N(0, I)) per sub-pixel,
        ``elbo`` = -(recon + kl), all in nats and averaged over the batch.
        """
        self._check_size(degraded)
        noise_model = self._likelihood_model(degraded)
        posterior = self.encode(degraded)
        signal = self.decode(posterior.sample())
        sub_pixels = degraded[0].numel()
        reconstruction = -noise_model.log_prob(degraded.float(), signal.float()).flatten(1).sum(1) / sub_pixels
        kl = posterior.kl().float().flatten(1).sum(1) / sub_pixels
        return {
            "loss": (reconstruction + self.options.kl_weight * kl).mean(),
            "recon": reconstruction.mean(),
            "kl": kl.mean(),
            "elbo": -(reconstruction + kl).mean(),
        }

    def _decoded_samples(
        self, posterior: DiagonalGaussian, count: int, generator: torch.Generator | None
    ) -> Iterator[torch.Tensor]:
        """Yield decoded posterior samples in chunks of (n, B, C, H, W), n summing to ``count``."""
        batch, _, height, width = posterior.mean.shape
        pixels = batch * height * width * self.size_multiple**2
        chunk = max(1, _PIXELS_PER_DECODE // max(pixels, 1))
        for start in range(0, count, chunk):
            number = min(chunk, count - start)
            z = posterior.mean + posterior.standard_deviation * standard_normal(
                (number, *posterior.mean.shape), like=posterior.mean, generator=generator
            )
            yield self.decode(z.flatten(0, 1)).unflatten(0, (number, batch))

    @torch.no_grad()
    def sample_posterior(
        self, degraded: torch.Tensor, count: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``count`` denoised samples ``g(z^k)``, ``z^k ~ q(z | x)``: (count, B, C, H, W), not clamped.

        ``generator`` (any device) makes the draw reproducible; ``None`` uses the global RNG.
        """
        if count < 1:
            raise ValueError(f"divnoising: count must be >= 1, got {count}")
        self._check_size(degraded)
        posterior = self.encode(degraded)
        return torch.cat(list(self._decoded_samples(posterior, count, generator)), dim=0)

    @torch.no_grad()
    def enhance(self, degraded: torch.Tensor) -> torch.Tensor:
        """MMSE estimate: mean of ``posterior_samples`` decoded posterior samples, clamped to [0, 1].

        (B, C, H, W) → (B, C, H, W). Deterministic: the latent noise comes from a CPU generator
        seeded with ``sample_seed`` (identical on every device).
        """
        self._check_size(degraded)
        generator = torch.Generator().manual_seed(self.options.sample_seed)
        posterior = self.encode(degraded)
        total = torch.zeros_like(degraded, dtype=torch.float32)
        for samples in self._decoded_samples(posterior, self.options.posterior_samples, generator):
            total += samples.float().sum(0)
        return (total / self.options.posterior_samples).clamp(0.0, 1.0).to(degraded.dtype)
