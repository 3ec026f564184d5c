"""The training loop: resume equivalence, checkpoints, mismatch and non-finite errors, logging."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from tests.test_models_contract import CASES, make
from vaerepro.models import build_model
from vaerepro.models.vae import VAE
from vaerepro.revision import code_revision
from vaerepro.training import (
    BatchStream,
    CheckpointMismatchError,
    NonFiniteLossError,
    TrainSettings,
    load_model,
    read_checkpoint,
    train,
)
from vaerepro.training.metrics_log import MetricsLogger, truncate_history


def stream(image_shape=(1, 8, 8), count: int = 40, seed: int = 0, batch_size: int = 8) -> BatchStream:
    channels, height, width = image_shape
    rng = np.random.default_rng(123)
    images = rng.integers(0, 256, size=(count, height, width, channels), dtype=np.uint8)
    labels = rng.integers(0, 10, size=count)
    return BatchStream(images, labels, batch_size=batch_size, seed=seed, binarize=True)


def settings(**overrides) -> TrainSettings:
    values = {
        "steps": 4,
        "batch_size": 8,
        "learning_rate": 1e-2,
        "checkpoint_every": 100,
        "log_every": 1,
        "progress_bar": False,
    }
    values.update(overrides)
    return TrainSettings(**values)


def states_close(first: dict, second: dict) -> None:
    assert first.keys() == second.keys()
    for name in first:
        torch.testing.assert_close(first[name], second[name], rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("case", CASES)
def test_resumed_run_ends_where_an_uninterrupted_run_ends(case, tmp_path):
    straight = make(case)
    shape = straight.options.image_shape
    train(straight, stream(shape), settings(), tmp_path / "straight", seed=7)

    chunked = make(case)
    first = train(chunked, stream(shape), settings(), tmp_path / "chunked", seed=7, stop_at_step=1)
    assert (first.step, first.completed) == (1, False)
    resumed = make(case)
    second = train(resumed, stream(shape), settings(), tmp_path / "chunked", seed=7)
    assert (second.step, second.completed, second.resumed_from) == (4, True, 1)
    states_close(straight.state_dict(), resumed.state_dict())


def test_the_same_seed_gives_bit_identical_losses_and_parameters(tmp_path):
    """Two fresh runs with one seed agree exactly (seed_everything), not merely within a tolerance."""
    runs = []
    for name in ("first", "second"):
        torch.rand(5)  # disturb the global generators: train must reseed them
        np.random.rand(5)
        model = make("vae-conv-bernoulli")
        logs = tmp_path / name / "logs"
        result = train(model, stream(), settings(steps=5), tmp_path / name / "out", seed=11, log_dir=logs)
        history = {path.name: path.read_text() for path in sorted((logs / "plots" / "metrics" / "train").glob("*.tsv"))}
        runs.append((result.metrics, history, model.state_dict()))
    (first_metrics, first_history, first_state), (second_metrics, second_history, second_state) = runs
    assert first_history and first_history == second_history
    assert first_metrics == second_metrics
    assert first_state.keys() == second_state.keys()
    assert all(torch.equal(first_state[key], second_state[key]) for key in first_state)


def test_checkpoint_is_self_describing_and_rebuilds_the_model(tmp_path):
    model = make("vae-conv-bernoulli")
    result = train(model, stream(), settings(steps=2), tmp_path, seed=1)
    checkpoint = read_checkpoint(result.checkpoint_path)
    assert checkpoint["model_name"] == "vae"
    assert checkpoint["model_options"]["image_shape"] == [1, 8, 8]
    assert checkpoint["step"] == 2 and checkpoint["seed"] == 1 and checkpoint["device"] == "cpu"
    assert checkpoint["torch_version"] == torch.__version__
    assert checkpoint["git_revision"] == code_revision()  # the call metrics records make
    assert list(checkpoint) == [
        "format",
        "format_version",
        "model_name",
        "model_options",
        "model_state",
        "step",
        "phase",
        "total_steps",
        "settings",
        "optimizers",
        "grad_scaler",
        "rng",
        "seed",
        "device",
        "precision",
        "git_revision",
        "torch_version",
        "created",
        "metrics",
        "identity",
    ]
    assert set(checkpoint["optimizers"]) == {"train/model"}
    assert set(checkpoint["rng"]) == {"python", "numpy", "torch", "cuda"}
    loaded = load_model(result.checkpoint_path)
    states_close(model.state_dict(), loaded.state_dict())
    x = stream().batch(0)["image"]
    torch.testing.assert_close(model.eval().reconstruct(x), loaded.reconstruct(x))
    assert not list(tmp_path.glob(".*.tmp")), "atomic write left a temp file"


def test_two_stage_phases_train_stage_one_then_only_stage_two(tmp_path):
    model = make("two_stage_vae")
    result = train(model, stream(), settings(steps=4, checkpoint_every=1), tmp_path / "two", seed=0)
    assert result.phase == "stage2" and model.stage == "stage2"
    assert "stage2_recon" in result.metrics
    checkpoint = read_checkpoint(result.checkpoint_path)
    assert set(checkpoint["optimizers"]) == {"stage1/model", "stage2/model"}
    frozen = {name: tensor.clone() for name, tensor in model.state_dict().items() if name.startswith("first_")}
    train(model, stream(), settings(steps=6), tmp_path / "two", seed=0)
    for name, tensor in frozen.items():
        assert torch.equal(tensor, model.state_dict()[name]), f"{name} changed during stage 2"
    with torch.no_grad():
        assert model.sample(3, via="first_stage").shape == (3, 1, 8, 8)


def test_resuming_another_models_checkpoint_fails_naming_both(tmp_path):
    train(make("vae-conv-bernoulli"), stream(), settings(steps=1), tmp_path, seed=0)
    with pytest.raises(CheckpointMismatchError, match="model 'vae'.*'classifier'"):
        train(make("classifier"), stream(), settings(steps=2), tmp_path, seed=0)
    other_options = build_model("vae", {"image_shape": [1, 8, 8], "latent_dim": 3, "hidden_channels": 4})
    with pytest.raises(CheckpointMismatchError, match="latent_dim: checkpoint 2 vs now 3"):
        train(other_options, stream(), settings(steps=2), tmp_path, seed=0)
    with pytest.raises(CheckpointMismatchError, match="seed 0"):
        train(make("vae-conv-bernoulli"), stream(), settings(steps=2), tmp_path, seed=1)


class ExplodingVAE(VAE):
    """A VAE whose reconstruction term turns NaN (or that is interrupted) at a given call."""

    def __init__(self, options, *, nan_at: int | None = None, interrupt_at: int | None = None):
        super().__init__(options)
        self.calls = 0
        self.nan_at, self.interrupt_at = nan_at, interrupt_at

    def forward(self, x, y=None):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        outputs = super().forward(x, y)
        if self.calls == self.nan_at:
            outputs["recon"] = outputs["recon"] * float("nan")
            outputs["loss"] = outputs["loss"] + outputs["recon"]
        return outputs


def exploding(**triggers) -> ExplodingVAE:
    plain = make("vae-conv-bernoulli")
    model = ExplodingVAE(plain.options, **triggers)
    model.load_state_dict(plain.state_dict())
    return model


def test_non_finite_loss_stops_naming_step_and_term_and_keeps_last_good_checkpoint(tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"step 4 .*recon=nan.*last good checkpoint \(step 2\)") as caught:
        train(exploding(nan_at=4), stream(), settings(steps=6, checkpoint_every=2), tmp_path, seed=0)
    assert caught.value.step == 4 and "recon" in caught.value.terms
    assert read_checkpoint(tmp_path / "checkpoint.pt")["step"] == 2


def test_keyboard_interrupt_checkpoints_and_resume_matches_straight_run(tmp_path):
    straight = make("vae-conv-bernoulli")
    train(straight, stream(), settings(steps=5), tmp_path / "straight", seed=2)
    with pytest.raises(KeyboardInterrupt):
        train(exploding(interrupt_at=4), stream(), settings(steps=5), tmp_path / "interrupted", seed=2)
    assert read_checkpoint(tmp_path / "interrupted" / "checkpoint.pt")["step"] == 3
    resumed = make("vae-conv-bernoulli")
    train(resumed, stream(), settings(steps=5), tmp_path / "interrupted", seed=2)
    states_close(straight.state_dict(), resumed.state_dict())


def test_dvclive_logs_every_term_and_resume_does_not_duplicate_steps(tmp_path):
    logs = tmp_path / "logs"
    model = make("vae-conv-bernoulli")
    train(model, stream(), settings(steps=4, log_every=2), tmp_path / "out", seed=0, log_dir=logs, stop_at_step=2)
    train(make("vae-conv-bernoulli"), stream(), settings(steps=4, log_every=2), tmp_path / "out", seed=0, log_dir=logs)
    for term in ("loss", "recon", "kl", "elbo"):
        history = (logs / "plots" / "metrics" / "train" / f"{term}.tsv").read_text().splitlines()
        step_column = history[0].split("\t").index("step")
        steps = [int(line.split("\t")[step_column]) for line in history[1:]]
        assert steps == [2, 4], (term, history)
    summary = json.loads((logs / "metrics.json").read_text())
    assert summary["step"] == 4 and "loss" in summary["train"]
    assert not (tmp_path / "dvc.yaml").exists()


def test_history_logged_after_the_resumed_checkpoint_is_dropped(tmp_path):
    history = tmp_path / "plots" / "metrics" / "train" / "loss.tsv"
    history.parent.mkdir(parents=True)
    history.write_text("step\tloss\n1\t5.0\n2\t4.0\n3\t3.0\n")
    truncate_history(tmp_path, 2)
    assert history.read_text().splitlines() == ["step\tloss", "1\t5.0", "2\t4.0"]


def test_logs_a_kill_left_half_written_are_repaired_and_the_logger_resumes(tmp_path):
    # kill -9 in the middle of dvclive's writes: a cut-short history row, broken metrics.json.
    history = tmp_path / "plots" / "metrics" / "train" / "loss.tsv"
    history.parent.mkdir(parents=True)
    history.write_text("step\tloss\n1\t5.0\n2\t4.0\n3\t")
    (tmp_path / "metrics.json").write_text('{"train": {"loss": 4.')
    logger = MetricsLogger(tmp_path, resume_from_step=2)
    logger.log(3, {"loss": 3.5})
    logger.close()
    assert history.read_text().splitlines() == ["step\tloss", "1\t5.0", "2\t4.0", "3\t3.5"]
    assert json.loads((tmp_path / "metrics.json").read_text())["train"]["loss"] == 3.5


def test_resuming_with_changed_settings_refuses_naming_the_key_and_both_values(tmp_path):
    train(
        make("vae-conv-bernoulli"),
        stream(),
        settings(steps=4),
        tmp_path,
        seed=0,
        stop_at_step=2,
        settings_path="experiments.vae-mnist.train.smoke",
    )
    with pytest.raises(
        CheckpointMismatchError,
        match=r"'experiments.vae-mnist.train.smoke.learning_rate': checkpoint 0.01, now 0.02.*step 2",
    ):
        train(
            make("vae-conv-bernoulli"),
            stream(),
            settings(steps=4, learning_rate=0.02),
            tmp_path,
            seed=0,
            settings_path="experiments.vae-mnist.train.smoke",
        )
    assert read_checkpoint(tmp_path / "checkpoint.pt")["settings"]["learning_rate"] == 0.01  # nothing recorded wrongly
    # Bookkeeping settings and a longer target may change between chunks.
    result = train(
        make("vae-conv-bernoulli"), stream(), settings(steps=6, log_every=2, checkpoint_every=3), tmp_path, seed=0
    )
    assert (result.step, result.resumed_from) == (6, 2)


def test_resuming_on_other_data_or_code_refuses_naming_what_differs(tmp_path):
    identity = {"train_data_sha256": "a" * 8, "code_sha256": "c" * 8}
    train(make("vae-conv-bernoulli"), stream(), settings(steps=4), tmp_path, seed=0, stop_at_step=2, identity=identity)
    assert read_checkpoint(tmp_path / "checkpoint.pt")["identity"] == identity
    with pytest.raises(CheckpointMismatchError, match="code_sha256: checkpoint 'cccccccc', now 'dddddddd'.*delete"):
        train(
            make("vae-conv-bernoulli"),
            stream(),
            settings(steps=4),
            tmp_path,
            seed=0,
            identity={**identity, "code_sha256": "d" * 8},
        )


def test_a_checkpoint_temporary_left_by_a_killed_writer_is_removed(tmp_path):
    stale = tmp_path / ".checkpoint.pt.12345.tmp"
    tmp_path.mkdir(exist_ok=True)
    stale.write_bytes(b"half a checkpoint")
    train(make("vae-conv-bernoulli"), stream(), settings(steps=1), tmp_path, seed=0)
    assert not stale.exists()


def test_without_dvclive_the_logs_have_dvclives_layout(tmp_path, monkeypatch):
    """PlainLive (a machine without dvclive) writes what dvclive writes, file for file and value
    for value, so curves and figures come out the same (device batch)."""
    import builtins

    from vaerepro.training.metrics_log import MetricsLogger

    def log_into(directory):
        logger = MetricsLogger(directory, resume_from_step=None)
        logger.log_params({"model": "vae", "seed": 3, "device": "cpu"})
        for step, loss in ((5, 2.5), (10, 1.25)):
            logger.log(step, {"loss": loss, "kl": loss / 5})
        logger.close()
        return {path.relative_to(directory).as_posix() for path in directory.rglob("*") if path.is_file()}

    with_dvclive = log_into(tmp_path / "dvclive")
    real_import = builtins.__import__

    def no_dvclive(name, *args, **kwargs):
        if name == "dvclive":
            raise ImportError("no dvclive on this machine")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dvclive)
    plain = log_into(tmp_path / "plain")
    assert {"metrics.json", "params.yaml", "plots/metrics/train/loss.tsv", "plots/metrics/train/kl.tsv"} <= plain
    assert plain <= with_dvclive
    for name in ("plots/metrics/train/loss.tsv", "plots/metrics/train/kl.tsv"):
        assert (tmp_path / "plain" / name).read_text() == (tmp_path / "dvclive" / name).read_text()
    assert json.loads((tmp_path / "plain/metrics.json").read_text()) == json.loads(
        (tmp_path / "dvclive/metrics.json").read_text()
    )
    import yaml

    assert yaml.safe_load((tmp_path / "plain/params.yaml").read_text()) == yaml.safe_load(
        (tmp_path / "dvclive/params.yaml").read_text()
    )


def small_vae() -> VAE:
    return build_model("vae", {"image_shape": (1, 8, 8), "latent_dim": 2, "hidden_channels": 4}, seed=3)


def test_an_update_above_the_skip_threshold_changes_neither_weights_nor_moments(tmp_path):
    """VDVAE's update skipping: with a threshold below every gradient norm, no step moves the
    weights or Adam's state (and the average stays put); the norm and the skip are logged."""
    model = small_vae()
    before = {name: value.clone() for name, value in model.state_dict().items()}
    result = train(
        model,
        stream(),
        settings(skip_threshold=1e-9, weight_ema=0.5),
        tmp_path / "run",
        seed=7,
        log_dir=tmp_path / "log",
    )
    assert result.completed and result.metrics["skipped_updates"] == 1.0 and result.metrics["grad_norm"] > 1e-9
    states_close(before, model.state_dict())
    checkpoint = read_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert all(not state["state"] for state in checkpoint["optimizers"].values())  # Adam never stepped
    states_close(before, checkpoint["ema_state"])
    # A threshold above every norm skips nothing and trains as a run without one does.
    free, guarded = small_vae(), small_vae()
    train(free, stream(), settings(), tmp_path / "free", seed=7)
    guarded_result = train(guarded, stream(), settings(skip_threshold=1e9), tmp_path / "guarded", seed=7)
    assert guarded_result.metrics["skipped_updates"] == 0.0
    states_close(free.state_dict(), guarded.state_dict())


def test_the_weight_average_follows_its_recurrence_resumes_and_is_what_evaluation_loads(tmp_path):
    """ema_t = d·ema_{t-1} + (1-d)·w_t after every step, checked against the weights of each step
    (runs stopped at steps 1..4 resume one another); load_model gives the average by default."""
    decay = 0.6
    model = small_vae()
    expected = {name: value.clone() for name, value in model.state_dict().items()}
    parameters = {name for name, _ in model.named_parameters()}
    for step in range(1, 5):
        model = small_vae()
        train(model, stream(), settings(weight_ema=decay), tmp_path / "run", seed=7, stop_at_step=step)
        for name, value in model.state_dict().items():
            expected[name] = decay * expected[name] + (1 - decay) * value if name in parameters else value.clone()
    checkpoint = read_checkpoint(tmp_path / "run" / "checkpoint.pt")
    states_close(expected, checkpoint["ema_state"])
    states_close(expected, load_model(tmp_path / "run" / "checkpoint.pt").state_dict())
    states_close(model.state_dict(), load_model(tmp_path / "run" / "checkpoint.pt", averaged=False).state_dict())
    from vaerepro.training.checkpoints import weights_description

    assert weights_description(checkpoint) == "exponential moving average of the weights (decay 0.6)"
    assert weights_description(checkpoint, averaged=False).startswith("trained weights (the run's moving average")
    assert weights_description({"model_state": {}}, averaged=True) == "trained weights"
    straight = small_vae()
    train(straight, stream(), settings(weight_ema=decay), tmp_path / "straight", seed=7)
    states_close(checkpoint["ema_state"], read_checkpoint(tmp_path / "straight" / "checkpoint.pt")["ema_state"])


def test_warmup_raises_the_learning_rate_linearly_and_adamw_decays_weights_apart(tmp_path):
    """Step t (0-based) of a warmup of W steps updates at learning_rate·min(1, (t+1)/W), also
    after a resume; adamw is PyTorch's AdamW with the configured betas and decay."""
    rates = []
    original = torch.optim.AdamW.step

    def recording_step(self, *args, **kwargs):
        rates.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    torch.optim.AdamW.step = recording_step
    try:
        options = {"optimizer": "adamw", "warmup_steps": 3, "weight_decay": 0.01, "adam_betas": (0.9, 0.9)}
        train(small_vae(), stream(), settings(**options), tmp_path / "run", seed=7, stop_at_step=2)
        train(small_vae(), stream(), settings(**options), tmp_path / "run", seed=7)
    finally:
        torch.optim.AdamW.step = original
    assert rates == pytest.approx([1e-2 / 3, 2e-2 / 3, 1e-2, 1e-2])
    state = read_checkpoint(tmp_path / "run" / "checkpoint.pt")["optimizers"]["train/model"]
    assert state["param_groups"][0]["weight_decay"] == 0.01 and tuple(state["param_groups"][0]["betas"]) == (0.9, 0.9)
