"""Benchmark: DVC's own cost per pipeline run and per stage, before and after the lean lineage.

DVC pays two costs that grow with what it must parse, both outside any stage's compute:

* ``dvc status`` (also the first thing ``dvc repro``/``dvc exp run`` do): parse ``dvc.yaml``,
  ``dvc.lock`` and, once per stage, the params files;
* a lock update after **every** stage it runs: ``dvc.lock`` parsed in round-trip mode (ruamel's
  pure-Python "rt" loader, which keeps comments) and dumped again, through the same
  ``dvc.utils.serialize.modify_yaml`` DVC calls.

Both are measured on two revisions in one interleaved run, each checked out with ``git worktree``
(so neither has outputs: ``dvc status`` parses everything and finds the outputs missing, like a
fresh clone): the baseline (``--baseline-rev``: one hash per code file per stage in ``dvc.lock``)
and ``--current-rev`` (one ``lineage/<stage>.json`` fingerprint per stage). ``dvc status`` runs
with and without ruamel's C loader (``ruamel.yaml.clib``, blocked by hiding its module
``_ruamel_yaml``). Writes ``benchmarks/results/dvc_overhead.json``.

    uv run python benchmarks/dvc_overhead.py [--baseline-rev 14104b0] [--current-rev HEAD] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _environment import describe_machine

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "dvc_overhead.json"

# `dvc status` in-process, optionally with ruamel's C loader hidden (it then parses in pure Python).
STATUS = (
    "import sys\n"
    "if {block}: sys.modules['_ruamel_yaml'] = None\n"
    "from dvc.cli import main\n"
    "main(['status', '--quiet'])\n"
)
# One lock update as DVC does it after a stage: round-trip parse, then dump.
LOCK_UPDATE = (
    "import shutil, sys, time\n"
    "from dvc.utils.serialize import modify_yaml\n"
    "shutil.copy(sys.argv[1], sys.argv[2])\n"
    "started = time.perf_counter()\n"
    "with modify_yaml(sys.argv[2]) as data:\n"
    "    data['schema'] = data['schema']\n"
    "print(time.perf_counter() - started)\n"
)


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=False, capture_output=True)
    return time.perf_counter() - started


def lock_update_seconds(tree: Path, scratch: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-c", LOCK_UPDATE, str(tree / "dvc.lock"), str(scratch / "dvc.lock")],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(result.stdout.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline-rev", default="14104b0")
    parser.add_argument("--current-rev", default="HEAD")
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        baseline, current = Path(temporary) / "baseline", Path(temporary) / "current"
        for tree, revision in ((baseline, options.baseline_rev), (current, options.current_rev)):
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(tree), revision],
                cwd=REPOSITORY,
                check=True,
                capture_output=True,
            )
        try:
            trees = {"baseline": baseline, "current": current}
            sizes = {name: (tree / "dvc.lock").stat().st_size for name, tree in trees.items()}
            cases = {
                "status_baseline_pure_python": ([sys.executable, "-c", STATUS.format(block=True)], baseline),
                "status_current_pure_python": ([sys.executable, "-c", STATUS.format(block=True)], current),
                "status_current_c_loader": ([sys.executable, "-c", STATUS.format(block=False)], current),
            }
            times: dict[str, list[float]] = {
                name: [] for name in [*cases, "lock_update_baseline", "lock_update_current"]
            }
            for command, cwd in cases.values():  # warm-up: file caches, byte-code
                timed(command, cwd)
            for round_index in range(options.rounds):
                for name, (command, cwd) in cases.items():
                    times[name].append(timed(command, cwd))
                for name, tree in trees.items():
                    times[f"lock_update_{name}"].append(lock_update_seconds(tree, Path(temporary)))
                print(
                    f"round {round_index + 1}/{options.rounds}: "
                    + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items())
                )
        finally:
            for tree in (baseline, current):
                subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPOSITORY, check=False)
                shutil.rmtree(tree, ignore_errors=True)

    medians = {name: statistics.median(values) for name, values in times.items()}
    result = {
        "baseline_rev": options.baseline_rev,
        "current_rev": subprocess.run(
            ["git", "rev-parse", "--short", options.current_rev], cwd=REPOSITORY, capture_output=True, text=True
        ).stdout.strip(),
        "rounds": options.rounds,
        "dvc_lock_bytes": sizes,
        "median_seconds": medians,
        "seconds": times,
        "ratios": {
            "status_baseline_vs_current_c_loader": medians["status_baseline_pure_python"]
            / medians["status_current_c_loader"],
            "status_pure_python_vs_c_loader": medians["status_current_pure_python"]
            / medians["status_current_c_loader"],
            "lock_update_baseline_vs_current": medians["lock_update_baseline"] / medians["lock_update_current"],
        },
        "machine": describe_machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"dvc.lock: {sizes['baseline']:,} bytes at {options.baseline_rev}, {sizes['current']:,} now")
    for name, value in medians.items():
        print(f"{name:32s} median {value:6.2f} s")
    for name, value in result["ratios"].items():
        print(f"{name:40s} {value:5.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
