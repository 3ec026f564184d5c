"""Which record the report shows per experiment when several profiles were run.

Records come from the live run (``reports/metrics``) and from every archived profile
(``reports/profiles/<profile>/metrics``, :mod:`vaerepro.archive`). Per experiment the report
shows the one with the largest training budget (:func:`budget_rank`): any profile before smoke
(whose networks are narrower), then the fraction of the paper's training examples, then the
evaluation N, then the profile (full > cpu), so a CPU-tier number replaces a smoke one and a GPU
run replaces both unless its time box stopped it short of the CPU tier. The others are listed as superseded, never averaged in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaerepro.archive import archived_profiles
from vaerepro.report.budget import record_budget
from vaerepro.report.records import LIVE, RecordSet, load_records

PROFILE_RANK = {"smoke": 0, "cpu": 1, "full": 2}


def budget_rank(record: dict[str, Any]) -> tuple[bool, float, int, int]:
    """(not smoke, fraction of the paper's examples, evaluation N, profile rank): larger is a
    larger budget. A smoke record never outranks another profile's: its networks are narrower
    (``profile_options``), so its step fraction can exceed the CPU tier's (Zheng et al.: 12.5 %
    of the paper's examples on a 16-channel U-Net vs the CPU tier's 6.25 % on the real one)."""
    budget = record_budget(record)
    fraction = budget.get("fraction") if budget.get("unit") == "steps" else 0.0
    n = budget.get("evaluation_n")
    profile = str(record.get("profile"))
    return (
        profile != "smoke",
        float(fraction) if isinstance(fraction, int | float) else 0.0,
        n if isinstance(n, int) and not isinstance(n, bool) else 0,
        PROFILE_RANK.get(profile, -1),
    )


def load_all_records(reports_root: Path) -> RecordSet:
    """The live records and every archived profile's, one chosen per experiment (module doc)."""
    sets = {LIVE: load_records(reports_root / "metrics")}
    for folder in archived_profiles(reports_root):
        prefix = folder.relative_to(reports_root).as_posix() + "/"
        sets[folder.name] = load_records(folder / "metrics", figure_prefix=prefix)
    result = RecordSet()
    names = {name for records in sets.values() for name in (*records.records, *records.errors)}
    for name in sorted(names):
        candidates = [(source, records.records[name]) for source, records in sets.items() if name in records.records]
        if not candidates:  # unreadable everywhere: report the live file's error first
            result.errors[name] = next(records.errors[name] for records in sets.values() if name in records.errors)
            continue
        # max keeps the first of equals, and the live set comes first: a re-run replaces its archive.
        source, record = max(candidates, key=lambda candidate: budget_rank(candidate[1]))
        result.records[name], result.sources[name] = record, source
        others = [f"{other}: {rec.get('profile')}" for other, rec in candidates if other != source]
        others += [f"{other}: unreadable" for other, records in sets.items() if name in records.errors]
        if others:
            result.superseded[name] = others
    return result
