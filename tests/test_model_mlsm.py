"""mlsm (Zeng et al. 2024, multiple latent space mapping): the restoration contract on tiny configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import vaerepro.models.mlsm  # noqa: F401  (registration)
from vaerepro.evaluation.extras import RestorationContext, evaluation_for
from vaerepro.evaluation.windows import most_textured_window
from vaerepro.models.registry import build_model
from vaerepro.models.restoration import restore_image
from vaerepro.structured import ConfigError

TINY = {
    "image_shape": [3, 32, 32],
    "num_levels": 3,
    "hidden_channels": 8,
    "latent_channels": 4,
    "residual_blocks": 1,
    "mapping_channels": 8,
    "mapping_residual_blocks": 1,
}


def make(seed: int = 0, **overrides):
    return build_model("mlsm", {**TINY, **overrides}, seed=seed)


def pair(batch: int = 2, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A smooth (learnable) normal-light batch and its dark version, (B, 3, size, size)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand(batch, 3, 4, 4, generator=generator)
    clean = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
    return 0.1 * clean, clean


def test_forward_returns_finite_scalar_terms_and_gradients_reach_every_parameter():
    model = make()
    outputs = model(*pair())
    assert set(outputs) == {
        "loss",
        "dark_reconstruction",
        "normal_reconstruction",
        "kl_dark",
        "kl_normal",
        "latent_mapping",
        "enhancement_reconstruction",
    }
    for name, value in outputs.items():
        assert value.ndim == 0, name
        assert torch.isfinite(value), name
    outputs["loss"].backward()
    missing = [name for name, parameter in model.named_parameters() if parameter.grad is None]
    assert not missing
    assert all(torch.isfinite(parameter.grad).all() for parameter in model.parameters())


def test_mapping_losses_do_not_train_the_vaes_unless_asked():
    model = make()
    outputs = model(*pair())
    (outputs["latent_mapping"] + outputs["enhancement_reconstruction"]).backward()
    for name, parameter in model.named_parameters():
        if name.startswith(("dark_vae.", "normal_vae.")):
            assert parameter.grad is None or not parameter.grad.any(), name
        else:
            assert parameter.grad is not None and parameter.grad.any(), name

    end_to_end = make(stop_gradient_to_vaes=False)
    outputs = end_to_end(*pair())
    outputs["enhancement_reconstruction"].backward()
    assert end_to_end.normal_vae.output.weight.grad.any()
    assert end_to_end.dark_vae.stem[0].weight.grad.any()


def test_enhance_keeps_shape_and_range():
    model = make().eval()
    degraded, _ = pair(batch=3)
    with torch.no_grad():
        restored = model.enhance(degraded)
    assert restored.shape == degraded.shape
    assert restored.min() >= 0 and restored.max() <= 1


def test_forward_requires_the_reference():
    model = make()
    degraded, clean = pair()
    with pytest.raises(ValueError, match="normal-light reference"):
        model(degraded)
    with pytest.raises(ValueError, match="differ in shape"):
        model(degraded, clean[:1])
    assert model.supervised and model.uses_targets


def test_grayscale_image_to_rgb_model_is_rejected():
    model = make().eval()
    with pytest.raises(ValueError, match="RGB images .* grayscale"):
        model.check_input(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="grayscale"):
        restore_image(model, np.random.default_rng(0).random((32, 32, 1)))


def test_restore_image_pads_to_the_size_multiple_and_crops_back():
    model = make().eval()
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
    with pytest.raises(ConfigError, match="'kl_weight' must be >= 0, got -1.0"):
        make(kl_weight=-1.0)
    with pytest.raises(ConfigError):
        make(latent_mapping_wieght=1.0)


def test_a_few_adam_steps_reduce_the_loss_on_a_fixed_batch():
    model = make()
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


def test_closeup_window_finds_the_textured_block_on_the_jpeg_grid():
    reference = np.zeros((64, 64, 3), dtype=np.uint8)
    reference[40:56, 24:40] = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    top, left = most_textured_window(reference, 16, stride=8)
    assert (top % 8, left % 8) == (0, 0)
    assert (top, left) == (40, 24)


def test_artefact_closeup_figure_is_written(tmp_path):
    model = make().eval()
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 256, (3, 72, 80, 3), dtype=np.uint8)
    inputs = (targets // 8).astype(np.uint8)
    outputs = [None] + [(restore_image(model, image / 255.0) * 255).round().astype(np.uint8) for image in inputs[1:]]
    reports = tmp_path / "reports"
    context = RestorationContext(
        inputs=inputs,
        targets=targets,
        names=["a", "b", "c"],
        outputs=outputs,
        figure_dir=reports / "figures" / "mlsm-lol",
        reports_root=reports,
        device=torch.device("cpu"),
        seed=0,
    )
    extras = evaluation_for(model.registered_name).restoration_extras(model, context)
    assert extras.figures == {"artefact_closeup": "figures/mlsm-lol/artefact_closeup.png"}
    assert (reports / "figures" / "mlsm-lol" / "artefact_closeup.png").stat().st_size > 0

    nothing = RestorationContext(**{**context.__dict__, "outputs": [None, None, None]})
    assert evaluation_for(model.registered_name).restoration_extras(model, nothing).figures == {}
