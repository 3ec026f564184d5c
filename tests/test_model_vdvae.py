"""VDVAE (models/vdvae.py): the published CIFAR-10 size, a tiny model's loss terms, the zero
prior at initialisation, the Bernoulli variant, layer-string validation and determinism."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vaerepro.models import build_model
from vaerepro.structured import ConfigError

TINY = {
    "image_shape": [3, 8, 8],
    "width": 16,
    "zdim": 4,
    "enc_blocks": "8x1,8d2,4x1,4d4,1x1",
    "dec_blocks": "1x1,4m1,4x1,8m4,8x1",
    "num_mixtures": 3,
}


def make(seed: int = 0, **options) -> torch.nn.Module:
    return build_model("vdvae", {**TINY, **options}, seed=seed)


def images(shape=(3, 8, 8), batch: int = 4, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (batch, *shape), generator=generator).float() / 255


def test_cifar10_configuration_has_the_published_39_15m_parameters_and_43_latent_groups():
    model = build_model("vdvae", {}, seed=0)  # the defaults are the reference's cifar10 preset
    count = sum(parameter.numel() for parameter in model.parameters())
    # Width 384, bottleneck 96, zdim 16. A block with 3×3s: c1 + c2 + c3 + c4 (weights + biases).
    #   encoder block (384→96→384):           36,960 + 2 · 83,040 + 37,248 = 240,288 (30 of them)
    #   encoder block at res 1 (1×1s only):   36,960 + 2 · 9,312 + 37,248 =  92,832 (3)
    #   encoder in_conv 3×3 (3→384): 10,752.            encoder total  7,497,888
    #   top-down block, 3×3s: enc (768→96→32) 243,008 + prior (384→96→416) 243,392
    #       + z_proj (16→384) 6,528 + resnet 240,288 = 733,216 (42 of them)
    #   top-down block at res 1: 95,552 + 95,936 + 6,528 + 92,832 = 290,848 (1)
    #                                                   top-down total 31,085,920
    #   state biases 384 · (1 + 16 + 64 + 256 + 1024) = 522,624; gain + bias 768;
    #   output 1×1 (384→100 mixture parameters) 38,500.
    # 7,497,888 + 31,085,920 + 522,624 + 768 + 38,500 = 39,145,700 ≈ 39.15M, the count of the
    # reference code (openai/vdvae, hps cifar10) that Child (2021) reports as 39M.
    assert count == 39_145_700
    assert round(count / 1e6, 2) == 39.15
    assert len(model.decoder_blocks) == 43
    assert len(model.encoder.blocks) == 33


def test_tiny_model_trains_with_consistent_finite_terms():
    model = make().train()
    x = images()
    terms = model(x)
    for name, value in terms.items():
        assert value.ndim == 0 and torch.isfinite(value), name
    terms["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    value = {name: float(term.detach()) for name, term in terms.items()}
    dimensions = 3 * 8 * 8
    assert value["nll_bound_nats"] == pytest.approx(value["recon"] + value["kl"], rel=1e-6)
    assert value["loss"] == pytest.approx(value["nll_bound_nats"] / dimensions, rel=1e-6)
    assert value["bits_per_dim"] == pytest.approx(value["loss"] / math.log(2), rel=1e-6)
    assert value["elbo"] == -value["nll_bound_nats"]
    with torch.no_grad():
        kl = model.kl_per_block(x)
    assert kl.shape == (4, 5) and bool((kl >= 0).all())
    assert model.block_resolutions == (1, 4, 4, 8, 8)


def test_a_few_steps_lower_the_loss():
    model = make().train()
    x = images()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    torch.manual_seed(0)
    first = float(model(x)["loss"].detach())
    for _ in range(15):
        optimizer.zero_grad()
        model(x)["loss"].backward()
        optimizer.step()
    assert float(model(x)["loss"].detach()) < first


def test_samples_and_reconstructions_are_8bit_images_reproducible_from_a_seed():
    model = make().eval()
    first = model.sample(3, generator=torch.Generator().manual_seed(5))
    second = model.sample(3, generator=torch.Generator().manual_seed(5))
    other = model.sample(3, generator=torch.Generator().manual_seed(6))
    assert first.shape == (3, 3, 8, 8)
    assert torch.equal(first, second) and not torch.equal(first, other)
    assert first.min() >= 0 and first.max() <= 1
    assert torch.allclose(first * 255, torch.round(first * 255), atol=1e-3)
    cold = model.sample(3, generator=torch.Generator().manual_seed(5), temperature=0.0)
    assert cold.shape == first.shape
    reconstruction = model.reconstruct(images())
    assert reconstruction.shape == (4, 3, 8, 8) and reconstruction.min() >= 0 and reconstruction.max() <= 1
    assert torch.equal(reconstruction, model.reconstruct(images()))  # posterior means: deterministic


def test_priors_start_as_standard_normals_so_the_kl_is_the_closed_form_against_n01():
    model = make().eval()
    for block in model.decoder_blocks:
        assert not block.prior.c4.weight.any() and not block.prior.c4.bias.any()
        probe = torch.randn(2, 16, block.resolution, block.resolution)
        assert not block.prior(probe).any()  # prior mean 0, log-std 0, no residual feature
        block.enc.c4.weight.data.mul_(30.0)  # make the posteriors move away from N(0, 1)
    # Capture each block's posterior parameters and recompute its KL by hand, in float64:
    # KL(N(m, s²) || N(0, 1)) = sum(0.5 (m² + s² - 1) - log s).
    captured = []
    hooks = [
        block.enc.register_forward_hook(lambda module, inputs, output: captured.append(output.double()))
        for block in model.decoder_blocks
    ]
    x = images()
    with torch.no_grad():
        kl = model.kl_per_block(x, generator=torch.Generator().manual_seed(1))
    for hook in hooks:
        hook.remove()
    assert len(captured) == 5
    for index, output in enumerate(captured):
        mean, log_std = output.chunk(2, dim=1)
        expected = (0.5 * (mean**2 + torch.exp(2 * log_std) - 1) - log_std).flatten(1).sum(1)
        assert torch.allclose(kl[:, index].double(), expected, rtol=1e-4, atol=1e-5), index
    assert float(kl.sum()) > 1.0  # not trivially zero
    # The first block's posterior by hand: its state is the (zero-initialised) 1×1 bias map
    # and it reads the encoder's 1×1 activation.
    first = model.decoder_blocks[0]
    activations = model.encoder(x * 2 - 1)
    state = model.state_biases["1"].expand(4, -1, -1, -1)
    assert not state.any()
    mean, log_std = first.enc(torch.cat([state, activations[1]], dim=1)).double().chunk(2, dim=1)
    by_hand = (0.5 * (mean**2 + torch.exp(2 * log_std) - 1) - log_std).flatten(1).sum(1)
    assert torch.allclose(kl[:, 0].double(), by_hand, rtol=1e-4, atol=1e-5)


def test_bernoulli_variant_on_binary_images():
    model = make(image_shape=[1, 8, 8], likelihood="bernoulli").train()
    x = (images((1, 8, 8)) > 0.5).float()
    logits = []
    hook = model.out_conv.register_forward_hook(lambda module, inputs, output: logits.append(output))
    terms = model(x)
    hook.remove()
    assert logits[0].shape == (4, 1, 8, 8)  # one logit per pixel
    by_hand = -(x * logits[0] - F.softplus(logits[0])).flatten(1).sum(1).mean()
    assert float(terms["recon"].detach()) == pytest.approx(float(by_hand.detach()), rel=1e-5)
    terms["loss"].backward()
    assert torch.isfinite(terms["loss"])
    assert "Bernoulli" in model.likelihood_description
    model.eval()
    samples = model.sample(2, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (2, 1, 8, 8) and samples.min() >= 0 and samples.max() <= 1
    # Bernoulli samples are the pixel probabilities: with temperature 0 the latents are the prior
    # means, so two generators give the same image.
    cold = [model.sample(2, generator=torch.Generator().manual_seed(seed), temperature=0.0) for seed in (1, 2)]
    assert torch.equal(cold[0], cold[1])
    assert model.reconstruct(x).shape == x.shape


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"enc_blocks": "8x1,8q2,4x1"}, r"enc_blocks token '8q2'"),
        ({"enc_blocks": "8x1,8d2,8x1,8d4,2x1"}, r"enc_blocks has a block at resolution 8 where the encoder is at 4"),
        ({"enc_blocks": "8x1,8d3"}, r"enc_blocks token '8d3'.*does not divide"),
        ({"dec_blocks": "1x1,4m1,2x1,8m4,8x1"}, r"dec_blocks has a block at resolution 2, which is not reachable"),
        ({"dec_blocks": "1x1,4m1,4x1"}, r"highest resolution of dec_blocks is 4, not the image size 8"),
        ({"dec_blocks": "1x1,8m4,4x1"}, r"dec_blocks token '8m4' mixes in resolution 4"),
        ({"dec_blocks": "1x1,4m8,8x1"}, r"dec_blocks token '4m8'"),
        ({"dec_blocks": "1x1,4x0,8m4"}, r"dec_blocks token '4x0'"),
        ({"dec_blocks": ""}, r"dec_blocks token ''"),
        ({"image_shape": [2, 8, 8]}, r"logistic_mixture.*3-channel"),
        ({"image_shape": [3, 8, 4]}, r"square"),
    ],
)
def test_bad_layer_strings_fail_at_construction_naming_the_option(options, message):
    with pytest.raises(ValueError, match=message):
        make(**options)


def test_a_bad_layer_string_from_params_names_its_key_path():
    with pytest.raises(ConfigError, match=r"'experiments.vdvae-tiny.options'.*enc_blocks"):
        build_model("vdvae", {**TINY, "enc_blocks": "8y1"}, path="experiments.vdvae-tiny.options", source="params.yaml")


def test_same_seed_gives_the_same_weights_and_loss():
    first, second = make(seed=3), make(seed=3)
    x = images()
    torch.manual_seed(11)
    loss_first = first(x)["loss"]
    torch.manual_seed(11)
    loss_second = second(x)["loss"]
    assert torch.equal(loss_first, loss_second)
    assert not torch.equal(make(seed=4).encoder.in_conv.weight, first.encoder.in_conv.weight)
    generator_nll = [first.negative_elbo(x, torch.Generator().manual_seed(2)) for _ in range(2)]
    assert generator_nll[0].shape == (4,) and torch.equal(generator_nll[0], generator_nll[1])
