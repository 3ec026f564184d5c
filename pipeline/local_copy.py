"""Stage ``local_copy@<dataset>``: the manifest of the dataset's local copy (always re-run).

Writes data/local_copy/<dataset>.json: the ``local_copy`` setting as written and the sha256 of
every file under ``<local_copy>/<dataset>/`` (empty when there is none). ``download@<dataset>``
depends on it, so a repaired or replaced local file re-runs the download stage. Reads params:
``local_copy``. See src/vaerepro/data/local_copy.py.
"""

import argparse
from pathlib import Path

from vaerepro.cli_errors import reported_errors
from vaerepro.config import load_params
from vaerepro.data.local_copy import write_local_copy_manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--output-root", type=Path, default=Path("data/local_copy"))
    arguments = parser.parse_args()
    with reported_errors(f"local_copy@{arguments.dataset}"):
        params = load_params(arguments.params)
        params.dataset(arguments.dataset)  # an unknown name fails here, naming the datasets
        manifest = write_local_copy_manifest(
            arguments.dataset, params, arguments.output_root / f"{arguments.dataset}.json"
        )
    where = f"{len(manifest['files'])} file(s)" if manifest["present"] else "no local copy"
    print(f"local_copy@{arguments.dataset}: {where}")


if __name__ == "__main__":
    main()
