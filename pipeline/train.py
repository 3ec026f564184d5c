"""Stage ``train@<experiment>``: train the experiment's model on its prepared dataset.

Writes models/<experiment>/ (checkpoint.pt, dvclive/ training curves). Reads params:
``seed``, ``profile``, ``experiments.<experiment>``. A long run can go in chunks outside DVC
(``python pipeline/train.py <experiment> --stop-at-step N``, repeated: it resumes) and be
recorded afterwards with ``dvc commit train@<experiment>``; ``dvc repro`` after an interruption
resumes from the last checkpoint too (models/<experiment> is a persistent output).
"""

import argparse
import os
import sys
from pathlib import Path

from vaerepro.cli_errors import reported_errors
from vaerepro.config import load_params
from vaerepro.experiment import resolve
from vaerepro.experiment.train import train_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("experiment")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--models-root", type=Path, default=Path("models"))
    parser.add_argument("--stop-at-step", type=int, default=None, help="end this call at this step (resume later)")
    arguments = parser.parse_args()
    with reported_errors(f"train@{arguments.experiment}"):
        params = load_params(arguments.params)
        experiment = resolve(params, arguments.experiment)
        # Under DVC (which sets DVC_STAGE) a finished run in the persistent output is started over:
        # DVC re-runs a stage only when something it depends on changed.
        result = train_experiment(
            experiment,
            params,
            arguments.models_root / arguments.experiment,
            stop_at_step=arguments.stop_at_step,
            restart_if_complete="DVC_STAGE" in os.environ,
        )
    print(
        f"train@{arguments.experiment}: step {result.step}/{experiment.train.steps if experiment.train else 0} on {result.device} "
        f"({result.precision}) in {result.wall_seconds:.1f} s, {result.steps_per_second:.1f} steps/s; "
        f"last losses {result.metrics}"
    )
    if not result.completed:
        sys.exit(f"train@{arguments.experiment} stopped at step {result.step}; run again to resume")


if __name__ == "__main__":
    main()
