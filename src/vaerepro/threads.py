"""The OpenMP wait policy torch's CPU thread pool gets: spin on an idle machine, sleep on a busy one.

torch's CPU kernels run on an OpenMP pool (GNU libgomp in the PyPI wheels). By default a
libgomp thread that reaches a barrier or runs out of work spins for a while before it sleeps.
Alone on the machine that is the fastest choice; beside another process (a second training, a
test run, BM3D) the spinning thread burns the core its partner needs. ``OMP_WAIT_POLICY=PASSIVE``
makes waiting threads sleep at once, which costs a wake-up at every short parallel region.
Measured on the 2-core CI machine with a conv-VAE training step, ms per step
(``benchmarks/thread_policy.py``, ``benchmarks/results/thread_policy.json``):

=====================  ========  ==================  ==================
batch, load            1 thread  2 threads, spinning  2 threads, PASSIVE
=====================  ========  ==================  ==================
128, idle              171       100                 99
128, one busy core     171       295                 178
8, idle                14.6      11.1                14.9
8, one busy core       14.7      25.4                25.2
=====================  ========  ==================  ==================

Neither policy wins everywhere: PASSIVE keeps large steps from collapsing under load but gives
up the idle speed-up of small ones (the restoration models' crops, 25 % slower). So the policy
follows the machine: when this package is imported and other processes are running on the
CPUs this one may use (``/proc/loadavg``'s runnable count, the least of a few readings), it
sets ``OMP_WAIT_POLICY=PASSIVE``; on an idle machine (a pipeline's stages run one at a time)
it leaves libgomp's default. libgomp reads its environment once, when torch loads it, so this
happens before any of the package's modules imports torch: every pipeline stage and the
``vaerepro`` command import the package first. The knobs are OpenMP's own variables, and a
user's choice always wins:

* ``OMP_WAIT_POLICY``: ``PASSIVE`` or ``ACTIVE`` forces a policy (no load check);
* ``OMP_NUM_THREADS``: torch's thread count (default: one per core; 1 is the fastest for
  small models on a busy machine).

A process that imported torch before this package keeps the policy torch started with.
"""

from __future__ import annotations

import os
import sys
import time

WAIT_POLICY_VARIABLE = "OMP_WAIT_POLICY"
BUSY_WAIT_POLICY = "PASSIVE"
LOAD_FILE = "/proc/loadavg"
READINGS = 3
READING_INTERVAL_SECONDS = 0.002


def other_running_processes(load_file: str = LOAD_FILE) -> int | None:
    """How many other tasks are running now (the least of a few readings), or None where unknown.

    ``/proc/loadavg``'s fourth field is ``running/total``; the running count includes this
    process. The least of ``READINGS`` readings skips a task that only happened to be running
    at one of them.
    """
    counts = []
    for reading in range(READINGS):
        try:
            with open(load_file) as handle:
                running = int(handle.read().split()[3].split("/")[0])
        except (OSError, IndexError, ValueError):
            return None
        counts.append(running - 1)
        if reading + 1 < READINGS:
            time.sleep(READING_INTERVAL_SECONDS)
    return max(0, min(counts))


def choose_wait_policy(environment: dict[str, str] | os._Environ, torch_loaded: bool, others: int | None) -> str | None:
    """The policy to set: PASSIVE when others run and nobody chose one before torch loaded, else None."""
    if torch_loaded or WAIT_POLICY_VARIABLE in environment:
        return None
    if others is None or others == 0:
        return None
    return BUSY_WAIT_POLICY


def apply_wait_policy(load_file: str = LOAD_FILE) -> str | None:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` on a busy machine, unless the user chose a policy or torch is loaded.

    Returns the policy set, or None when the environment was left as it was.
    """
    if "torch" in sys.modules or WAIT_POLICY_VARIABLE in os.environ:
        return None  # decided without reading the load
    policy = choose_wait_policy(os.environ, False, other_running_processes(load_file))
    if policy is not None:
        os.environ[WAIT_POLICY_VARIABLE] = policy
    return policy
