"""``vaerepro`` command line: helpers around the DVC pipeline.

``vaerepro smoke``   run the pipeline's stages in the ``smoke`` profile (a 2-core CPU, minutes)
                     for every dataset that can be had here, as a DVC experiment.
``vaerepro cpu``     the same stages in the ``cpu`` profile: the CPU budget tier (~2 h on a 2-core
                     CPU; resumable: run it again after an interruption).
``vaerepro archive`` keep a finished run's results, with its dvc.lock and params.yaml, in
                     reports/profiles/<profile>/ (the report shows each experiment at its largest
                     budget across the live run and the archives); ``--check`` verifies archives.
``vaerepro device pack|import`` the device batch for a borrowed GPU machine (vaerepro.device_batch).
``vaerepro datasets`` show which datasets are obtainable and from where.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

from vaerepro.cli_errors import reported_errors
from vaerepro.config import load_params
from vaerepro.data.availability import availability
from vaerepro.structured import ConfigError


class SmokePlan(NamedTuple):
    """What a smoke run does: DVC targets, lines explaining what is left out, and whether the
    report is rendered on its own afterwards (experiments skipped on purpose)."""

    targets: list[str]
    skipped: list[str]
    report_afterwards: bool = False


def smoke_targets(params_path: str, skip: frozenset[str] = frozenset()) -> SmokePlan:
    """Stages to run in a smoke run, and lines explaining what is skipped.

    Every stage whose dataset can be had here: prepare@, fid_reference@ (which pulls in
    fid_weights), classifier@, evaluate@ (which pulls in train@), and the report when every
    experiment it depends on runs. ``skip``: experiments left out on purpose (CI leaves out those
    that run no code another experiment does not already run). When any experiment is left out
    (skipped, or its dataset cannot be had here) the report is left to :func:`run_profile`,
    which renders it from the records present.

    Raises:
        ConfigError: ``skip`` names an experiment params.yaml does not have.
    """
    params = load_params(params_path)
    unknown = sorted(skip - set(params.experiments))
    if unknown:
        raise ConfigError(f"--skip names no experiment of {params_path}: {', '.join(unknown)}")
    obtainable, skipped = set(), []
    for name in params.datasets:
        status = availability(name, params)
        if status.obtainable:
            obtainable.add(name)
        else:
            skipped.append(f"  skipped dataset {name}: {status.how}")
    targets = _grouped("prepare", list(params.datasets), obtainable)
    targets += _grouped("fid_reference", list(params.fid.reference), obtainable)
    targets += _grouped("classifier", list(params.classifiers), obtainable)
    runnable = [
        name
        for name, experiment in params.experiments.items()
        if {experiment.dataset, experiment.train_dataset} <= obtainable and name not in skip
    ]
    for name, experiment in params.experiments.items():
        if name in skip:
            skipped.append(f"  skipped experiment {name}: --skip (its committed records stay as they are)")
        elif name not in runnable:
            missing = sorted({experiment.dataset, experiment.train_dataset} - obtainable)
            skipped.append(f"  skipped experiment {name}: dataset {', '.join(missing)} not available")
    targets += _grouped("evaluate", list(params.experiments), set(runnable))
    # The report stage depends on every experiment's record; with some left out (on purpose, or
    # for data this machine cannot have, such as CelebA-HQ) DVC would run theirs first, so the
    # report is rendered on its own afterwards from the records present (those left out show
    # their committed record or "not run").
    report_afterwards = len(runnable) < len(params.experiments)
    if report_afterwards:
        skipped.append(
            "  report: rendered afterwards on its own (`dvc repro --single-item report`) from the records "
            'present (an experiment left out shows its committed record, or "not run")'
        )
    else:
        targets.append("report")
    return SmokePlan(targets, skipped, report_afterwards)


def _grouped(stage: str, items: list[str], included: set[str]) -> list[str]:
    """DVC targets for the ``included`` items of the foreach stage ``stage``: the group's name when
    every item is included, else one ``stage@item`` each. DVC resolves every target separately
    (``dvc exp run`` parses dvc.lock for each, several times: ~0.7 s a target on a 2-core CPU), so
    a full smoke run names 9 targets instead of 42."""
    if items and all(item in included for item in items):
        return [stage]
    return [f"{stage}@{item}" for item in items if item in included]


def environment_with_this_python() -> dict[str, str]:
    """The environment with this interpreter's bin folder first on PATH, so ``dvc`` and the
    stages' ``python`` are the ones installed beside vaerepro even in an unactivated venv."""
    path = os.environ.get("PATH", "")
    if not sys.executable:
        return dict(os.environ)
    return {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + path}


PROFILE_LINE = re.compile(r"^profile:[ \t]*\w+", flags=re.MULTILINE)


def with_profile(text: str, profile: str) -> str:
    """``params.yaml`` text with its top-level ``profile:`` value replaced, all else kept."""
    if not PROFILE_LINE.search(text):
        raise ValueError("params.yaml has no top-level 'profile:' line")
    return PROFILE_LINE.sub(f"profile: {profile}", text, count=1)


def command_smoke(arguments: argparse.Namespace) -> int:
    return run_profile(arguments, "smoke")


def command_cpu(arguments: argparse.Namespace) -> int:
    return run_profile(arguments, "cpu")


def run_profile(arguments: argparse.Namespace, profile: str) -> int:
    """Run every obtainable stage in ``profile`` as a DVC experiment (``dvc exp run -S``)."""
    skip = frozenset(name for item in arguments.skip for name in item.split(",") if name)
    with reported_errors(f"vaerepro {profile}"):
        targets, skipped, report_afterwards = smoke_targets(arguments.params, skip)
    print(f"{profile} run: " + " ".join(targets))
    print("\n".join(skipped))
    command = ["dvc", "exp", "run", "-S", f"profile={profile}", *targets]
    print("$ " + " ".join(command), flush=True)
    params_path = Path(arguments.params)
    original = params_path.read_text()
    try:
        result = subprocess.run(command, env=environment_with_this_python())
    except FileNotFoundError:
        print(
            f"vaerepro {profile}: `dvc` was not found; install the project (`uv sync`) and use "
            f"`uv run vaerepro {profile}`",
            file=sys.stderr,
        )
        return 1
    # `dvc exp run -S` rewrites params.yaml through its YAML writer, which drops comments and
    # expands anchors; keep the user's file and change only the profile, as DVC did.
    params_path.write_text(with_profile(original, profile))
    if result.returncode == 0 and report_afterwards:
        report = ["dvc", "repro", "--single-item", "report"]
        print("$ " + " ".join(report), flush=True)
        result = subprocess.run(report, env=environment_with_this_python())
    if result.returncode == 0:
        print(
            f"\n{profile} run finished. params.yaml says `profile: {profile}` (recorded as an experiment: "
            "`dvc exp show`); the rest of the file is unchanged. The full profile: "
            "`dvc exp run -S profile=full`."
        )
    return result.returncode


def command_archive(arguments: argparse.Namespace) -> int:
    import json

    from vaerepro.archive import (
        GIT_FILE_LIMIT,
        LEFT_OUT_FILE,
        ArchiveError,
        archive_profile,
        archived_profiles,
        check_archive,
    )

    repository = Path(arguments.params).resolve().parent
    if arguments.check:
        folders = archived_profiles(repository / "reports")
        problems = [problem for folder in folders for problem in check_archive(folder)]
        for folder in folders:
            print(f"{folder.relative_to(repository)}: checked against its dvc.lock")
        print("\n".join(problems) if problems else f"{len(folders)} archived profile(s), every file as recorded")
        return 1 if problems else 0
    try:
        folder = archive_profile(repository, arguments.part)
    except ArchiveError as error:
        print(f"vaerepro archive: {error}", file=sys.stderr)
        return 1
    files = sum(1 for path in folder.rglob("*") if path.is_file())
    print(
        f"archived {files} files in {folder.relative_to(repository)}; commit it with git (it is small: JSON and figures)"
    )
    listing = folder / LEFT_OUT_FILE
    if listing.is_file():
        left_out = json.loads(listing.read_text())
        print(
            f"left out (over {GIT_FILE_LIMIT >> 20} MiB, listed with their md5 in {LEFT_OUT_FILE}): {', '.join(left_out)}"
        )
    return 0


def command_device(arguments: argparse.Namespace) -> int:
    from vaerepro.device_batch.import_results import ImportRefused, import_batch
    from vaerepro.device_batch.limits import PACK_DIR
    from vaerepro.device_batch.pack import PackError, pack, run_command

    repository = Path(arguments.params).resolve().parent
    if arguments.action == "pack":
        try:
            manifest = pack(repository, arguments.experiments, profile=arguments.profile, minutes=arguments.minutes)
        except PackError as error:
            print(f"vaerepro device pack: {error}", file=sys.stderr)
            return 1
        size = manifest["size"]
        print(
            f"packed {len(manifest['experiments'])} experiments ({', '.join(manifest['experiments'])}) at profile "
            f"{manifest['profile']} into {PACK_DIR}/: {size['pack_bytes'] / 2**20:.1f} MiB, with the tracked files "
            f"{(size['pack_bytes'] + size['tracked_bytes']) / 2**20:.1f} MiB"
        )
        for name, why in manifest["left_out"].items():
            print(f"  left out {name}: {why}")
        print(f"on the GPU machine (carry {PACK_DIR}), run from the repository root:\n  {run_command()}")
        return 0
    try:
        result = import_batch(Path(arguments.folder), repository, commit=not arguments.no_commit)
    except ImportRefused as error:
        print(f"vaerepro device import: {error}", file=sys.stderr)
        return 1
    for row in result["timing"]:
        print(
            f"  {row['experiment']}: {row.get('steps', 0)} of {row['target_steps']} steps on {row.get('device')}"
            + ("" if row.get("returned", True) else f" (not returned: {row.get('not_returned_because')})")
        )
    names = " ".join(f"evaluate@{name}" for name in result["imported"])
    print(f"imported {len(result['imported'])} runs; evaluate them here: uv run dvc repro {names}")
    return 0


def command_datasets(arguments: argparse.Namespace) -> int:
    with reported_errors("vaerepro datasets"):
        params = load_params(arguments.params)
        for name in params.datasets:
            status = availability(name, params)
            print(f"{name:10s} {'yes' if status.obtainable else 'NO ':3s}  {status.how}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="vaerepro", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--params", default="params.yaml")
    commands = parser.add_subparsers(dest="command", required=True)
    smoke = commands.add_parser("smoke", help="run the smoke profile for every obtainable dataset")
    smoke.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="EXPERIMENT[,EXPERIMENT]",
        help="leave these experiments out (CI: those that run no code another experiment does not)",
    )
    smoke.set_defaults(run=command_smoke)
    cpu = commands.add_parser(
        "cpu", help="run the cpu profile (the CPU budget tier, ~2 h on 2 cores) for every obtainable dataset"
    )
    cpu.add_argument("--skip", action="append", default=[], metavar="EXPERIMENT[,EXPERIMENT]", help="leave these out")
    cpu.set_defaults(run=command_cpu)
    commands.add_parser("datasets", help="which datasets are obtainable here").set_defaults(run=command_datasets)
    device = commands.add_parser("device", help="the device batch: pack for a GPU machine, import what came back")
    actions = device.add_subparsers(dest="action", required=True)
    packing = actions.add_parser("pack", help="write device_pack/ (carry it to the GPU machine)")
    packing.add_argument("--experiments", nargs="*", default=None, help="default: every one whose data can travel")
    packing.add_argument("--profile", default="full")
    packing.add_argument("--minutes", type=float, default=8.0, help="wall time the run plans for")
    importing = actions.add_parser("import", help="put returned runs into models/ and dvc.lock")
    importing.add_argument("folder", help="the folder holding the files that came back from $OUT")
    importing.add_argument("--no-commit", action="store_true", help="place the files but leave dvc.lock as it is")
    device.set_defaults(run=command_device)
    archive = commands.add_parser("archive", help="keep this run's results in reports/profiles/<profile>/")
    archive.add_argument("--check", action="store_true", help="verify every archived file against its dvc.lock")
    archive.add_argument(
        "--part",
        default=None,
        metavar="NAME",
        help="archive as reports/profiles/<profile>.NAME/ beside the profile's folder (a chunk run in another checkout)",
    )
    archive.set_defaults(run=command_archive)
    arguments = parser.parse_args(argv)
    return arguments.run(arguments)


if __name__ == "__main__":
    sys.exit(main())
