"""The full profile on a CPU stops before training, with a measured estimate and the alternatives."""

from __future__ import annotations

import json

import pytest
import torch

from vaerepro.experiment.device_guard import ALLOW_ENVIRONMENT, FullProfileOnCpu, guard_full_profile


def test_full_profile_on_a_cpu_stops_with_an_estimate(write_params, monkeypatch):
    params = write_params().with_profile("full")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv(ALLOW_ENVIRONMENT, raising=False)
    # A CPU-tier record of vae-mnist: 4000 steps x 64 images in 256 s = 1 ms per image.
    cpu = params.resolve("reports/profiles/cpu/metrics")
    cpu.mkdir(parents=True)
    record = {"profile": "cpu", "wall_time_seconds": {"train": 256.0}, "training": {"step": 4000}}
    record["params"] = {"train": {"cpu": {"batch_size": 64}}}
    (cpu / "vae-mnist.json").write_text(json.dumps(record))
    full = params.experiments["vae-mnist"].train["full"]
    hours = full["steps"] * full["batch_size"] * 0.001 / 3600  # 150,000 x 128 images: 5.3 h
    with pytest.raises(FullProfileOnCpu) as stopped:
        guard_full_profile(params, "train@vae-mnist")
    message = str(stopped.value)
    assert f"about {hours:,.0f} hours on this CPU" in message and "not counted" in message
    assert "uv run vaerepro cpu" in message and "uv run vaerepro smoke" in message and ALLOW_ENVIRONMENT in message
    # Allowed explicitly, on a GPU, or at another profile: it goes on.
    monkeypatch.setenv(ALLOW_ENVIRONMENT, "1")
    guard_full_profile(params, "train@vae-mnist")
    monkeypatch.delenv(ALLOW_ENVIRONMENT)
    guard_full_profile(params.with_profile("cpu"), "train@vae-mnist")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    guard_full_profile(params, "train@vae-mnist")
