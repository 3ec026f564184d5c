"""The GPU-only numerical checks the device batch runs first (issue 15).

1. **Loss, CUDA vs CPU.** The vae-mnist model (full-profile options, seeded weights) on one
   batch of the packed MNIST images: the negative ELBO with z at the posterior mean (so no
   sampling noise differs between devices), in float32 with TF32 off. Pass: relative
   difference ≤ 1e-4.
2. **Mixed precision trains.** The same model, 200 Adam steps under float16 autocast with a
   gradient scaler on packed MNIST batches. Pass: every loss finite.
3. **InceptionV3, CUDA vs CPU.** The FID InceptionV3 structure with seeded random weights (the
   real weights cannot travel; for a numerical check of the forward pass random ones do) on 8
   seeded images: pool3 features in float32, TF32 off. Pass: max |difference| ≤ 1e-4 × max
   |feature|. Needs torchvision and pytorch-fid; where the machine lacks torchvision the check
   says so instead of passing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOLERANCE = 1e-4
EXPERIMENT = "vae-mnist"


def _strict_float32() -> None:
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def _vae_and_batch(params_path: Path, batch_size: int = 128) -> tuple[Any, Any]:
    import numpy as np
    import torch

    from vaerepro.config import load_params
    from vaerepro.experiment.resolve import resolve
    from vaerepro.models import build_model

    params = load_params(params_path)
    experiment = resolve(params, EXPERIMENT)
    model = build_model(experiment.model, experiment.options, source="checks", path="options", seed=params.seed)
    images = experiment.train_split()["images"][:batch_size]
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255
    return model, (x > 0.5).float()


def loss_cpu_vs_cuda(params_path: Path) -> dict[str, Any]:
    import torch

    _strict_float32()
    model, x = _vae_and_batch(params_path)

    def loss_on(device: str) -> float:
        net = model.to(device).eval()
        with torch.no_grad():
            posterior = net.encode(x.to(device))
            nll = -net.log_likelihood_given_latent(x.to(device), posterior.mode())
            return float((nll + posterior.kl().float().sum(1)).mean())

    cpu, cuda = loss_on("cpu"), loss_on("cuda")
    relative = abs(cpu - cuda) / max(abs(cpu), 1e-12)
    return {
        "cpu": cpu,
        "cuda": cuda,
        "relative_difference": relative,
        "tolerance": TOLERANCE,
        "passed": relative <= TOLERANCE,
    }


def mixed_precision_trains(params_path: Path, steps: int = 200) -> dict[str, Any]:
    import torch

    model, x = _vae_and_batch(params_path, batch_size=1024)
    model = model.to("cuda").train()
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)
    scaler = torch.amp.GradScaler("cuda")
    losses = []
    for step in range(steps):
        batch = x[(step * 128) % 1024 : (step * 128) % 1024 + 128].to("cuda")
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16):
            loss = model(batch)["loss"]
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(float(loss))
    finite = all(torch.isfinite(torch.tensor(losses)).tolist())
    return {"steps": steps, "first_loss": losses[0], "last_loss": losses[-1], "all_finite": finite, "passed": finite}


def inception_cpu_vs_cuda() -> dict[str, Any]:
    import torch

    try:
        from vaerepro.metrics.inception import FIDInception, build_fid_inception_structure

        torch.manual_seed(0)
        network = FIDInception(build_fid_inception_structure())
    except ImportError as error:
        return {"passed": None, "not_run": f"the FID InceptionV3 cannot be built here: {error}"}
    _strict_float32()
    images = torch.rand(8, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cpu = network.to("cpu")(images)[0]
        cuda = network.to("cuda")(images.to("cuda"))[0].cpu()
    difference = float((cpu - cuda).abs().max())
    scale = float(cpu.abs().max())
    return {
        "max_abs_difference": difference,
        "max_abs_feature": scale,
        "relative": difference / max(scale, 1e-12),
        "tolerance": TOLERANCE,
        "passed": difference <= TOLERANCE * scale,
    }


def run_checks(params_path: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """All three, each timed; a check that raises is recorded as failed with its error."""
    results: dict[str, Any] = {}
    for name, check in (
        ("loss_cpu_vs_cuda", lambda: loss_cpu_vs_cuda(params_path)),
        ("mixed_precision_trains", lambda: mixed_precision_trains(params_path)),
        ("inception_cpu_vs_cuda", inception_cpu_vs_cuda),
    ):
        started = time.monotonic()
        try:
            results[name] = check()
        except Exception as error:  # a check must not stop the training that follows
            results[name] = {"passed": False, "error": f"{type(error).__name__}: {error}"}
        results[name]["seconds"] = round(time.monotonic() - started, 2)
        log(f"check {name}: {results[name]}")
    return results
