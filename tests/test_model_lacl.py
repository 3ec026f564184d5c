"""lacl (Wu et al. 2024, LACR-VAE): the restoration contract on tiny configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vaerepro.models.lacl  # noqa: F401  (registration)
from vaerepro.models.lacl import infonce, l1_ratio
from vaerepro.models.registry import build_model
from vaerepro.models.restoration import restore_image
from vaerepro.structured import ConfigError

TINY = {
    "image_shape": [3, 32, 32],
    "hidden_channels": 4,
    "num_downsamplings": 3,
    "latent_channels": 2,
    "residual_blocks": 1,
    "multi_scale_dilations": [1, 2],
    "region_grid": 2,
    "embedding_channels": 4,
}
VARIANTS = {
    "infonce-encoder-latent": {},
    "infonce-light-encoder": {"embedding": "light_encoder"},
    "l1-ratio-skips": {"contrastive_form": "l1_ratio", "skip_connections": True},
}


def make(seed: int = 0, **overrides):
    return build_model("lacl", {**TINY, **overrides}, seed=seed)


def pair(batch: int = 2, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth (learnable) normal-light batch and its dark version, (B, 3, size, size)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 4, 4, generator=generator)
    clean = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return 0.1 * clean, clean


@pytest.mark.parametrize("variant", VARIANTS)
def test_forward_returns_finite_scalar_terms_and_gradients_reach_every_parameter(variant):
    model = make(**VARIANTS[variant])
    outputs = model(*pair())
    assert set(outputs) == {"loss", "reconstruction", "kl", "contrastive"}
    for name, value in outputs.items():
        assert value.ndim == 0, name
        assert torch.isfinite(value), name
    outputs["loss"].backward()
    missing = [name for name, parameter in model.named_parameters() if parameter.grad is None]
    assert not missing
    assert all(torch.isfinite(parameter.grad).all() for parameter in model.parameters())


def test_encoder_latent_embedding_passes_gradient_to_the_image_not_the_encoder():
    model = make()
    images = torch.rand(2, 3, 32, 32, requires_grad=True)
    model.light_embedding(images, trainable=True).sum().backward()
    assert images.grad is not None and images.grad.any()
    assert all(parameter.grad is None for parameter in model.parameters())
    constant = model.light_embedding(torch.rand(2, 3, 32, 32), trainable=False)
    assert not constant.requires_grad
    assert constant.shape == (2, 2 * 4 * 4)


def test_light_encoder_embedding_is_trained_by_the_contrastive_term():
    model = make(embedding="light_encoder")
    model(*pair())["contrastive"].backward()
    assert all(parameter.grad is not None for parameter in model.light_encoder.parameters())


@pytest.mark.parametrize("variant", VARIANTS)
def test_enhance_keeps_shape_and_range(variant):
    model = make(**VARIANTS[variant]).eval()
    degraded, _ = pair(batch=3)
    with torch.no_grad():
        restored = model.enhance(degraded)
    assert restored.shape == degraded.shape
    assert restored.min() >= 0 and restored.max() <= 1


def test_forward_requires_the_reference():
    model = make()
    degraded, clean = pair()
    with pytest.raises(ValueError, match="normal-light reference"):
        model(degraded, None)
    with pytest.raises(ValueError, match="differ in shape"):
        model(degraded, clean[:, :, :16])
    assert model.supervised and model.uses_targets


def test_grayscale_image_to_rgb_model_is_rejected():
    model = make().eval()
    with pytest.raises(ValueError, match="RGB images .* grayscale"):
        model.check_input(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="grayscale"):
        restore_image(model, np.random.default_rng(0).random((32, 32, 1)))


@pytest.mark.parametrize("variant", ["infonce-encoder-latent", "l1-ratio-skips"])
def test_restore_image_pads_to_the_size_multiple_and_crops_back(variant):
    model = make(**VARIANTS[variant]).eval()
    assert model.size_multiple == 8
    image = np.random.default_rng(0).random((37, 45, 3))
    restored = restore_image(model, image)
    assert restored.shape == image.shape
    assert restored.min() >= 0 and restored.max() <= 1


def test_seeded_build_is_deterministic():
    first, second, other = (
        make(seed=3).state_dict(),
        make(seed=3).state_dict(),
        make(seed=4).state_dict(),
    )
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not all(torch.equal(first[key], other[key]) for key in first)


def test_bad_options_fail_clearly():
    with pytest.raises(ConfigError, match="'temperature' must be > 0, got 0.0"):
        make(temperature=0.0)
    with pytest.raises(ConfigError):
        make(contrastive_form="triplet")
    with pytest.raises(ConfigError):
        make(contrast_weight=1.0)


def test_infonce_and_l1_ratio_prefer_the_anchor_near_the_positive():
    positives = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    negatives = torch.tensor([[-1.0, 0.2], [0.3, -1.0]])
    near, far = positives + 0.05, negatives + 0.05
    assert infonce(near, positives, negatives, 0.1) < infonce(far, positives, negatives, 0.1)
    assert l1_ratio(near, positives, negatives) < l1_ratio(far, positives, negatives)
    # Anchor = positive, one negative orthogonal to both anchors: log(1 + exp(-1/τ)) per row.
    anchors = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    orthogonal = torch.tensor([[0.0, 0.0, 1.0]])
    expected = np.log(1 + np.exp(-1 / 0.5))
    assert infonce(anchors, anchors, orthogonal, 0.5).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("variant", ["infonce-encoder-latent", "infonce-light-encoder"])
def test_a_few_adam_steps_reduce_the_loss_on_a_fixed_batch(variant):
    model = make(**VARIANTS[variant])
    degraded, clean = pair(batch=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def loss_at_fixed_noise() -> float:
        torch.manual_seed(0)
        with torch.no_grad():
            return model(degraded, clean)["loss"].item()

    before = loss_at_fixed_noise()
    torch.manual_seed(1)
    for _ in range(30):
        optimizer.zero_grad()
        model(degraded, clean)["loss"].backward()
        optimizer.step()
    assert loss_at_fixed_noise() < 0.9 * before
