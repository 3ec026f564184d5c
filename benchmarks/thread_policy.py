"""Benchmark: one conv-VAE training step under torch's OpenMP thread policies, idle and on a busy machine.

torch runs its CPU kernels on an OpenMP pool (GNU libgomp in the PyPI wheels). Between
parallel regions libgomp's threads spin before they sleep, so with 2 threads on 2 cores and
another process on one of them, a thread waiting at a barrier burns the core the other one
needs: the step slows by several times. ``OMP_WAIT_POLICY=PASSIVE`` makes waiting threads
sleep at once, at the price of a wake-up per parallel region. ``vaerepro`` sets PASSIVE when it
is imported on a busy machine and leaves the default on an idle one (see
:mod:`vaerepro.threads`); this script measures what each choice costs.

Configurations (each in a fresh interpreter, because libgomp reads its environment once when
torch loads it): 1 thread; 2 threads with libgomp's default policy (spin 300,000 rounds, then
sleep); 2 threads with ``OMP_WAIT_POLICY=PASSIVE`` (sleep at once); 2 threads with
``GOMP_SPINCOUNT=10000`` (spin briefly, then sleep). Loads: idle; one core kept busy by a pure-Python loop; another
2-thread torch process multiplying matrices (two trainings side by side). The step is
``vae-mnist``'s conv VAE (32 latent units, 64 channels, Bernoulli) at batch 128 and at batch 8
(many short parallel regions, as the restoration models' small crops), Adam; each run
takes the median step time over about ``--seconds`` seconds after 5 warm-up steps.
Configurations and loads are interleaved over ``--rounds`` rounds.

    .venv/bin/python benchmarks/thread_policy.py [--rounds 2] [--seconds 6]

Writes ``benchmarks/results/thread_policy.json``. Target: under load, the chosen policy's step
is never far slower than 1 thread's, and idle it keeps 2 threads' speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _environment import describe_machine

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = REPOSITORY / "benchmarks" / "results" / "thread_policy.json"

CONFIGURATIONS = {
    "1 thread": {"OMP_NUM_THREADS": "1"},
    "2 threads, libgomp default wait policy": {"OMP_NUM_THREADS": "2"},
    "2 threads, OMP_WAIT_POLICY=PASSIVE": {"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "PASSIVE"},
    "2 threads, GOMP_SPINCOUNT=10000": {"OMP_NUM_THREADS": "2", "GOMP_SPINCOUNT": "10000"},
}
# The step's size decides how often the pool's threads wait: a batch of 128 runs few, long
# parallel regions; a batch of 8 (the restoration models' crops) many short ones, where waking
# a sleeping thread costs most.
BATCHES = (128, 8)
LOADS = {
    "idle": None,
    "one busy core (python loop)": [sys.executable, "-c", "while True: pass"],
    "another 2-thread torch job": [
        sys.executable,
        "-c",
        "import torch\ntorch.set_num_threads(2)\na = torch.randn(512, 512)\nwhile True: a @ a",
    ],
}


def child(seconds: float, batch: int) -> None:
    """Time conv-VAE steps in this interpreter; prints the median milliseconds per step as JSON."""
    import torch  # first: libgomp must see the environment as the parent set it, untouched

    sys.path.insert(0, str(REPOSITORY / "src"))
    from vaerepro.models import build_model

    torch.manual_seed(0)
    model = build_model(
        "vae", {"architecture": "conv", "latent_dim": 32, "hidden_channels": 64, "likelihood": "bernoulli"}
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.bernoulli(torch.rand(batch, 1, 28, 28))
    times = []
    started = time.perf_counter()
    while len(times) < 5 + 3 or (time.perf_counter() - started < seconds and len(times) < 500):
        step_start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        model(x)["loss"].backward()
        optimizer.step()
        times.append(time.perf_counter() - step_start)
    print(json.dumps({"ms_per_step": 1000 * statistics.median(times[5:]), "steps": len(times) - 5}))


def measure(configuration: dict[str, str], seconds: float, batch: int) -> float:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "GOMP_SPINCOUNT")
    }
    environment.update(configuration)
    output = subprocess.run(
        [sys.executable, __file__, "--child", "--seconds", str(seconds), "--batch", str(batch)],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])["ms_per_step"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=128, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments.seconds, arguments.batch)
        return 0
    machine = describe_machine()
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        f"batch {batch}": {load: {name: [] for name in CONFIGURATIONS} for load in LOADS} for batch in BATCHES
    }
    for round_index in range(arguments.rounds):
        for load, command in LOADS.items():
            hog = None if command is None else subprocess.Popen(command, env={**os.environ, "OMP_NUM_THREADS": "2"})
            try:
                time.sleep(0 if hog is None else 1.0)
                for batch in BATCHES:
                    for name, configuration in CONFIGURATIONS.items():
                        value = measure(configuration, arguments.seconds, batch)
                        samples[f"batch {batch}"][load][name].append(value)
                        print(
                            f"round {round_index + 1} | batch {batch:3d} | {load:28s} | {name:40s} {value:8.2f} ms/step",
                            flush=True,
                        )
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait()
    medians = {
        size: {load: {name: statistics.median(values) for name, values in rows.items()} for load, rows in loads.items()}
        for size, loads in samples.items()
    }
    print("== median ms per conv-VAE step")
    for size, loads in medians.items():
        for load, rows in loads.items():
            one = rows["1 thread"]
            for name, value in rows.items():
                print(f"{size:9s} {load:28s} {name:40s} {value:8.2f} ms  ({value / one:.2f}x 1 thread)")
    result = {
        "benchmark": "thread_policy",
        "step": "vae-mnist conv VAE (latent 32, 64 channels, Bernoulli), Adam, forward+backward+update",
        "rounds": arguments.rounds,
        "seconds_per_run": arguments.seconds,
        "ms_per_step": samples,
        "median_ms_per_step": medians,
        "machine": machine,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
