"""vaerepro: a DVC-pipeline reproduction of Liu's VAE survey."""

from vaerepro.threads import apply_wait_policy

# Before any submodule imports torch: libgomp reads OMP_WAIT_POLICY once, when torch loads it
# (PASSIVE on a busy machine, libgomp's default on an idle one: vaerepro.threads).
apply_wait_policy()
