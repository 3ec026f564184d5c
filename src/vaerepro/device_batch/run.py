"""The device batch's one command: ``PYTHONPATH=src python -m vaerepro.device_batch.run --out "$OUT"``.

Runs on the borrowed machine, from the repository root of the working-tree copy (package
docstring). In order, within ``--minutes`` (8 by default) of wall time:

1. unpack the prepared arrays into a scratch folder and check every file's sha256 against the
   manifest (a dataset that fails is not trained on); put the carried packages last on the path;
2. the GPU checks (:mod:`.checks`; skipped on a CPU);
3. train every packed experiment at the pack's profile concurrently, each a ``pipeline/train.py``
   process with ``--time-limit`` set so that all end before the collection margin; the CPU
   cores are shared out by ``OMP_NUM_THREADS`` (BM3D inside Zheng et al.'s steps uses them);
   a process still running at the deadline gets SIGINT (it saves a checkpoint) and then SIGKILL;
4. collect: per experiment the model weights (checkpoint without optimizer state), the train
   summary, the dvclive-format logs and a grid of 64 samples (generative models), into
   ``results.tar.xz`` split into parts under the per-file limit, plus ``timing.json`` (one row
   per experiment: steps reached of the target, wall time, steps/s, device, what came back),
   ``checks.json`` and ``run.log``. If the parts would pass the return limit, the largest
   checkpoints stay behind and the timing table says so.

Only the standard library is imported before step 1 (the machine may lack everything else we
use but torch and numpy, which the carried packages make up for).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from vaerepro.data.integrity import file_digests  # standard library only: safe before unpacking
from vaerepro.device_batch.limits import (
    CHECKS,
    DATASETS_JSON,
    DEFAULT_MINUTES,
    LOG,
    MANIFEST,
    MIB,
    PACK_DIR,
    PARAMS_JSON,
    RESULTS_ARCHIVE,
    RETURN_FILES,
    RETURN_LIMIT,
    RETURN_PART,
    TIMING,
)

SAMPLE_COUNT = 64


class Log:
    """Print and keep every line (run.log comes back with the results)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        line = f"[{time.monotonic() - self.started:7.1f} s] {message}"
        print(line, flush=True)
        with self.path.open("a") as handle:
            handle.write(line + "\n")


def _safe_extract(archive_path: Path, target: Path) -> None:
    """Extract, refusing members that would land outside ``target``."""
    target = target.resolve()
    with tarfile.open(archive_path) as archive:
        for member in archive.getmembers():
            destination = (target / member.name).resolve()
            if target not in destination.parents and destination != target:
                raise ValueError(f"{archive_path}: member {member.name!r} would land outside {target}")
            if not (member.isfile() or member.isdir()):
                raise ValueError(f"{archive_path}: member {member.name!r} is not a plain file or folder")
        archive.extractall(target)


def unpack_data(pack: Path, manifest: dict[str, Any], scratch: Path, log: Log) -> set[str]:
    """Unpack each dataset into ``scratch/data/prepared``; return the ones whose files all match."""
    prepared = scratch / "data" / "prepared"
    prepared.mkdir(parents=True, exist_ok=True)
    good = set()
    for dataset, entry in manifest["datasets"].items():
        _safe_extract(pack / entry["archive"], prepared)
        bad = [
            name
            for name, digest in entry["files"].items()
            if file_digests(prepared / name, ("sha256",))["sha256"] != digest
        ]
        if bad:
            log(f"data {dataset}: {len(bad)} file(s) differ from the manifest ({bad[0]}, ...): not trained on")
        else:
            good.add(dataset)
            log(
                f"data {dataset}: {len(entry['files'])} files, sha256 as packed (dataset {entry['dataset_sha256'][:12]})"
            )
    return good


def _importable(module: str, extra_path: Path | None) -> bool:
    """Can a fresh interpreter import ``module`` (with ``extra_path`` last on its path)?"""
    path = [str(Path("src").resolve())] + ([str(extra_path)] if extra_path else [])
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(path)},
        capture_output=True,
    )
    return result.returncode == 0


def unpack_vendor(pack: Path, manifest: dict[str, Any], scratch: Path, log: Log) -> Path | None:
    vendor = manifest.get("vendor") or {}
    if not vendor.get("archive"):
        return None
    target = scratch / "vendor"
    _safe_extract(pack / vendor["archive"], target)
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    note = (
        ""
        if tag == vendor.get("python_tag")
        else f" (packed for {vendor.get('python_tag')}: compiled parts may not load)"
    )
    log(f"carried packages {', '.join(vendor.get('packages', []))} last on the path; this Python is {tag}{note}")
    return target


def _device(requested: str) -> str:
    if requested == "cpu":
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _device_name(device: str) -> str:
    if device != "cuda":
        return "cpu"
    import torch

    return f"cuda:0 ({torch.cuda.get_device_name(0)})"


def train_all(
    experiments: list[str],
    scratch: Path,
    vendor: Path | None,
    device: str,
    time_limit: float,
    hard_deadline: float,
    log: Log,
) -> dict[str, dict[str, Any]]:
    """Train all experiments concurrently (module docstring, step 3); per experiment what happened."""
    threads = max(1, (os.cpu_count() or 2) // max(1, len(experiments)))
    inherited = [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    path = [str(Path("src").resolve()), *inherited] + ([str(vendor)] if vendor else [])
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(path),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "PYTHONUNBUFFERED": "1",
    }
    if device == "cpu":  # the round-trip test: the full profile on a CPU, asked for on purpose
        environment["CUDA_VISIBLE_DEVICES"] = ""
        environment["VAEREPRO_FULL_ON_CPU"] = "1"  # vaerepro.experiment.device_guard.ALLOW_ENVIRONMENT
    logs = scratch / "logs"
    logs.mkdir(exist_ok=True)
    processes: dict[str, tuple[subprocess.Popen, Any, float]] = {}
    for name in experiments:
        handle = (logs / f"{name}.log").open("w")
        command = [
            sys.executable, "pipeline/train.py", name,
            "--params", str(scratch / PARAMS_JSON),
            "--models-root", str(scratch / "models"),
            "--deadline", f"{time.time() + time_limit:.1f}",
        ]  # fmt: skip
        processes[name] = (
            subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=environment),
            handle,
            time.monotonic(),
        )
    log(f"training {len(processes)} experiments at once, {threads} CPU threads each, time limit {time_limit:.0f} s")
    outcome: dict[str, dict[str, Any]] = {}
    while processes:
        for name, (process, handle, started) in list(processes.items()):
            if process.poll() is None and time.monotonic() < hard_deadline:
                continue
            if process.poll() is None:  # past the deadline: SIGINT saves a checkpoint, then SIGKILL
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
                log(f"{name}: stopped at the deadline (exit {process.returncode})")
            handle.close()
            outcome[name] = {"exit_code": process.returncode, "process_seconds": time.monotonic() - started}
            log(f"{name}: exit {process.returncode} after {outcome[name]['process_seconds']:.0f} s")
            del processes[name]
        time.sleep(0.5)
    return outcome


def _returned_checkpoint(source: Path, destination: Path) -> None:
    """The checkpoint without its optimizer state (the weights are what evaluation needs; the
    Adam moments would triple the size). A resume from it is refused (vaerepro.training.loop)."""
    import torch

    checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    checkpoint["optimizers"] = {}
    checkpoint["grad_scaler"] = None
    checkpoint["optimizer_state_returned"] = False
    destination.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, destination)


def _samples_figure(checkpoint: Path, destination: Path, seed: int) -> str:
    """A grid of samples from a generative model; '' when written, else why not."""
    import torch

    from vaerepro.image_grids import save_grid
    from vaerepro.training import load_model

    model = load_model(checkpoint)
    if not hasattr(model, "sample") or getattr(model, "task", "generation") != "generation":
        return "not a generative model"
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(SAMPLE_COUNT) % 10 if getattr(model, "uses_labels", False) else None
    try:
        with torch.no_grad():
            images = model.sample(SAMPLE_COUNT, labels, generator=generator)
    except (TypeError, ValueError, RuntimeError) as error:  # e.g. a model that samples only given an input
        return f"no samples: {error}"
    grid = (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    save_grid(
        destination, [grid[row * 8 : row * 8 + 8] for row in range(8)], title=f"{checkpoint.parent.name}: samples"
    )
    return ""


def collect(
    manifest: dict[str, Any], outcome: dict[str, dict[str, Any]], scratch: Path, device_name: str, log: Log
) -> tuple[Path, list[dict[str, Any]]]:
    """Returned files under ``scratch/return`` and the timing table (module docstring, step 4)."""
    returned = scratch / "return"
    rows = []
    for name, entry in manifest["experiments"].items():
        row: dict[str, Any] = {"experiment": name, "target_steps": entry["steps"], "device": device_name}
        row |= outcome.get(name, {"exit_code": None, "skipped": entry.get("skipped", "not run")})
        model_dir = scratch / "models" / name
        summary_path = model_dir / "train_summary.json"
        if summary_path.is_file() and (model_dir / "checkpoint.pt").is_file():
            summary = json.loads(summary_path.read_text())
            row |= {
                "steps": summary.get("step"),
                "fraction": summary.get("step", 0) / entry["steps"] if entry["steps"] else None,
                "train_seconds": summary.get("wall_seconds"),
                "steps_per_second": summary.get("steps_per_second_last_chunk"),
                "stopped_by_time_limit": summary.get("stopped_by_time_limit"),
                "completed": summary.get("completed"),
            }
            target = returned / "models" / name
            _returned_checkpoint(model_dir / "checkpoint.pt", target / "checkpoint.pt")
            shutil.copy2(summary_path, target / "train_summary.json")
            if (model_dir / "dvclive").is_dir():
                shutil.copytree(model_dir / "dvclive", target / "dvclive")
            why_not = _samples_figure(target / "checkpoint.pt", returned / "samples" / f"{name}.png", manifest["seed"])
            row["samples"] = why_not or f"samples/{name}.png"
            row["checkpoint_bytes"] = (target / "checkpoint.pt").stat().st_size
        log_file = scratch / "logs" / f"{name}.log"
        if log_file.is_file():
            (returned / "logs").mkdir(parents=True, exist_ok=True)
            shutil.copy2(log_file, returned / "logs" / log_file.name)
        rows.append(row)
    (returned / MANIFEST).parent.mkdir(parents=True, exist_ok=True)
    (returned / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return returned, rows


def write_parts(returned: Path, rows: list[dict[str, Any]], out: Path, log: Log) -> list[Path]:
    """``results.tar.xz`` in parts under the per-file limit; the largest checkpoints stay behind
    while the parts would pass the return limit (or the file count)."""
    spare_files = 3  # timing.json, checks.json, run.log
    by_size = sorted((r for r in rows if r.get("checkpoint_bytes")), key=lambda r: r["checkpoint_bytes"], reverse=True)
    while True:
        archive = returned.parent / RESULTS_ARCHIVE
        with tarfile.open(archive, "w:xz", preset=1) as tar:
            tar.add(returned, arcname=".")
        size = archive.stat().st_size
        parts_needed = -(-size // RETURN_PART)
        if size <= RETURN_LIMIT - 2 * MIB and parts_needed <= RETURN_FILES - spare_files:
            break
        if not by_size:
            raise RuntimeError(f"results of {size / MIB:.1f} MiB cannot come back even without checkpoints")
        dropped = by_size.pop(0)
        shutil.rmtree(returned / "models" / dropped["experiment"])
        dropped["returned"] = False
        dropped["not_returned_because"] = f"the return limit ({RETURN_LIMIT / MIB:.0f} MiB): the largest checkpoint"
        log(f"{dropped['experiment']}: checkpoint left behind (results {size / MIB:.1f} MiB)")
    for row in rows:
        row.setdefault("returned", bool(row.get("checkpoint_bytes")))
    parts = []
    with archive.open("rb") as handle:
        for index in range(parts_needed):
            part = out / f"{RESULTS_ARCHIVE}.part{index:02d}"
            part.write_bytes(handle.read(RETURN_PART))
            parts.append(part)
    log(f"results: {size / MIB:.1f} MiB in {len(parts)} part(s)")
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pack", type=Path, default=Path(PACK_DIR))
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "device_out")))
    parser.add_argument(
        "--minutes", type=float, default=None, help=f"wall time of the whole run (pack's, else {DEFAULT_MINUTES})"
    )
    parser.add_argument("--device", choices=("auto", "cpu"), default="auto", help="cpu: the round-trip test")
    parser.add_argument("--experiments", nargs="*", default=None, help="a subset of the packed ones")
    parser.add_argument("--skip-checks", action="store_true")
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    out = arguments.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out / LOG)
    manifest = json.loads((arguments.pack / MANIFEST).read_text())
    minutes = arguments.minutes if arguments.minutes is not None else float(manifest.get("minutes", DEFAULT_MINUTES))
    deadline = started + minutes * 60
    # Collection: weights, samples and an xz archive take ~1 min for a full batch on a GPU machine.
    # A tiny run (the CPU round-trip test) still needs ~10 s for processes to save and exit.
    margin = max(10.0, min(75.0, 0.25 * minutes * 60))
    scratch = Path(tempfile.mkdtemp(prefix="vaerepro-device-"))
    log(f"device batch: profile {manifest['profile']}, {minutes:g} min, packed at {manifest['git_revision']}")
    good = unpack_data(arguments.pack, manifest, scratch, log)
    vendor = unpack_vendor(arguments.pack, manifest, scratch, log)
    for name in (PARAMS_JSON, DATASETS_JSON):
        shutil.copy2(arguments.pack / name, scratch / name)
    device = _device(arguments.device)
    device_name = _device_name(device)
    log(f"device: {device_name}; {os.cpu_count()} CPU cores")
    checks: dict[str, Any] = {"device": device_name}
    if device == "cuda" and not arguments.skip_checks:
        if vendor:
            sys.path.append(str(vendor))
        from vaerepro.device_batch.checks import run_checks

        checks |= run_checks(scratch / PARAMS_JSON, log)
    else:
        checks["skipped"] = "no CUDA device" if device != "cuda" else "--skip-checks"
    (out / CHECKS).write_text(json.dumps(checks, indent=1))
    chosen = arguments.experiments or list(manifest["experiments"])
    runnable = []
    for name in chosen:
        entry = manifest["experiments"][name]
        missing = [module for module in entry.get("needs", []) if not _importable(module, vendor)]
        if entry["train_dataset"] not in good:
            entry["skipped"] = f"its data {entry['train_dataset']} did not unpack as packed"
        elif missing:
            entry["skipped"] = f"{', '.join(missing)} cannot be imported on this machine"
        else:
            runnable.append(name)
            continue
        log(f"{name}: skipped, {entry['skipped']}")
    time_limit = max(5.0, deadline - margin - time.monotonic())
    outcome = train_all(runnable, scratch, vendor, device, time_limit, deadline - margin / 3, log)
    if vendor:
        sys.path.append(str(vendor))
    returned, rows = collect(manifest, outcome, scratch, device_name, log)
    write_parts(returned, rows, out, log)
    (out / TIMING).write_text(
        json.dumps({"minutes": minutes, "wall_seconds": time.monotonic() - started, "rows": rows}, indent=1)
    )
    for row in rows:
        log(
            f"{row['experiment']}: {row.get('steps', 0)} of {row['target_steps']} steps"
            + (f" ({100 * row['fraction']:.1f} %)" if row.get("fraction") is not None else "")
            + f", returned {row.get('returned', False)}"
        )
    shutil.rmtree(scratch, ignore_errors=True)
    log(f"done in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
