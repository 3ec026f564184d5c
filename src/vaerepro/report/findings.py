"""Figures drawn across several experiments: the survey's qualitative claims, measured.

* Rate vs distortion over the KL-weight sweep on MNIST (``vae-mnist`` and ``vae_beta*-mnist``):
  rate = KL(q(z|x) || p(z)) and distortion = E[-log p(x|z)] = negative ELBO − KL, both in
  nats per image (Alemi et al., "Fixing a broken ELBO", ICML 2018, use these axes). The
  survey's "reconstruction vs regularisation trade-off" (section 4) is the shape of this
  curve; the second panel shows the active units (Burda et al. 2016) per KL weight, where
  posterior collapse would show as a drop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vaerepro.data.integrity import atomic_file  # noqa: E402

SWEEP_BASELINE = "vae-mnist"
SWEEP_PREFIX = "vae_beta"


def _value(record: dict[str, Any], key: str) -> float | None:
    entry = record.get("metrics", {}).get(key) or {}
    return entry.get("value")


def sweep_points(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """(kl_weight, rate, distortion, active units, profile) of each sweep record, by kl_weight."""
    points = []
    for name, record in records.items():
        if not (name == SWEEP_BASELINE or (name.startswith(SWEEP_PREFIX) and name.endswith("-mnist"))):
            continue
        rate, negative_elbo = _value(record, "kl"), _value(record, "negative_elbo")
        if rate is None or negative_elbo is None:
            continue
        weight = float((record.get("params") or {}).get("options", {}).get("kl_weight", 1.0))
        points.append(
            {
                "experiment": name,
                "kl_weight": weight,
                "rate": rate,
                "distortion": negative_elbo - rate,
                "active_units": _value(record, "active_units"),
                "profile": record.get("profile"),
            }
        )
    return sorted(points, key=lambda point: point["kl_weight"])


def save_rate_distortion(records: dict[str, dict[str, Any]], output: Path) -> Path | None:
    """Draw the sweep; None when fewer than two sweep records exist."""
    points = sweep_points(records)
    # One curve, one budget: where the sweep's points come from several profiles (a CPU tier
    # run in chunks), only the points of the largest-budget profile are drawn.
    rank = {"smoke": 0, "cpu": 1, "full": 2}
    best = max((str(point["profile"]) for point in points), key=lambda name: rank.get(name, -1), default=None)
    missing = [point for point in points if str(point["profile"]) != best]
    points = [point for point in points if str(point["profile"]) == best]
    if len(points) < 2:
        return None
    profiles = sorted({str(point["profile"]) for point in points})
    if missing:
        profiles[-1] += "; not yet run at it: " + ", ".join(f"β={point['kl_weight']:g}" for point in missing)
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot([p["rate"] for p in points], [p["distortion"] for p in points], "o-", color="#2b6cb0")
    for point in points:
        left.annotate(
            f"β={point['kl_weight']:g}",
            (point["rate"], point["distortion"]),
            textcoords="offset points",
            xytext=(5, 4),
            fontsize=8,
        )
    left.set_xlabel("rate: KL(q(z|x) ‖ p(z)) [nats]")
    left.set_ylabel("distortion: E[−log p(x|z)] [nats]")
    left.set_title("rate vs distortion on MNIST", fontsize=10)
    left.grid(alpha=0.3)
    with_units = [p for p in points if p["active_units"] is not None]
    right.plot([p["kl_weight"] for p in with_units], [p["active_units"] for p in with_units], "s-", color="#c05621")
    right.set_xscale("log", base=2)
    right.set_xlabel("KL weight β")
    right.set_ylabel("active latent units")
    right.set_title("active latent units (Burda et al. 2016) vs β", fontsize=10)
    right.grid(alpha=0.3)
    figure.suptitle(f"KL-weight sweep ({', '.join(profiles)} profile)", fontsize=10)
    figure.tight_layout()
    with atomic_file(output) as handle:
        figure.savefig(handle, format="png", dpi=90)
    plt.close(figure)
    return output
