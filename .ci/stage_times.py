"""Pass a `dvc repro`/`dvc exp run` log through unchanged, then print how long each stage took.

A stage's time runs from DVC's "Running stage '<name>'" line to the next stage's (or the end of
the log), so it includes the interpreter's start-up, imports and DVC's own hashing and caching
of the stage's outputs: what the stage really costs in a pipeline run, unlike the compute-only
wall times inside the metrics records.
"""

from __future__ import annotations

import re
import sys
import time

STAGE = re.compile(r"Running stage '([^']+)'")


def main() -> int:
    started = time.monotonic()
    current, since = None, started
    times: dict[str, float] = {}
    for line in sys.stdin:
        sys.stdout.write(line)
        sys.stdout.flush()
        match = STAGE.search(line)
        if match:
            now = time.monotonic()
            if current is not None:
                times[current] = times.get(current, 0.0) + now - since
            current, since = match.group(1), now
    end = time.monotonic()
    if current is not None:
        times[current] = times.get(current, 0.0) + end - since
    print("== per-stage wall times (start-up, compute and DVC's caching included)")
    kinds: dict[str, list[float]] = {}
    for name, seconds in sorted(times.items(), key=lambda item: -item[1]):
        print(f"{name:40s} {seconds:7.1f} s")
        kinds.setdefault(name.split("@")[0], []).append(seconds)
    print("-- by stage kind")
    for kind, values in sorted(kinds.items(), key=lambda item: -sum(item[1])):
        print(f"{kind:16s} {len(values):3d} stages {sum(values):8.1f} s  (mean {sum(values) / len(values):5.1f} s)")
    print(f"{'all stages':16s} {len(times):3d} stages {sum(times.values()):8.1f} s of {end - started:.1f} s in the run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
