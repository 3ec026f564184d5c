"""A GPT-style causal transformer over discrete codes: the autoregressive prior of the VQ family.

VQGAN (Esser, Rombach & Ommer, CVPR 2021, arXiv:2012.09841, Sec. 3.2) models the code sequence
``s`` of an image, in raster order, as ``p(s) = prod_i p(s_i | s_<i)`` (their Eq. 5) with a
GPT-2-style transformer, and conditions it by prepending the conditioning tokens (class or text)
to the sequence (Sec. 3.2, "Conditioned Synthesis"); DALL-E (Ramesh et al., ICML 2021,
arXiv:2102.12092, Sec. 2.2) does the same with text tokens before 32x32 image tokens. The
blocks are GPT-2's (Radford et al. 2019): pre-LayerNorm, causal multi-head self-attention, and
a 4x-wide GELU MLP, each added to the residual stream; the output layer predicts the next
token. Weights are initialised N(0, 0.02) as in GPT-2, with the residual projections scaled
by 1/sqrt(2 * layers).

Shapes: a batch of ``B`` sequences of ``T`` image codes in ``[0, vocabulary_size)``, with an
optional prefix of ``P`` conditioning tokens in ``[0, condition_vocabulary_size)``; the model
sees ``P + T`` positions (at most ``max_positions``) and predicts each image code from all
tokens before it. With no prefix, a learned start token stands before the first code so that
the first code has a distribution too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class CodePriorOptions:
    """Sizes of the prior. ``condition_vocabulary_size`` 0: unconditional (a start token)."""

    vocabulary_size: int
    max_positions: int
    embedding_dim: int = 256
    layers: int = 8
    heads: int = 8
    dropout: float = 0.0
    condition_vocabulary_size: int = 0

    def __post_init__(self) -> None:
        if self.embedding_dim % self.heads:
            raise ValueError(f"embedding_dim {self.embedding_dim} is not divisible by heads {self.heads}")
        for name in ("vocabulary_size", "max_positions", "embedding_dim", "layers", "heads"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


def sequence_log_prob(logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """``sum_t log p(codes[:, t])`` in nats, (B,), from next-code logits (B, T, V) and codes (B, T)."""
    log_probabilities = F.log_softmax(logits.float(), dim=-1)
    return log_probabilities.gather(-1, codes.unsqueeze(-1)).squeeze(-1).sum(1)


def code_prior_terms(logits: torch.Tensor, codes: torch.Tensor) -> dict[str, torch.Tensor]:
    """Training terms of a code prior: ``loss`` the mean NLL per code (nats) and ``bits_per_code``."""
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), codes.reshape(-1))
    return {"loss": loss, "bits_per_code": loss / math.log(2)}


def draw_next_code(
    logits: torch.Tensor, temperature: float, top_k: int | None, generator: torch.Generator | None
) -> torch.Tensor:
    """(B, 1) codes drawn from next-code logits (B, V), temperature-scaled and optionally top-k
    truncated; drawn on the CPU so a CPU generator seeds them, returned on the logits' device."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    logits = logits.float() / temperature
    if top_k is not None:
        threshold = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < threshold, float("-inf"))
    return torch.multinomial(F.softmax(logits, dim=-1).cpu(), 1, generator=generator).to(logits.device)


class CausalSelfAttention(nn.Module):
    def __init__(self, options: CodePriorOptions) -> None:
        super().__init__()
        self.heads = options.heads
        self.qkv = nn.Linear(options.embedding_dim, 3 * options.embedding_dim)
        self.projection = nn.Linear(options.embedding_dim, options.embedding_dim)
        self.dropout = options.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, C) → (B, L, C); position i attends to positions ≤ i only."""
        batch, length, channels = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, channels // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )  # (B, heads, L, C/heads)
        return self.projection(attended.transpose(1, 2).reshape(batch, length, channels))


class Block(nn.Module):
    """GPT-2's block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, options: CodePriorOptions) -> None:
        super().__init__()
        width = options.embedding_dim
        self.attention_norm = nn.LayerNorm(width)
        self.attention = CausalSelfAttention(options)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.dropout = nn.Dropout(options.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.attention_norm(x)))
        return x + self.dropout(self.mlp(self.mlp_norm(x)))


class CodePrior(nn.Module):
    """``p(codes | condition)`` as a causal transformer (module docstring)."""

    def __init__(self, options: CodePriorOptions) -> None:
        super().__init__()
        self.options = options
        width = options.embedding_dim
        self.code_embedding = nn.Embedding(options.vocabulary_size, width)
        # Conditioning tokens have their own table; unconditional priors get one start token.
        self.condition_embedding = nn.Embedding(max(1, options.condition_vocabulary_size), width)
        self.position_embedding = nn.Embedding(options.max_positions, width)
        self.blocks = nn.ModuleList(Block(options) for _ in range(options.layers))
        self.final_norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, options.vocabulary_size, bias=False)
        self.apply(self._initialise)
        for name, parameter in self.named_parameters():
            if name.endswith(("attention.projection.weight", "mlp.2.weight")):
                nn.init.normal_(parameter, 0.0, 0.02 / math.sqrt(2 * options.layers))

    @staticmethod
    def _initialise(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _prefix(self, batch: int, condition: torch.Tensor | None, device: torch.device) -> torch.Tensor:
        """(B, P) conditioning tokens, or (B, 1) start tokens for an unconditional prior."""
        if self.options.condition_vocabulary_size == 0:
            if condition is not None:
                raise ValueError("this prior is unconditional; it takes no condition")
            return torch.zeros(batch, 1, dtype=torch.long, device=device)
        if condition is None:
            raise ValueError("this prior is conditional; give the condition tokens (B, P)")
        return condition.view(batch, -1)

    def logits(self, codes: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """Next-code logits (B, T, vocabulary_size): entry t predicts ``codes[:, t]`` from the
        prefix and ``codes[:, :t]``. ``codes`` (B, T) long; ``condition`` (B, P) long or None."""
        batch, length = codes.shape
        prefix = self._prefix(batch, condition, codes.device)
        total = prefix.shape[1] + length
        if total > self.options.max_positions + 1:
            raise ValueError(f"{total} tokens exceed the prior's {self.options.max_positions} positions")
        # The last code predicts nothing, so the input is prefix + codes[:, :-1].
        tokens = torch.cat([self.condition_embedding(prefix), self.code_embedding(codes[:, :-1])], dim=1)
        positions = torch.arange(tokens.shape[1], device=codes.device)
        x = tokens + self.position_embedding(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.final_norm(x))[:, prefix.shape[1] - 1 :]

    def log_prob(self, codes: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        """``log p(codes | condition)`` in nats per sequence, (B,)."""
        return sequence_log_prob(self.logits(codes, condition), codes)

    def forward(self, codes: torch.Tensor, condition: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Training terms: ``loss`` the mean negative log-likelihood per code (nats)."""
        return code_prior_terms(self.logits(codes, condition), codes)

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
        """``count`` code sequences of ``length``, (count, length) long, drawn one code at a time
        from the (temperature-scaled, optionally top-k-truncated) next-code distribution."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        device = self.head.weight.device
        codes = torch.zeros(count, 0, dtype=torch.long, device=device)
        for _ in range(length):
            # logits() drops the last input code, so append a placeholder to read position t.
            padded = torch.cat([codes, torch.zeros(count, 1, dtype=torch.long, device=device)], dim=1)
            following = draw_next_code(self.logits(padded, condition)[:, -1], temperature, top_k, generator)
            codes = torch.cat([codes, following], dim=1)
        return codes
