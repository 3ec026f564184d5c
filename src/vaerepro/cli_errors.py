"""Turn the library's expected errors into a one-paragraph message and exit status 1.

Stage scripts wrap their work in :func:`reported_errors` so that a missing file, a bad
checksum or a mistyped parameter reads as an instruction, not as a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from vaerepro.data.errors import DatasetError
from vaerepro.structured import ConfigError


@contextmanager
def reported_errors(stage: str) -> Iterator[None]:
    try:
        yield
    except (ConfigError, DatasetError) as error:
        print(f"\n{stage} failed: {error}\n", file=sys.stderr)
        raise SystemExit(1) from None
