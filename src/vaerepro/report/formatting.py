"""Number and text formatting shared by the Markdown and HTML renderers.

Both renderers must print the same numbers the same way, so a reviewer comparing
``report.md`` with ``index.html`` (or a diff in git) sees one value, not two roundings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from vaerepro.report.claims import Claim
from vaerepro.report.status import Assessment, StatusKind

STATUS_CSS = {
    StatusKind.REPRODUCED: "ok",
    StatusKind.PARTIAL: "partial",
    StatusKind.NOT_REPRODUCED: "fail",
    StatusKind.TIE: "partial",
    StatusKind.SMOKE: "smoke",
    StatusKind.NOT_COMPARABLE: "muted",
    StatusKind.NOT_COMPARABLE_AS_STATED: "muted",
    StatusKind.NOT_MEASURABLE: "muted",
    StatusKind.NOT_RUN: "idle",
    StatusKind.UNREADABLE: "fail",
}
STATUS_ORDER = list(STATUS_CSS)
ENTRY_KEYS = {"value", "unit", "convention", "not_measured", "std"}  # std is shown with the value
# Shown elsewhere or only serialisation: per-image values (the JSON has them; the image count is
# ``images``), and an empty list of failed images.
HIDDEN_DETAILS = {"per_image"}
MAPPING_SCALARS_SHOWN = 6  # a detail map with more entries is left to the JSON
LIST_ITEMS_SHOWN = 4  # a short list of scalars (a shape) is printed; a longer one is left to the JSON


def number(value: Any) -> str:
    """Four significant digits; thousands separators for large values; '-' for nothing."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e4:
        return f"{value:,.0f}"
    if value == int(value) and abs(value) < 1e4:
        return f"{int(value)}"
    return f"{value:.4g}"


def signed(value: float | None) -> str:
    return "–" if value is None else ("+" if value > 0 else "") + number(value)


def claimed_text(claim: Claim) -> str:
    """The claimed value as the survey states it, with the cited paper's when it differs."""
    text = number(claim.survey_value) if claim.survey_value is not None else "qualitative"
    if claim.paper_value is not None and claim.paper_value != claim.survey_value and claim.survey_value is not None:
        text += f" (paper: {number(claim.paper_value)})"
    return text


def compared_with(assessment: Assessment) -> str:
    """What our number was judged against: a value ± tolerance, or the comparison."""
    claim = assessment.claim
    if claim.compare is not None:
        return f"{claim.compare.symbol()} {claim.compare.right.describe()}"
    if claim.tolerance is None or claim.reference_value is None:
        return "–"
    source = "paper" if claim.reference == "paper" and claim.paper_value is not None else "survey"
    return f"{number(claim.reference_value)} {claim.tolerance.describe()} ({source})"


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, list | Mapping)


def entry_details(entry: Mapping[str, Any]) -> str:
    """Extra fields of a metric entry in words: ``key value``; short lists and maps inline.

    Long lists and maps (one value per image, per class) are left to the JSON rather than
    summarised as "N items", which tells a reader nothing.
    """
    parts = []
    for key, value in entry.items():
        label = str(key).replace("_", " ")
        if key in ENTRY_KEYS or key in HIDDEN_DETAILS:
            continue
        if key == "failed" and isinstance(value, list):
            if value:
                names = ", ".join(str(item) for item in value[:3]) + (", …" if len(value) > 3 else "")
                parts.append(f"failed on {len(value)} images ({names})")
        elif isinstance(value, list):
            if value and len(value) <= LIST_ITEMS_SHOWN and all(_is_scalar(item) for item in value):
                joiner = " × " if key.endswith(("shape", "size")) else ", "
                parts.append(f"{label} {joiner.join(number(item) for item in value)}")
        elif isinstance(value, Mapping):
            if value and len(value) <= MAPPING_SCALARS_SHOWN and all(_is_scalar(item) for item in value.values()):
                parts.append(f"{label}: {', '.join(f'{k} {number(v)}' for k, v in value.items())}")
        else:
            parts.append(f"{label} {number(value)}")
    return " · ".join(parts)


def metric_value_text(entry: Mapping[str, Any]) -> str:
    if entry.get("value") is None:
        return "not measured"
    std = entry.get("std")
    suffix = f" ± {number(std)}" if isinstance(std, int | float) and not isinstance(std, bool) else ""
    return number(entry["value"]) + suffix
