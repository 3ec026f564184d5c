"""``vaerepro device pack``: everything a borrowed GPU machine needs, into ``device_pack/``.

What goes in (package docstring): the params as JSON at the chosen profile, the prepared arrays
of the training data (one xz archive per dataset, each file's sha256 in the manifest), the
pure-Python packages the machine may lack, and a manifest that pins code, params and data.

Which experiments: every trainable one whose training data fits the copy. MNIST's training
split is 7.5 MB compressed and CC15's photos 14 MB; CIFAR-10 (150 MB of arrays) and LOL
(270 MB) do not fit a 64 MiB copy beside the code, so their experiments train on the CPU tier
or on a user's own GPU (README, "GPU").
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from vaerepro.config import PROFILES, Params, load_params
from vaerepro.data.integrity import file_digests
from vaerepro.data.prepared import read_summary
from vaerepro.device_batch.limits import (
    DATASETS_JSON,
    DEFAULT_MINUTES,
    MANIFEST,
    MIB,
    PACK_DIR,
    PACK_LIMIT,
    PARAMS_JSON,
    RETURN_LIMIT,
    VENDOR_ARCHIVE,
)
from vaerepro.experiment.resolve import resolve
from vaerepro.models import model_class

RETURN_MARGIN = 4 * MIB  # logs, sample grids, summaries, the archive's own overhead
DEVICE_DATASETS = ("mnist", "cc15")  # training data small enough to travel (module docstring)
# Packages the machine may lack, carried as source (the run puts them last on the path, so an
# installed copy wins). bm3d/bm4d/pywt carry compiled code for this Python only: a machine
# with another Python skips the experiments that need BM3D (Zheng et al.) and says so.
VENDORED = ("tqdm", "pytorch_fid", "bm3d", "bm4d", "pywt")
VENDOR_SKIP = ("__pycache__", "tests", "libbm4d_mac.so", "libbm4d_mac_arm.so", "libbm4d_win.so")
NEEDS = {"zheng": ["bm3d"]}  # model → extra packages its training imports


class PackError(RuntimeError):
    """The pack cannot be made (unknown experiment, data not prepared, too large)."""


def python_tag() -> str:
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


def code_root() -> Path:
    """The checkout the vaerepro package is imported from (its src/ and pipeline/ travel)."""
    return Path(__file__).resolve().parents[3]


def _params_at(repository: Path, profile: str) -> tuple[Params, dict[str, Any], dict[str, Any]]:
    """The params at ``profile`` (typed) and both files as plain data (anchors expanded)."""
    import yaml

    if profile not in PROFILES:
        raise PackError(f"unknown profile {profile!r}; profiles are: {', '.join(PROFILES)}")
    raw = yaml.safe_load((repository / "params.yaml").read_text())
    datasets = yaml.safe_load((repository / "datasets.yaml").read_text())
    # The machine never downloads: no local copy; the data travels prepared.
    raw = {**raw, "profile": profile, "local_copy": None}
    params = load_params(repository / "params.yaml").with_profile(profile)
    return params, raw, datasets


def device_experiments(params: Params, repository: Path) -> list[str]:
    """Trainable experiments whose training data can travel and is prepared here."""
    names = []
    for name, entry in params.experiments.items():
        if entry.train_dataset not in DEVICE_DATASETS or not model_class(entry.model).trainable:
            continue
        if (repository / "data" / "prepared" / entry.train_dataset / "summary.json").is_file():
            names.append(name)
    return names


def weights_bytes(params: Params, name: str, repository: Path) -> int:
    """Bytes of the float32 weights the experiment's checkpoint brings back (its parameters and
    buffers, twice where the run keeps their moving average (``weight_ema``, which evaluation
    uses); the optimizer state stays on the machine)."""
    from vaerepro.models import build_model

    experiment = resolve(params, name, prepared_root=repository / "data" / "prepared")
    model = build_model(experiment.model, experiment.options, source="params.yaml", path=f"experiments.{name}.options")
    copies = 2 if experiment.train is not None and experiment.train.weight_ema is not None else 1
    return copies * sum(tensor.numel() * tensor.element_size() for tensor in model.state_dict().values())


def fit_return_limit(
    sizes: dict[str, int], limit: int = RETURN_LIMIT - RETURN_MARGIN
) -> tuple[list[str], dict[str, str]]:
    """The experiments whose weights come back within ``limit``, in order, and why the rest do not.

    Weights barely compress, so their sum is what the return costs; logs and sample grids fit
    in the margin. Taken in params.yaml order, so the first experiments of a family go first.
    """
    kept, left_out, total = [], {}, 0
    for name, size in sizes.items():
        if total + size <= limit:
            kept.append(name)
            total += size
        else:
            left_out[name] = (
                f"its weights ({size / MIB:.1f} MiB) would not come back: {total / MIB:.1f} of "
                f"{limit / MIB:.0f} MiB already taken"
            )
    return kept, left_out


def _training_split(params: Params, name: str, repository: Path) -> tuple[str, str]:
    """(dataset, split) the experiment trains on."""
    experiment = resolve(params, name, prepared_root=repository / "data" / "prepared")
    if experiment.restoration is not None and experiment.restoration.data.train is not None:
        return params.experiments[name].train_dataset, experiment.restoration.data.train.split
    return params.experiments[name].train_dataset, "train"


def _add_filtered(archive: tarfile.TarFile, source: Path, name: str) -> None:
    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        return None if any(part in VENDOR_SKIP for part in Path(info.name).parts) else info

    archive.add(source, arcname=name, filter=keep)


def _vendor(pack_dir: Path) -> dict[str, Any]:
    """Archive the :data:`VENDORED` packages installed here, for the machine's path."""
    tag = python_tag()
    path = pack_dir / VENDOR_ARCHIVE.format(tag=tag)
    packages = []
    with tarfile.open(path, "w:xz", preset=6) as archive:
        for package in VENDORED:
            spec = find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                continue
            _add_filtered(archive, Path(next(iter(spec.submodule_search_locations))), package)
            packages.append(package)
    return {"archive": path.name, "python_tag": tag, "packages": packages}


def tracked_size(root: Path) -> int:
    """Bytes of the files the copy carries besides the pack: git's tracked and unignored files."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0
    files = [root / name for name in listed.decode().split("\0") if name and not name.startswith(PACK_DIR + "/")]
    return sum(path.stat().st_size for path in files if path.is_file())


def pack(
    repository: Path,
    experiments: list[str] | None = None,
    *,
    profile: str = "full",
    minutes: float = DEFAULT_MINUTES,
    output: Path | None = None,
) -> dict[str, Any]:
    """Write ``device_pack/`` (or ``output``) for ``experiments`` (default: all that can travel).

    Returns the manifest. Raises:
        PackError: an experiment cannot travel, its data is not prepared, or the copy would
            exceed the limit (names the sizes).
    """
    from vaerepro.experiment.train import code_fingerprint
    from vaerepro.revision import code_revision

    repository = Path(repository).resolve()
    params, raw, datasets_raw = _params_at(repository, profile)
    available = device_experiments(params, repository)
    names = available if experiments is None else list(experiments)
    left_out: dict[str, str] = {}
    for name in names:
        if name not in params.experiments:
            raise PackError(f"no experiment {name!r} in params.yaml")
        if name not in available:
            entry = params.experiments[name]
            raise PackError(
                f"{name} cannot travel: it trains on {entry.train_dataset} (the batch carries "
                f"{', '.join(DEVICE_DATASETS)}; run `dvc repro prepare@{entry.train_dataset}` first if that is it) "
                "or is a classical method"
            )
    if not names:
        raise PackError("no experiment to pack: prepare mnist or cc15 first (`uv run dvc repro prepare@mnist`)")
    sizes = {name: weights_bytes(params, name, repository) for name in names}
    names, left_out = fit_return_limit(sizes)
    if experiments is not None and left_out:
        raise PackError("; ".join(f"{name}: {why}" for name, why in left_out.items()))
    pack_dir = (output or repository / PACK_DIR).resolve()
    if pack_dir.exists():
        shutil.rmtree(pack_dir)
    pack_dir.mkdir(parents=True)
    (pack_dir / PARAMS_JSON).write_text(json.dumps(raw, indent=1, sort_keys=False))
    (pack_dir / DATASETS_JSON).write_text(json.dumps(datasets_raw, indent=1, sort_keys=False))
    load_params(pack_dir / PARAMS_JSON)  # the JSON reads back as the same valid params

    splits: dict[str, set[str]] = {}
    entries: dict[str, Any] = {}
    for name in names:
        dataset, split = _training_split(params, name, repository)
        splits.setdefault(dataset, set()).add(split)
        experiment = resolve(params, name, prepared_root=repository / "data" / "prepared")
        entries[name] = {
            "model": experiment.model,
            "train_dataset": dataset,
            "params_entry": experiment.params_entry,
            "steps": experiment.train.steps if experiment.train else 0,
            "needs": NEEDS.get(experiment.model, []),
            "weights_bytes": sizes[name],
        }
    datasets: dict[str, Any] = {}
    for dataset, names_of_splits in sorted(splits.items()):
        prepared = repository / "data" / "prepared" / dataset
        members = [prepared / "summary.json"] + [
            path
            for split in sorted(names_of_splits)
            for path in sorted((prepared / split).rglob("*"))
            if path.is_file()
        ]
        archive_name = f"data-{dataset}.tar.xz"
        with tarfile.open(pack_dir / archive_name, "w:xz", preset=1) as archive:  # fast; ~10 % larger than 6
            for path in members:
                archive.add(path, arcname=f"{dataset}/{path.relative_to(prepared).as_posix()}")
        datasets[dataset] = {
            "archive": archive_name,
            "dataset_sha256": read_summary(prepared)["sha256"],
            "splits": sorted(names_of_splits),
            "files": {
                f"{dataset}/{path.relative_to(prepared).as_posix()}": file_digests(path, ("sha256",))["sha256"]
                for path in members
            },
        }
    manifest = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "profile": profile,
        "seed": params.seed,
        "minutes": minutes,
        "git_revision": code_revision(code_root()),
        "code_sha256": code_fingerprint(code_root()),
        "python": platform.python_version(),
        "experiments": entries,
        "left_out": left_out,
        "datasets": datasets,
        "vendor": _vendor(pack_dir),
    }
    (pack_dir / MANIFEST).write_text(json.dumps(manifest, indent=1))
    pack_bytes = sum(path.stat().st_size for path in pack_dir.rglob("*") if path.is_file())
    code_bytes = tracked_size(code_root())
    manifest["size"] = {"pack_bytes": pack_bytes, "tracked_bytes": code_bytes}
    (pack_dir / MANIFEST).write_text(json.dumps(manifest, indent=1))
    if pack_bytes + code_bytes > PACK_LIMIT:
        raise PackError(
            f"the copy would carry {(pack_bytes + code_bytes) / MIB:.1f} MiB (pack {pack_bytes / MIB:.1f} MiB, "
            f"tracked files {code_bytes / MIB:.1f} MiB), over the {PACK_LIMIT / MIB:.0f} MiB allowed: pack fewer "
            "experiments (--experiments) so fewer datasets travel"
        )
    return manifest


def run_command(pack_dir: str = PACK_DIR) -> str:
    """The one command line for the machine (run from the repository root of the copy)."""
    return f'PYTHONPATH=src python -m vaerepro.device_batch.run --pack {pack_dir} --out "$OUT"'
