"""The one training loop for every model family.

Usage::

    from vaerepro.models import build_model
    from vaerepro.training import BatchStream, TrainSettings, train

    model = build_model("vae", {"latent_dim": 16}, seed=0)
    batches = BatchStream(images, labels, batch_size=128, seed=0, binarize=True)
    result = train(model, batches, TrainSettings(steps=10_000), "models/vae-mnist",
                   seed=0, log_dir="models/vae-mnist/logs")
    model = load_model("models/vae-mnist/checkpoint.pt")

Optimizer phases
----------------
A model declares what to optimise with ``model.optimizer_phases(total_steps) -> list[Phase]``
(:mod:`vaerepro.models.phases`). A :class:`~vaerepro.models.phases.Phase` has a name, a step
count (``None``: the remaining steps; last phase only) and one or more
:class:`~vaerepro.models.phases.OptimizerGroup` (name, parameters, ``loss_key``, learning-rate
scale). The loop lays the phases out over ``settings.steps`` and, at every step of a phase,
for each group in order: zero all gradients, run a fresh ``forward(x, y)``, back-propagate
``outputs[group.loss_key]``, clip that group's gradient norm, step that group's optimizer.
So sequential phases (two-stage VAE: ``stage1`` then ``stage2``) and several optimizers per
step (GAN/VQ-GAN: ``discriminator`` on ``"d_adv"`` then ``generator`` on ``"loss"``) are the
same mechanism. Each (phase, group) gets its own optimizer (``"<phase>/<group>"`` in the
checkpoint), created when first used. Before the first step of a phase, and when resuming
into it, the loop calls ``model.begin_phase(name)``. The default is one phase ``train`` with
one group ``model`` over all parameters.

Guarantees
----------
* Determinism: Python/NumPy/torch seeded, ``torch.use_deterministic_algorithms(True,
  warn_only=True)``; the batch of step ``s`` depends only on ``(seed, s)``
  (:class:`BatchStream`); checkpoints carry every RNG state, so a resumed run ends in the
  same state as an uninterrupted one.
* Device: CUDA when available (recorded in the checkpoint and result); autocast only on
  CUDA with ``mixed_precision`` (bfloat16, or float16 with a gradient scaler).
* Checkpoints (:mod:`.checkpoints`): every ``checkpoint_every`` steps, at the end and on
  KeyboardInterrupt, written atomically; self-describing; :func:`load_model` rebuilds the
  model from the file alone. Resuming a checkpoint of another model/options/seed/batch size
  raises :class:`CheckpointMismatchError` naming both sides.
* A NaN/inf loss raises :class:`NonFiniteLossError` naming the step and the terms; no
  checkpoint is written, the last good one is kept. Nothing is ever skipped silently.
* Logging: dvclive ``train/<term>`` (mean over ``log_every`` steps) and a tqdm bar.
"""

from vaerepro.training.batches import BatchStream
from vaerepro.training.checkpoints import (
    CHECKPOINT_NAME,
    CheckpointMismatchError,
    CheckpointUnusable,
    load_model,
    read_checkpoint,
)
from vaerepro.training.loop import BatchSource, NonFiniteLossError, TrainResult, train
from vaerepro.training.settings import TrainSettings, parse_train_settings

__all__ = [
    "CHECKPOINT_NAME",
    "BatchSource",
    "BatchStream",
    "CheckpointMismatchError",
    "CheckpointUnusable",
    "NonFiniteLossError",
    "TrainResult",
    "TrainSettings",
    "load_model",
    "parse_train_settings",
    "read_checkpoint",
    "train",
]
