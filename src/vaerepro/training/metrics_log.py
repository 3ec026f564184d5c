"""dvclive logging of training curves, robust to resume and to a repository without commits.

dvclive is told not to save a DVC experiment and not to write ``dvc.yaml`` (the pipeline's
``dvc.yaml`` declares the plots itself), so logging works in any directory, git repository
or not. On resume, history rows logged after the checkpoint being resumed from (a run that
died between checkpoints) are dropped, so every step appears once.

Where dvclive is not installed (a borrowed GPU machine that has only torch and numpy, see
:mod:`vaerepro.device_batch`), :class:`PlainLive` writes the same files dvclive does
(``plots/metrics/<name>.tsv`` with ``step`` and the value, ``metrics.json`` with the latest
values nested by ``/``, ``params.yaml``), so the curves and figures come out the same.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _parses(row: dict[str, str | None]) -> bool:
    """Every field of a history row is a number (a logged NaN or inf included): the row is whole."""
    try:
        return all(value is not None and (float(value) or True) for value in row.values())
    except ValueError:
        return False


def truncate_history(log_dir: Path, last_step: int) -> None:
    """Make ``log_dir`` resumable at ``last_step``: drop history rows after it and what a kill left broken.

    Rows with ``step > last_step`` go (the run died between checkpoints and will log those
    steps again). A process killed while writing (``kill -9``, a lost machine) can leave a
    history's last row cut short and ``metrics.json`` half written: such rows are dropped and
    such a ``metrics.json`` removed (dvclive reads it on resume and fails on broken JSON; the
    next logged step writes it again).
    """
    for history in Path(log_dir).glob("plots/metrics/**/*.tsv"):
        with history.open(newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
            fields = list(rows[0].keys()) if rows else None
        if not fields:
            continue
        kept = [row for row in rows if _parses(row) and int(float(row["step"])) <= last_step]
        if len(kept) == len(rows):
            continue
        temporary = history.with_suffix(".tsv.tmp")
        with temporary.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields, delimiter="\t")
            writer.writeheader()
            writer.writerows(kept)
        temporary.replace(history)
    latest = Path(log_dir) / "metrics.json"
    if latest.exists():
        try:
            json.loads(latest.read_text())
        except (ValueError, UnicodeDecodeError):
            latest.unlink()


class MetricsLogger:
    """Logs ``train/<term>`` metrics at given steps to ``log_dir`` with dvclive."""

    def __init__(self, log_dir: str | Path, *, resume_from_step: int | None) -> None:
        self.log_dir = Path(log_dir)
        resume = resume_from_step is not None and self.log_dir.exists()
        if resume:
            truncate_history(self.log_dir, resume_from_step)
        try:  # imported here: dvclive is slow to import and only needed when logging
            from dvclive import Live
        except ImportError:
            self.live: Any = PlainLive(self.log_dir, resume=resume)
        else:
            self.live = Live(dir=str(self.log_dir), resume=resume, save_dvc_exp=False, dvcyaml=False, report=None)

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.live.log_params(dict(params))

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        self.live.step = step
        for name, value in metrics.items():
            self.live.log_metric(f"train/{name}", value)
        self.live.next_step()

    def close(self) -> None:
        self.live.end()


class PlainLive:
    """The part of dvclive's ``Live`` the logger uses, writing dvclive's file layout (module doc)."""

    def __init__(self, log_dir: Path, *, resume: bool) -> None:
        self.log_dir = Path(log_dir)
        self.step = 0
        self.latest: dict[str, float] = {}
        if not resume:
            for history in self.log_dir.glob("plots/metrics/**/*.tsv"):
                history.unlink()
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def log_params(self, params: Mapping[str, Any]) -> None:
        # Scalars only (what the loop logs), one `key: value` per line: valid YAML.
        lines = [f"{key}: {json.dumps(value)}" for key, value in params.items()]
        (self.log_dir / "params.yaml").write_text("\n".join(lines) + "\n")

    def log_metric(self, name: str, value: float) -> None:
        history = self.log_dir / "plots" / "metrics" / f"{name}.tsv"
        history.parent.mkdir(parents=True, exist_ok=True)
        new = not history.exists()
        with history.open("a", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            if new:
                writer.writerow(["step", Path(name).name])
            writer.writerow([self.step, value])
        self.latest[name] = float(value)

    def next_step(self) -> None:
        nested: dict[str, Any] = {}
        for name, value in self.latest.items():
            *parents, leaf = name.split("/")
            node = nested
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = value
        nested["step"] = self.step
        (self.log_dir / "metrics.json").write_text(json.dumps(nested, indent=4))

    def end(self) -> None:
        pass
