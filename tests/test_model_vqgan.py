"""VQGAN (models/vqgan.py): the discriminator's start step, the adaptive weight, the perceptual
term real with VGG16 weights and recorded as off without them, and checkpoints without VGG16."""

from __future__ import annotations

import pytest
import torch

from tests.test_models_contract import TINY_VQGAN
from vaerepro.models import build_model
from vaerepro.models.perceptual import WEIGHTS_VARIABLE, PerceptualDistance


def make(**options) -> torch.nn.Module:
    return build_model("vqgan", {"image_shape": [3, 16, 16], **TINY_VQGAN, **options}, seed=0)


def images(seed: int = 0) -> torch.Tensor:
    return torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def vgg16_weights(tmp_path, monkeypatch):
    """A VGG16 state dict with torchvision's layout (random weights: the code path, not ImageNet)."""
    from torchvision.models import vgg16

    torch.manual_seed(0)
    path = tmp_path / "vgg16.pth"
    torch.save(vgg16(weights=None).state_dict(), path)
    monkeypatch.setenv(WEIGHTS_VARIABLE, str(path))
    return path


def test_adversarial_terms_are_off_before_the_start_step_and_weighted_after():
    model = make(adversarial_start_step=3).train()
    x = images()
    model.begin_step(2)
    before = model(x)
    assert float(before["adversarial_weight"]) == 0.0 and float(before["d_adv"]) == 0.0
    model.begin_step(3)
    after = model(x)
    assert float(after["adversarial_weight"]) > 0.0 and float(after["d_adv"]) > 0.0
    # The discriminator optimizer gets a gradient only from the start step on.
    discriminator = model.optimizer_phases(10)[0].groups[0]
    assert discriminator.name == "discriminator" and discriminator.loss_key == "d_adv"


def test_adaptive_weight_is_the_gradient_norm_ratio_at_the_last_layer():
    model = make(adversarial_start_step=0, adversarial_weight=0.5).train()
    x = images()
    terms = model(x)
    last = model.decoder.conv_out.weight
    # Recompute Eq. 7 by hand from a second forward pass with the same weights.
    target = x * 2 - 1
    restored = model.decoder(model.post_quant_conv(model.quantizer(model.quant_conv(model.encoder(target))).quantized))
    reconstruction = (restored - target).abs().mean()
    adversarial = -model.discriminator(restored).mean()
    grad_rec = torch.autograd.grad(reconstruction, last, retain_graph=True)[0].norm()
    grad_adv = torch.autograd.grad(adversarial, last)[0].norm()
    expected = 0.5 * float((grad_rec / (grad_adv + 1e-4)).clamp(0, 1e4))
    assert float(terms["adversarial_weight"]) == pytest.approx(expected, rel=1e-4)


def test_perceptual_term_without_weights_is_off_and_said(monkeypatch, tmp_path):
    monkeypatch.setenv(WEIGHTS_VARIABLE, str(tmp_path / "absent.pth"))
    model = make(perceptual_weight=1.0).train()
    assert not bool(model.perceptual_active)
    assert float(model(images())["perceptual"]) == 0.0
    assert "OFF" in model.perceptual_note and "VGG16" in model.perceptual_note
    assert "off (perceptual_weight 0)" in make(perceptual_weight=0.0).perceptual_note


def test_perceptual_distance_with_weights(vgg16_weights):
    distance = PerceptualDistance(vgg16_weights)
    a = images(0) * 2 - 1
    b = images(1) * 2 - 1
    assert torch.allclose(distance(a, a), torch.zeros(2), atol=1e-6)
    assert torch.all(distance(a, b) > 0)
    assert torch.allclose(distance(a, b), distance(b, a))
    # Five layers, each at most 4 (unit vectors): the distance is bounded by 20.
    assert torch.all(distance(a, -a) <= 20.0)


def test_perceptual_term_on_with_weights_and_vgg_not_in_the_checkpoint(vgg16_weights):
    model = make(perceptual_weight=1.0).train()
    assert bool(model.perceptual_active) and "on" in model.perceptual_note
    terms = model(images())
    assert float(terms["perceptual"]) > 0
    assert float(terms["recon"]) == pytest.approx(float(terms["pixel"] + terms["perceptual"]), rel=1e-5)
    assert not any("perceptual" in key and key != "perceptual_active" for key in model.state_dict())
    assert all(not parameter.requires_grad or "features" not in name for name, parameter in model.named_parameters())


def test_resuming_a_perceptual_run_without_the_weights_refuses(vgg16_weights, monkeypatch, tmp_path):
    trained = make(perceptual_weight=1.0)
    state = trained.state_dict()
    monkeypatch.setenv(WEIGHTS_VARIABLE, str(tmp_path / "absent.pth"))
    resumed = make(perceptual_weight=1.0)
    resumed.load_state_dict(state)
    assert bool(resumed.perceptual_active)
    with pytest.raises(RuntimeError, match="VGG16 weights are not on this machine"):
        resumed.train()(images())
    with torch.no_grad():  # evaluation never needs the perceptual network
        assert resumed.eval().reconstruct(images()).shape == (2, 3, 16, 16)
