"""Zheng et al. (ICLR 2021) latent-space BM3D denoiser and its noise-Gaussianity metric."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import vaerepro.models.zheng  # noqa: F401  (registers "zheng")
from vaerepro.evaluation.extras import RestorationContext, evaluation_for
from vaerepro.metrics.noise_gaussianity import (
    discrete_kl,
    gaussian_bin_log_masses,
    histogram_kl_to_gaussian,
)
from vaerepro.models.registry import build_model
from vaerepro.models.restoration import restore_image

TINY = {
    "image_shape": [3, 16, 16],
    "base_channels": 4,
    "num_downsamplings": 2,
    "denoiser": "nlmeans",
    "prior_items": 3,
    "prior_crop_size": 16,
}


def tiny(**changes) -> torch.nn.Module:
    return build_model("zheng", {**TINY, **changes}, seed=0)


def smooth_images(count: int, size: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    """Smooth float images in [0.2, 0.8], (count, size, size, channels)."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(0, 2 * np.pi, size)
    images = []
    for _ in range(count):
        phase = rng.uniform(0, 2 * np.pi, size=(channels, 2))
        planes = [
            0.5 + 0.3 * np.sin(grid[:, None] + phase[c, 0]) * np.cos(grid[None, :] + phase[c, 1])
            for c in range(channels)
        ]
        images.append(np.stack(planes, axis=-1))
    return np.stack(images)


# ---------------------------------------------------------------- the KL estimator


def test_discrete_kl_matches_hand_computation():
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert discrete_kl(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(expected, rel=1e-12)
    assert discrete_kl(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(math.log(2))
    assert discrete_kl(np.array([0.3, 0.7]), np.array([0.3, 0.7])) == 0.0
    with pytest.raises(ValueError, match="infinite"):
        discrete_kl(np.array([0.5, 0.5]), np.array([1.0, 0.0]))


def test_histogram_kl_matches_hand_computation():
    """Samples [-1, 1, 1, 1] in 2 bins over [-2, 2]: P = (1/4, 3/4); Q from N(0.5, 0.75) by erf."""
    samples = np.array([-1.0, 1.0, 1.0, 1.0])
    mean, std = 0.5, math.sqrt(0.75)

    def cdf(value: float) -> float:
        return 0.5 * (1 + math.erf((value - mean) / (std * math.sqrt(2))))

    masses = np.array([cdf(0) - cdf(-2), cdf(2) - cdf(0)])
    q = masses / masses.sum()
    expected = 0.25 * math.log(0.25 / q[0]) + 0.75 * math.log(0.75 / q[1])
    fit = histogram_kl_to_gaussian(samples, bins=2, value_range=(-2.0, 2.0))
    assert fit.kl == pytest.approx(expected, rel=1e-9)
    assert fit.mean == pytest.approx(mean) and fit.std == pytest.approx(std)
    np.testing.assert_allclose(fit.histogram, [0.25, 0.75])
    np.testing.assert_allclose(fit.gaussian, q, rtol=1e-9)


def test_gaussian_noise_scores_near_zero_and_heavier_or_flatter_noise_more():
    rng = np.random.default_rng(0)
    count = 200_000
    gaussian = histogram_kl_to_gaussian(rng.normal(2.0, 5.0, count)).kl
    laplace = histogram_kl_to_gaussian(rng.laplace(0.0, 3.0, count)).kl
    uniform = histogram_kl_to_gaussian(rng.uniform(-10.0, 10.0, count)).kl
    assert gaussian < 0.005
    # Continuous values: KL(Laplace || fitted Gaussian) = ½ln(4πe) − 1 − ln 2 ≈ 0.0746. The
    # uniform's histogram spans only its support ±√3σ, where Q is renormalised (mass
    # Z = P(|N(0,1)| < √3) ≈ 0.9167): KL = ½ln(2πe/12) + ln Z ≈ 0.1765 − 0.0869 = 0.0896.
    assert laplace > 10 * gaussian and laplace == pytest.approx(0.0746, abs=0.01)
    assert uniform > 10 * gaussian and uniform == pytest.approx(0.0896, abs=0.01)


def test_grey_level_bins_match_hand_computation():
    """bin_width = 1: samples [0, 0, 1, 2] fall in bins centred on 0, 1, 2: P = (½, ¼, ¼)."""
    samples = np.array([0.0, 0.0, 1.0, 2.0])
    mean, std = 0.75, math.sqrt(np.var(samples))

    def cdf(value: float) -> float:
        return 0.5 * (1 + math.erf((value - mean) / (std * math.sqrt(2))))

    masses = np.array([cdf(0.5) - cdf(-0.5), cdf(1.5) - cdf(0.5), cdf(2.5) - cdf(1.5)])
    q = masses / masses.sum()
    p = np.array([0.5, 0.25, 0.25])
    fit = histogram_kl_to_gaussian(samples, bin_width=1.0)
    np.testing.assert_allclose(fit.edges, [-0.5, 0.5, 1.5, 2.5])
    assert fit.kl == pytest.approx(float(np.sum(p * np.log(p / q))), rel=1e-9)


def test_integer_noise_needs_grey_level_bins():
    """8-bit (integer) Gaussian noise: ≈ 0 with one bin per grey level, but 128 bins over the
    min-max range leave empty and doubled bins and report a large divergence."""
    noise = np.random.default_rng(0).normal(0.3, 4.0, 200_000).round()
    assert histogram_kl_to_gaussian(noise, bin_width=1.0).kl < 0.005
    assert histogram_kl_to_gaussian(noise, bins=128).kl > 0.3


def test_far_tail_bins_stay_finite_and_bad_samples_are_rejected():
    log_masses = gaussian_bin_log_masses(np.array([-60.0, -40.0, 0.0, 40.0, 60.0]), 0.0, 1.0)
    assert np.isfinite(log_masses).all()
    outlier = [45.0]  # one sample 45 standard deviations out
    samples = np.concatenate([np.random.default_rng(1).normal(size=1000), outlier])
    assert np.isfinite(histogram_kl_to_gaussian(samples).kl)
    with pytest.raises(ValueError, match="zero variance"):
        histogram_kl_to_gaussian(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        histogram_kl_to_gaussian(np.array([0.0, np.nan]))


# ---------------------------------------------------------------- the model contract


def test_forward_gives_finite_loss_and_gradients_and_never_needs_clean():
    model = tiny()
    model.train()
    batch = torch.from_numpy(smooth_images(3, 16)).permute(0, 3, 1, 2).float()
    noisy = (batch + 0.05 * torch.randn(batch.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    outputs = model(noisy, None)
    assert set(outputs) >= {"loss", "recon", "prior", "latent_residual"}
    for value in outputs.values():
        assert value.ndim == 0 and torch.isfinite(value)
    outputs["loss"].backward()
    for name in ("encoder", "decoder"):
        grads = [p.grad for p in getattr(model, name).parameters()]
        assert all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name
    # the clean image is ignored: same seed, same loss with or without it
    torch.manual_seed(3)
    with_clean = model(noisy, batch)["loss"]
    torch.manual_seed(3)
    without = model(noisy)["loss"]
    assert torch.equal(with_clean, without)


def test_enhance_keeps_shape_and_range_with_bm3d():
    model = tiny(denoiser="bm3d").eval()
    noisy = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        restored = model.enhance(noisy)
    assert restored.shape == noisy.shape
    assert float(restored.min()) >= 0.0 and float(restored.max()) <= 1.0


def test_restore_image_pads_to_the_size_multiple_and_crops_back():
    model = tiny().eval()
    assert model.size_multiple == 4 and model.minimum_size == 16  # BM3D crashes on 8x8 images
    image = np.random.default_rng(0).random((18, 22, 3))
    restored = restore_image(model, image)
    assert restored.shape == (18, 22, 3) and restored.min() >= 0 and restored.max() <= 1
    with pytest.raises(ValueError, match="smaller than"):
        restore_image(model, np.zeros((12, 40, 3)))


def _train(steps: int) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    """A few Adam steps as the training loop takes them: model(degraded, None)["loss"]."""
    model = tiny()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    clean = torch.from_numpy(smooth_images(4, 16)).permute(0, 3, 1, 2).float()
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    history = []
    for _ in range(steps):
        noisy = (clean + 0.05 * torch.randn(clean.shape, generator=generator)).clamp(0, 1)
        outputs = model(noisy, None)
        optimizer.zero_grad()
        outputs["loss"].backward()
        optimizer.step()
        history.append({name: float(value.detach()) for name, value in outputs.items()})
    return model, history


def test_training_steps_move_the_networks_and_repeat_exactly():
    """The loss is an ADMM objective whose target moves with the latent, so it need not fall
    monotonically (on already-Gaussian noise the identity encoder is near-optimal); check that
    steps update both networks, every term stays finite, and a rerun gives the same weights."""
    model, history = _train(8)
    assert all(np.isfinite(list(terms.values())).all() for terms in history)
    assert float(model.encoder.last.weight.detach().abs().sum()) > 0  # left the identity start
    assert float(model.decoder.last.weight.detach().abs().sum()) > 0
    again, _ = _train(8)
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_untrained_model_denoises_like_its_latent_denoiser():
    """Identity-initialised encoder: the output is the Gaussian denoiser applied to the input."""
    clean = smooth_images(1, 32)[0]
    rng = np.random.default_rng(0)
    noisy = np.clip(clean + rng.normal(0, 0.08, clean.shape), 0, 1)
    model = tiny(image_shape=[3, 32, 32]).eval()
    restored = restore_image(model, noisy)
    error_before = np.sqrt(np.mean((noisy - clean) ** 2))
    error_after = np.sqrt(np.mean((restored - clean) ** 2))
    assert error_after < 0.8 * error_before


def test_mosaic_denoising_returns_each_window_in_place(monkeypatch):
    model = tiny()
    monkeypatch.setattr(model, "_denoise_one", lambda image, denoiser: image * 2.0)  # stand-in
    windows = torch.rand(3, 3, 16, 20)  # 3 windows: a 2x2 mosaic with one repeated cell
    np.testing.assert_allclose(model.denoise_as_mosaic(windows).numpy(), windows.numpy() * 2.0, rtol=1e-6)


def test_training_denoiser_can_differ_from_the_output_denoiser(monkeypatch):
    model = tiny(denoiser="bm3d", training_denoiser="nlmeans")
    used = []
    original = model._denoise_one
    monkeypatch.setattr(
        model,
        "_denoise_one",
        lambda image, denoiser: used.append(denoiser) or original(image, "nlmeans"),
    )
    model(torch.rand(3, 3, 16, 16))
    with torch.no_grad():
        model.eval().enhance(torch.rand(1, 3, 16, 16))
    assert used == ["nlmeans", "bm3d"]  # one mosaic call in training, one image at test time
    assert tiny().training_denoiser == "nlmeans"  # null: the same as ``denoiser``


def test_grayscale_image_to_rgb_model_is_rejected():
    model = tiny().eval()
    with pytest.raises(ValueError, match="RGB.*grayscale"):
        restore_image(model, np.zeros((16, 16, 1)))
    with pytest.raises(ValueError, match="grayscale"):
        model(torch.zeros(2, 1, 16, 16))


def test_bad_options_fail_at_construction():
    with pytest.raises(ValueError, match="channel"):
        tiny(image_shape=[4, 16, 16])
    with pytest.raises(ValueError, match="latent_noise_sigma"):
        tiny(latent_noise_sigma=0.0)


def test_same_seed_gives_same_weights():
    first, second = tiny(), tiny()
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(first.encoder.first[0].weight, build_model("zheng", TINY, seed=1).encoder.first[0].weight)


def test_plain_unet_variant_runs():
    model = tiny(residual=False, batch_norm=False, output="decoded")
    outputs = model(torch.rand(2, 3, 16, 16))
    assert torch.isfinite(outputs["loss"])
    with torch.no_grad():
        assert model.eval().enhance(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)


# ---------------------------------------------------------------- evaluation extras


def test_extras_record_the_kl_metric_and_write_the_figures(tmp_path):
    model = tiny(image_shape=[3, 32, 32]).eval()
    clean = (smooth_images(2, 32) * 255).round().astype(np.uint8)
    rng = np.random.default_rng(0)
    noisy = np.clip(clean.astype(np.float64) + rng.laplace(0, 6, clean.shape), 0, 255).round().astype(np.uint8)
    outputs = [(restore_image(model, image / 255.0) * 255).round().astype(np.uint8) for image in noisy]
    reports = tmp_path / "reports"
    context = RestorationContext(
        inputs=noisy,
        targets=clean,
        names=["a", "b"],
        outputs=[outputs[0], None],
        figure_dir=reports / "figures" / "zheng-test",
        reports_root=reports,
        device=torch.device("cpu"),
        seed=0,
    )
    extras = evaluation_for(model.registered_name).restoration_extras(model, context)
    entry = extras.metrics["kl_latent_vs_image"]
    assert entry["unit"] == "nats" and entry["images"] == 2
    assert entry["value"] == entry["latent"] and np.isfinite(entry["image"])
    assert len(entry["per_image_latent"]) == 2 and entry["bin_width"] == 1.0
    # identity-initialised encoder: latent noise = 255·E(y) − x ≈ image noise (up to float
    # rounding), so with grey-level bins the two spaces score alike (Laplace noise: ≈ 0.07)
    assert entry["latent"] == pytest.approx(entry["image"], rel=0.05, abs=0.01)
    assert entry["image"] > 0.02
    assert np.isfinite(entry["latent_128_bins"]) and np.isfinite(entry["image_128_bins"])
    assert extras.figures == {
        "noise_histograms": "figures/zheng-test/noise_histograms.png",
        "residual_maps": "figures/zheng-test/residual_maps.png",
    }
    for relative in extras.figures.values():
        assert (reports / relative).stat().st_size > 1000


def test_extras_without_images_say_why(tmp_path):
    model = tiny().eval()
    empty = np.zeros((0, 16, 16, 3), dtype=np.uint8)
    context = RestorationContext(
        inputs=empty,
        targets=empty,
        names=[],
        outputs=[],
        figure_dir=tmp_path / "figures",
        reports_root=tmp_path,
        device=torch.device("cpu"),
        seed=0,
    )
    entry = evaluation_for(model.registered_name).restoration_extras(model, context).metrics["kl_latent_vs_image"]
    assert entry["value"] is None and entry["not_measured"]
