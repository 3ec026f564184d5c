"""The common model contract, checked for every registered model with tiny configs."""

from __future__ import annotations

import pytest
import torch

from vaerepro.metrics.likelihood import log_mean_exp
from vaerepro.models import LatentVariableModel, build_model, model_class, registered_models
from vaerepro.models.restoration import RestorationModel
from vaerepro.structured import ConfigError

TINY_VQ = {
    "hidden_channels": 8,
    "residual_channels": 4,
    "residual_blocks": 1,
    "num_downsamplings": 1,
    "embedding_dim": 4,
    "codebook_size": 8,
    "prior_channels": 8,
    "prior_residual_blocks": 1,
    "prior_attention_groups": 1,
    "prior_heads": 2,
}

TINY_VQGAN = {
    "hidden_channels": 8,
    "channel_multipliers": [1, 2],
    "norm_groups": 4,
    "embedding_dim": 4,
    "codebook_size": 8,
    "adversarial_start_step": 0,
    "discriminator_channels": 4,
    "discriminator_layers": 1,
    "prior_embedding_dim": 8,
    "prior_layers": 1,
    "prior_heads": 2,
}

# One tiny configuration per case; every registered model needs at least one.
TINY_VDVAE = {
    "width": 16,
    "zdim": 4,
    "enc_blocks": "8x1,8d2,4x1,4d4,1x1",
    "dec_blocks": "1x1,4m1,4x1,8m4,8x1",
    "num_mixtures": 3,
}

TINY_DVAE = {
    "hidden_channels": 8,
    "blocks_per_group": 1,
    "groups": 2,
    "codebook_size": 16,
    "prior_embedding_dim": 16,
    "prior_layers": 1,
    "prior_heads": 2,
}

CASES = {
    "vae-conv-bernoulli": ("vae", {"image_shape": [1, 8, 8], "latent_dim": 2, "hidden_channels": 4}),
    "vae-mlp-gaussian": (
        "vae",
        {"image_shape": [1, 8, 8], "architecture": "mlp", "hidden_units": 8, "likelihood": "gaussian"},
    ),
    "vae-conv-logistic-rgb": (
        "vae",
        {
            "image_shape": [3, 8, 8],
            "latent_dim": 2,
            "hidden_channels": 4,
            "likelihood": "discretized_logistic",
            "kl_weight": 0.5,
        },
    ),
    "cvae-label": ("cvae", {"image_shape": [1, 8, 8], "latent_dim": 2, "hidden_units": 16, "num_hidden_layers": 1}),
    "cvae-quadrant": (
        "cvae",
        {
            "image_shape": [1, 8, 8],
            "condition": "quadrant",
            "latent_dim": 2,
            "hidden_units": 16,
            "num_hidden_layers": 1,
        },
    ),
    "two_stage_vae": (
        "two_stage_vae",
        {
            "image_shape": [1, 8, 8],
            "latent_dim": 2,
            "hidden_channels": 4,
            "second_stage_hidden_units": 8,
            "second_stage_hidden_layers": 1,
        },
    ),
    "classifier": ("classifier", {"image_shape": [1, 8, 8], "hidden_channels": 4, "feature_dim": 8}),
    "vqvae-one-level": ("vqvae", {"image_shape": [3, 8, 8], **TINY_VQ}),
    "vqgan": ("vqgan", {"image_shape": [3, 8, 8], **TINY_VQGAN}),
    "vdvae": ("vdvae", {"image_shape": [3, 8, 8], **TINY_VDVAE}),
    "dvae": ("dvae", {"image_shape": [3, 8, 8], **TINY_DVAE}),
    "dvae-mnist-captions": ("dvae", {"image_shape": [1, 8, 8], "captions": "mnist", **TINY_DVAE}),
    "vdvae-bernoulli": ("vdvae", {"image_shape": [1, 8, 8], **TINY_VDVAE, "likelihood": "bernoulli"}),
    "vqvae-two-levels-learned-codebook": (
        "vqvae",
        {
            "image_shape": [1, 8, 8],
            **TINY_VQ,
            "levels": 2,
            "codebook_update": "loss",
            "prior_kind": "transformer",
            "prior_embedding_dim": 8,
            "prior_layers": 1,
        },
    ),
}


def make(case: str, seed: int = 0) -> torch.nn.Module:
    name, options = CASES[case]
    return build_model(name, options, seed=seed)


def inputs(model: torch.nn.Module, batch: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(batch, *model.options.image_shape, generator=generator) > 0.5).float()
    labels = torch.randint(0, 10, (batch,), generator=generator)
    return x, labels if model.uses_labels else None


def sampling_condition(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor | None:
    """What ``sample(n, y)`` conditions on: labels, the images to complete, or nothing."""
    if getattr(model, "condition", None) == "quadrant":
        return x
    return labels


def test_every_registered_model_has_a_contract_case():
    covered = {name for name, _ in CASES.values()}
    generative = {
        name
        for name in registered_models()
        if not issubclass(model_class(name), RestorationModel) and not name.startswith("test_")
    }
    assert generative <= covered, f"add a tiny config for {generative - covered}"


@pytest.mark.parametrize("case", CASES)
def test_forward_returns_finite_scalar_loss_and_terms(case):
    model = make(case)
    x, y = inputs(model)
    outputs = model(x, y)
    assert "loss" in outputs
    for name, value in outputs.items():
        assert value.ndim == 0, name
        assert torch.isfinite(value), name


@pytest.mark.parametrize("case", CASES)
def test_output_shapes(case):
    model = make(case).eval()
    x, y = inputs(model)
    with torch.no_grad():
        if isinstance(model, LatentVariableModel):
            assert model.reconstruct(x, y).shape == x.shape
            samples = model.sample(4, sampling_condition(model, x, y))
            assert samples.shape == x.shape
            assert samples.min() >= 0 and samples.max() <= 1
            assert model.encode(x, y).mean.shape == (4, model.latent_dim)
            assert model.log_importance_weights(x, y, num_samples=3).shape == (3, 4)
        elif hasattr(model, "encode_codes"):  # discrete latents
            assert model.reconstruct(x).shape == x.shape
            samples = model.sample(4, generator=torch.Generator().manual_seed(0))
            assert samples.shape == x.shape and samples.min() >= 0 and samples.max() <= 1
            codes = model.encode_codes(x)
            assert {name: tuple(indices.shape) for name, indices in codes.items()} == {
                name: (4, *grid) for name, grid in model.grids.items()
            }
            assert model.reconstruction_nats(x, codes).shape == model.prior_nats(codes).shape == (4,)
        elif hasattr(model, "kl_per_block"):  # VDVAE: spatial latent groups
            assert model.reconstruct(x).shape == x.shape
            samples = model.sample(4, generator=torch.Generator().manual_seed(0))
            assert samples.shape == x.shape and samples.min() >= 0 and samples.max() <= 1
            assert model.negative_elbo(x).shape == (4,)
            assert model.kl_per_block(x).shape == (4, len(model.block_resolutions))
        else:
            assert model.predict(x).shape == (4, model.options.num_classes)
            assert model.features(x).shape == (4, model.options.feature_dim)


@pytest.mark.parametrize("case", CASES)
def test_a_train_step_changes_weights_and_an_eval_forward_does_not(case):
    model = make(case)
    x, y = inputs(model)
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    model.eval()
    with torch.no_grad():
        model(x, y)
    after_eval = model.state_dict()
    assert all(torch.equal(before[name], after_eval[name]) for name in before)

    model.train()
    phase = model.optimizer_phases(10)[0]
    model.begin_phase(phase.name)
    group = phase.groups[0]
    optimizer = torch.optim.Adam(group.parameters, lr=1e-2)
    model(x, y)[group.loss_key].backward()
    optimizer.step()
    after_step = model.state_dict()
    assert any(not torch.equal(before[name], after_step[name]) for name in before)


@pytest.mark.parametrize("case", CASES)
def test_same_seed_same_weights_loss_and_samples(case):
    first, second = make(case, seed=3), make(case, seed=3)
    x, y = inputs(first)
    torch.manual_seed(11)
    loss_first = first(x, y)["loss"]
    torch.manual_seed(11)
    loss_second = second(x, y)["loss"]
    assert torch.equal(loss_first, loss_second)
    if hasattr(first, "sample"):
        condition = sampling_condition(first, x, y)
        with torch.no_grad():
            samples_first = first.sample(4, condition, generator=torch.Generator().manual_seed(5))
            samples_second = second.sample(4, condition, generator=torch.Generator().manual_seed(5))
        assert torch.equal(samples_first, samples_second)


def test_different_seeds_give_different_initial_weights():
    first, second = make("vae-conv-bernoulli", seed=1), make("vae-conv-bernoulli", seed=2)
    assert not torch.equal(first.encoder.output.weight, second.encoder.output.weight)


LATENT_CASES = [case for case in CASES if issubclass(model_class(CASES[case][0]), LatentVariableModel)]


@pytest.mark.parametrize("case", LATENT_CASES)
def test_importance_weighted_bound_tightens_and_k1_is_the_elbo(case):
    model = make(case).eval()
    x, y = inputs(model, batch=3)
    torch.manual_seed(0)
    with torch.no_grad():
        weights = model.log_importance_weights(x, y, num_samples=400)
        elbo_from_forward = torch.stack([model(x, y)["elbo"] for _ in range(400)]).mean()
    # k = 1: the mean log weight is the ELBO (Monte Carlo KL vs the analytic KL of forward).
    assert weights.mean() == pytest.approx(float(elbo_from_forward), rel=0.02, abs=0.5)
    bound_1 = weights.mean(0)
    bound_20 = log_mean_exp(weights.view(20, 20, -1), dim=1).mean(0)
    bound_400 = log_mean_exp(weights, dim=0)
    # NLL_k <= negative ELBO, tighter for larger k (averaged over the batch).
    assert bound_1.mean() <= bound_20.mean() + 1e-4
    assert bound_20.mean() <= bound_400.mean() + 1e-4


@pytest.mark.parametrize("case", LATENT_CASES)
def test_likelihood_of_many_samples_equals_the_per_image_definition(case):
    # log_importance_weights scores k samples per image at once (the Bernoulli VAE without
    # copying x); the values must be those of log p(x | z) image by image.
    model = make(case).eval()
    x, y = inputs(model, batch=3)
    z = torch.randn(5, 3, model.latent_dim, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        batched = model.log_likelihood_of_samples(x, z, y)
        one_by_one = torch.stack([model.log_likelihood_given_latent(x, z[sample], y) for sample in range(z.shape[0])])
    assert batched.shape == (5, 3)
    torch.testing.assert_close(batched, one_by_one, rtol=1e-6, atol=1e-4)


def test_bernoulli_samples_likelihood_keeps_the_cross_entropy_for_fractional_targets():
    model = make("vae-conv-bernoulli").eval()
    x = torch.rand(2, *model.image_shape, generator=torch.Generator().manual_seed(4))  # not binary
    z = torch.randn(3, 2, model.latent_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        batched = model.log_likelihood_of_samples(x, z)
        expected = torch.stack([model.log_likelihood_given_latent(x, z[sample]) for sample in range(3)])
    torch.testing.assert_close(batched, expected, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("vae", {"image_shape": [1, 30, 30], "num_downsamplings": 2}, "not divisible"),
        ("two_stage_vae", {"image_shape": [1, 28, 28], "num_downsamplings": 3}, "not divisible"),
        ("classifier", {"image_shape": [1, 30, 30]}, "not divisible"),
        ("cvae", {"image_shape": [1, 27, 27], "condition": "quadrant"}, "even image height"),
        ("vae", {"latent_dim": 0}, "'latent_dim' must be >= 1, got 0"),
    ],
)
def test_impossible_image_size_fails_at_construction(name, options, message):
    with pytest.raises(ValueError, match=message):
        build_model(name, options)


def test_unknown_model_and_unknown_option_are_config_errors():
    with pytest.raises(ConfigError, match=r"registered models: .*classifier, .*cvae, .*two_stage_vae, .*vae"):
        build_model("vq_gan_9000", {})
    with pytest.raises(ConfigError, match="experiments.vae-mnist.options.latent_size"):
        build_model("vae", {"latent_size": 3}, path="experiments.vae-mnist.options", source="params.yaml")
    with pytest.raises(ConfigError, match="likelihood"):
        build_model("vae", {"likelihood": "poisson"})
