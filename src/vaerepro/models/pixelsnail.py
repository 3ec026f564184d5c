"""A PixelSNAIL-style autoregressive prior over a grid of discrete codes (VQ-VAE-2's priors).

Razavi, van den Oord & Vinyals (NeurIPS 2019, arXiv:1906.00446, Sec. 3.2) model the top codes
with a PixelSNAIL (Chen, Mishra, Rohaninejad & Abbeel, "PixelSNAIL: An Improved Autoregressive
Generative Model", ICML 2018) and the bottom codes with a conditional PixelCNN-style stack that
reads the top codes; both are "gated residual convolutions" interleaved with causal
self-attention. Here:

* causality in raster order comes from masked convolutions (PixelCNN, van den Oord et al.
  2016): the first convolution sees only positions strictly before each position (mask "A"),
  every later one positions up to and including it (mask "B"), so the features at a position
  never depend on its own code or any later one;
* a gated residual block is ``x + a * sigmoid(g)`` with ``(a, g)`` from two masked 3×3
  convolutions of ``ELU(x)`` (plus, in a conditional prior, a 1×1 projection of the condition
  features added before the gate), with dropout on the inner activation (PixelSNAIL's gated
  residual block, simplified to one kernel shape);
* after each group of residual blocks, multi-head self-attention in which a position attends to
  itself and earlier positions only (its features already exclude its own code), added
  residually; the attention is what lets every earlier position be seen despite the masked
  convolutions' blind spot;
* the condition (VQ-VAE-2's top codes for the bottom prior) is embedded, passed through a
  residual stack and upsampled by nearest neighbours to the prior's grid.

Shapes: codes (B, h, w) long in ``[0, vocabulary_size)``, or flattened (B, h·w) in raster
order (the interface of :class:`~vaerepro.models.code_prior.CodePrior`); condition (B, h', w')
long with h = h' · 2^k.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vaerepro.models.code_prior import code_prior_terms, draw_next_code, sequence_log_prob


@dataclass(frozen=True)
class PixelSnailOptions:
    """Sizes; defaults: the reference settings the issue cites (256 channels, 4 residual blocks,
    dropout 0.1)."""

    vocabulary_size: int
    grid: tuple[int, int]
    channels: int = 256
    residual_blocks: int = 4
    attention_groups: int = 2
    heads: int = 8
    dropout: float = 0.1
    condition_vocabulary_size: int = 0
    condition_grid: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.channels % self.heads:
            raise ValueError(f"channels {self.channels} is not divisible by heads {self.heads}")
        if self.condition_vocabulary_size and self.condition_grid is None:
            raise ValueError("a conditional prior needs condition_grid")
        if self.condition_grid is not None:
            ratio = self.grid[0] // self.condition_grid[0]
            if ratio < 1 or self.grid != (self.condition_grid[0] * ratio, self.condition_grid[1] * ratio):
                raise ValueError(
                    f"the grid {self.grid} must be an integer multiple of the condition grid {self.condition_grid}"
                )


class MaskedConv2d(nn.Conv2d):
    """A 3×3 convolution that sees earlier positions in raster order only: rows above, and the
    same row's columns to the left (mask "A"), or to the left and the centre (mask "B")."""

    def __init__(self, in_channels: int, out_channels: int, mask_type: str) -> None:
        super().__init__(in_channels, out_channels, 3, padding=1)
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}")
        mask = torch.zeros(3, 3)
        mask[0, :] = 1  # the row above
        mask[1, 0] = 1  # the left neighbour
        if mask_type == "B":
            mask[1, 1] = 1
        self.register_buffer("mask", mask.view(1, 1, 3, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=1)


class GatedResidualBlock(nn.Module):
    def __init__(self, channels: int, dropout: float, conditioned: bool) -> None:
        super().__init__()
        self.first = MaskedConv2d(channels, channels, "B")
        self.second = MaskedConv2d(channels, 2 * channels, "B")
        self.condition = nn.Conv2d(channels, 2 * channels, 1) if conditioned else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, condition: torch.Tensor | None) -> torch.Tensor:
        hidden = self.dropout(F.elu(self.first(F.elu(x))))
        gates = self.second(hidden)
        if self.condition is not None and condition is not None:
            gates = gates + self.condition(condition)
        value, gate = gates.chunk(2, dim=1)
        return x + value * torch.sigmoid(gate)


class CausalGridAttention(nn.Module):
    """Self-attention over the grid in raster order, each position attending to itself and earlier ones."""

    def __init__(self, channels: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        # Normalised per position (over channels only): a norm over the grid would let later
        # positions' statistics reach earlier outputs.
        self.norm = nn.LayerNorm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.project = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        q, k, v = (
            self.qkv(self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
            .view(batch, 3, self.heads, channels // self.heads, height * width)
            .permute(1, 0, 2, 4, 3)
        )  # each (B, heads, hw, C/heads)
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return x + self.project(attended.permute(0, 1, 3, 2).reshape(batch, channels, height, width))


class PixelSnailPrior(nn.Module):
    """``p(codes | condition)`` over a grid (module docstring); the :class:`CodePrior` interface."""

    def __init__(self, options: PixelSnailOptions) -> None:
        super().__init__()
        self.options = options
        width = options.channels
        self.embedding = nn.Embedding(options.vocabulary_size, width)
        self.input = MaskedConv2d(width, width, "A")
        conditioned = options.condition_vocabulary_size > 0
        if conditioned:
            self.condition_embedding = nn.Embedding(options.condition_vocabulary_size, width)
            self.condition_stack = nn.Sequential(
                nn.Conv2d(width, width, 3, padding=1), nn.ELU(), nn.Conv2d(width, width, 3, padding=1)
            )
        self.groups = nn.ModuleList(
            nn.ModuleList(
                GatedResidualBlock(width, options.dropout, conditioned) for _ in range(options.residual_blocks)
            )
            for _ in range(options.attention_groups)
        )
        self.attention = nn.ModuleList(
            CausalGridAttention(width, options.heads) for _ in range(options.attention_groups)
        )
        self.head = nn.Conv2d(width, options.vocabulary_size, 1)

    def _condition_features(self, condition: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        if self.options.condition_vocabulary_size == 0:
            if condition is not None:
                raise ValueError("this prior is unconditional; it takes no condition")
            return None
        if condition is None:
            raise ValueError("this prior is conditional; give the condition codes")
        grid = self.options.condition_grid
        embedded = self.condition_embedding(condition.view(batch, *grid)).permute(0, 3, 1, 2)
        features = embedded + self.condition_stack(embedded)
        return F.interpolate(features, size=self.options.grid, mode="nearest")

    def logits(self, codes: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Next-code logits (B, T, vocabulary_size) in raster order; entry t sees codes before t only."""
        batch = codes.shape[0]
        grid = codes.view(batch, *self.options.grid)
        x = self.input(self.embedding(grid).permute(0, 3, 1, 2))
        condition_features = self._condition_features(condition, batch)
        for blocks, attention in zip(self.groups, self.attention, strict=True):
            for block in blocks:
                x = block(x, condition_features)
            x = attention(x)
        return self.head(F.elu(x)).flatten(2).transpose(1, 2)

    def log_prob(self, codes: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """``log p(codes | condition)`` in nats per grid, (B,)."""
        flat = codes.reshape(codes.shape[0], -1)
        return sequence_log_prob(self.logits(flat, condition), flat)

    def forward(self, codes: torch.Tensor, condition: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        flat = codes.reshape(codes.shape[0], -1)
        return code_prior_terms(self.logits(flat, condition), flat)

    @torch.no_grad()
    def sample(
        self,
        count: int,
        length: int,
        condition: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
        temperature: float = 1.0,
        top_k: int | None = None,
    ) -> torch.Tensor:
        """``count`` grids of codes as (count, length) in raster order, one position at a time."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        height, width = self.options.grid
        if length != height * width:
            raise ValueError(f"this prior models {height}x{width} = {height * width} codes, not {length}")
        device = self.head.weight.device
        codes = torch.zeros(count, length, dtype=torch.long, device=device)
        for position in range(length):
            logits = self.logits(codes, condition)[:, position]
            codes[:, position] = draw_next_code(logits, temperature, top_k, generator).squeeze(1)
        return codes
