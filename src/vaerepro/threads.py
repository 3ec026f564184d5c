"""The OpenMP wait policy torch's CPU thread pool gets: sleep at once, so a busy machine never stalls it.

torch's CPU kernels run on an OpenMP pool (GNU libgomp in the PyPI wheels). By default a
libgomp thread that reaches a barrier or runs out of work spins for a while before it sleeps.
On a small machine shared with another process (a second training, a test run, BM3D) the
spinning thread burns the core its partner needs. ``OMP_WAIT_POLICY=PASSIVE`` makes waiting
threads sleep at once. Measured on the 2-core CI machine with a conv-VAE training step
(``benchmarks/thread_policy.py``, ``benchmarks/results/thread_policy.json``):

============================  ========  =====================  ==============
load                          1 thread  2 threads, spin first  2 threads, PASSIVE
============================  ========  =====================  ==============
idle                          175 ms    106 ms                 110 ms
one busy core                 169 ms    242 ms                 182 ms
another 2-thread torch job    227 ms    306 ms                 217 ms
============================  ========  =====================  ==============

so PASSIVE keeps 2 threads' idle speed-up (within the machine's noise) and never falls far
behind 1 thread under load, where spinning is 1.35-1.45x slower than 1 thread.

libgomp reads its environment once, when torch loads it, so the policy is set when this
package is imported, before any of its modules imports torch: every pipeline stage and the
``vaerepro`` command import the package first. The knobs are OpenMP's own variables, so a
user's choice always wins:

* ``OMP_WAIT_POLICY``: ``PASSIVE`` unless set (``ACTIVE`` restores spinning, which is a little
  faster on a machine that runs nothing else);
* ``OMP_NUM_THREADS``: torch's thread count (default: one per core).

A process that imported torch before this package keeps the policy torch started with;
:func:`wait_policy_in_effect` says which one that is, for the records.
"""

from __future__ import annotations

import os
import sys

WAIT_POLICY_VARIABLE = "OMP_WAIT_POLICY"
DEFAULT_WAIT_POLICY = "PASSIVE"


def apply_wait_policy() -> None:
    """Set ``OMP_WAIT_POLICY`` to PASSIVE unless the user chose one; no effect once torch is loaded."""
    if "torch" not in sys.modules:
        os.environ.setdefault(WAIT_POLICY_VARIABLE, DEFAULT_WAIT_POLICY)


def wait_policy_in_effect() -> str:
    """The wait policy libgomp started with in this process, as far as the environment tells."""
    return os.environ.get(WAIT_POLICY_VARIABLE, "libgomp default (spin, then sleep)")
