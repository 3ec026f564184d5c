"""The OpenMP wait policy (vaerepro.threads): set before torch loads, the user's choice kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"
PIPELINE = Path(__file__).resolve().parents[1] / "pipeline"


def policy_seen(code: str, **environment: str) -> str:
    """What ``OMP_WAIT_POLICY`` a fresh interpreter has after running ``code`` (which imports vaerepro)."""
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    env.update(environment, PYTHONPATH=str(SOURCE))
    result = subprocess.run(
        [sys.executable, "-c", code + "\nimport os; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_importing_the_package_sets_passive_before_torch_loads() -> None:
    # The first module any stage imports is one of the package's: torch comes after the policy.
    assert policy_seen("import vaerepro.cli_errors") == "PASSIVE"


def test_the_users_choice_wins() -> None:
    assert policy_seen("import vaerepro", OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"


def test_no_policy_is_claimed_once_torch_is_loaded() -> None:
    # libgomp has read its environment already: setting the variable now would only mislead.
    assert policy_seen("import torch, vaerepro") == "unset"


@pytest.mark.parametrize("script", sorted(path.name for path in PIPELINE.glob("*.py")))
def test_no_stage_script_imports_torch_before_the_package(script: str) -> None:
    # The import sorter puts third-party imports before the project's, so a stage script that
    # imported torch itself would load libgomp before the package set the policy: stage
    # scripts reach torch only through the package's modules.
    lines = [line for line in (PIPELINE / script).read_text().splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in lines if line.split()[1].split(".")[0] == "torch"], script
