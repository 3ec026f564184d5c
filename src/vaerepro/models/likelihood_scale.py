"""The variance of a Gaussian decoder fitted in closed form, for likelihood bounds of models that
are trained with a squared error (VQ-VAE) or another reconstruction loss (VQGAN).

A decoder ``p(x | z) = N(mean(z), sigma² I)`` with one scalar variance has its maximum-likelihood
variance at the mean squared error of the decoder means, ``sigma² = E ||x - mean||² / d``. Fitting
it by gradient descent alongside the networks does not converge at short budgets (Adam moves a
scalar by about the learning rate per step, while log sigma² must travel from 0 to about -5), so
the model keeps the exact running mean of the squared error instead, over the training batches it
sees while its autoencoder is frozen (the prior phase), and reads sigma² from it. Training data
only: the test set never sets the scale of the bound it is scored by.

Shapes: ``update`` takes decoder means and images (B, C, H, W) on one scale ([0, 1]).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class SquaredErrorScale(nn.Module):
    """Running mean of per-element squared errors (buffers, so checkpoints and resumes keep it)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("total", torch.zeros((), dtype=torch.float64))
        self.register_buffer("elements", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, mean: torch.Tensor, target: torch.Tensor) -> None:
        self.total += (mean.double() - target.double()).pow(2).sum()
        self.elements += target.numel()

    @property
    def fitted(self) -> bool:
        return bool(self.elements > 0)

    def variance(self) -> float:
        """The fitted sigma² (mean squared error); 1.0 before any update (a unit Gaussian)."""
        return float(self.total / self.elements) if self.fitted else 1.0

    def log_variance(self, like: torch.Tensor) -> torch.Tensor:
        """log sigma² as a tensor broadcastable to ``like``."""
        return like.new_full((), math.log(self.variance()))
