"""The code revision recorded with every checkpoint and metrics record (one definition).

``<sha>`` is ``git rev-parse HEAD``; ``-dirty`` is appended when a tracked file that can change
a number differs from that commit: the code and its environment (``src/``, ``pipeline/``,
``dvc.yaml``, ``pyproject.toml``, ``uv.lock``). Files a pipeline run itself rewrites
(``params.yaml`` during ``vaerepro smoke``, ``dvc.lock``, the committed ``reports/``) do not make
a run dirty: their state is recorded by ``dvc.lock`` and the records themselves. ``unknown``
outside a git checkout.

Every record of a revision calls :func:`code_revision` with no argument: checkpoints
(:func:`vaerepro.training.checkpoints.write_checkpoint`), metrics records
(:func:`vaerepro.experiment.provenance.provenance_for`) and FID reference records
(``pipeline/fid_reference.py``). No argument means the checkout the running ``vaerepro`` was
imported from, not the working directory or the folder of ``params.yaml``, so a checkpoint and
the metrics record made from it cannot disagree.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

CODE_PATHS = ("src", "pipeline", "dvc.yaml", "pyproject.toml", "uv.lock")


def _git(arguments: list[str], root: Path) -> str:
    return subprocess.run(
        ["git", *arguments], cwd=root, capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()


def code_revision(root: Path | None = None) -> str:
    """``<sha>``, ``<sha>-dirty`` (code differs from HEAD) or ``unknown``."""
    root = Path(__file__).resolve().parent if root is None else Path(root)
    try:
        top = Path(_git(["rev-parse", "--show-toplevel"], root))
        revision = _git(["rev-parse", "HEAD"], top)
        changed = _git(["status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS], top)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{revision}-dirty" if changed else revision
