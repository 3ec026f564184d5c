"""One code revision for checkpoints and records: dirty only when code differs from HEAD."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vaerepro.revision import code_revision


def test_revision_is_dirty_for_code_changes_only(tmp_path: Path):
    def git(*arguments: str) -> str:
        return subprocess.run(
            ["git", *arguments], cwd=tmp_path, capture_output=True, text=True, check=True
        ).stdout.strip()

    git("init", "-q")
    for name in ("src/vaerepro/a.py", "params.yaml", "dvc.lock", "reports/x.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("v1\n")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    head = git("rev-parse", "HEAD")
    assert code_revision(tmp_path) == head
    for name in ("params.yaml", "dvc.lock", "reports/x.json"):  # what a pipeline run rewrites
        (tmp_path / name).write_text("v2\n")
    assert code_revision(tmp_path / "reports") == head
    (tmp_path / "src/vaerepro/a.py").write_text("v2\n")
    assert code_revision(tmp_path) == f"{head}-dirty"
    assert code_revision(tmp_path.parent) == "unknown"  # not a git checkout


def test_checkpoint_and_its_metrics_record_carry_the_same_revision(tmp_path: Path, monkeypatch):
    """Both call code_revision() of the checkout vaerepro runs from, wherever params.yaml and the
    working directory are (here a folder outside any git checkout)."""
    from tests.test_restoration_pipeline import PAIRS, params_with, write_paired
    from vaerepro.experiment import resolve
    from vaerepro.experiment.provenance import provenance_for
    from vaerepro.experiment.train import train_experiment
    from vaerepro.training import read_checkpoint

    monkeypatch.chdir(tmp_path)
    assert code_revision(tmp_path) == "unknown"
    write_paired(tmp_path / "data" / "prepared")
    entry = {
        "model": "gamma",
        "dataset": "lol",
        "train_dataset": "lol",
        "restoration": {"test": PAIRS["test"]},
        "evaluate": {"smoke": {"test_count": 2}},
    }
    params = params_with(tmp_path, {"gamma-lol": entry})
    experiment = resolve(params, "gamma-lol")
    result = train_experiment(experiment, params, tmp_path / "models" / "gamma-lol")
    checkpoint = read_checkpoint(result.checkpoint_path)
    record = provenance_for(experiment, params, result.checkpoint_path, evaluate_seconds=1.0)
    assert checkpoint["git_revision"] == record["git_revision"] == code_revision()
    # the classical method's checkpoint has the keys it always had (no run identity)
    assert list(checkpoint) == [
        "format",
        "format_version",
        "model_name",
        "model_options",
        "model_state",
        "step",
        "phase",
        "total_steps",
        "settings",
        "optimizers",
        "grad_scaler",
        "rng",
        "seed",
        "device",
        "precision",
        "git_revision",
        "torch_version",
        "created",
        "metrics",
    ]


def test_the_revision_is_defined_once():
    """Only vaerepro.revision asks git for the revision; nothing else defines its own."""
    root = Path(__file__).resolve().parents[1]
    sources = [*(root / "src").rglob("*.py"), *(root / "pipeline").rglob("*.py")]
    asking = sorted(
        str(path.relative_to(root))
        for path in sources
        if "rev-parse" in path.read_text() or "def git_revision" in path.read_text()
    )
    assert asking == ["src/vaerepro/revision.py"]
