"""Benchmark: the importance-sampled NLL (Burda et al. 2016) of an MNIST VAE at large k, against its floor.

Times ``model.log_importance_weights(x, num_samples=k)`` then
``vaerepro.metrics.likelihood.importance_sampled_nll`` on ``--images`` binarised test images,
as ``evaluate@`` computes ``nll_importance_sampled``, with seeded weights (the cost does not
depend on training), for the MLP VAE of ``vae_mlp-mnist`` (and, with ``--models all``, the conv
VAE of ``vae-mnist``, whose decoder convolutions leave nothing else to gain). Interleaved over
``--rounds`` rounds:

* ``vaerepro``: this tree's implementation (encode once; draw the k samples in chunks of about
  2,048 decoded images; decode each chunk in one batch);
* ``per-sample loop``: the definition written out, one decoder call per importance sample
  (k calls on the batch), :func:`per_sample_log_weights`;
* ``decoder floor``: decoding the same ``k x images`` latents in the same chunks and nothing
  else: no implementation can be faster than this.

It checks that the two implementations give the same NLL to 1e-6 relative from the same noise.

    .venv/bin/python benchmarks/iwae_nll.py [--images 100] [--samples 5000] [--rounds 3] [--models mlp|all]

Writes ``benchmarks/results/iwae_nll.json``. Target: >= 1.5x faster than the per-sample loop.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from _environment import describe_machine

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "src"))

from vaerepro.metrics.likelihood import importance_sampled_nll  # noqa: E402
from vaerepro.models import base, build_model  # noqa: E402

RESULTS = REPOSITORY / "benchmarks" / "results" / "iwae_nll.json"
TARGET_SPEED_UP = 1.5
MODELS = {
    "vae-mnist (conv)": {"architecture": "conv", "latent_dim": 32, "hidden_channels": 64, "likelihood": "bernoulli"},
    "vae_mlp-mnist (MLP)": {"architecture": "mlp", "latent_dim": 20, "hidden_units": 500, "likelihood": "bernoulli"},
}


@torch.no_grad()
def per_sample_log_weights(model, x: torch.Tensor, num_samples: int, seed: int) -> torch.Tensor:
    """(k, B) log weights with one decoder call per importance sample (Burda et al. 2016, Eq. 8 as written)."""
    generator = torch.Generator().manual_seed(seed)
    posterior = model.encode(x)
    weights = []
    for _ in range(num_samples):
        z = posterior.sample(generator, num_samples=1)[0]  # (B, D)
        logits = model.decode(z)
        log_likelihood = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
        log_prior = (-0.5 * (math.log(2 * math.pi) + z**2)).sum(-1)
        log_posterior = posterior.log_prob(z).sum(-1)
        weights.append(log_likelihood + log_prior - log_posterior)
    return torch.stack(weights)


@torch.no_grad()
def decoder_floor(model, x: torch.Tensor, num_samples: int, seed: int, chunk_images: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    posterior = model.encode(x)
    chunk = max(1, chunk_images // x.shape[0])
    for start in range(0, num_samples, chunk):
        count = min(chunk, num_samples - start)
        model.decode(posterior.sample(generator, num_samples=count).flatten(0, 1))


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - start, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--models", choices=("mlp", "all"), default="mlp")
    arguments = parser.parse_args()
    machine = describe_machine()
    prepared = REPOSITORY / "data" / "prepared" / "mnist" / "test" / "images.npy"
    if prepared.exists():
        pixels = np.load(prepared)[: arguments.images]
        data = str(prepared)
    else:
        pixels = np.random.default_rng(0).integers(0, 256, (arguments.images, 28, 28, 1), dtype=np.uint8)
        data = "seeded random uint8 (no prepared MNIST)"
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(255)
    x = torch.bernoulli(images, generator=torch.Generator().manual_seed(1))
    results = {}
    for name, options in MODELS.items():
        if arguments.models == "mlp" and options["architecture"] != "mlp":
            continue
        model = build_model("vae", options, seed=0).eval()
        chunk_images = base._IMPORTANCE_CHUNK_IMAGES
        times: dict[str, list[float]] = {"vaerepro": [], "per_sample": [], "floor": []}
        nll = {}
        for round_index in range(arguments.rounds):
            seconds, weights = timed(
                model.log_importance_weights,
                x,
                num_samples=arguments.samples,
                generator=torch.Generator().manual_seed(7),
            )
            nll["vaerepro"] = importance_sampled_nll(weights.double()).mean().item()
            times["vaerepro"].append(seconds)
            seconds, weights = timed(per_sample_log_weights, model, x, arguments.samples, 7)
            nll["per_sample"] = importance_sampled_nll(weights.double()).mean().item()
            times["per_sample"].append(seconds)
            seconds, _ = timed(decoder_floor, model, x, arguments.samples, 7, chunk_images)
            times["floor"].append(seconds)
            print(
                f"{name} round {round_index + 1}: vaerepro {times['vaerepro'][-1]:.2f} s, "
                f"per-sample loop {times['per_sample'][-1]:.2f} s, decoder floor {times['floor'][-1]:.2f} s",
                flush=True,
            )
        medians = {key: statistics.median(values) for key, values in times.items()}
        relative = abs(nll["vaerepro"] - nll["per_sample"]) / abs(nll["per_sample"])
        results[name] = {
            "seconds": times,
            "median_seconds": medians,
            "speed_up_over_per_sample": medians["per_sample"] / medians["vaerepro"],
            "fraction_of_floor": medians["floor"] / medians["vaerepro"],
            "nll_nats": nll,
            "nll_relative_difference": relative,
            "chunk_images": chunk_images,
        }
        print(
            f"{name}: {medians['vaerepro']:.2f} s vs per-sample loop {medians['per_sample']:.2f} s "
            f"({results[name]['speed_up_over_per_sample']:.2f}x; target >= {TARGET_SPEED_UP}); "
            f"decoder floor {medians['floor']:.2f} s; NLL {nll['vaerepro']:.4f} vs {nll['per_sample']:.4f} nats "
            f"(relative {relative:.1e})"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "iwae_nll",
                "images": arguments.images,
                "importance_samples": arguments.samples,
                "rounds": arguments.rounds,
                "data": data,
                "threads": torch.get_num_threads(),
                "models": results,
                "machine": machine,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
