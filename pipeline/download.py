"""Stage ``download@<dataset>``: obtain the dataset's files, verified, into data/raw/<dataset>/.

Reads params: ``local_copy``, ``datasets.<dataset>``. See src/vaerepro/data/fetch.py.
"""

import argparse
from pathlib import Path

from vaerepro.cli_errors import reported_errors
from vaerepro.config import load_params
from vaerepro.data.fetch import fetch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--raw-root", type=Path, default=Path("data/raw"))
    parser.add_argument("--downloads-root", type=Path, default=Path("data/downloads"))
    arguments = parser.parse_args()
    with reported_errors(f"download@{arguments.dataset}"):
        params = load_params(arguments.params)
        record = fetch(arguments.dataset, params, arguments.raw_root, arguments.downloads_root)
    print(
        f"download@{arguments.dataset}: {len(record['files'])} file(s) from {record['origin']} "
        f"(form {record['form']}, variant {record['variant']}, verification {record['verification']})"
    )


if __name__ == "__main__":
    main()
