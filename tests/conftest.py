"""Shared test helpers: params files built from the repository's own, pointed at fixtures.

The repository keeps its params in two files, ``params.yaml`` and the dataset registry
``datasets.yaml`` beside it. Tests edit them as one dict (:func:`repository_params`, with the
registry under ``datasets``) and write them back split (:func:`write_params_files`).
"""

from __future__ import annotations

import os

# pyproject runs pytest with two xdist workers (-n 2) for CI's 2 cores. Each worker's torch would
# start one OpenMP thread per core: 4 spinning threads on 2 cores, which makes torch several
# times slower (issue 18 measured a conv-VAE step at 904 ms contended vs 115 ms). One thread per
# worker, set before anything imports torch; an explicit OMP_NUM_THREADS still wins.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from vaerepro.config import DATASETS_FILE, Params, load_params

REPOSITORY = Path(__file__).resolve().parents[1]


def repository_params() -> dict:
    """params.yaml and datasets.yaml of the repository as one dict (anchors expanded)."""
    raw = yaml.safe_load((REPOSITORY / "params.yaml").read_text())
    return raw | yaml.safe_load((REPOSITORY / DATASETS_FILE).read_text())


def write_params_files(directory: Path, raw: dict) -> Path:
    """Write ``raw`` as params.yaml (all but ``datasets``) and datasets.yaml (``datasets``, when
    present) into ``directory``; return the params.yaml path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump({key: value for key, value in raw.items() if key != "datasets"}, sort_keys=False))
    if "datasets" in raw:
        (directory / DATASETS_FILE).write_text(yaml.safe_dump({"datasets": raw["datasets"]}, sort_keys=False))
    return path


@pytest.fixture
def write_params(tmp_path: Path) -> Callable[..., Params]:
    """Write the params files into tmp_path (repo params + overrides) and load them.

    ``datasets`` overrides are merged per dataset. The repository's per-file checksum
    manifests are dropped unless ``keep_manifests``.
    """

    def build(
        local_copy: str | None = "local", datasets: dict | None = None, keep_manifests: bool = False, **top_level
    ) -> Params:
        raw = copy.deepcopy(repository_params())
        raw["local_copy"] = local_copy
        for name, section in raw["datasets"].items():
            # Fixtures reuse real file names, so the real manifests would (rightly) reject them.
            if section.get("checksum_manifest"):
                manifest = REPOSITORY / section["checksum_manifest"]
                section["checksum_manifest"] = str(manifest) if keep_manifests else None
            section.update((datasets or {}).get(name, {}))
        raw.update(top_level)
        return load_params(write_params_files(tmp_path, raw))

    return build
