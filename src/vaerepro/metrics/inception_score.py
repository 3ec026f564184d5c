"""Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs", Sec. 4).

``IS = exp(E_x KL(p(y|x) || p(y)))``, computed as OpenAI's original code does: the N
predictions are cut into ``splits`` (10) **consecutive** chunks (no shuffling; chunk ``i`` is
``[i N // splits, (i + 1) N // splits)``); in each chunk ``p(y)`` is the chunk's mean
prediction and the score is ``exp(mean_x sum_y p(y|x) (log p(y|x) - log p(y)))``; the result
is the mean and the **population** standard deviation (``np.std``, ddof 0) over the chunks.
``0 log 0`` is taken as 0 (the original code would give NaN for exact zeros, which a softmax
never produces). Class probabilities are the 1008-way softmax described in
:mod:`vaerepro.metrics.inception`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DEFAULT_SPLITS = 10
INCEPTION_SCORE_CONVENTION = (
    "inception-score-salimans-2016: openai code, 10 consecutive splits, p(y) per split, "
    "mean and population std over splits; 1008-way softmax of pool3 @ fc.weight^T (no bias), pytorch-fid InceptionV3"
)


def inception_score_from_probabilities(
    probabilities: Any, splits: int = DEFAULT_SPLITS
) -> dict[str, float | int | str]:
    """IS of (N, num_classes) class probabilities (rows sum to 1).

    Returns ``{"inception_score_mean", "inception_score_std", "splits", "num_samples", "convention"}``.
    """
    values = np.asarray(probabilities, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] < 1:
        raise ValueError(f"probabilities must have shape (N, num_classes), got {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("probabilities contain NaN or Inf values")
    if splits < 1:
        raise ValueError(f"splits must be >= 1, got {splits}")
    if values.shape[0] < splits:
        raise ValueError(f"need at least one sample per split: {values.shape[0]} samples for {splits} splits")
    if values.min() < 0:
        raise ValueError("probabilities must be non-negative")
    if not np.allclose(values.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("each row of probabilities must sum to 1 (pass logits to inception_score_from_logits)")
    # Lazily: scipy.special costs ~140 ms when it is the first scipy module, and the FID
    # reference stage imports this module without computing an inception score.
    from scipy.special import xlogy

    count = values.shape[0]
    scores = []
    for index in range(splits):
        part = values[index * count // splits : (index + 1) * count // splits]
        marginal = part.mean(axis=0, keepdims=True)
        kl = xlogy(part, part) - xlogy(part, marginal)  # 0 log 0 = 0
        scores.append(float(np.exp(kl.sum(axis=1).mean())))
    return {
        "inception_score_mean": float(np.mean(scores)),
        "inception_score_std": float(np.std(scores)),
        "splits": int(splits),
        "num_samples": int(count),
        "convention": INCEPTION_SCORE_CONVENTION,
    }


def inception_score_from_logits(logits: Any, splits: int = DEFAULT_SPLITS) -> dict[str, float | int | str]:
    """IS of (N, num_classes) logits: softmax in float64, then :func:`inception_score_from_probabilities`."""
    values = np.asarray(logits, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"logits must have shape (N, num_classes), got {values.shape}")
    if not np.isfinite(values).all():
        raise ValueError("logits contain NaN or Inf values")
    from scipy.special import log_softmax  # lazily, as in inception_score_from_probabilities

    return inception_score_from_probabilities(np.exp(log_softmax(values, axis=1)), splits=splits)
