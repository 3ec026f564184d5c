"""The OpenMP wait policy (vaerepro.threads): PASSIVE on a busy machine, set before torch loads,
the user's choice kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vaerepro.threads import choose_wait_policy, other_running_processes

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


@pytest.mark.parametrize(
    ("environment", "torch_loaded", "others", "expected"),
    [
        ({}, False, 0, None),  # alone: libgomp's spinning default is the fastest
        ({}, False, 1, "PASSIVE"),  # another process running: sleep at once
        ({}, False, None, None),  # load unknown (no /proc): leave the default
        ({"OMP_WAIT_POLICY": "ACTIVE"}, False, 3, None),  # the user's choice wins
        ({}, True, 3, None),  # libgomp has read its environment already
    ],
)
def test_the_policy_follows_the_load_and_the_users_choice(environment, torch_loaded, others, expected):
    assert choose_wait_policy(environment, torch_loaded, others) == expected


def test_running_processes_are_read_from_loadavg_without_this_one(tmp_path):
    load = tmp_path / "loadavg"
    load.write_text("2.12 2.06 1.72 3/79 31993\n")
    assert other_running_processes(str(load)) == 2
    load.write_text("0.10 0.20 0.30 1/79 31993\n")
    assert other_running_processes(str(load)) == 0
    load.write_text("garbled\n")
    assert other_running_processes(str(load)) is None
    assert other_running_processes(str(tmp_path / "absent")) is None


def test_importing_the_package_decides_before_torch_loads():
    # The first module any stage imports is one of the package's; a user's choice is kept.
    assert policy_seen("import vaerepro.cli_errors", OMP_WAIT_POLICY="ACTIVE") == "ACTIVE"
    seen = policy_seen("import vaerepro.cli_errors")
    assert seen in ("PASSIVE", "unset")  # depends on this machine's load while the test runs


def test_no_policy_is_claimed_once_torch_is_loaded():
    # libgomp has read its environment already: setting the variable now would only mislead.
    assert policy_seen("import torch, vaerepro") == "unset"


@pytest.mark.parametrize("script", sorted(path.name for path in PIPELINE.glob("*.py")))
def test_no_stage_script_imports_torch_before_the_package(script: str) -> None:
    # The import sorter puts third-party imports before the project's, so a stage script that
    # imported torch itself would load libgomp before the package set the policy: stage
    # scripts reach torch only through the package's modules.
    lines = [line for line in (PIPELINE / script).read_text().splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in lines if line.split()[1].split(".")[0] == "torch"], script
