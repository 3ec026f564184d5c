"""The borrowed machine's limits and the device batch's file names (one place for both sides).

Only the standard library here: the run side imports this before anything is installed.
"""

from __future__ import annotations

MIB = 1 << 20
CARRY_LIMIT = 64 * MIB  # the working-tree copy, tracked files included
PACK_LIMIT = 60 * MIB  # what we allow ourselves of it (code + pack), leaving a margin
RETURN_FILES = 8  # files that come back from $OUT
RETURN_FILE_LIMIT = 16 * MIB
RETURN_LIMIT = 64 * MIB
RETURN_PART = 15 * MIB  # parts of the results archive, under the per-file limit
COMMAND_LIMIT = 2000  # characters of the one command line
COMMAND_MINUTES = 10  # the machine's limit for one command
DEFAULT_MINUTES = 8.0  # what the run plans for, leaving start-up and transfer margin

PACK_DIR = "device_pack"
MANIFEST = "manifest.json"
PARAMS_JSON = "params.json"
DATASETS_JSON = "datasets.json"
VENDOR_ARCHIVE = "vendor-{tag}.tar.xz"  # tag: cp311 (the Python that packed it)
RESULTS_ARCHIVE = "results.tar.xz"
TIMING = "timing.json"
CHECKS = "checks.json"
LOG = "run.log"
