"""Figures across experiments: the KL-weight sweep's rate–distortion points."""

from __future__ import annotations

from vaerepro.report.findings import save_rate_distortion, sweep_points


def record(weight: float, kl: float, negative_elbo: float, active: int) -> dict:
    return {
        "profile": "smoke",
        "params": {"options": {"kl_weight": weight}},
        "metrics": {"kl": {"value": kl}, "negative_elbo": {"value": negative_elbo}, "active_units": {"value": active}},
    }


def test_sweep_points_are_rate_and_distortion_sorted_by_weight():
    records = {
        "vae_beta4-mnist": record(4.0, 8.0, 150.0, 5),
        "vae-mnist": record(1.0, 30.0, 120.0, 32),
        "vae_beta025-mnist": record(0.25, 58.0, 133.0, 32),
        "cvae-mnist": record(1.0, 9.0, 150.0, 32),  # not part of the sweep
        "vae_beta2-mnist": {"profile": "smoke", "params": {}, "metrics": {"kl": {"value": None}}},  # not measured
    }
    points = sweep_points(records)
    assert [p["experiment"] for p in points] == ["vae_beta025-mnist", "vae-mnist", "vae_beta4-mnist"]
    assert points[1]["rate"] == 30.0 and points[1]["distortion"] == 90.0


def test_rate_distortion_figure_needs_two_points(tmp_path):
    assert save_rate_distortion({"vae-mnist": record(1.0, 30.0, 120.0, 32)}, tmp_path / "rd.png") is None
    records = {"vae-mnist": record(1.0, 30.0, 120.0, 32), "vae_beta4-mnist": record(4.0, 8.0, 150.0, 5)}
    path = save_rate_distortion(records, tmp_path / "rd.png")
    assert path is not None and path.stat().st_size > 5000
