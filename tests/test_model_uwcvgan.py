"""UW-CVGAN (Pucci et al. 2023): losses, optimizer groups, warm-up, compression count, extras."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vaerepro.evaluation.extras import RestorationContext, evaluation_for
from vaerepro.evaluation.extras.uwcvgan import compression_factor
from vaerepro.models.phases import plan_phases
from vaerepro.models.registry import build_model
from vaerepro.models.restoration import restore_image
from vaerepro.models.uwcvgan import UWCVGAN, gradient_difference_loss

TINY = {
    "image_shape": [3, 32, 32],
    "hidden_channels": 8,
    "channel_multipliers": [1, 2, 2],
    "num_downsamplings": 2,
    "residual_blocks": 1,
    "norm_groups": 4,
    "latent_channels": 16,
    "capsule_types": 4,
    "capsule_dim": 4,
    "capsule_prediction_dim": 8,
    "codebook_size": 16,
    "adversarial_start_step": 0,
    "discriminator_channels": 8,
}
QUANTIZERS = ["capsule", "vector"]


def make(seed: int = 0, **overrides) -> UWCVGAN:
    return build_model("uwcvgan", {**TINY, **overrides}, seed=seed)


def pair(batch: int = 2, size: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    clean = torch.rand(batch, 3, size, size, generator=generator)
    degraded = (
        clean * torch.tensor([0.3, 0.8, 0.9]).view(1, 3, 1, 1) + torch.tensor([0.0, 0.2, 0.3]).view(1, 3, 1, 1)
    ).clamp(0, 1)
    return degraded, clean


def parameters_of(module: torch.nn.Module) -> set[int]:
    return {id(parameter) for parameter in module.parameters()}


@pytest.mark.parametrize("quantizer", QUANTIZERS)
def test_forward_returns_finite_scalar_terms(quantizer):
    outputs = make(quantizer=quantizer)(*pair())
    for key in ("loss", "recon", "codebook", "commit", "g_adv", "d_adv"):
        assert key in outputs
    for key, value in outputs.items():
        assert value.ndim == 0, key
        assert torch.isfinite(value), key
    if quantizer == "capsule":  # the paper's capsule layer has no codebook terms
        assert outputs["codebook"].item() == 0 and outputs["commit"].item() == 0
    else:
        assert outputs["codebook"].item() > 0 and "perplexity" in outputs


@pytest.mark.parametrize("quantizer", QUANTIZERS)
def test_optimizer_groups_split_discriminator_and_generator(quantizer):
    model = make(quantizer=quantizer)
    (phase,) = model.optimizer_phases(total_steps=10)
    discriminator, generator = phase.groups
    assert (discriminator.name, discriminator.loss_key) == ("discriminator", "d_adv")
    assert (generator.name, generator.loss_key) == ("generator", "loss")
    assert {id(p) for p in discriminator.parameters} == parameters_of(model.discriminator)
    assert {id(p) for p in generator.parameters}.isdisjoint({id(p) for p in discriminator.parameters})
    assert {id(p) for p in generator.parameters} | {id(p) for p in discriminator.parameters} == parameters_of(model)
    assert parameters_of(model.quantize) <= {id(p) for p in generator.parameters}
    plan_phases([phase], 10)


@pytest.mark.parametrize("quantizer", QUANTIZERS)
def test_generator_loss_reaches_encoder_decoder_and_bottleneck(quantizer):
    model = make(quantizer=quantizer)
    model.zero_grad(set_to_none=True)
    model(*pair())["loss"].backward()
    for name, module in (
        ("encoder", model.encoder),
        ("decoder", model.decoder),
        ("quantize", model.quantize),
    ):
        grads = [p.grad for p in module.parameters()]
        assert all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name


@pytest.mark.parametrize("quantizer", QUANTIZERS)
def test_discriminator_loss_does_not_reach_the_generator(quantizer):
    model = make(quantizer=quantizer)
    model.zero_grad(set_to_none=True)
    model(*pair())["d_adv"].backward()
    generator = [p for p in model.parameters() if id(p) not in parameters_of(model.discriminator)]
    assert all(p.grad is None for p in generator)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.discriminator.parameters())


def test_adversarial_terms_start_after_the_warm_up():
    model = make(adversarial_start_step=2)
    degraded, clean = pair()
    seen = []
    for step in range(3):  # three training steps, two forward passes each (discriminator, generator)
        model.begin_step(step)  # what the training loop does before each step
        for _group in range(2):
            outputs = model(degraded, clean)
            seen.append((outputs["d_adv"].item(), outputs["adversarial_weight"].item()))
    assert seen[:4] == [(0.0, 0.0)] * 4
    assert all(d_adv > 0 and weight > 0 for d_adv, weight in seen[4:])
    model.begin_step(0)  # a resumed run is given its step back: the schedule follows it
    assert model(degraded, clean)["d_adv"].item() == 0.0


def test_fixed_adversarial_weight_option():
    outputs = make(adaptive_adversarial_weight=False, adversarial_weight=0.5)(*pair())
    assert outputs["adversarial_weight"].item() == pytest.approx(0.5)


@pytest.mark.parametrize("quantizer", QUANTIZERS)
def test_alternating_optimizer_steps_reduce_reconstruction(quantizer):
    model = make(quantizer=quantizer)
    (phase,) = model.optimizer_phases(total_steps=30)
    optimizers = {group.name: torch.optim.Adam(group.parameters, lr=1e-3, betas=(0.5, 0.9)) for group in phase.groups}
    # a smooth (learnable) clean batch and its colour-cast copy, fixed across steps
    generator = torch.Generator().manual_seed(0)
    clean = torch.nn.functional.interpolate(torch.rand(4, 3, 4, 4, generator=generator), size=(32, 32), mode="bilinear")
    degraded = clean * torch.tensor([0.3, 0.8, 0.9]).view(1, 3, 1, 1) + torch.tensor([0.0, 0.2, 0.3]).view(1, 3, 1, 1)
    model.train()
    recon = []
    for _ in range(30):
        for group in phase.groups:  # the training loop's order: discriminator, then generator
            model.zero_grad(set_to_none=True)
            outputs = model(degraded, clean)
            outputs[group.loss_key].backward()
            optimizers[group.name].step()
        recon.append(outputs["recon"].item())
    assert recon[-1] < 0.8 * recon[0], recon


def test_enhance_and_restore_image_keep_shape_and_range():
    model = make().eval()
    image = np.random.default_rng(0).random((30, 27, 3))
    restored = restore_image(model, image)
    assert restored.shape == image.shape
    assert restored.min() >= 0 and restored.max() <= 1
    degraded, _ = pair(batch=1)
    with torch.no_grad():
        assert model.enhance(degraded).shape == degraded.shape


def test_grayscale_image_to_rgb_model_fails_clearly():
    model = make().eval()
    with pytest.raises(ValueError, match=r"RGB images \(3 channels\) but got grayscale \(1 channels\)"):
        restore_image(model, np.zeros((32, 32, 1)))


def test_forward_input_checks():
    model = make()
    degraded, clean = pair()
    with pytest.raises(ValueError, match="supervised"):
        model(degraded)
    with pytest.raises(ValueError, match="multiple of 4"):
        model(degraded[..., :30, :30], clean[..., :30, :30])
    with pytest.raises(ValueError, match="too small for the 3-layer PatchGAN"):
        model(degraded[..., :16, :16], clean[..., :16, :16])


def test_seeded_build_is_deterministic():
    first, second, other = (
        make(seed=3).state_dict(),
        make(seed=3).state_dict(),
        make(seed=4).state_dict(),
    )
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert any(not torch.equal(first[key], other[key]) for key in first)


def test_option_errors():
    with pytest.raises(ValueError, match="LPIPS"):
        make(perceptual_weight=1.0)
    with pytest.raises(ValueError, match="needs 3"):
        make(channel_multipliers=[1, 2])
    with pytest.raises(ValueError, match="norm_groups"):
        make(norm_groups=3)


# A model whose latent is the paper's 256×16×16 for a 3×256×256 input (narrow otherwise).
PAPER_LATENT = {
    **TINY,
    "hidden_channels": 4,
    "channel_multipliers": [1, 1, 1, 1, 1],
    "num_downsamplings": 4,
    "latent_channels": 256,
    "capsule_types": 32,
    "capsule_dim": 16,
    "capsule_prediction_dim": 64,
    "codebook_size": 1024,
}


def test_paper_latent_shape_and_compression_factor():
    model = make(**{**PAPER_LATENT, "quantizer": "vector"})
    assert model.size_multiple == 16
    assert model.latent_shape((3, 256, 256)) == (256, 16, 16)
    entry = compression_factor(model)
    assert entry["value"] == 3.0  # 3·256·256 / (256·16·16), the paper's "factor of 3×"
    assert (entry["input_elements"], entry["latent_elements"]) == (196608, 65536)
    assert entry["unit"] == "elements ratio"
    # 8 bits × 196608 input elements over 16·16 indices × log2(1024) = 10 bits
    assert entry["bits_ratio"] == pytest.approx(1572864 / 2560) == 614.4


def test_capsule_compression_counts():
    entry = compression_factor(make(**PAPER_LATENT))
    assert entry["value"] == 3.0
    assert entry["bits_ratio"] == pytest.approx(1572864 / (65536 * 32))  # float32 latent: 0.75
    assert entry["capsule_map_elements"] == 32 * 9 * 9
    assert entry["capsule_map_ratio"] == pytest.approx(196608 / 2592)


def context(model: UWCVGAN, tmp_path: Path, count: int = 3) -> RestorationContext:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(count, 20, 24, 3), dtype=np.uint8)
    return RestorationContext(
        inputs=images,
        targets=images,
        names=[str(i) for i in range(count)],
        outputs=[None] * count,
        figure_dir=tmp_path,
        reports_root=tmp_path,
        device=torch.device("cpu"),
        seed=0,
    )


def test_evaluation_extras_vector_quantizer(tmp_path):
    model = make(quantizer="vector")
    extras = evaluation_for(model.registered_name).restoration_extras(model, context(model, tmp_path))
    usage = extras.metrics["codebook_usage"]
    assert 0 < usage["value"] <= 1
    assert usage["codes_used"] == round(usage["value"] * 16)
    assert usage["latent_positions"] == 3 * 5 * 6  # 20×24 padded to 20×24 → 5×6 latent
    assert extras.metrics["compression_factor"]["value"] == pytest.approx(3 * 256 * 256 / (16 * 64 * 64))
    assert model.training  # the mode is restored


def test_evaluation_extras_capsule_has_no_codebook(tmp_path):
    model = make()
    extras = evaluation_for(model.registered_name).restoration_extras(model, context(model, tmp_path))
    assert extras.metrics["codebook_usage"]["value"] is None
    assert "capsule" in extras.metrics["codebook_usage"]["not_measured"]


def test_gradient_difference_loss_hand_computed():
    reference = torch.tensor([[[[0.0, 1.0], [0.0, 1.0]]]])  # horizontal step of 1, no vertical change
    generated = torch.zeros(1, 1, 2, 2)
    # |dx| differs by 1 at the two left positions, 0 elsewhere (last column padded): 2 / 4
    assert gradient_difference_loss(generated, reference).item() == pytest.approx(0.5)
