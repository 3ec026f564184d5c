"""One code revision for checkpoints and records: dirty only when code differs from HEAD."""

from __future__ import annotations

import subprocess
from pathlib import Path

from vaerepro.revision import code_revision


def test_revision_is_dirty_for_code_changes_only(tmp_path: Path):
    def git(*arguments: str) -> str:
        return subprocess.run(["git", *arguments], cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()

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
