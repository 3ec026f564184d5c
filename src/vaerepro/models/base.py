"""What every registered model shares, and the latent-variable machinery VAEs share.

The common contract (DESIGN.md, "Models and their common shape"):

* ``forward(x, y=None) -> dict[str, Tensor]`` with a scalar ``"loss"`` plus named scalar
  terms (``recon``, ``kl``, ``elbo`` ...); ``x`` is float (B, C, H, W) in [0, 1]; ``y`` is
  the explicit condition (labels (B,) for label-conditional models), never ``**kwargs``.
* ``optimizer_phases(total_steps)`` / ``begin_phase(name)``: see :mod:`vaerepro.models.phases`.
* ``uses_labels``: whether the training loop must pass the batch's labels as ``y``;
  ``uses_targets``: whether it must pass the clean crop (supervised restoration).
* ``task`` (class attribute): ``generation``, ``denoising``, ``enhancement`` or
  ``classification``; metrics records state it and the report files results by it.
  ``trainable = False`` marks a method with nothing to learn (classical baselines).
* ``begin_step(step)``: called by the training loop before every optimisation step, so a model
  whose objective changes with the step (a GAN loss switched on late) reads the loop's step.

VAE-family models (:class:`LatentVariableModel`) add ``encode`` (a
:class:`~vaerepro.models.distributions.DiagonalGaussian`), ``reconstruct``, ``sample`` and
``log_importance_weights`` for the importance-weighted bound of Burda, Grosse &
Salakhutdinov (2016, Eq. 8): ``log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x)`` with
``z_i ~ q(z|x)``; ``log_mean_exp`` over the k weights is a lower bound on ``log p(x)`` that
tightens as k grows and equals the ELBO in expectation for k = 1.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from vaerepro.models.distributions import DiagonalGaussian
from vaerepro.models.phases import OptimizerGroup, Phase
from vaerepro.structured import check_ranges, to_plain

TASKS = ("generation", "denoising", "enhancement", "classification")
RESTORATION_TASKS = ("denoising", "enhancement")

# Decoded images per chunk when estimating importance weights, to bound memory.
_IMPORTANCE_CHUNK_IMAGES = 2048


class RegisteredModel(nn.Module):
    """Base of every model built by :func:`vaerepro.models.registry.build_model`."""

    registered_name: ClassVar[str]
    options_class: ClassVar[type]
    task: ClassVar[str]
    trainable: ClassVar[bool] = True

    def __init__(self, options: Any) -> None:
        super().__init__()
        # Options parsed from params.yaml were range-checked with their key path; this catches
        # options built directly (tests, code) with the same declared ranges (ConfigError).
        check_ranges(options)
        self.options = options

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        task = cls.__dict__.get("task")
        if task is not None and task not in TASKS:
            raise TypeError(f"{cls.__qualname__}.task is '{task}'; expected one of {', '.join(TASKS)}")

    @property
    def uses_labels(self) -> bool:
        """True when ``forward`` needs the batch's class labels as ``y``."""
        return False

    @property
    def uses_targets(self) -> bool:
        """True when ``forward`` needs the clean reference as its second argument."""
        return False

    def begin_step(self, step: int) -> None:
        """Called by the training loop before optimisation step ``step`` (0-based); default: nothing."""

    def plain_options(self) -> dict[str, Any]:
        """The options as plain data (what a checkpoint stores)."""
        return to_plain(self.options)

    def optimizer_phases(self, total_steps: int) -> list[Phase]:
        """Default: one phase, one optimizer over all parameters, minimising ``"loss"``."""
        return [Phase("train", (OptimizerGroup("model", tuple(self.parameters())),), steps=None)]

    def begin_phase(self, name: str) -> None:
        """Called by the training loop before steps of phase ``name``; default: nothing."""


class LatentVariableModel(RegisteredModel):
    """A VAE-family model: subclasses implement the four hooks below."""

    task: ClassVar[str] = "generation"

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """Approximate posterior ``q(z | x[, y])``, (B, D)."""
        raise NotImplementedError

    def prior(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DiagonalGaussian:
        """Prior over z for this batch, (B, D); default ``N(0, I)``."""
        posterior_shape = torch.zeros(x.shape[0], self.latent_dim, device=x.device, dtype=x.dtype)
        return DiagonalGaussian.standard(posterior_shape)

    def log_likelihood_given_latent(
        self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``log p(x | z[, y])`` summed over modelled pixels, (N,), for N = len(z)."""
        raise NotImplementedError

    def log_likelihood_of_samples(
        self, x: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``log p(x | z_s[, y])`` for k latent samples per image: z (k, B, D) -> (k, B).

        This default repeats ``x`` (and ``y``) k times and asks
        :meth:`log_likelihood_given_latent`; a model can skip the copies.
        """
        count, batch = z.shape[:2]
        repeated_y = None if y is None else y.repeat(count, *([1] * (y.ndim - 1)))
        return self.log_likelihood_given_latent(
            x.repeat(count, *([1] * (x.ndim - 1))), z.flatten(0, 1), repeated_y
        ).view(count, batch)

    @property
    def likelihood_description(self) -> str:
        """Which likelihood/discretisation ``log_importance_weights`` uses (for reports)."""
        raise NotImplementedError

    @torch.no_grad()
    def log_importance_weights(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None = None,
        num_samples: int = 1,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """(k, B) log importance weights in nats (Burda et al. 2016), without gradients.

        ``vaerepro.metrics.likelihood.importance_sampled_nll`` turns them into the NLL bound.
        """
        if num_samples < 1:
            raise ValueError(f"num_samples must be >= 1, got {num_samples}")
        posterior = self.encode(x, y)
        prior = self.prior(x, y)
        batch = x.shape[0]
        chunk = max(1, _IMPORTANCE_CHUNK_IMAGES // batch)
        weights = []
        for start in range(0, num_samples, chunk):
            count = min(chunk, num_samples - start)
            z = posterior.sample(generator, num_samples=count)  # (count, B, D)
            log_likelihood = self.log_likelihood_of_samples(x, z, y)
            log_prior = prior.log_prob(z).sum(-1)
            log_posterior = posterior.log_prob(z).sum(-1)
            weights.append(log_likelihood + log_prior - log_posterior)
        return torch.cat(weights, dim=0)
