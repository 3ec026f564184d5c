"""Active latent units (Burda, Grosse & Salakhutdinov, "Importance weighted autoencoders",
ICLR 2016, section 5.2).

A unit u is active when A_u = Cov_x( E_{z~q(z|x)}[z_u] ) > 0.01: its posterior mean moves
with the input. Units the KL term has pushed back to the prior ("posterior collapse") have
A_u ≈ 0. This makes the survey's reconstruction-vs-regularisation trade-off visible: more
KL weight, fewer active units.
"""

from __future__ import annotations

import torch

ACTIVE_UNIT_THRESHOLD = 0.01


def active_units(posterior_means: torch.Tensor, threshold: float = ACTIVE_UNIT_THRESHOLD) -> dict[str, object]:
    """Count active units from posterior means over a dataset.

    Args:
        posterior_means: (N, D) E_q[z | x_n] for N inputs (N >= 2).

    Returns:
        {"active": int, "total": D, "threshold": threshold, "activity": list of A_u}.
    """
    if posterior_means.ndim != 2 or posterior_means.shape[0] < 2:
        raise ValueError(f"need (N >= 2, D) posterior means, got shape {tuple(posterior_means.shape)}")
    activity = posterior_means.double().var(dim=0, unbiased=False)
    return {
        "active": int((activity > threshold).sum()),
        "total": int(activity.numel()),
        "threshold": threshold,
        "activity": [float(value) for value in activity],
    }
