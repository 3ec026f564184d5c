"""Stage ``train@<experiment>``: train the experiment's model on its prepared dataset.

Writes models/<experiment>/ (checkpoint.pt, dvclive/ training curves). Reads params:
``seed``, ``profile``, ``experiments.<experiment>``. A long run can go in chunks outside DVC
(``python pipeline/train.py <experiment> --stop-at-step N``, repeated: it resumes) and be
recorded afterwards with ``dvc commit train@<experiment>``; ``dvc repro`` after an interruption
resumes from the last checkpoint too (models/<experiment> is a persistent output). With
``train.<profile>.processes: N > 1`` it runs itself again under ``torchrun`` as N processes
(vaerepro.training.distributed); started by torchrun (on several machines), it joins its group.
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from vaerepro.cli_errors import reported_errors
from vaerepro.config import load_params
from vaerepro.experiment import resolve
from vaerepro.experiment.device_guard import guard_full_profile
from vaerepro.experiment.train import train_experiment
from vaerepro.training.distributed import SINGLE, join_from_environment, leave, torchrun_command, under_torchrun


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiment")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--models-root", type=Path, default=Path("models"))
    parser.add_argument("--stop-at-step", type=int, default=None, help="end this call at this step (resume later)")
    parser.add_argument(
        "--time-limit", type=float, default=None, metavar="SECONDS", help="end this call after this wall time"
    )
    parser.add_argument(
        "--deadline", type=float, default=None, metavar="UNIX_TIME", help="end this call by this time (device batch)"
    )
    arguments = parser.parse_args()
    group = SINGLE
    with reported_errors(f"train@{arguments.experiment}"):
        params = load_params(arguments.params)
        guard_full_profile(params, f"train@{arguments.experiment}")  # full profile without a GPU: stop, say why
        experiment = resolve(params, arguments.experiment)
        processes = experiment.train.processes if experiment.train else 1
        if processes > 1 and not under_torchrun():
            # A group on this machine: the same command under torchrun (several machines: start
            # torchrun on each yourself, README "GPU"). Its exit status is this stage's.
            command = torchrun_command(processes, __file__, sys.argv[1:])
            print(f"train@{arguments.experiment}: {processes} processes: " + " ".join(command), flush=True)
            sys.exit(subprocess.run(command).returncode)
        group = join_from_environment()
        # Under DVC (which sets DVC_STAGE) a finished run in the persistent output is started over:
        # DVC re-runs a stage only when something it depends on changed.
        result = train_experiment(
            experiment,
            params,
            arguments.models_root / arguments.experiment,
            stop_at_step=arguments.stop_at_step,
            restart_if_complete="DVC_STAGE" in os.environ,
            time_limit_seconds=time_limit(arguments.time_limit, arguments.deadline),
            group=group,
        )
    leave(group)
    if not group.primary:
        return
    print(
        f"train@{arguments.experiment}: step {result.step}/{experiment.train.steps if experiment.train else 0} on {result.device} "
        f"({result.precision}) in {result.wall_seconds:.1f} s, {result.steps_per_second:.1f} steps/s; "
        f"last losses {result.metrics}"
    )
    if result.time_limited:  # asked for: a time-boxed run keeps what it reached (device batch)
        print(f"train@{arguments.experiment}: stopped at the time limit, step {result.step}; run again to resume")
    elif not result.completed:
        sys.exit(f"train@{arguments.experiment} stopped at step {result.step}; run again to resume")


def time_limit(seconds: float | None, deadline: float | None) -> float | None:
    """The tighter of a time limit and what is left until a deadline, taken after start-up
    (imports and data loading), so a time-boxed run ends when its batch needs it to."""
    limits = [limit for limit in (seconds, None if deadline is None else deadline - time.time()) if limit is not None]
    return max(1.0, min(limits)) if limits else None


if __name__ == "__main__":
    main()
