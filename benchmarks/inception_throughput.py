"""Benchmark: InceptionV3 feature throughput (images/s), vaerepro vs pytorch-fid, same images.

The real FID weights are not on these machines, so a **random-weight** file of the same
architecture is written to a temporary ``$TORCH_HOME/hub/checkpoints/`` for timing only
(pytorch-fid then loads it from that cache instead of downloading; vaerepro loads it with the
checksum check off, which its CLI never allows). Throughput does not depend on the weights.

Three timings on the same PNG images:

* ``vaerepro``: :func:`vaerepro.metrics.inception.extract_inception_outputs` over the folder
  (threaded decoding, channels-last, inference mode), as ``python -m vaerepro.metrics fid`` runs it;
* ``pytorch_fid_in_process``: ``pytorch_fid.fid_score.get_activations`` as its CLI calls it
  (batch 50, ``num_workers = min(cpus, 8)``);
* ``pytorch_fid_cli``: wall time of ``python -m pytorch_fid --save-stats`` on the folder
  (includes interpreter start and model load; ``--save-stats`` skips its slow sqrtm).

It also checks that both produce the same features. Writes
``benchmarks/results/inception_throughput.json``.

    .venv/bin/python benchmarks/inception_throughput.py [--num-images 1000] [--skip-cli]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _environment import describe_machine

RESULTS = Path(__file__).resolve().parent / "results" / "inception_throughput.json"
IMAGE_SIZE = 64


def write_images(folder: Path, count: int) -> list[Path]:
    """Smooth random RGB PNGs (IMAGE_SIZE square), so decoding cost is realistic."""
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    paths = []
    for index in range(count):
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC)
        path = folder / f"{index:05d}.png"
        image.save(path)
        paths.append(path)
    return paths


def write_random_weights(torch_home: Path) -> Path:
    """Random FID-Inception weights with He-initialised convolutions (activations stay O(1))."""
    import torch

    from vaerepro.metrics.inception import build_fid_inception_structure
    from vaerepro.metrics.inception_weights import WEIGHTS_FILE_NAME

    torch.manual_seed(0)
    network = build_fid_inception_structure()
    for module in network.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    path = torch_home / "hub" / "checkpoints" / WEIGHTS_FILE_NAME
    path.parent.mkdir(parents=True)
    torch.save(network.state_dict(), path)
    return path


def time_vaerepro(files: list[Path], weights: Path, batch_size: int) -> tuple[float, np.ndarray]:
    from vaerepro.metrics.image_folders import iterate_rgb_batches
    from vaerepro.metrics.inception import extract_inception_outputs, load_fid_inception

    model = load_fid_inception(weights, "cpu", expected_sha256_prefix=None)
    extract_inception_outputs(iterate_rgb_batches(files[:batch_size], batch_size), model, batch_size=batch_size)  # warm-up
    start = time.perf_counter()
    outputs = extract_inception_outputs(iterate_rgb_batches(files, batch_size), model, batch_size=batch_size, progress=True, total=len(files))
    return time.perf_counter() - start, outputs.features


def time_pytorch_fid(files: list[Path], batch_size: int) -> tuple[float, np.ndarray]:
    from pytorch_fid.fid_score import get_activations
    from pytorch_fid.inception import InceptionV3

    model = InceptionV3([3]).to("cpu")  # loads the random file from $TORCH_HOME's hub cache
    workers = min(len(os.sched_getaffinity(0)), 8)
    get_activations([str(p) for p in files[:batch_size]], model, batch_size, 2048, "cpu", workers)  # warm-up
    start = time.perf_counter()
    features = get_activations([str(p) for p in files], model, batch_size, 2048, "cpu", workers)
    return time.perf_counter() - start, features


def time_pytorch_fid_cli(folder: Path, output: Path, batch_size: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytorch_fid", "--save-stats", "--device", "cpu", "--batch-size", str(batch_size), str(folder), str(output)],
        check=True,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--skip-cli", action="store_true", help="skip the `python -m pytorch_fid` wall-time run")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        os.environ["TORCH_HOME"] = str(root / "torch_home")  # before pytorch-fid resolves its cache
        files = write_images(root / "images", arguments.num_images)
        weights = write_random_weights(root / "torch_home")
        machine = describe_machine()
        count = len(files)
        print(f"{count} images, torch threads {machine['torch_threads']}", flush=True)
        our_seconds, our_features = time_vaerepro(files, weights, arguments.batch_size)
        print(f"vaerepro: {count / our_seconds:.2f} img/s", flush=True)
        reference_seconds, reference_features = time_pytorch_fid(files, arguments.batch_size)
        print(f"pytorch-fid get_activations: {count / reference_seconds:.2f} img/s", flush=True)
        cli_seconds = None if arguments.skip_cli else time_pytorch_fid_cli(root / "images", root / "stats.npz", arguments.batch_size)
        if cli_seconds is not None:
            print(f"python -m pytorch_fid --save-stats: {count / cli_seconds:.2f} img/s end to end", flush=True)
    scale = float(np.abs(reference_features).max())
    document = {
        "benchmark": "InceptionV3 pool3 feature throughput on CPU, random stand-in weights (timing only)",
        "num_images": count,
        "image_size": IMAGE_SIZE,
        "batch_size": arguments.batch_size,
        "machine": machine,
        "vaerepro": {"seconds": our_seconds, "images_per_second": count / our_seconds},
        "pytorch_fid_in_process": {"seconds": reference_seconds, "images_per_second": count / reference_seconds},
        "pytorch_fid_cli": None
        if cli_seconds is None
        else {"seconds": cli_seconds, "images_per_second": count / cli_seconds, "includes": "interpreter start, model load"},
        "speedup_vs_pytorch_fid_in_process": reference_seconds / our_seconds,
        "feature_max_abs_difference": float(np.abs(our_features - reference_features).max()),
        "feature_max_abs_value": scale,
        "command": f"uv run python benchmarks/inception_throughput.py --num-images {count}",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps({k: document[k] for k in ("vaerepro", "pytorch_fid_in_process", "pytorch_fid_cli", "feature_max_abs_difference")}, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
