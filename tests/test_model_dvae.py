"""DALL-E's dVAE and caption-conditioned transformer (models/dvae.py, models/captions.py): the
logit-Laplace density, the β and τ schedules, the Gumbel-softmax relaxation and its KL term,
both training phases, the prior's causality and conditioning, captions and sampling."""

from __future__ import annotations

import math

import pytest
import torch

from tests.test_models_contract import TINY_DVAE
from vaerepro.models import build_model
from vaerepro.models.captions import PAD, CaptionSet, cifar10_captions, mnist_captions
from vaerepro.models.dvae import (
    cosine_schedule,
    gumbel_softmax,
    kl_to_uniform,
    linear_schedule,
    logit_laplace_log_density,
    map_pixels,
    unmap_pixels,
)


def make(channels: int = 3, **options) -> torch.nn.Module:
    captions = "mnist" if channels == 1 else "cifar10"
    return build_model("dvae", {"image_shape": [channels, 8, 8], "captions": captions, **TINY_DVAE, **options}, seed=0)


def batch(channels: int = 3, size: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(size, channels, 8, 8, generator=generator), torch.randint(0, 10, (size,), generator=generator)


# -- the logit-Laplace distribution (paper A.3) ---------------------------------------------------


@pytest.mark.parametrize(("location", "log_scale"), [(0.0, 0.0), (1.5, -1.0), (-2.0, -0.5), (0.3, -2.0)])
def test_logit_laplace_density_integrates_to_one_on_the_unit_interval(location, log_scale):
    y = torch.linspace(1e-7, 1 - 1e-7, 400_001, dtype=torch.float64)
    density = logit_laplace_log_density(y, torch.tensor(location), torch.tensor(log_scale)).double().exp()
    assert float(torch.trapezoid(density, y)) == pytest.approx(1.0, abs=2e-3)


def test_logit_laplace_log_density_by_hand():
    y, location, log_scale = 0.3, 0.2, -0.5
    b = math.exp(log_scale)
    expected = math.log(1 / (2 * b * y * (1 - y)) * math.exp(-abs(math.log(y / (1 - y)) - location) / b))
    value = logit_laplace_log_density(torch.tensor(y), torch.tensor(location), torch.tensor(log_scale))
    assert float(value) == pytest.approx(expected, rel=1e-5)


def test_pixel_map_round_trip_and_range():
    x = torch.rand(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(unmap_pixels(map_pixels(x)), x, atol=1e-6)
    assert float(map_pixels(torch.tensor(0.0))) == pytest.approx(0.1)
    assert float(map_pixels(torch.tensor(1.0))) == pytest.approx(0.9)
    assert torch.equal(unmap_pixels(torch.tensor([0.0, 0.05, 0.95, 1.0])), torch.tensor([0.0, 0.0, 1.0, 1.0]))


# -- schedules (paper A.2) ------------------------------------------------------------------------


def test_schedules_at_start_middle_end_and_beyond():
    # The paper's τ: 1 → 1/16 over 150,000 updates along half a cosine period.
    assert cosine_schedule(0, 150_000, 1.0, 1 / 16) == 1.0
    assert cosine_schedule(75_000, 150_000, 1.0, 1 / 16) == pytest.approx((1 + 1 / 16) / 2)
    assert cosine_schedule(37_500, 150_000, 1.0, 1 / 16) == pytest.approx(1 / 16 + 15 / 16 * (1 + math.sqrt(0.5)) / 2)
    assert cosine_schedule(150_000, 150_000, 1.0, 1 / 16) == pytest.approx(1 / 16)
    assert cosine_schedule(10**6, 150_000, 1.0, 1 / 16) == pytest.approx(1 / 16)
    assert linear_schedule(1250, 5000, 0.0, 6.6) == pytest.approx(1.65)
    assert linear_schedule(9000, 5000, 0.0, 6.6) == pytest.approx(6.6)
    assert cosine_schedule(5, 0, 0.0, 6.6) == linear_schedule(5, 0, 0.0, 6.6) == 6.6


def test_model_schedules_follow_the_loop_step_and_survive_a_checkpoint():
    model = make(kl_warmup_steps=100, temperature_steps=200)
    expected = {  # step: (β, τ), paper defaults β → 6.6 and τ → 1/16, cosine
        0: (0.0, 1.0),
        25: (6.6 * (1 - math.sqrt(0.5)) / 2, 1 / 16 + 15 / 16 * (1 + math.cos(math.pi / 8)) / 2),
        50: (3.3, 1 / 16 + 15 / 16 * (1 + math.sqrt(0.5)) / 2),
        100: (6.6, (1 + 1 / 16) / 2),
        200: (6.6, 1 / 16),
        500: (6.6, 1 / 16),
    }
    for step, (kl_weight, temperature) in expected.items():
        model.begin_step(step)
        assert model.kl_weight == pytest.approx(kl_weight) and model.temperature == pytest.approx(temperature)
    model.begin_step(50)
    terms = model(*batch())
    assert float(terms["kl_weight"]) == pytest.approx(3.3) and float(terms["temperature"]) == pytest.approx(
        expected[50][1]
    )
    resumed = make(kl_warmup_steps=100, temperature_steps=200)
    assert resumed.kl_weight == 0.0
    resumed.load_state_dict(model.state_dict())
    assert resumed.kl_weight == pytest.approx(3.3) and resumed.temperature == pytest.approx(expected[50][1])
    linear = make(kl_warmup_steps=100, kl_schedule="linear")
    linear.begin_step(25)
    assert linear.kl_weight == pytest.approx(1.65)


# -- the relaxation and the KL term ---------------------------------------------------------------


def test_gumbel_softmax_is_a_relaxed_one_hot_that_hardens_as_the_temperature_falls():
    logits = torch.randn(64, 10, 3, 3, generator=torch.Generator().manual_seed(0))
    soft = gumbel_softmax(logits, 1.0, dim=1, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(soft.sum(1), torch.ones(64, 3, 3), atol=1e-6) and soft.min() >= 0
    again = gumbel_softmax(logits, 1.0, dim=1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(soft, again)
    hard = gumbel_softmax(logits, 1e-3, dim=1, generator=torch.Generator().manual_seed(1))
    assert float(hard.max(1).values.mean()) > 0.99
    # The Gumbel-max property: its argmax is a draw from softmax(logits).
    probabilities = torch.tensor([0.2, 0.5, 0.3])
    draws = gumbel_softmax(probabilities.log().expand(20_000, 3), 0.5, generator=torch.Generator().manual_seed(2))
    frequencies = torch.bincount(draws.argmax(1), minlength=3).float() / 20_000
    assert torch.allclose(frequencies, probabilities, atol=0.015)
    with pytest.raises(ValueError, match="temperature"):
        gumbel_softmax(logits, 0.0)


def test_kl_to_the_uniform_prior_by_hand():
    assert torch.allclose(kl_to_uniform(torch.zeros(2, 16, 3, 3)), torch.zeros(2, 3, 3), atol=1e-6)
    peaked = torch.zeros(1, 16, 1, 1)
    peaked[0, 5] = 100.0
    assert float(kl_to_uniform(peaked)) == pytest.approx(math.log(16), abs=1e-5)
    # q = (1/4, 3/4) against (1/2, 1/2).
    expected = 0.25 * math.log(0.25) + 0.75 * math.log(0.75) + math.log(2)
    assert float(kl_to_uniform(torch.tensor([[0.0, math.log(3.0)]]))) == pytest.approx(expected, rel=1e-5)


# -- architecture ---------------------------------------------------------------------------------


def test_architecture_follows_the_reference_layout():
    model = make(groups=3, blocks_per_group=2)
    assert model.grids == {"bottom": (2, 2)}
    blocks = [module for module in model.encoder.modules() if type(module).__name__ == "BottleneckBlock"]
    assert len(blocks) == 6 and all(block.post_gain == 1 / 36 for block in blocks)
    assert [block.residual[1].weight.shape[-1] for block in blocks[:1]] == [3]  # encoder: 3, 3, 3, 1
    assert model.code_logits(batch()[0]).shape == (4, 16, 2, 2)
    codes = torch.randint(0, 16, (4, 2, 2), generator=torch.Generator().manual_seed(0))
    one_hot = torch.nn.functional.one_hot(codes, 16).permute(0, 3, 1, 2).float()
    assert torch.allclose(model.decoder.from_codes(codes), model.decoder(one_hot), atol=1e-5)
    assert model.decoder(one_hot).shape == (4, 6, 8, 8)  # μ and ln b per sub-pixel
    with pytest.raises(ValueError, match="not divisible by the downsampling factor"):
        make(groups=5)  # 8 is not a multiple of 2^4
    with pytest.raises(ValueError, match="multiple of 4"):
        make(hidden_channels=6)


# -- the two training phases ----------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
def test_both_phases_give_finite_scalar_terms(channels):
    model = make(channels)
    x, y = batch(channels)
    assert model.uses_labels
    autoencoder = model(x, y)
    assert set(autoencoder) == {"loss", "recon", "kl", "kl_weight", "temperature", "bottom_usage", "bottom_perplexity"}
    model.begin_phase("prior")
    prior = model(x, y)
    assert set(prior) == {"loss", "prior_bits_per_code"}
    for value in (*autoencoder.values(), *prior.values()):
        assert value.ndim == 0 and torch.isfinite(value)
    assert float(prior["prior_bits_per_code"].detach()) == pytest.approx(float(prior["loss"].detach()) / math.log(2))
    with pytest.raises(ValueError, match="needs the class labels"):
        model(x)


def test_autoencoder_loss_decreases_and_the_phases_split_the_parameters():
    model = make(1, kl_warmup_steps=0, kl_weight=1.0).train()
    x, _ = batch(1, size=8)
    phases = model.optimizer_phases(10)
    assert [phase.name for phase in phases] == ["autoencoder", "prior"] and phases[0].steps == 5
    autoencoder = phases[0].groups[0].parameters
    assert {id(p) for p in autoencoder} == {id(p) for p in (*model.encoder.parameters(), *model.decoder.parameters())}
    assert {id(p) for p in phases[1].groups[0].parameters} == {id(p) for p in model.prior.parameters()}
    optimizer = torch.optim.Adam(autoencoder, lr=3e-3)
    torch.manual_seed(0)
    before = float(model(x)["loss"].detach())
    for step in range(15):
        torch.manual_seed(step)
        optimizer.zero_grad()
        model(x)["loss"].backward()
        optimizer.step()
    torch.manual_seed(0)
    assert float(model(x)["loss"].detach()) < before


# -- the prior: causality and conditioning --------------------------------------------------------


@torch.no_grad()
def test_prior_reads_the_caption_and_only_earlier_image_codes():
    model = make().eval()
    length = model.grid[0] * model.grid[1]
    codes = torch.randint(0, 16, (1, length), generator=torch.Generator().manual_seed(0))
    tokens = model.captions.tokenize(["a photo of a cat"])
    logits = model.prior.logits(codes, condition=tokens)
    assert logits.shape == (1, length, 16)
    other = model.captions.tokenize(["a photo of a dog"])
    assert not torch.allclose(model.prior.logits(codes, condition=other), logits)
    for t in range(length):
        changed = codes.clone()
        changed[0, t] = (codes[0, t] + 1) % 16
        changed_logits = model.prior.logits(changed, condition=tokens)
        assert torch.equal(changed_logits[:, : t + 1], logits[:, : t + 1])
        if t + 1 < length:
            assert not torch.allclose(changed_logits[:, t + 1 :], logits[:, t + 1 :])


@torch.no_grad()
def test_prior_nats_with_labels_and_marginalised_over_classes():
    model = make().eval()
    x, y = batch()
    codes = model.encode_codes(x)
    per_class = torch.stack([model.prior_nats(codes, torch.full((4,), c)) for c in range(10)])  # (10, B)
    assert torch.allclose(model.prior_nats(codes, y), per_class.gather(0, y.view(1, -1)).squeeze(0))
    marginal = -(torch.logsumexp(-per_class, dim=0) - math.log(10))
    assert torch.allclose(model.prior_nats(codes), marginal, atol=1e-5)
    assert model.reconstruction_nats(x, codes).shape == (4,)
    assert model.uniform_prior_nats() == pytest.approx(16 * math.log(16))
    assert "NOT nats of 8-bit data" in model.likelihood_description


def test_training_captions_use_training_phrasings_only():
    model = make()
    seen = []
    original = model.prior.forward
    model.prior.forward = lambda codes, condition=None: seen.append(condition) or original(codes, condition)
    model.begin_phase("prior")
    x, _ = batch(size=2)
    labels = torch.tensor([3, 7])
    torch.manual_seed(0)
    for _ in range(60):
        model(x, labels)
    training = model.captions.token_table(held_out=False)  # (phrasings, classes, tokens)
    held_out = model.captions.token_table(held_out=True)
    used = set()
    for condition in seen:
        for row, label in zip(condition, labels.tolist(), strict=True):
            matches = [p for p in range(training.shape[0]) if torch.equal(row, training[p, label])]
            assert len(matches) == 1
            assert not any(torch.equal(row, held_out[p, label]) for p in range(held_out.shape[0]))
            used.add(matches[0])
    assert used == set(range(len(model.captions.training_phrasings)))


# -- captions -------------------------------------------------------------------------------------


def test_caption_vocabulary_is_deterministic_and_covers_held_out_phrasings():
    captions = cifar10_captions()
    assert captions.vocabulary == cifar10_captions().vocabulary
    assert captions.vocabulary[0] == PAD and list(captions.vocabulary[1:]) == sorted(captions.vocabulary[1:])
    assert {"resolution", "an", "image", "truck"} <= set(captions.vocabulary)
    text = captions.caption(3, 1, held_out=True)
    assert text == "a low resolution photo of the cat"
    tokens = captions.tokens(torch.tensor([3]), torch.tensor([1]), held_out=True)
    assert tokens.shape == (1, captions.max_tokens) and tokens[0].tolist() == captions.encode(text)
    short = captions.tokens(torch.tensor([0]), torch.tensor([1]))  # "a small airplane"
    assert short[0].tolist() == [*captions.encode("a small airplane"), 0, 0, 0, 0]
    assert mnist_captions().caption(7, 2) == "a drawing of the number seven"
    with pytest.raises(ValueError, match="unknown word 'zebra'"):
        captions.encode("a photo of a zebra")
    with pytest.raises(ValueError, match="labels must lie"):
        captions.tokens(torch.tensor([10]), torch.tensor([0]))
    with pytest.raises(ValueError, match="phrasing indices must lie"):
        captions.tokens(torch.tensor([0]), torch.tensor([2]), held_out=True)
    with pytest.raises(ValueError, match="exceeds max_tokens"):
        captions.tokenize(["a a a a a a a a"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"training_phrasings": ("a photo",)}, "exactly one"),
        ({"training_phrasings": ("{} and {}",)}, "exactly one"),
        ({"held_out_phrasings": ("a {}",)}, "both for training and held out"),
        ({"class_names": ()}, "non-empty"),
        ({"class_names": ("cat", " ")}, "non-empty"),
        ({"max_tokens": 2}, "too small"),
    ],
)
def test_bad_caption_sets_raise(changes, message):
    fields = {
        "class_names": ("cat", "dog"),
        "training_phrasings": ("a {}", "the small {}"),
        "held_out_phrasings": ("an image of {}",),
        "max_tokens": 4,
    }
    CaptionSet(**fields)
    with pytest.raises(ValueError, match=message):
        CaptionSet(**(fields | changes))


# -- sampling -------------------------------------------------------------------------------------


@torch.no_grad()
def test_sampling_is_seeded_shaped_and_in_range():
    model = make().eval()
    first = model.sample(3, generator=torch.Generator().manual_seed(4))
    second = model.sample(3, generator=torch.Generator().manual_seed(4))
    assert first.shape == (3, 3, 8, 8) and torch.equal(first, second)
    assert first.min() >= 0 and first.max() <= 1
    labelled = model.sample(2, torch.tensor([1, 2]), torch.Generator().manual_seed(0), phrasing=1, held_out=True)
    assert labelled.shape == (2, 3, 8, 8)
    tokens = model.captions.tokenize(["a photo of a cat", "a small dog"])
    codes = model.sample_codes_from_text(tokens, torch.Generator().manual_seed(0))
    assert codes["bottom"].shape == (2, 4, 4) and codes["bottom"].max() < 16
    images = model.sample_from_text(tokens, torch.Generator().manual_seed(0))
    assert torch.equal(images, model.decode_codes(codes)) and images.min() >= 0 and images.max() <= 1
    assert model.reconstruct(batch()[0]).shape == (4, 3, 8, 8)
