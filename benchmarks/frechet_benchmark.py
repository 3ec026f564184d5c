"""Benchmark: Fréchet distance at 2048 dimensions, vaerepro's eigenvalue route vs pytorch-fid's sqrtm.

Same statistics for both; reports the time ratio and the relative difference of the
values. Two scenarios: full-rank covariances (N = 4096 samples per set, the usual FID
regime) and rank-deficient ones (N = 1000 < 2048, a small evaluation subset).

    .venv/bin/python benchmarks/frechet_benchmark.py [--repeats 3]

Writes ``benchmarks/results/frechet.json``. Targets: >= 5x faster, <= 1e-6 relative difference.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from _environment import describe_machine

RESULTS = Path(__file__).resolve().parent / "results" / "frechet.json"
DIMS = 2048


def synthetic_statistics(rng: np.random.Generator, num_samples: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of features with a decaying spectrum, like pool3 activations."""
    mixing = rng.standard_normal((DIMS, DIMS)) * (np.linspace(1.0, 0.02, DIMS) ** 2)
    features = np.abs(rng.standard_normal((num_samples, DIMS)) @ mixing.T * 0.05 + shift)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def run_scenario(name: str, num_samples: int, repeats: int, reference_repeats: int) -> dict:
    from pytorch_fid.fid_score import calculate_frechet_distance

    from vaerepro.metrics.frechet import frechet_distance

    rng = np.random.default_rng(2024)
    mu1, sigma1 = synthetic_statistics(rng, num_samples, 0.3)
    mu2, sigma2 = synthetic_statistics(rng, num_samples, 0.35)
    our_times: list[float] = []
    reference_times: list[float] = []
    ours = reference = math.nan
    # Interleaved, so both see the same background load (these 2-core machines are shared).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for index in range(max(repeats, reference_repeats)):
            if index < repeats:
                start = time.perf_counter()
                ours = frechet_distance(mu1, sigma1, mu2, sigma2)
                our_times.append(time.perf_counter() - start)
            if index < reference_repeats:
                start = time.perf_counter()
                reference = float(calculate_frechet_distance(mu1, sigma1, mu2, sigma2))
                reference_times.append(time.perf_counter() - start)
    our_median, reference_median = statistics.median(our_times), statistics.median(reference_times)
    result = {
        "scenario": name,
        "dims": DIMS,
        "num_samples_per_set": num_samples,
        "vaerepro_value": ours,
        "pytorch_fid_value": reference,
        "absolute_difference": abs(ours - reference),
        "relative_difference": abs(ours - reference) / abs(reference),
        "vaerepro_seconds": our_times,
        "pytorch_fid_seconds": reference_times,
        "speedup_median": reference_median / our_median,
        "speedup_best": min(reference_times) / min(our_times),
        "pytorch_fid_warnings": sorted({str(w.message)[:120] for w in caught}),
    }
    print(
        f"{name}: ours {ours:.10g} in {our_median:.2f}s (median of {repeats}), pytorch-fid {reference:.10g} in "
        f"{reference_median:.2f}s (median of {reference_repeats}), speedup {result['speedup_median']:.1f}x median / "
        f"{result['speedup_best']:.1f}x best, relative difference {result['relative_difference']:.2e}",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of our function (default 5)")
    parser.add_argument(
        "--reference-repeats", type=int, default=2, help="timed runs of pytorch-fid's (default 2; ~1 min each)"
    )
    arguments = parser.parse_args()
    machine = describe_machine()
    scenarios = [
        run_scenario("full-rank (N=4096)", 4096, arguments.repeats, arguments.reference_repeats),
        run_scenario("rank-deficient (N=1000)", 1000, arguments.repeats, arguments.reference_repeats),
    ]
    document = {
        "benchmark": "frechet distance, 2048-d, vaerepro eigenvalue route vs pytorch_fid.fid_score.calculate_frechet_distance",
        "targets": {"speedup_at_least": 5.0, "relative_difference_at_most": 1e-6},
        "machine": machine,
        "scenarios": scenarios,
        "load_average_at_end": os.getloadavg(),
        "note": "shared 2-core machine: other jobs ran concurrently (see load averages); runs are interleaved",
        "command": "uv run python benchmarks/frechet_benchmark.py",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
