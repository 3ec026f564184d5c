"""DivNoising (Prakash, Krull & Jug 2021): the unsupervised restoration contract on tiny configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vaerepro.models.divnoising  # noqa: F401  (registers "divnoising")
from vaerepro.evaluation.extras import RestorationContext, evaluation_for
from vaerepro.evaluation.extras.divnoising import PosteriorSpreadOptions
from vaerepro.models.divnoising import DivNoising
from vaerepro.models.registry import build_model
from vaerepro.models.restoration import restore_image
from vaerepro.structured import ConfigError

TINY = {
    "image_shape": [3, 16, 16],
    "hidden_channels": 4,
    "convolutions_per_level": 1,
    "num_downsamplings": 2,
    "latent_channels": 2,
    "posterior_samples": 4,
}
KNOWN = {**TINY, "noise_model": "gaussian_known", "noise_sigma": 25.0}


def make(options: dict | None = None, seed: int = 0) -> DivNoising:
    return build_model("divnoising", options or TINY, seed=seed)


def noisy_batch(batch: int = 4, channels: int = 3, size: int = 16, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    clean = torch.rand(batch, channels, 1, 1, generator=generator).expand(-1, -1, size, size)
    return (clean + 0.1 * torch.randn(batch, channels, size, size, generator=generator)).clamp(0, 1)


@pytest.mark.parametrize("options", [TINY, KNOWN], ids=["estimated", "gaussian_known"])
def test_forward_gives_finite_scalars_and_gradients_without_clean(options):
    model = make(options).train()
    outputs = model(noisy_batch(), None)
    assert {"loss", "recon", "kl", "elbo"} <= set(outputs)
    for name, value in outputs.items():
        assert value.ndim == 0 and torch.isfinite(value), name
    outputs["loss"].backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
    assert any(parameter.grad.abs().sum() > 0 for parameter in model.parameters())


def test_clean_is_never_used():
    model = make().train()
    degraded, clean = noisy_batch(), noisy_batch(seed=9)
    torch.manual_seed(3)
    without = model(degraded, None)["loss"]
    torch.manual_seed(3)
    with_clean = model(degraded, clean)["loss"]
    assert torch.equal(without, with_clean)
    assert DivNoising.supervised is False and not model.uses_targets


def test_estimated_noise_model_is_fitted_once_on_the_first_training_batch_and_kept_in_checkpoints():
    model = make()
    assert not model.noise_model.is_fitted
    model.eval()
    with torch.no_grad():
        model(noisy_batch(seed=1))
    assert not model.noise_model.is_fitted  # an eval forward fits a throwaway copy only
    model.train()
    model(noisy_batch(seed=2))
    assert model.noise_model.is_fitted
    slope, intercept = model.noise_model.slope.clone(), model.noise_model.intercept.clone()
    model(noisy_batch(seed=5) * 0.5)
    assert torch.equal(model.noise_model.slope, slope) and torch.equal(model.noise_model.intercept, intercept)
    # Constant clean colours + N(0, 0.1^2) noise: the fitted standard deviation is about 0.1.
    assert torch.allclose(
        model.noise_model.variance(torch.full((1, 3, 1, 1), 0.5)).sqrt(),
        torch.tensor(0.1),
        rtol=0.3,
    )
    restored = make(seed=1)
    restored.load_state_dict(model.state_dict())
    assert restored.noise_model.is_fitted
    assert torch.equal(restored.noise_model.slope, slope)


def test_enhance_keeps_shape_and_range_and_is_deterministic():
    model = make().eval()
    degraded = noisy_batch(batch=2)
    first, second = model.enhance(degraded), model.enhance(degraded)
    assert first.shape == degraded.shape
    assert first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, second)


def test_enhance_is_the_mean_of_posterior_samples():
    model = make().eval()
    degraded = noisy_batch(batch=1)
    generator = torch.Generator().manual_seed(model.options.sample_seed)
    samples = model.sample_posterior(degraded, model.options.posterior_samples, generator)
    torch.testing.assert_close(model.enhance(degraded), samples.mean(0).clamp(0, 1))


def test_posterior_samples_have_the_documented_shape_and_differ():
    model = make().eval()
    samples = model.sample_posterior(noisy_batch(batch=2), 3, torch.Generator().manual_seed(0))
    assert samples.shape == (3, 2, 3, 16, 16)
    assert not torch.equal(samples[0], samples[1])
    assert (samples.std(0) > 0).float().mean() > 0.9
    again = model.sample_posterior(noisy_batch(batch=2), 3, torch.Generator().manual_seed(0))
    assert torch.equal(samples, again)


def test_restore_image_pads_odd_sizes_and_crops_back():
    model = make().eval()
    image = np.random.default_rng(0).random((18, 21, 3))
    restored = restore_image(model, image)
    assert restored.shape == (18, 21, 3)
    assert restored.min() >= 0 and restored.max() <= 1


def test_wrong_channels_and_sizes_fail_clearly():
    model = make().eval()
    with pytest.raises(ValueError, match="takes RGB images .* got grayscale"):
        model.check_input(torch.rand(1, 1, 16, 16))
    with pytest.raises(ValueError, match="grayscale"):
        restore_image(model, np.zeros((16, 16, 1)))
    with pytest.raises(ValueError, match="smaller than the 4x4 minimum"):
        model.enhance(torch.rand(1, 3, 2, 2))
    with pytest.raises(ValueError, match="not a multiple of 4"):
        model(torch.rand(1, 3, 18, 16))
    assert model.size_multiple == 4 and model.minimum_size == 4


def test_seeded_build_is_deterministic():
    first, second, other = make(seed=0), make(seed=0), make(seed=1)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(first.latent_head.weight, other.latent_head.weight)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({**TINY, "noise_model": "gaussian_known"}, ValueError, "needs noise_sigma"),
        ({**TINY, "noise_sigma": 25.0}, ValueError, "applies only to noise_model 'gaussian_known'"),
        ({**TINY, "noise_model": "gaussian_known", "noise_sigma": 0.0}, ConfigError, "'noise_sigma' must be > 0"),
        ({**TINY, "latent_channels": 0}, ConfigError, "'latent_channels' must be >= 1, got 0"),
        ({**TINY, "noise_model": "poisson"}, ConfigError, "noise_model"),
        ({**TINY, "latent_dim": 3}, ConfigError, "latent_dim"),
    ],
)
def test_bad_options_fail_at_construction(options, error, message):
    with pytest.raises(error, match=message):
        build_model("divnoising", options)


def test_adam_steps_on_a_fixed_noisy_batch_lower_the_negative_elbo():
    torch.manual_seed(0)
    model = make(KNOWN).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    degraded = noisy_batch(batch=8, seed=4)
    losses = []
    for _ in range(80):
        optimizer.zero_grad()
        loss = model(degraded)["loss"]
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.5


SMOKE_EXTRAS = PosteriorSpreadOptions(spread_images=1, spread_samples=8)


def tiny_context(tmp_path, options=SMOKE_EXTRAS, size: int = 40) -> RestorationContext:
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 256, (2, size, size + 4, 3), dtype=np.uint8)
    inputs = np.clip(targets + rng.normal(0, 20, targets.shape), 0, 255).astype(np.uint8)
    reports = tmp_path / "reports"
    return RestorationContext(
        inputs=inputs,
        targets=targets,
        names=["first", "second"],
        outputs=[None, None],
        figure_dir=reports / "figures" / "divnoising-test",
        reports_root=reports,
        device=torch.device("cpu"),
        seed=7,
        options=options,
    )


@pytest.mark.parametrize("options", [SMOKE_EXTRAS, None], ids=["smoke-params", "defaults"])
def test_evaluation_extras_record_the_spread_and_write_the_figure(tmp_path, options):
    model = make().eval()
    context = tiny_context(tmp_path, options)
    extras = evaluation_for(model.registered_name).restoration_extras(model, context)
    spread = extras.metrics["posterior_sample_spread"]
    assert spread["unit"] == "[0,1] intensity" and spread["value"] > 0
    assert spread["samples"] == (8 if options else 64)  # the options' count, else the defaults (full)
    assert len(spread["per_image"]) == (1 if options else 2)
    assert extras.metrics["mmse_samples"]["value"] == 4
    assert extras.figures == {"posterior_samples": "figures/divnoising-test/posterior_samples.png"}
    assert (context.reports_root / extras.figures["posterior_samples"]).stat().st_size > 0
    assert not model.training


def test_extras_options_come_from_params_and_are_checked(tmp_path):
    with pytest.raises(ValueError, match="spread_samples' must be >= 2"):
        PosteriorSpreadOptions(spread_images=1, spread_samples=1)


def test_evaluation_extras_say_why_when_nothing_fits(tmp_path):
    model = make().eval()
    context = tiny_context(tmp_path)
    context.inputs, context.targets = context.inputs[..., :1], context.targets[..., :1]  # grayscale
    extras = evaluation_for(model.registered_name).restoration_extras(model, context)
    assert extras.metrics["posterior_sample_spread"]["value"] is None
    assert "channel" in extras.metrics["posterior_sample_spread"]["not_measured"]
    assert extras.figures == {}
