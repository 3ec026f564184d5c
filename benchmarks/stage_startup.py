"""Benchmark: how long a pipeline stage takes to start, against ``import torch`` and a baseline revision.

Interleaved rounds of fresh interpreters, each timed from launch to exit:

* ``import torch``: the floor every stage pays;
* train start-up: ``pipeline/train.py <experiment> --stop-at-step 0`` (imports, params, the
  prepared data's summary, the model, seeding, an empty first checkpoint; it exits with status 1
  and "stopped at step 0", which is checked);
* evaluate start-up: ``pipeline/evaluate.py``'s imports (running the stage evaluates a trained
  model, which is no start-up);

for this working tree and for ``--baseline-rev`` (checked out with ``git worktree add`` into a
temporary folder and removed afterwards). The stages find the data beside their params file, so
each tree runs from a temporary folder holding its own params.yaml and datasets.yaml and a
``data`` link to ``--data`` (which needs ``prepared/<dataset>``).

    .venv/bin/python benchmarks/stage_startup.py [--rounds 5] [--baseline-rev 14104b0] [--data data]

Writes ``benchmarks/results/stage_startup.json``. Target: train start-up <= import torch + 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _environment import describe_machine

REPOSITORY = Path(__file__).resolve().parents[1]
RESULTS = REPOSITORY / "benchmarks" / "results" / "stage_startup.json"
TARGET_SECONDS_OVER_IMPORT_TORCH = 1.0


@dataclass
class Probe:
    """One command timed in every round; ``check`` tells a correct run from a broken one."""

    name: str
    command: list[str]
    cwd: Path
    environment: dict[str, str]
    expected_status: int = 0
    expected_message: str | None = None
    fresh_folder: Path | None = None  # emptied before each run, so every start-up is a first one
    seconds: list[float] = field(default_factory=list)

    def run(self) -> float:
        if self.fresh_folder is not None:
            shutil.rmtree(self.fresh_folder, ignore_errors=True)
        start = time.perf_counter()
        result = subprocess.run(self.command, cwd=self.cwd, env=self.environment, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        output = result.stdout + result.stderr
        if result.returncode != self.expected_status or (
            self.expected_message is not None and self.expected_message not in output
        ):
            raise SystemExit(
                f"{self.name}: exit status {result.returncode}, expected {self.expected_status}:\n{output}"
            )
        return elapsed


def stage_environment(tree: Path) -> dict[str, str]:
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([str(tree / "src"), str(tree)])
    # A value set by an earlier run in this shell would change what the stages import.
    environment.pop("TORCHINDUCTOR_DETERMINISTIC", None)
    return environment


def stage_probes(label: str, tree: Path, data: Path, scratch: Path, experiment: str) -> list[Probe]:
    """Train and evaluate start-up probes for the code in ``tree``, run from a folder of its own."""
    run_folder = scratch / f"run-{label}"
    run_folder.mkdir()
    for name in ("params.yaml", "datasets.yaml"):
        shutil.copy2(tree / name, run_folder / name)
    (run_folder / "data").symlink_to(data)
    models = scratch / f"models-{label}"
    environment = stage_environment(tree)
    train = Probe(
        f"train start-up ({label})",
        [
            sys.executable,
            str(tree / "pipeline" / "train.py"),
            experiment,
            "--stop-at-step",
            "0",
            "--models-root",
            str(models),
            "--params",
            str(run_folder / "params.yaml"),
        ],
        run_folder,
        environment,
        expected_status=1,
        expected_message=f"train@{experiment} stopped at step 0",
        fresh_folder=models,
    )
    evaluate = Probe(
        f"evaluate imports ({label})",
        [
            sys.executable,
            "-c",
            f"import runpy; runpy.run_path({str(tree / 'pipeline' / 'evaluate.py')!r}, run_name='startup_probe')",
        ],
        run_folder,
        environment,
    )
    return [train, evaluate]


def git(*arguments: str) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=REPOSITORY, check=True, capture_output=True, text=True
    ).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5), after one untimed warm-up")
    parser.add_argument("--baseline-rev", default="14104b0", help="git revision to compare with (default 14104b0)")
    parser.add_argument("--experiment", default="vae-mnist", help="experiment whose train stage starts (vae-mnist)")
    parser.add_argument(
        "--data", type=Path, default=REPOSITORY / "data", help="folder with prepared/<dataset> (default: ./data)"
    )
    arguments = parser.parse_args()
    data = arguments.data.resolve()
    if not (data / "prepared").is_dir():
        raise SystemExit(f"{data}/prepared not found: pass --data <folder with prepared datasets> (dvc pull / repro)")
    baseline_commit = git("rev-parse", "--verify", f"{arguments.baseline_rev}^{{commit}}")
    current_commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    machine = describe_machine()

    with tempfile.TemporaryDirectory(prefix="stage-startup-") as temporary:
        scratch = Path(temporary)
        baseline_tree = scratch / "baseline"
        git("worktree", "add", "--detach", "--quiet", str(baseline_tree), baseline_commit)
        try:
            import_torch = Probe("import torch", [sys.executable, "-c", "import torch"], scratch, dict(os.environ))
            current = stage_probes("this tree", REPOSITORY, data, scratch, arguments.experiment)
            baseline = stage_probes(
                f"baseline {arguments.baseline_rev}", baseline_tree, data, scratch, arguments.experiment
            )
            probes = [import_torch, *current, *baseline]
            for probe in probes:  # warm-up: bytecode caches written, files in the page cache
                probe.run()
            # Interleaved, so every command sees the same background load (these 2-core machines are shared).
            for round_index in range(arguments.rounds):
                for probe in probes:
                    probe.seconds.append(probe.run())
                print(
                    f"round {round_index + 1}/{arguments.rounds}: "
                    + ", ".join(f"{probe.name} {probe.seconds[-1]:.2f}s" for probe in probes),
                    flush=True,
                )
        finally:
            git("worktree", "remove", "--force", str(baseline_tree))

    floor = statistics.median(import_torch.seconds)
    measured = {}
    for probe in probes:
        median = statistics.median(probe.seconds)
        measured[probe.name] = {
            "seconds": probe.seconds,
            "median_seconds": median,
            "over_import_torch_seconds": median - floor,
            "ratio_to_import_torch": median / floor,
        }
    for ours, theirs in zip(current, baseline, strict=True):
        measured[ours.name]["speedup_vs_baseline"] = statistics.median(theirs.seconds) / statistics.median(ours.seconds)
    train_over_floor = measured[current[0].name]["over_import_torch_seconds"]
    print(f"import torch: median {floor:.2f}s")
    for probe in probes[1:]:
        entry = measured[probe.name]
        versus = (
            f", {entry['speedup_vs_baseline']:.2f}x faster than the baseline" if "speedup_vs_baseline" in entry else ""
        )
        print(
            f"{probe.name}: median {entry['median_seconds']:.2f}s = import torch + {entry['over_import_torch_seconds']:.2f}s "
            f"({entry['ratio_to_import_torch']:.2f}x){versus}"
        )
    print(
        f"target train start-up <= import torch + {TARGET_SECONDS_OVER_IMPORT_TORCH:.0f} s: "
        f"{'met' if train_over_floor <= TARGET_SECONDS_OVER_IMPORT_TORCH else 'missed'} (+{train_over_floor:.2f}s)"
    )
    document = {
        "benchmark": "pipeline stage start-up (fresh interpreters, launch to exit) vs import torch and a baseline revision",
        "targets": {"train_startup_over_import_torch_seconds_at_most": TARGET_SECONDS_OVER_IMPORT_TORCH},
        "target_met": train_over_floor <= TARGET_SECONDS_OVER_IMPORT_TORCH,
        "experiment": arguments.experiment,
        "commit": current_commit,
        "working_tree_modified": dirty,
        "baseline_rev": arguments.baseline_rev,
        "baseline_commit": baseline_commit,
        "rounds": arguments.rounds,
        "machine": machine,
        "measured": measured,
        "load_average_at_end": os.getloadavg(),
        "note": "shared 2-core machine: other jobs may have run concurrently (see load averages); runs are interleaved",
        "command": f"uv run python benchmarks/stage_startup.py --rounds {arguments.rounds} --baseline-rev {arguments.baseline_rev}",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
