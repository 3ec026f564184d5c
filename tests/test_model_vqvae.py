"""VQ-VAE / VQ-VAE-2 (models/vqvae.py): phases that train what they should and nothing else,
the likelihood bound's parts against hand-computed values, the bottom prior's conditioning on
the top codes, and the discrete-latent evaluation's bookkeeping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.test_models_contract import TINY_VQ
from vaerepro.evaluation.discrete_latent import evaluate_discrete_latent
from vaerepro.evaluation.settings import EvaluateSettings
from vaerepro.models import build_model


def make(levels: int = 1, **options) -> torch.nn.Module:
    return build_model("vqvae", {"image_shape": [3, 8, 8], **TINY_VQ, "levels": levels, **options}, seed=0)


def images(batch: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, 3, 8, 8, generator=torch.Generator().manual_seed(seed))


def snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: tensor.clone() for name, tensor in module.state_dict().items()}


@pytest.mark.parametrize("levels", [1, 2])
def test_the_autoencoder_phase_leaves_the_priors_and_the_prior_phase_leaves_the_autoencoder(levels):
    model = make(levels).train()
    x = images()
    autoencoder, prior = model.optimizer_phases(10)
    assert (autoencoder.name, autoencoder.steps, prior.name) == ("autoencoder", 5, "prior")
    prior_names = {name for name in model.state_dict() if name.startswith(("top_prior.", "bottom_prior."))}
    before = snapshot(model)
    model.begin_phase("autoencoder")
    optimizer = torch.optim.Adam(autoencoder.groups[0].parameters, lr=1e-2)
    model(x)["loss"].backward()
    optimizer.step()
    after = snapshot(model)
    assert all(torch.equal(before[name], after[name]) for name in prior_names)
    # The EMA codebook moved (a buffer and the codebook weight), and so did the encoder.
    assert not torch.equal(before["bottom_quantizer.codebook.weight"], after["bottom_quantizer.codebook.weight"])
    assert not torch.equal(before["bottom_encoder.0.weight"], after["bottom_encoder.0.weight"])

    model.begin_phase("prior")
    optimizer = torch.optim.Adam(prior.groups[0].parameters, lr=1e-2)
    terms = model(x)
    assert set(terms) >= {"loss"} and all(key.endswith("bits_per_code") for key in terms if key != "loss")
    terms["loss"].backward()
    optimizer.step()
    final = snapshot(model)
    changed = {name for name in final if not torch.equal(after[name], final[name])}
    # The priors, the phase and the likelihood's variance (fitted on the frozen autoencoder) only.
    assert changed and changed <= prior_names | {"phase_index", "likelihood_scale.total", "likelihood_scale.elements"}


def test_uniform_prior_is_log_k_per_code():
    one = make(1)  # 8x8 image, one downsampling: a 4x4 grid of codes, K = 8
    assert one.uniform_prior_nats() == pytest.approx(16 * math.log(8))
    two = make(2)  # 4x4 bottom + 2x2 top
    assert two.uniform_prior_nats() == pytest.approx((16 + 4) * math.log(8))


def test_the_bottom_prior_reads_the_top_codes_and_is_causal():
    model = make(2).eval()
    codes = model.encode_codes(images())
    top, bottom = codes["top"].flatten(1), codes["bottom"].flatten(1)
    logits = model.bottom_prior.logits(bottom, condition=top)
    other_top = (top + 1) % model.options.codebook_size
    assert not torch.allclose(logits, model.bottom_prior.logits(bottom, condition=other_top))
    # A change at bottom position t never changes the predictions for positions <= t.
    changed = bottom.clone()
    changed[:, 5] = (changed[:, 5] + 1) % model.options.codebook_size
    assert torch.allclose(logits[:, :6], model.bottom_prior.logits(changed, condition=top)[:, :6])
    assert not torch.allclose(logits[:, 6:], model.bottom_prior.logits(changed, condition=top)[:, 6:])


def test_the_likelihood_variance_is_the_frozen_autoencoders_training_squared_error():
    """sigma² is fitted in closed form during the prior phase, from training batches only."""
    model = make(1).train()
    assert not model.likelihood_scale.fitted and model.likelihood_scale.variance() == 1.0
    model.begin_phase("prior")
    batches = [images(4, seed) for seed in range(3)]
    for x in batches:
        model(x)
    with torch.no_grad():
        model.eval()
        errors = [(model.decode_codes(model.encode_codes(x)) - x).pow(2).sum() for x in batches]
        expected = float(sum(errors) / sum(x.numel() for x in batches))
        model(images(4, 9))  # evaluation-mode forwards (test data) never move it
    assert model.likelihood_scale.variance() == pytest.approx(expected, rel=1e-6)
    # The bound reads it: a smaller variance gives the well-reconstructed images higher likelihood.
    codes = model.encode_codes(batches[0])
    fitted = model.reconstruction_nats(batches[0], codes)
    model.likelihood_scale.total.fill_(0)
    model.likelihood_scale.elements.fill_(0)
    assert torch.all(fitted < model.reconstruction_nats(batches[0], codes))


def test_reconstruct_levels_shows_top_only_and_both():
    model = make(2).eval()
    views = model.reconstruct_levels(images(3))
    assert list(views) == ["top codes only", "all levels"]
    assert all(view.shape == (3, 3, 8, 8) for view in views.values())
    assert list(make(1).eval().reconstruct_levels(images(3))) == ["all levels"]


@pytest.mark.parametrize("levels", [1, 2])
def test_discrete_latent_evaluation_bookkeeping(levels):
    model = make(levels).eval()
    test = np.random.default_rng(0).integers(0, 256, size=(12, 8, 8, 3), dtype=np.uint8)
    settings = EvaluateSettings(test_count=10, batch_size=4, sample_count=6)
    result = evaluate_discrete_latent(model, test, settings, seed=0, classifier=None, fid=None)
    metrics = result.metrics
    elbo = metrics["negative_elbo"]
    assert elbo["test_count"] == 10
    assert elbo["value"] == pytest.approx(elbo["reconstruction_nats"] + elbo["prior_nats"])
    dims = 3 * 8 * 8
    assert metrics["bits_per_dim"]["value"] == pytest.approx(elbo["value"] / (dims * math.log(2)))
    assert metrics["bits_per_dim_uniform_prior"]["value"] == pytest.approx(
        (elbo["reconstruction_nats"] + model.uniform_prior_nats()) / (dims * math.log(2))
    )
    for name, grid in model.grids.items():
        usage = metrics[f"codebook_usage_{name}"]
        assert sum(usage["counts"]) == 10 * grid[0] * grid[1]
        assert usage["value"] == pytest.approx(usage["used"] / 8)
        assert 1.0 <= metrics[f"codebook_perplexity_{name}"]["value"] <= usage["used"] + 1e-6
    assert result.samples["samples"].shape == (6, 3, 8, 8)
    assert metrics["fid"]["value"] is None and metrics["fid_reconstructions"]["value"] is None
    assert metrics["reconstruction_psnr"]["unit"] == "dB" and metrics["reconstruction_psnr"]["test_count"] == 10
    assert metrics["sampling_seconds_per_image"]["value"] > 0
    assert "11×11 window does not fit 8×8" in metrics["reconstruction_ssim"]["not_measured"]
    # PSNR of the reported MSE: the per-image mean of PSNRs is at most the PSNR of the mean MSE
    # (Jensen), up to the 8-bit rounding of the reconstructions.
    assert metrics["reconstruction_psnr"]["value"] <= 10 * math.log10(1 / metrics["reconstruction_mse"]["value"]) + 0.5
