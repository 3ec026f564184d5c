"""``vaerepro device import <folder>``: returned runs into ``models/`` and ``dvc.lock``, checked.

The folder holds what came back from ``$OUT`` (``results.tar.xz.partNN``, ``timing.json``,
``checks.json``, ``run.log``). For each returned experiment the import proves that it ran this
checkout's code, params and data before it places anything:

* the code: the checkpoint's ``identity.code_sha256`` equals :func:`code_fingerprint` here (the
  training scripts and everything they import);
* the params: the experiment's params entry in the manifest equals params.yaml's here, and the
  profile in params.yaml is the batch's (import into a checkout whose params.yaml says
  ``profile: full``; README "GPU");
* the data: the checkpoint's ``identity.train_data_sha256`` and the manifest's dataset sha256
  equal ``data/prepared/<dataset>/summary.json``'s here.

Then ``models/<experiment>/`` is replaced by the returned folder (checkpoint, train summary with
the device batch's device and wall time, logs), and ``dvc commit -f train@<experiment>``
records it in ``dvc.lock`` with the params, code fingerprint and data hashes of this checkout,
which the checks above showed to be the ones it ran with. ``dvc repro evaluate@<experiment>``
then evaluates it here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from vaerepro.data.integrity import atomic_directory
from vaerepro.device_batch.limits import CHECKS, MANIFEST, RESULTS_ARCHIVE, TIMING
from vaerepro.device_batch.run import _safe_extract


class ImportRefused(RuntimeError):
    """A returned run does not match this checkout (names what differs), or nothing came back."""


def _plain(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def extract_returned(folder: Path, scratch: Path) -> Path:
    """Join the parts and extract them into ``scratch``; return the extracted folder."""
    parts = sorted(folder.glob(f"{RESULTS_ARCHIVE}.part*"))
    if not parts:
        raise ImportRefused(f"no {RESULTS_ARCHIVE}.partNN files in {folder}: nothing came back from the run")
    joined = scratch / RESULTS_ARCHIVE
    with joined.open("wb") as handle:
        for part in parts:
            handle.write(part.read_bytes())
    target = scratch / "returned"
    _safe_extract(joined, target)
    return target


def check_run(name: str, returned: Path, manifest: dict[str, Any], repository: Path) -> list[str]:
    """What differs between the returned run of ``name`` and this checkout (empty: it matches)."""

    from vaerepro.config import load_params
    from vaerepro.data.prepared import read_summary
    from vaerepro.experiment.resolve import resolve
    from vaerepro.experiment.train import code_fingerprint
    from vaerepro.training.checkpoints import read_checkpoint

    problems = []
    params = load_params(repository / "params.yaml")
    if params.profile != manifest["profile"]:
        problems.append(
            f"params.yaml says profile {params.profile!r}, the batch ran {manifest['profile']!r}: import into a "
            f"checkout whose params.yaml says `profile: {manifest['profile']}`"
        )
        params = params.with_profile(manifest["profile"])
    entry = manifest["experiments"][name]
    if name not in params.experiments:
        return problems + [f"{name}: no such experiment in params.yaml here"]
    here = resolve(params, name, prepared_root=repository / "data" / "prepared")
    if _plain(here.params_entry) != _plain(entry["params_entry"]):
        problems.append(f"{name}: its params entry differs from the one the batch ran (params.yaml edited since pack)")
    checkpoint = read_checkpoint(returned / "models" / name / "checkpoint.pt", map_location="cpu")
    identity = checkpoint.get("identity", {})
    code_here = code_fingerprint(Path(__file__).resolve().parents[3])
    if identity.get("code_sha256") != code_here:
        problems.append(
            f"{name}: trained with code {str(identity.get('code_sha256'))[:12]}, this checkout's is {code_here[:12]} "
            f"(the batch was packed at {manifest.get('git_revision')})"
        )
    summary_path = repository / "data" / "prepared" / entry["train_dataset"]
    data_here = read_summary(summary_path)["sha256"] if (summary_path / "summary.json").is_file() else None
    packed = manifest["datasets"][entry["train_dataset"]]["dataset_sha256"]
    if data_here is None:
        problems.append(f"{name}: data/prepared/{entry['train_dataset']} is not prepared here (dvc repro prepare@...)")
    elif not (data_here == packed == identity.get("train_data_sha256")):
        problems.append(
            f"{name}: trained on data {str(identity.get('train_data_sha256'))[:12]} (packed {packed[:12]}), "
            f"data/prepared/{entry['train_dataset']} here is {data_here[:12]}"
        )
    return problems


def import_batch(folder: Path, repository: Path, *, commit: bool = True) -> dict[str, Any]:
    """Import every returned experiment of ``folder`` into ``repository`` (module docstring).

    Returns {"imported": [...], "timing": rows, "checks": ...}. Raises:
        ImportRefused: any returned run differs from this checkout (nothing is placed then).
    """
    folder, repository = Path(folder).resolve(), Path(repository).resolve()
    with tempfile.TemporaryDirectory(prefix="vaerepro-import-") as scratch_name:
        returned = extract_returned(folder, Path(scratch_name))
        manifest = json.loads((returned / MANIFEST).read_text())
        timing = json.loads((folder / TIMING).read_text()) if (folder / TIMING).is_file() else {"rows": []}
        names = sorted(path.name for path in (returned / "models").iterdir()) if (returned / "models").is_dir() else []
        if not names:
            raise ImportRefused("the run returned no checkpoint (timing.json and run.log say why)")
        problems = [problem for name in names for problem in check_run(name, returned, manifest, repository)]
        if problems:
            raise ImportRefused(
                "not imported, the returned runs differ from this checkout:\n  " + "\n  ".join(problems)
            )
        rows = {row["experiment"]: row for row in timing.get("rows", [])}
        for name in names:
            source = returned / "models" / name
            summary_path = source / "train_summary.json"
            summary = json.loads(summary_path.read_text())
            row = rows.get(name, {})
            summary["device_batch"] = {
                "device": row.get("device", summary.get("device")),
                "wall_seconds": summary.get("wall_seconds"),
                "packed_at": manifest.get("git_revision"),
                "packed": manifest.get("created"),
                "optimizer_state_returned": False,
            }
            summary_path.write_text(json.dumps(summary, indent=2, sort_keys=True))
            with atomic_directory(repository / "models" / name) as staging:
                shutil.copytree(source, staging, dirs_exist_ok=True)
        samples = returned / "samples"
        if samples.is_dir():
            destination = repository / "reports" / "device_batch" / "samples"
            shutil.rmtree(destination, ignore_errors=True)
            shutil.copytree(samples, destination)
    if commit:
        command = ["dvc", "commit", "-f", *(f"train@{name}" for name in names)]
        subprocess.run(command, cwd=repository, check=True)
    checks = json.loads((folder / CHECKS).read_text()) if (folder / CHECKS).is_file() else {}
    return {"imported": names, "timing": timing.get("rows", []), "checks": checks}
