"""Shared test helpers: a params.yaml built from the repository's own, pointed at fixtures."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from vaerepro.config import Params, load_params

REPOSITORY = Path(__file__).resolve().parents[1]


def repository_params() -> dict:
    return yaml.safe_load((REPOSITORY / "params.yaml").read_text())


@pytest.fixture
def write_params(tmp_path: Path) -> Callable[..., Params]:
    """Write a params.yaml into tmp_path (repo params + overrides) and load it.

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
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        return load_params(path)

    return build
