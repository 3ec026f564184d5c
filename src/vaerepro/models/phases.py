"""How a model tells the one training loop what to optimise, and when.

A training run is a sequence of :class:`Phase` objects. A phase lasts a number of steps and
holds one or more :class:`OptimizerGroup` objects; at every step of the phase the loop
updates each group in order, each with its own optimizer and its own fresh forward pass:

* a plain VAE: one phase, one group (all parameters, minimising ``"loss"``);
* the two-stage VAE (Dai & Wipf 2019): phase ``stage1`` (stage-1 parameters), then phase
  ``stage2`` (stage-2 parameters only, on frozen stage-1 encodings);
* a GAN or VQ-GAN: one phase with two groups, ``discriminator`` minimising ``"d_adv"`` and
  ``generator`` minimising ``"loss"``, stepped alternately within each training step.

Before a phase's first step (and when resuming inside it) the loop calls
``model.begin_phase(phase.name)`` so a model can switch what ``forward`` computes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn


@dataclass(frozen=True)
class OptimizerGroup:
    """One optimizer: the parameters it updates and the ``forward`` output it minimises.

    Attributes:
        name: unique within its phase (``"model"``, ``"generator"``, ``"discriminator"``).
        parameters: the parameters this optimizer owns.
        loss_key: key of the scalar in ``forward``'s output dict to minimise.
        learning_rate_scale: multiplies ``TrainSettings.learning_rate`` for this group.
    """

    name: str
    parameters: tuple[nn.Parameter, ...]
    loss_key: str = "loss"
    learning_rate_scale: float = 1.0


@dataclass(frozen=True)
class Phase:
    """A stretch of training. ``steps=None`` means "all remaining steps" (last phase only)."""

    name: str
    groups: tuple[OptimizerGroup, ...]
    steps: int | None = None


@dataclass(frozen=True)
class PhaseSpan:
    """A phase placed on the step axis: it covers steps ``start`` .. ``stop - 1``."""

    phase: Phase
    start: int
    stop: int


def plan_phases(phases: Sequence[Phase], total_steps: int) -> tuple[PhaseSpan, ...]:
    """Lay ``phases`` out over ``total_steps`` training steps.

    Raises:
        ValueError: no phase, a duplicate phase/group name, a group with no parameters,
            ``steps=None`` anywhere but the last phase, or fixed steps that exceed (or,
            without an open-ended last phase, do not add up to) ``total_steps``.
    """
    if not phases:
        raise ValueError("a model must declare at least one optimizer phase")
    names = [phase.name for phase in phases]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate phase names: {names}")
    spans = []
    start = 0
    for index, phase in enumerate(phases):
        group_names = [group.name for group in phase.groups]
        if not group_names or len(set(group_names)) != len(group_names):
            raise ValueError(f"phase '{phase.name}' needs uniquely named optimizer groups, got {group_names}")
        for group in phase.groups:
            if not group.parameters:
                raise ValueError(f"optimizer group '{phase.name}/{group.name}' has no parameters")
        if phase.steps is None:
            if index != len(phases) - 1:
                raise ValueError(f"only the last phase may be open-ended, but '{phase.name}' is")
            stop = total_steps
        else:
            if phase.steps < 0:
                raise ValueError(f"phase '{phase.name}' has a negative step count {phase.steps}")
            stop = start + phase.steps
        if stop > total_steps:
            raise ValueError(f"phases {names} need {stop} steps but training runs only {total_steps} steps")
        spans.append(PhaseSpan(phase, start, stop))
        start = stop
    if start != total_steps:
        raise ValueError(f"phases {names} cover {start} steps but training runs {total_steps} steps")
    return tuple(spans)


def phase_at(spans: Sequence[PhaseSpan], step: int) -> PhaseSpan:
    """The span that contains ``step`` (the last span for ``step == total_steps``)."""
    for span in spans:
        if span.start <= step < span.stop:
            return span
    return spans[-1]
