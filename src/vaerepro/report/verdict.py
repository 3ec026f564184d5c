"""The verdict a reviewer reads first: holds, does not hold, tie, or no verdict and why.

The status of a claim (:mod:`vaerepro.report.status`) records every reason in detail; the
verdict folds it into four words, so the scorecard answers "does the claim hold?" in one cell:

=====================================  ===========================================
status                                 verdict
=====================================  ===========================================
reproduced                             holds
not reproduced                         does not hold
tie (within the noise)                 tie
smoke run only                         no verdict: smoke run only
not measurable here: <reason>          no verdict: not measurable here: <reason>
not run                                no verdict: not run
not comparable as stated (registry)    no verdict: not comparable as stated
not comparable: <variant / FID at N>   no verdict: not comparable: <why>
partial (holds on a documented subset) no verdict: holds on a data subset only
metrics file unreadable                no verdict: metrics file unreadable
=====================================  ===========================================

Only a ``cpu``- or ``full``-profile record can give holds, does not hold or tie (status rule 5); a
smoke record never does. A decided
verdict always says at what budget it was reached (:mod:`vaerepro.report.budget`): "holds at
100 % of the paper's budget", "does not hold at 8 % of the paper's budget", "tie at 12 % of the
full profile's budget" (a method trained differently from its paper), "holds with no training
(classical method)", so a reduced-budget number never reads as a plain "holds".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from vaerepro.report.budget import budget_phrase
from vaerepro.report.status import Assessment, StatusKind


class VerdictKind(StrEnum):
    HOLDS = "holds"
    DOES_NOT_HOLD = "does not hold"
    TIE = "tie"
    NO_VERDICT = "no verdict"


@dataclass(frozen=True)
class Verdict:
    """``reason`` is the short why of a missing verdict; ``detail`` the longer text behind it;
    ``budget`` the budget a decided verdict was reached at (``at 8 % of the paper's budget``)."""

    kind: VerdictKind
    reason: str = ""
    detail: str = ""
    budget: str = ""

    @property
    def label(self) -> str:
        """``holds at 100 % of the paper's budget``, or ``no verdict: smoke run only``."""
        if self.reason:
            return f"{self.kind.value}: {self.reason}"
        return f"{self.kind.value} {self.budget}" if self.budget else self.kind.value


# What a verdict on a property of the full profile's architecture (a parameter count) is
# reached at: no training budget stands behind it.
ARCHITECTURE_BUDGET = "for the full profile's model, counted without training"

# Status kinds that decide the claim, and the reason words of those that do not.
_DECIDED = {
    StatusKind.REPRODUCED: VerdictKind.HOLDS,
    StatusKind.NOT_REPRODUCED: VerdictKind.DOES_NOT_HOLD,
    StatusKind.TIE: VerdictKind.TIE,
}
_WHY = {
    StatusKind.SMOKE: "smoke run only",
    StatusKind.NOT_MEASURABLE: "not measurable here",
    StatusKind.NOT_RUN: "not run",
    StatusKind.NOT_COMPARABLE_AS_STATED: "not comparable as stated",
    StatusKind.NOT_COMPARABLE: "not comparable",
    StatusKind.PARTIAL: "holds on a data subset only",
    StatusKind.UNREADABLE: "metrics file unreadable",
}
_REASON_IN_LABEL = {StatusKind.NOT_MEASURABLE, StatusKind.NOT_COMPARABLE}
# The order of the reasons in the header's counts: the most common first.
REASON_ORDER = tuple(_WHY.values())


def verdict(assessment: Assessment, budgets: Iterable[Mapping[str, Any]] | None = None) -> Verdict:
    """Fold an assessment's status into a verdict (module docstring).

    ``budgets`` are the budget blocks of the claim's experiments
    (:func:`vaerepro.report.budget.record_budget`); a decided verdict names the budget it was
    reached at ("at an unknown budget" when none is given).
    """
    status = assessment.status
    if status.kind in _DECIDED:
        budget = ARCHITECTURE_BUDGET if assessment.architecture else budget_phrase(budgets or ())
        return Verdict(_DECIDED[status.kind], detail=assessment.explanation, budget=budget)
    detail = status.reason
    if status.kind is StatusKind.SMOKE and assessment.outcome:
        detail = f"the smoke numbers say {assessment.outcome}; a smoke run is never a reproduction"
    elif status.kind in _REASON_IN_LABEL and status.reason:
        return Verdict(VerdictKind.NO_VERDICT, f"{_WHY[status.kind]}: {status.reason}", detail)
    return Verdict(VerdictKind.NO_VERDICT, _WHY[status.kind], detail)


def verdict_counts(verdicts: list[Verdict]) -> tuple[dict[VerdictKind, int], dict[str, int]]:
    """How many claims got each verdict, and how many of the missing ones for each reason."""
    kinds: dict[VerdictKind, int] = {}
    reasons: dict[str, int] = {}
    for item in verdicts:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
        if item.kind is VerdictKind.NO_VERDICT:
            why = next((reason for reason in REASON_ORDER if item.reason.startswith(reason)), item.reason)
            reasons[why] = reasons.get(why, 0) + 1
    ordered = {reason: reasons[reason] for reason in REASON_ORDER if reason in reasons}
    return {kind: kinds[kind] for kind in VerdictKind if kind in kinds}, ordered
