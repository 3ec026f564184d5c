"""Latent bottlenecks for VQ-style autoencoders: a codebook vector quantiser and a capsule layer.

:class:`VectorQuantizer` — the discrete bottleneck of VQ-VAE (van den Oord, Vinyals &
Kavukcuoglu, "Neural Discrete Representation Learning", NeurIPS 2017, arXiv:1711.00937),
as used by VQGAN (Esser, Rombach & Ommer, "Taming Transformers for High-Resolution Image
Synthesis", CVPR 2021, arXiv:2012.09841):

* each latent vector ``z_e(x)`` at each spatial position is replaced by its nearest codebook
  entry ``e_k``, ``k = argmin_j ||z_e(x) - e_j||_2`` (VQ-VAE Eq. 1-2);
* gradients pass straight through the non-differentiable lookup: the decoder input is
  ``z_e + sg[e_k - z_e]``, equal to ``e_k`` forward and with the identity Jacobian backward
  (VQ-VAE Sec. 3.2);
* the two latent terms of VQ-VAE Eq. 3, ``||sg[z_e(x)] - e||^2`` (codebook loss: moves the
  codes towards the encoder outputs) and ``beta ||z_e(x) - sg[e]||^2`` (commitment loss:
  keeps the encoder near its codes), reported separately (means over elements) so the caller
  applies ``beta`` (the paper uses 0.25);
* codebook usage statistics: the fraction of codes used in the batch and the perplexity
  ``exp(-sum_k p_k log p_k)`` of the empirical code distribution (``K`` when all codes are
  used equally, 1 when a single code is used).

The codebook is initialised uniformly in ``[-1/K, 1/K]`` (as in VQGAN's implementation).
:class:`EmaVectorQuantizer` learns it by moving averages instead (VQ-VAE Appendix A.1), with
dead-code restarts.

:class:`CapsuleBottleneck` — the bottleneck of CVGAN (Pucci, Micheloni, Foresti & Martinel,
"CVGAN: Image Generation with Capsule Vector-VAE", ICIAP 2022) and UW-CVGAN (Pucci, Micheloni
& Martinel, "UW-CVGAN: UnderWater Image Enhancement with Capsules Vectors Quantization",
arXiv:2302.01144, 2023). The papers' abstracts say that VQGAN's "discrete bottleneck
represented by the quantization code-book is replaced with a capsules layer" which "clusters
the encoder outputs considering the agreement among capsules" and makes the bottleneck
differentiable ("completely trainable"); there is no codebook, no nearest-neighbour lookup
and no codebook/commitment loss. The layer structure below follows the authors' public code
(github.com/Riretta/CV_GAN, ``PrimaryCaps``/``DigitCaps`` in
``taming/modules/diffusionmodules/model.py``), with the squash nonlinearity and routing by
agreement of Sabour, Frosst & Hinton ("Dynamic Routing Between Capsules", NeurIPS 2017,
Eq. 1-3 and Procedure 1):

1. primary capsules: a 3×3, stride-2, padding-2 convolution of the encoder features into
   ``capsule_types`` capsule types of ``capsule_dim`` components at each position of a
   ``(h//2 + 1)``-sided grid (authors: 16 convolutions of 32 channels = 32 types × 16-d,
   on the 256×16×16 encoder output → a 9×9 grid), each vector squashed
   (``squash(s) = ||s||^2 / (1 + ||s||^2) · s / ||s||``);
2. predictions ``u_hat_i = W_i u_i`` (authors: 16-d → 64-d);
3. three iterations of routing by agreement towards one output capsule: coupling
   coefficients ``c_i = softmax_i(b_i)`` over the primary capsules routed together,
   ``v = squash(sum_i c_i u_hat_i)``, ``b_i += u_hat_i · v``;
4. the bottleneck map is the length of each routed prediction, ``||c_i u_hat_i||``, one
   scalar per capsule type and position (authors: 32×9×9); a 2×2, stride-2, padding-1
   transposed convolution maps it back to the latent grid (authors: 256×16×16).

Deviations from the authors' code, all needed because restoration models here are fully
convolutional (trained on crops, tested on whole images of another size):

* the authors keep one transformation matrix per primary capsule *and position* and route
  all 32·9·9 capsules of an image to a single output capsule, which ties the layer to
  256×256 inputs; here ``W`` is shared across positions (one matrix per capsule type), and
  routing runs independently at each position of the grid (the ``capsule_types`` capsules
  of one position route to that position's output capsule), so the coupling coefficients
  do not shrink with the image size;
* the authors average the routing logits ``b`` over the batch (a shared ``b`` for all
  images of a batch); here they are per image (Sabour et al.'s procedure), so an image's
  output does not depend on the other images of its batch;
* for odd latent sides the transposed convolution overshoots by one row/column, which is
  cropped (for even sides, e.g. 16, the sizes match exactly as in the authors' code).

Shapes: latents (B, D, h, w); codes (B, h, w).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as functional
from torch import nn

# Added under the square root of squash so a zero vector has a finite gradient.
_SQUASH_EPS = float(torch.finfo(torch.float32).eps)


def squash(vectors: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Sabour et al. (2017) Eq. 1: keep the direction, map the length ``r`` to ``r² / (1 + r²)``."""
    squared_norm = vectors.pow(2).sum(dim, keepdim=True)
    return squared_norm / (1.0 + squared_norm) * vectors / torch.sqrt(squared_norm + _SQUASH_EPS)


@dataclass
class QuantizerOutput:
    """What a bottleneck returns.

    Attributes:
        quantized: (B, D, h, w) what the decoder receives (straight-through for the VQ).
        codebook_loss: scalar ``mean ||sg[z_e] - e||^2`` (zero for the capsule layer).
        commitment_loss: scalar ``mean ||z_e - sg[e]||^2``, before ``beta`` (zero for capsules).
        indices: (B, h, w) long code indices, or None (capsule layer: no codebook).
        perplexity: scalar perplexity of the batch's code distribution, or None.
        usage: scalar fraction of the K codes used in the batch, or None.
        capsule_lengths: (B, T, h', w') routed-prediction lengths (capsule layer only).
    """

    quantized: torch.Tensor
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor
    indices: torch.Tensor | None = None
    perplexity: torch.Tensor | None = None
    usage: torch.Tensor | None = None
    capsule_lengths: torch.Tensor | None = None


def count_statistics(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Perplexity ``exp(-sum_k p_k log p_k)`` and used fraction of per-code counts (K,)."""
    counts = counts.float()
    probabilities = counts / counts.sum().clamp_min(1.0)
    entropy = -(probabilities * torch.log(probabilities.clamp_min(1e-12))).sum()
    return torch.exp(entropy), (counts > 0).float().mean()


def code_statistics(indices: torch.Tensor, codebook_size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Counts (K,), perplexity and used fraction of a set of code indices."""
    counts = torch.bincount(indices.flatten(), minlength=codebook_size).float()
    return (counts, *count_statistics(counts))


class VectorQuantizer(nn.Module):
    """Nearest-codebook-entry quantiser with a straight-through gradient (VQ-VAE, VQGAN).

    Args:
        codebook_size: K, the number of codes.
        embedding_dim: D, the latent channels each code has.
    """

    def __init__(self, codebook_size: int, embedding_dim: int) -> None:
        super().__init__()
        if codebook_size < 1 or embedding_dim < 1:
            raise ValueError(
                f"codebook_size and embedding_dim must be positive, got {codebook_size} and {embedding_dim}"
            )
        self.codebook_size = codebook_size
        self.embedding_dim = embedding_dim
        self.codebook = nn.Embedding(codebook_size, embedding_dim)
        nn.init.uniform_(self.codebook.weight, -1.0 / codebook_size, 1.0 / codebook_size)

    def nearest(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, D, h, w) → (B, h, w) index of the nearest code (Euclidean; ties → lowest index)."""
        if latents.ndim != 4 or latents.shape[1] != self.embedding_dim:
            raise ValueError(f"expected latents of shape (B, {self.embedding_dim}, h, w), got {tuple(latents.shape)}")
        batch, _, height, width = latents.shape
        # In float32 even under autocast: the expanded distance cancels, and fp16 would pick wrong codes.
        with torch.autocast(device_type=latents.device.type, enabled=False):
            flat = latents.permute(0, 2, 3, 1).reshape(-1, self.embedding_dim).float()
            codes = self.codebook.weight.float()
            distances = flat.pow(2).sum(1, keepdim=True) - 2.0 * flat @ codes.t() + codes.pow(2).sum(1)[None, :]
        return distances.argmin(dim=1).view(batch, height, width)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, h, w) indices → (B, D, h, w) codes."""
        return self.codebook(indices).permute(0, 3, 1, 2).contiguous()

    def forward(self, latents: torch.Tensor) -> QuantizerOutput:
        indices = self.nearest(latents)
        codes = self.lookup(indices)
        codebook_loss = functional.mse_loss(codes, latents.detach())
        commitment_loss = functional.mse_loss(latents, codes.detach())
        quantized = latents + (codes - latents).detach()  # straight-through estimator
        _, perplexity, usage = code_statistics(indices, self.codebook_size)
        return QuantizerOutput(quantized, codebook_loss, commitment_loss, indices, perplexity, usage)


class EmaVectorQuantizer(VectorQuantizer):
    """The VQ with codes learned by exponential moving averages instead of the codebook loss.

    van den Oord et al. 2017, Appendix A.1 (used by VQ-VAE-2, Razavi et al. 2019, Sec. 3.1):
    with ``n_i`` the number of latents assigned to code ``i`` in the batch and ``z_ij`` those
    latents, ``N_i ← γ N_i + (1 − γ) n_i``, ``m_i ← γ m_i + (1 − γ) Σ_j z_ij`` and
    ``e_i = m_i / N_i`` (γ = 0.99). The counts are Laplace-smoothed before the division,
    ``N_i ← (N_i + ε) / (Σ N + K ε) · Σ N`` (ε = 1e-5), as the reference implementations do, so
    a rarely used code does not divide by zero. The statistics start at ``N_i = 1`` and
    ``m_i = e_i`` (the initial codebook), so an unused code keeps its place while its
    statistics decay, instead of drifting.

    Codes whose count ``N_i`` falls below ``dead_code_threshold`` are restarted at randomly
    chosen latents of the current batch (the random restarts of Dhariwal et al., "Jukebox",
    2020, Sec. 2.2), so the whole codebook stays in use; 0 disables restarts. Updates happen
    only in training mode; the codebook gets no gradient (``codebook_loss`` is 0, for the
    record), the encoder still gets the commitment loss.
    """

    def __init__(
        self,
        codebook_size: int,
        embedding_dim: int,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        dead_code_threshold: float = 0.0,
    ) -> None:
        super().__init__(codebook_size, embedding_dim)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay, self.epsilon, self.dead_code_threshold = decay, epsilon, dead_code_threshold
        # N(0, 1) codes, as the EMA quantiser of the VQ-VAE authors' Sonnet library starts: the
        # learned quantiser's ±1/K start would put every encoder output nearest one code, and the
        # EMA, which moves only assigned codes, would keep the rest unused.
        nn.init.normal_(self.codebook.weight)
        self.codebook.weight.requires_grad_(False)
        self.register_buffer("cluster_size", torch.ones(codebook_size))
        self.register_buffer("embedding_sum", self.codebook.weight.detach().clone())
        self.register_buffer("restarts", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, latents: torch.Tensor, indices: torch.Tensor) -> None:
        """One EMA step from (B, D, h, w) latents and their (B, h, w) nearest-code indices."""
        flat = latents.permute(0, 2, 3, 1).reshape(-1, self.embedding_dim).float()
        assigned = functional.one_hot(indices.flatten(), self.codebook_size).float()  # (N, K)
        with torch.autocast(device_type=latents.device.type, enabled=False):  # sums in float32
            assigned_sum = assigned.t() @ flat
        self.cluster_size.mul_(self.decay).add_(assigned.sum(0), alpha=1 - self.decay)
        self.embedding_sum.mul_(self.decay).add_(assigned_sum, alpha=1 - self.decay)
        total = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.epsilon) / (total + self.codebook_size * self.epsilon) * total
        self.codebook.weight.copy_(self.embedding_sum / smoothed.unsqueeze(1))
        if self.dead_code_threshold > 0:
            dead = (self.cluster_size < self.dead_code_threshold).nonzero().flatten()
            if len(dead):
                chosen = flat[torch.randint(len(flat), (len(dead),), device=flat.device)]
                self.codebook.weight[dead] = chosen
                self.embedding_sum[dead] = chosen
                self.cluster_size[dead] = 1.0
                self.restarts += len(dead)

    def forward(self, latents: torch.Tensor) -> QuantizerOutput:
        indices = self.nearest(latents)
        codes = self.lookup(indices)  # this step's codes; the EMA step below moves them for the next
        if self.training:
            self.update(latents, indices)
        commitment_loss = functional.mse_loss(latents, codes.detach())
        quantized = latents + (codes - latents).detach()  # straight-through estimator
        _, perplexity, usage = code_statistics(indices, self.codebook_size)
        return QuantizerOutput(quantized, commitment_loss.new_zeros(()), commitment_loss, indices, perplexity, usage)


class CapsuleBottleneck(nn.Module):
    """The capsule layer that replaces VQGAN's codebook in CVGAN / UW-CVGAN (see module docstring).

    Args:
        in_channels: channels of the encoder features (authors: 256).
        out_channels: channels of the latent it produces (authors: 256).
        capsule_types: primary capsule types per position (authors: 32).
        capsule_dim: components of a primary capsule (authors: 16).
        prediction_dim: components of a prediction / output capsule (authors: 64).
        routing_iterations: routing-by-agreement iterations (authors and Sabour et al.: 3).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        capsule_types: int = 32,
        capsule_dim: int = 16,
        prediction_dim: int = 64,
        routing_iterations: int = 3,
    ) -> None:
        super().__init__()
        for name, value in (
            ("in_channels", in_channels),
            ("out_channels", out_channels),
            ("capsule_types", capsule_types),
            ("capsule_dim", capsule_dim),
            ("prediction_dim", prediction_dim),
            ("routing_iterations", routing_iterations),
        ):
            if value < 1:
                raise ValueError(f"capsule bottleneck: {name} must be >= 1, got {value}")
        self.capsule_types = capsule_types
        self.capsule_dim = capsule_dim
        self.routing_iterations = routing_iterations
        self.primary = nn.Conv2d(in_channels, capsule_dim * capsule_types, kernel_size=3, stride=2, padding=2)
        # The authors draw W from N(0, 1) (torch.randn); one matrix per capsule type here.
        self.transforms = nn.Parameter(torch.randn(capsule_types, prediction_dim, capsule_dim))
        self.output = nn.ConvTranspose2d(capsule_types, out_channels, kernel_size=2, stride=2, padding=1)

    @staticmethod
    def grid_size(size: int) -> int:
        """Side of the primary-capsule grid for a latent side ``size`` (3×3, stride 2, padding 2)."""
        return (size + 2 * 2 - 3) // 2 + 1

    def primary_capsules(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) → squashed primary capsules (B, capsule_dim, T, h', w')."""
        raw = self.primary(features)
        batch, _, height, width = raw.shape
        return squash(raw.view(batch, self.capsule_dim, self.capsule_types, height, width), dim=1)

    def route(self, capsules: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Routing by agreement at every grid position.

        Returns coupling coefficients (B, T, h', w') (summing to 1 over T), predictions
        (B, T, P, h', w') and the output capsules (B, P, h', w').
        """
        predictions = torch.einsum("tpd,bdthw->btphw", self.transforms, capsules)
        batch, types, _, height, width = predictions.shape
        logits = predictions.new_zeros(batch, types, height, width)
        for iteration in range(self.routing_iterations):
            coupling = torch.softmax(logits, dim=1)
            outputs = squash((coupling.unsqueeze(2) * predictions).sum(dim=1), dim=1)
            if iteration < self.routing_iterations - 1:
                logits = logits + (predictions * outputs.unsqueeze(1)).sum(dim=2)
        return coupling, predictions, outputs

    def forward(self, features: torch.Tensor) -> QuantizerOutput:
        height, width = features.shape[-2:]
        coupling, predictions, _ = self.route(self.primary_capsules(features))
        lengths = torch.linalg.vector_norm(coupling.unsqueeze(2) * predictions, dim=2)  # (B, T, h', w')
        latent = self.output(lengths)[..., :height, :width]
        zero = latent.new_zeros(())
        return QuantizerOutput(latent, zero, zero, capsule_lengths=lengths)
