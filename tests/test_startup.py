"""Stage start-up stays light: determinism without the compiler stack, optional libraries lazy.

Each check runs in a fresh interpreter (the test process has imported everything already), and
none is timed: it asserts which modules a stage loads, so a regression fails on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from vaerepro.training.seeding import seed_everything

REPOSITORY = Path(__file__).resolve().parents[1]
PIPELINE = REPOSITORY / "pipeline"

# torch.compile's stack: importing it costs about a second (dynamo, inductor, sympy, triton).
COMPILER_MODULES = ("torch._dynamo", "torch._inductor")
# Libraries only some code paths of a stage use; each costs 30-300 ms to import.
OPTIONAL_LIBRARIES = ("scipy", "skimage", "matplotlib", "bm3d", "dvclive")
# The report stage always draws its figures, so matplotlib is no lazy candidate there.
ALWAYS_USED = {"report.py": {"matplotlib"}}


def run_python(code: str, environment: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh interpreter of this environment; it prints one JSON document."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPOSITORY / "src"), str(REPOSITORY)])
    env.pop("TORCHINDUCTOR_DETERMINISTIC", None)
    env.update(environment or {})
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=REPOSITORY, env=env
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_seed_everything_turns_on_deterministic_algorithms_in_warn_only_mode():
    seed_everything(0)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert not torch.backends.cudnn.benchmark


def test_seed_everything_leaves_the_compiler_unimported_but_makes_a_later_compile_deterministic():
    found = run_python(
        "import json, os, sys\n"
        "from vaerepro.training.seeding import seed_everything\n"
        "seed_everything(3)\n"
        f"loaded = [name for name in {COMPILER_MODULES!r} if name in sys.modules]\n"
        "import torch._inductor.config as inductor_config\n"
        "print(json.dumps({'loaded': loaded, 'inductor_deterministic': inductor_config.deterministic,\n"
        "                  'environment': os.environ.get('TORCHINDUCTOR_DETERMINISTIC')}))\n"
    )
    assert found == {"loaded": [], "inductor_deterministic": True, "environment": "1"}


def test_seed_everything_sets_the_flag_of_an_already_imported_inductor_config():
    found = run_python(
        "import json\n"
        "import torch._inductor.config as inductor_config\n"
        "from vaerepro.training.seeding import seed_everything\n"
        "before = inductor_config.deterministic\n"
        "seed_everything(3)\n"
        "print(json.dumps([before, inductor_config.deterministic]))\n"
    )
    assert found == [False, True]


def test_importing_the_stage_scripts_loads_neither_the_compiler_nor_optional_libraries():
    """Each script's module (its imports, not main) in one interpreter, in turn.

    A module stays loaded once imported, so the first script that pulls in a library is the one
    blamed; the report stage (which may load matplotlib) goes last so it shadows no other stage.
    """
    scripts = sorted(path.name for path in PIPELINE.glob("*.py"))
    scripts.sort(key=lambda name: name in ALWAYS_USED)
    watched = COMPILER_MODULES + OPTIONAL_LIBRARIES
    found = run_python(
        "import json, runpy, sys\n"
        "first_loaded_by = {}\n"
        f"for script in {scripts!r}:\n"
        f"    runpy.run_path({str(PIPELINE)!r} + '/' + script, run_name='imported_for_a_test')\n"
        f"    for name in {watched!r}:\n"
        "        if name in sys.modules:\n"
        "            first_loaded_by.setdefault(name, script)\n"
        "print(json.dumps(first_loaded_by))\n"
    )
    unexpected = {name: script for name, script in found.items() if name not in ALWAYS_USED.get(script, set())}
    assert unexpected == {}, f"imported at start-up (make the import lazy in the function that uses it): {unexpected}"
