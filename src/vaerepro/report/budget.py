"""The budget a number rests on, in words: steps trained against the paper's, and evaluation N.

A record's ``budget`` block (schema in :mod:`vaerepro.records`) is read as written. Records
written before the block existed (schema version 2, e.g. the committed smoke records) lack it;
for those, :func:`record_budget` derives the same block from the record's own ``training``
summary, ``params`` entry (its ``train.full.steps``) and metric counts, with the function the
evaluate stage writes it with. A classical method's train stage records ``steps: 0`` (there is
nothing to train), which is how such an old record is told from a trained one.

The scorecard shows e.g. ``300 of 150,000 steps (0.2 %)``, and a verdict says at what budget
it holds: ``holds at 100 % of the paper's budget``, ``does not hold at 8 % of the paper's
budget``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from vaerepro.records import check_budget, training_budget
from vaerepro.report.formatting import number

CLASSIFIER_PREFIX = "classifier-"  # classifier records are named classifier-<dataset>


def _params_key(experiment: str) -> str:
    """Where a record's entry lives in params.yaml (as :mod:`vaerepro.experiment.resolve` names it)."""
    if experiment.startswith(CLASSIFIER_PREFIX):
        return f"classifiers.{experiment.removeprefix(CLASSIFIER_PREFIX)}"
    return f"experiments.{experiment}"


def record_budget(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's budget block; derived from its other fields when it has none (see module doc)."""
    written = record.get("budget")
    if written is not None and check_budget(written) is None:
        return dict(written)
    # Fallback for records written before the budget field (schema version 2).
    training = record.get("training") if isinstance(record.get("training"), Mapping) else None
    params = record.get("params") if isinstance(record.get("params"), Mapping) else {}
    metrics = record.get("metrics") if isinstance(record.get("metrics"), Mapping) else {}
    classical = training is not None and training.get("steps") == 0
    return training_budget(
        params_key=_params_key(str(record.get("experiment"))),
        model=str(record.get("model")),
        params=params,
        training=training,
        metrics=metrics,
        trainable=not classical,
        batch_size=_trained_batch_size(params, record.get("profile")),
    )


def _trained_batch_size(params: Mapping[str, Any], profile: Any) -> int | None:
    """``train.<profile>.batch_size`` of a params entry, or None where it does not say."""
    sections = params.get("train")
    section = sections.get(profile) if isinstance(sections, Mapping) and isinstance(profile, str) else None
    batch = section.get("batch_size") if isinstance(section, Mapping) else None
    return batch if isinstance(batch, int) and not isinstance(batch, bool) else None


def _round_down(value: float, digits: int) -> float:
    # The tiny margin keeps 0.29 · 100 = 28.999999999999996 at 29, not 28.
    return math.floor(value * 10**digits + 1e-9) / 10**digits


def percent(fraction: float) -> str:
    """``0.2 %``, ``8 %``, ``12 %``, ``100 %``: rounded down, so a reduced budget never reads as 100 %."""
    value = fraction * 100
    if value >= 10:
        text = f"{_round_down(value, 0):.0f}"
    elif value >= 1:
        text = f"{_round_down(value, 1):g}"
    elif value > 0:
        text = f"{_round_down(value, 1 - math.floor(math.log10(value))):g}"  # two significant digits
    else:
        text = "0"
    return f"{text} %"


def budget_text(budget: Mapping[str, Any]) -> str:
    """``300 of 150,000 steps (0.2 %)``, ``4000 of 150,000 steps, batch 64 of 128 (1.3 %)`` (the
    fraction of the paper's examples), ``250 of 2000 full-profile steps (12 %)`` (the paper
    states no comparable number), ``no training: classical method`` or ``budget unknown``."""
    unit = budget.get("unit")
    if unit == "steps":
        steps = "steps" if budget.get("paper_stated", True) else "full-profile steps"
        batches = ""
        if isinstance(budget.get("batch_size"), int) and isinstance(budget.get("paper_batch_size"), int):
            # The fraction counts examples (steps x batch), so the two batch sizes are shown.
            batches = f", batch {number(budget['batch_size'])} of {number(budget['paper_batch_size'])}"
        return (
            f"{number(budget['trained'])} of {number(budget['paper'])} {steps}{batches} ({percent(budget['fraction'])})"
        )
    if unit == "none":
        return str(budget.get("note") or "no training")
    return "budget unknown"


def evaluation_text(budget: Mapping[str, Any]) -> str:
    """``N 500``; empty when the record states no N."""
    n = budget.get("evaluation_n")
    return f"N {number(n)}" if isinstance(n, int) and not isinstance(n, bool) else ""


def budget_phrase(budgets: Iterable[Mapping[str, Any]]) -> str:
    """What a decided verdict appends: ``at 8 % of the paper's budget``.

    A claim over several experiments (a comparison) is as strong as its least-trained side, so
    the smallest fraction is named; classical sides have no budget to name.
    """
    budgets = list(budgets)
    trained = [budget for budget in budgets if budget.get("unit") == "steps"]
    if trained:
        least = min(trained, key=lambda budget: budget["fraction"])
        whose = "the paper's" if least.get("paper_stated", True) else "the full profile's"
        return f"at {percent(least['fraction'])} of {whose} budget"
    if budgets and all(budget.get("unit") == "none" for budget in budgets):
        return "with no training (classical method)"
    return "at an unknown budget"


def profile_note(profile: Any) -> str:
    """What a reader must know about a profile's numbers; empty for the full profile."""
    if profile == "full":
        return ""
    if profile == "cpu":
        return (
            "CPU budget tier: the paper's model (or the width stated in params.yaml) trained on this "
            "2-core CPU for a fraction of the paper's budget; a verdict says at what fraction it holds."
        )
    return "Smoke profile: tiny model and evaluation subsets, for checking the pipeline. These numbers are not a reproduction."
