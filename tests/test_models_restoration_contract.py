"""The restoration-model contract (models/restoration.py), checked for every registered
restoration model with a tiny configuration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vaerepro.models import build_model, model_class, registered_models
from vaerepro.models.restoration import RestorationModel, restore_image

# One tiny configuration per restoration model (image_shape is (C, H, W) of the data).
RESTORATION_CASES: dict[str, dict] = {
    "identity": {"image_shape": [3, 16, 16]},
    "bm3d": {"image_shape": [3, 16, 16], "noise_sigma": 10.0},
    "nlmeans": {"image_shape": [3, 16, 16]},
    "gamma": {"image_shape": [3, 16, 16]},
    "histeq": {"image_shape": [3, 16, 16]},
    "clahe": {"image_shape": [3, 16, 16]},
    "grayworld": {"image_shape": [3, 16, 16]},
    "divnoising": {
        "image_shape": [3, 8, 8],
        "hidden_channels": 4,
        "convolutions_per_level": 1,
        "latent_channels": 2,
        "posterior_samples": 2,
    },
    "zheng": {
        "image_shape": [3, 16, 16],
        "base_channels": 4,
        "num_downsamplings": 2,
        "denoiser": "nlmeans",
        "prior_items": 2,
        "prior_crop_size": 16,
    },
    "uwcvgan": {
        "image_shape": [3, 8, 8],
        "hidden_channels": 4,
        "channel_multipliers": [1, 2, 2],
        "num_downsamplings": 2,
        "residual_blocks": 1,
        "norm_groups": 2,
        "latent_channels": 8,
        "capsule_types": 4,
        "capsule_dim": 4,
        "capsule_prediction_dim": 8,
        "codebook_size": 16,
        "adversarial_start_step": 0,
        "discriminator_channels": 4,
        "discriminator_layers": 1,
    },
    "mlsm": {
        "image_shape": [3, 16, 16],
        "num_levels": 2,
        "hidden_channels": 4,
        "latent_channels": 2,
        "mapping_channels": 4,
        "mapping_residual_blocks": 1,
    },
    "lacl": {
        "image_shape": [3, 16, 16],
        "hidden_channels": 4,
        "num_downsamplings": 2,
        "latent_channels": 2,
        "multi_scale_dilations": [1, 2],
        "region_grid": 2,
        "embedding_channels": 4,
    },
}


def restoration_models() -> set[str]:
    return {
        name
        for name in registered_models()
        if issubclass(model_class(name), RestorationModel) and not name.startswith("test_")
    }


def test_every_restoration_model_has_a_contract_case():
    assert restoration_models() <= set(RESTORATION_CASES), (
        f"add a tiny config for {restoration_models() - set(RESTORATION_CASES)}"
    )


def batch(model: RestorationModel, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    clean = torch.rand(2, model.channels, size, size, generator=generator) * 0.6 + 0.2
    degraded = (clean + 0.1 * torch.randn(clean.shape, generator=generator)).clamp(0, 1)
    return degraded, clean


@pytest.mark.parametrize("name", sorted(RESTORATION_CASES))
def test_forward_and_enhance_follow_the_contract(name):
    model = build_model(name, RESTORATION_CASES[name], seed=0)
    multiple = max(model.size_multiple, model.minimum_size, 16)
    degraded, clean = batch(model, size=multiple)
    if model.trainable:
        model.train()
        outputs = model(degraded, clean if model.supervised else None)
        assert outputs["loss"].ndim == 0 and torch.isfinite(outputs["loss"])
        outputs["loss"].backward()
        assert any(parameter.grad is not None and parameter.grad.abs().sum() > 0 for parameter in model.parameters())
        if model.supervised:
            with pytest.raises((ValueError, TypeError)):
                model(degraded, None)
    model.eval()
    with torch.no_grad():
        restored = model.enhance(degraded)
    assert restored.shape == degraded.shape and float(restored.min()) >= 0 and float(restored.max()) <= 1


@pytest.mark.parametrize("name", sorted(RESTORATION_CASES))
def test_odd_sizes_are_padded_and_grayscale_is_refused(name):
    model = build_model(name, RESTORATION_CASES[name], seed=0).eval()
    side = max(model.size_multiple, model.minimum_size, 16) + 3
    image = np.random.default_rng(0).random((side, side + 2, model.channels)) * 0.6 + 0.2
    assert restore_image(model, image).shape == image.shape
    if model.channels == 3:
        with pytest.raises(ValueError, match="grayscale"):
            restore_image(model, image[..., :1])


@pytest.mark.parametrize("name", sorted(RESTORATION_CASES))
def test_seeded_build_is_deterministic(name):
    first = build_model(name, RESTORATION_CASES[name], seed=3).state_dict()
    second = build_model(name, RESTORATION_CASES[name], seed=3).state_dict()
    assert first.keys() == second.keys()
    for key in first:
        torch.testing.assert_close(first[key], second[key])
