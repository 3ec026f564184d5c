"""UW-CVGAN: underwater image enhancement with capsule-vector quantisation (Pucci et al., 2023).

R. Pucci, C. Micheloni, N. Martinel, "UW-CVGAN: UnderWater Image Enhancement with Capsules
Vectors Quantization", arXiv:2302.01144 (2023); built on CVGAN (Pucci, Micheloni, Foresti &
Martinel, ICIAP 2022) and VQGAN (Esser, Rombach & Ommer, "Taming Transformers for
High-Resolution Image Synthesis", CVPR 2021).

Sources. The stored copy of the UW-CVGAN paper available here is its abstract; the layer
sizes and loss terms below come from the authors' public code for the capsule models
(github.com/Riretta/CV_GAN: ``taming/models/vcgan_denoise.py``, the underwater-pairs config
``config/denoisefish_vcgan.yaml`` and the loss ``vqperceptual.py``), which we take as the
best available description of the paper's model. What the abstract states:

* an encoder compresses the (degraded) image into a latent representation and a decoder
  reconstructs the *enhanced* image from that latent alone (supervised: the decoder's target
  is the clean reference);
* it follows VQGAN's discrete-feature-quantisation paradigm, but "in contrast with VQGAN,
  UWCVGAN achieves feature quantization by exploiting the clusterization ability of capsule
  layer, making the model completely trainable" — the codebook is replaced by a capsule
  layer (:class:`~vaerepro.models.vector_quantizer.CapsuleBottleneck`);
* the encoder alone can run on the collecting device as a compressor, reducing storage by a
  factor of 3× (3·256·256 input values over the 256·16·16 latent values).

Architecture (authors' config; option names in brackets):

* VQGAN encoder/decoder: 3×3 input convolution to ``ch`` = 128 channels [hidden_channels],
  levels with channel multipliers (1, 1, 2, 2, 4) [channel_multipliers], 2 residual blocks
  per level [residual_blocks] (GroupNorm(32) [norm_groups] + swish + 3×3 convolution, twice,
  with a 1×1 shortcut when the width changes), a stride-2 3×3 downsampling convolution
  between levels (4 downsamplings [num_downsamplings]: 256 → 16), single-head self-attention
  at the 16×16 level and in the middle block [attention], output convolution to
  ``z_channels`` = 256 [latent_channels]. The decoder mirrors it with 3 residual blocks per
  level and nearest-neighbour ×2 upsampling + 3×3 convolution.
* Bottleneck [quantizer = "capsule"]: encoder → capsule layer → 1×1 ``quant_conv`` → latent
  (256×16×16 for a 256×256 input) → 1×1 ``post_quant_conv`` → decoder.
  [quantizer = "vector"] is VQGAN's own bottleneck (encoder → ``quant_conv`` → nearest of
  ``codebook_size`` = 1024 codes, commitment weight 0.25 → ``post_quant_conv`` → decoder),
  offered as the ablation the paper compares against, not as the paper's model.
* Discriminator: the pix2pix PatchGAN of VQGAN (4×4 convolutions, 64 channels
  [discriminator_channels], 3 strided layers [discriminator_layers], BatchNorm,
  LeakyReLU 0.2, N(0, 0.02) weights); hinge loss [adversarial_loss].

Losses (authors' ``vqperceptual.py``; images in [-1, 1] as in VQGAN, so absolute errors are
twice those of [0, 1] images):

* ``recon`` = mean |y - G(x)| (+ ``perceptual_weight`` · LPIPS, see below), the
  reconstruction ("nll") term against the clean reference y;
* ``gradient`` = mean |∂x y - ∂x G(x)| + |∂y y - ∂y G(x)|, the gradient-difference loss the
  authors add to the generator objective (weight 1 [gradient_weight]);
* ``g_adv`` = -mean D(G(x)); weighted by VQGAN's adaptive weight (Esser et al. 2021, Eq. 7):
  ``lambda = ||grad_L recon|| / (||grad_L g_adv|| + 1e-4)`` at the decoder's last layer L,
  clamped to [0, 1e4], times 0.8 [adversarial_weight];
* ``d_adv`` = hinge loss of D on y (real) and on the detached G(x) (fake);
* both adversarial terms are off (factor 0) before step 250001 [adversarial_start_step],
  VQGAN's ``disc_start``;
* ``codebook``/``commit``: VQ-VAE Eq. 3's two latent terms (van den Oord et al. 2017), only
  for ``quantizer = "vector"``; the authors' capsule model has no such term (its
  "quantisation loss" is a constant zero), so both are reported as 0 for capsules.

``loss = recon + gradient_weight · gradient + codebook + commitment_weight · commit +
factor · lambda · g_adv`` (the generator group minimises it) and ``d_adv`` (the
discriminator group minimises it), each from its own forward pass (the training loop).

Assumptions and deviations (ours):

* No perceptual (LPIPS) term by default: LPIPS needs pretrained VGG16 and LPIPS
  linear-layer weights, which cannot be downloaded here; ``perceptual_weight > 0`` fails at
  construction saying so. The authors' objective has LPIPS with weight 1.
* The capsule layer is made fully convolutional (shared capsule transforms, per-position
  routing, per-image routing logits; see :mod:`vaerepro.models.vector_quantizer`), since
  restoration models here train on crops and are tested on whole images.
* The adversarial warm-up needs the training step: the loop calls ``begin_step(step)`` before
  each step (a resumed run gets its step back the same way). (``begin_phase`` would need a
  second phase, which resets the generator's Adam state at the switch; VQGAN keeps one
  optimizer.)
* When the adversarial term is off or gradients are disabled, the adaptive weight is not
  computed (VQGAN sets it to 0 outside training); ``g_adv`` is then reported without a graph.
* The authors' training: Adam, betas (0.5, 0.9), learning rate 4.5e-6 × batch size (VQGAN's
  scaling; 3.6e-5 at their batch of 8), 256×256 images. These are training settings, not
  options; see the experiment's ``params.yaml`` entry.

Observed behaviour: at initialisation the capsule-length map carries little signal (squash
shrinks short vectors quadratically and the couplings start at 1/capsule_types), so the
decoder first sees an almost constant latent; in CPU-sized runs (64×64 crops, 16 base
channels) the output starts to follow the input only after a couple of hundred steps.

Shapes: images (B, C, H, W) in [0, 1] with H, W multiples of ``size_multiple =
2**num_downsamplings`` (``restore_image`` pads); latent (B, latent_channels, H/2^n, W/2^n).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as functional
from torch import nn

from vaerepro.models.phases import OptimizerGroup, Phase
from vaerepro.models.registry import register
from vaerepro.models.restoration import RestorationModel
from vaerepro.models.vector_quantizer import CapsuleBottleneck, QuantizerOutput, VectorQuantizer
from vaerepro.models.vqgan_networks import (
    Decoder,
    Encoder,
    PatchDiscriminator,
    adaptive_adversarial_weight,
    hinge_discriminator_loss,
    vanilla_discriminator_loss,
)
from vaerepro.structured import ranged


@dataclass(frozen=True)
class UWCVGANOptions:
    """Options of ``model: uwcvgan``; defaults are the authors' configuration (module docstring)."""

    image_shape: tuple[int, int, int] = ranged((3, 256, 256), minimum=1)
    quantizer: Literal["capsule", "vector"] = "capsule"
    hidden_channels: int = ranged(128, minimum=1)
    channel_multipliers: tuple[int, ...] = ranged((1, 1, 2, 2, 4), minimum=1)
    num_downsamplings: int = ranged(4, minimum=0)
    residual_blocks: int = ranged(2, minimum=1)
    attention: bool = True
    norm_groups: int = ranged(32, minimum=1)
    latent_channels: int = ranged(256, minimum=1)
    capsule_types: int = ranged(32, minimum=1)
    capsule_dim: int = ranged(16, minimum=1)
    capsule_prediction_dim: int = ranged(64, minimum=1)
    routing_iterations: int = ranged(3, minimum=1)
    codebook_size: int = ranged(1024, minimum=1)
    commitment_weight: float = ranged(0.25, minimum=0)
    gradient_weight: float = ranged(1.0, minimum=0)
    perceptual_weight: float = ranged(0.0, minimum=0)
    adversarial_weight: float = ranged(0.8, minimum=0)
    adaptive_adversarial_weight: bool = True
    adversarial_start_step: int = ranged(250001, minimum=0)
    adversarial_loss: Literal["hinge", "vanilla"] = "hinge"
    discriminator_channels: int = ranged(64, minimum=1)
    discriminator_layers: int = ranged(3, minimum=1)


def _check_consistency(options: UWCVGANOptions) -> None:
    """What declared ranges cannot say: options that must agree with each other, and LPIPS."""

    def fail(message: str) -> None:
        raise ValueError(f"uwcvgan: {message}")

    if len(options.channel_multipliers) != options.num_downsamplings + 1:
        fail(
            f"channel_multipliers {options.channel_multipliers} has {len(options.channel_multipliers)} levels but "
            f"num_downsamplings = {options.num_downsamplings} needs {options.num_downsamplings + 1} "
            f"(one per resolution level; the paper: (1, 1, 2, 2, 4) with 4 downsamplings)"
        )
    widths = {options.hidden_channels * multiplier for multiplier in options.channel_multipliers}
    uneven = sorted(width for width in widths if width % options.norm_groups)
    if uneven:
        fail(
            f"norm_groups = {options.norm_groups} must divide every level width, but {uneven} do not "
            f"(widths are hidden_channels × channel_multipliers)"
        )
    if options.perceptual_weight > 0:  # in range, but unsupported: say why
        fail(
            "perceptual_weight > 0 asks for the LPIPS perceptual loss of the authors' objective, which needs "
            "pretrained VGG16 and LPIPS linear-layer weights; they are not available offline in this project, "
            "so set perceptual_weight: 0 (the L1 + gradient + adversarial objective)"
        )


def gradient_difference_loss(generated: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """mean |∂x ref - ∂x gen| + |∂y ref - ∂y gen| over all B·C·H·W positions (last column/row: 0).

    Forward differences, as in the authors' ``gradient_loss`` (alpha = 1).
    """

    def differences(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        dx = functional.pad(images[..., :, 1:] - images[..., :, :-1], (0, 1, 0, 0))
        dy = functional.pad(images[..., 1:, :] - images[..., :-1, :], (0, 0, 0, 1))
        return dx, dy

    generated_dx, generated_dy = differences(generated)
    reference_dx, reference_dy = differences(reference)
    return ((reference_dx - generated_dx).abs() + (reference_dy - generated_dy).abs()).mean()


@register("uwcvgan", UWCVGANOptions)
class UWCVGAN(RestorationModel):
    """Supervised: ``forward(degraded, clean)``; ``enhance`` = encode → quantise → decode."""

    task = "enhancement"

    def __init__(self, options: UWCVGANOptions) -> None:
        super().__init__(options)  # checks the declared ranges
        _check_consistency(options)
        latent = options.latent_channels
        self.encoder = Encoder(options, latent)
        if options.quantizer == "capsule":
            self.quantize: nn.Module = CapsuleBottleneck(
                latent,
                latent,
                options.capsule_types,
                options.capsule_dim,
                options.capsule_prediction_dim,
                options.routing_iterations,
            )
        else:
            self.quantize = VectorQuantizer(options.codebook_size, latent)
        self.quant_conv = nn.Conv2d(latent, latent, 1)
        self.post_quant_conv = nn.Conv2d(latent, latent, 1)
        self.decoder = Decoder(options, latent)
        self.discriminator = PatchDiscriminator(
            options.image_shape[0], options.discriminator_channels, options.discriminator_layers
        )
        # The loop's step (``begin_step``); outside training, the adversarial term's schedule reads it too.
        self.step = 0

    # -- contract -------------------------------------------------------------------------

    @property
    def size_multiple(self) -> int:
        return 2**self.options.num_downsamplings

    @property
    def minimum_training_size(self) -> int:
        """Smallest training crop side: the PatchGAN's strided and two final 4×4 convolutions."""
        return 3 * 2**self.options.discriminator_layers

    def optimizer_phases(self, total_steps: int) -> list[Phase]:
        discriminator = tuple(self.discriminator.parameters())
        owned = {id(parameter) for parameter in discriminator}
        generator = tuple(parameter for parameter in self.parameters() if id(parameter) not in owned)
        return [
            Phase(
                "adversarial",
                (
                    OptimizerGroup("discriminator", discriminator, loss_key="d_adv"),
                    OptimizerGroup("generator", generator, loss_key="loss"),
                ),
                steps=None,
            )
        ]

    # -- the autoencoder ------------------------------------------------------------------

    def latent_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """(channels, h, w) of the latent for a (C, H, W) image (after padding to the multiple)."""
        _, height, width = image_shape
        multiple = self.size_multiple
        return (
            self.options.latent_channels,
            math.ceil(height / multiple),
            math.ceil(width / multiple),
        )

    def quantize_latent(self, degraded: torch.Tensor) -> QuantizerOutput:
        """Encoder + bottleneck: ``quantized`` is the latent the decoder (and a storage device) gets."""
        features = self.encoder(degraded * 2.0 - 1.0)
        if self.options.quantizer == "capsule":
            output = self.quantize(features)
            output.quantized = self.quant_conv(output.quantized)
            return output
        return self.quantize(self.quant_conv(features))

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """Latent → decoder output in VQGAN's [-1, 1] image range (unclamped)."""
        return self.decoder(self.post_quant_conv(latent))

    def enhance(self, degraded: torch.Tensor) -> torch.Tensor:
        self.check_input(degraded)
        self._check_size(degraded)
        restored = self.decode(self.quantize_latent(degraded).quantized)
        return ((restored + 1.0) / 2.0).clamp(0.0, 1.0)

    def _check_size(self, images: torch.Tensor) -> None:
        height, width = images.shape[-2:]
        if height % self.size_multiple or width % self.size_multiple:
            raise ValueError(
                f"uwcvgan: image {height}x{width} is not a multiple of {self.size_multiple} (2 ** num_downsamplings); "
                f"pad it first (restore_image does) or train on crops whose side is a multiple of {self.size_multiple}"
            )

    # -- training -------------------------------------------------------------------------

    def begin_step(self, step: int) -> None:
        self.step = step

    def adversarial_active(self, step: int) -> bool:
        return step >= self.options.adversarial_start_step

    def _adaptive_weight(self, reconstruction: torch.Tensor, generator_adversarial: torch.Tensor) -> torch.Tensor:
        """Esser et al. (2021) Eq. 7 at the decoder's last layer, times ``adversarial_weight``."""
        return adaptive_adversarial_weight(
            reconstruction, generator_adversarial, self.decoder.conv_out.weight, self.options.adversarial_weight
        )

    def forward(self, degraded: torch.Tensor, clean: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if clean is None:
            raise ValueError("uwcvgan is supervised: forward(degraded, clean) needs the clean reference")
        self.check_input(degraded)
        if clean.shape != degraded.shape:
            raise ValueError(
                f"uwcvgan: degraded {tuple(degraded.shape)} and clean {tuple(clean.shape)} differ in shape"
            )
        self._check_size(degraded)
        if min(degraded.shape[-2:]) < self.minimum_training_size:
            raise ValueError(
                f"uwcvgan: training crops of {degraded.shape[-2]}x{degraded.shape[-1]} are too small for the "
                f"{self.options.discriminator_layers}-layer PatchGAN; use crops of at least "
                f"{self.minimum_training_size}x{self.minimum_training_size}"
            )
        active = self.adversarial_active(self.step)
        factor = 1.0 if active else 0.0
        options = self.options

        target = clean * 2.0 - 1.0
        bottleneck = self.quantize_latent(degraded)
        restored = self.decode(bottleneck.quantized)
        l1 = (restored - target).abs().mean()
        reconstruction = l1  # + perceptual_weight · LPIPS in the authors' objective (not available here)
        gradient = gradient_difference_loss(restored, target)

        with torch.set_grad_enabled(torch.is_grad_enabled() and active):
            generator_adversarial = -self.discriminator(restored).mean()
        if active and options.adaptive_adversarial_weight and generator_adversarial.requires_grad:
            weight = self._adaptive_weight(reconstruction, generator_adversarial)
        elif active and not options.adaptive_adversarial_weight:
            weight = restored.new_tensor(options.adversarial_weight)
        else:
            weight = restored.new_zeros(())
        loss = (
            reconstruction
            + options.gradient_weight * gradient
            + bottleneck.codebook_loss
            + options.commitment_weight * bottleneck.commitment_loss
            + factor * weight * generator_adversarial
        )

        discriminator_loss = (
            hinge_discriminator_loss if options.adversarial_loss == "hinge" else vanilla_discriminator_loss
        )
        logits_real = self.discriminator(target.detach())
        logits_fake = self.discriminator(restored.detach())
        outputs = {
            "loss": loss,
            "recon": reconstruction,
            "l1": l1,
            "gradient": gradient,
            "codebook": bottleneck.codebook_loss,
            "commit": bottleneck.commitment_loss,
            "g_adv": generator_adversarial,
            "d_adv": factor * discriminator_loss(logits_real, logits_fake),
            "adversarial_weight": factor * weight.detach(),
        }
        if bottleneck.perplexity is not None:
            outputs["perplexity"] = bottleneck.perplexity
        return outputs
