"""The VQ-VAE codebook quantiser and the capsule bottleneck of CVGAN / UW-CVGAN."""

from __future__ import annotations

import math

import pytest
import torch

from vaerepro.models.vector_quantizer import (
    CapsuleBottleneck,
    VectorQuantizer,
    code_statistics,
    squash,
)


def quantizer_with_codes(codes: list[list[float]]) -> VectorQuantizer:
    quantizer = VectorQuantizer(len(codes), len(codes[0]))
    with torch.no_grad():
        quantizer.codebook.weight.copy_(torch.tensor(codes))
    return quantizer


def as_latents(vectors: list[list[float]]) -> torch.Tensor:
    """(N, D) vectors → (1, D, 1, N) latents (one row of N positions)."""
    return torch.tensor(vectors).t().reshape(1, len(vectors[0]), 1, len(vectors)).clone()


def test_nearest_code_hand_computed():
    quantizer = quantizer_with_codes([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    # squared distances to the three codes:
    # (0.4, 0.1): 0.17, 0.37, 3.77 → 0;  (0.9, 0.5): 1.06, 0.26, 3.06 → 1;  (0.2, 1.5): 2.29, 2.89, 0.29 → 2
    latents = as_latents([[0.4, 0.1], [0.9, 0.5], [0.2, 1.5]])
    output = quantizer(latents)
    assert output.indices.tolist() == [[[0, 1, 2]]]
    assert torch.allclose(output.quantized, as_latents([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]))
    # mean over the 6 elements of the squared errors (0.17 + 0.26 + 0.29) / 6
    assert output.codebook_loss.item() == pytest.approx(0.72 / 6)
    assert output.commitment_loss.item() == pytest.approx(0.72 / 6)


def test_ties_go_to_the_lowest_index():
    quantizer = quantizer_with_codes([[1.0, 0.0], [-1.0, 0.0]])
    assert quantizer.nearest(as_latents([[0.0, 0.0]])).item() == 0


def test_straight_through_estimator_passes_the_decoder_gradient_to_the_encoder():
    quantizer = quantizer_with_codes([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    latents = as_latents([[0.4, 0.1], [0.9, 0.5], [0.2, 1.5]]).requires_grad_()
    weights = torch.randn(latents.shape, generator=torch.Generator().manual_seed(0))
    (quantizer(latents).quantized * weights).sum().backward()
    assert torch.allclose(latents.grad, weights)  # identity Jacobian through the lookup
    assert quantizer.codebook.weight.grad is None  # the decoder path does not move the codes


def test_codebook_loss_moves_codes_and_commitment_loss_moves_the_encoder():
    quantizer = quantizer_with_codes([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    latents = as_latents([[0.4, 0.1], [0.9, 0.5], [0.2, 1.5]]).requires_grad_()
    output = quantizer(latents)
    output.codebook_loss.backward(retain_graph=True)
    assert latents.grad is None
    # d/de_0 of mean((e_0 - z)^2) over 6 elements = 2 (e_0 - z) / 6 for the one vector using code 0
    expected = torch.tensor([2 * (0.0 - 0.4) / 6, 2 * (0.0 - 0.1) / 6])
    assert torch.allclose(quantizer.codebook.weight.grad[0], expected)
    quantizer.codebook.weight.grad = None
    output.commitment_loss.backward()
    assert quantizer.codebook.weight.grad is None
    assert latents.grad is not None and latents.grad.abs().sum() > 0


def test_codebook_statistics():
    counts, perplexity, usage = code_statistics(torch.tensor([0, 1, 2, 3]), 8)
    assert counts.tolist() == [1, 1, 1, 1, 0, 0, 0, 0]
    assert perplexity.item() == pytest.approx(4.0)
    assert usage.item() == pytest.approx(0.5)
    _, perplexity, usage = code_statistics(torch.tensor([5, 5, 5]), 8)
    assert perplexity.item() == pytest.approx(1.0)
    assert usage.item() == pytest.approx(1 / 8)


def test_quantizer_rejects_wrong_latent_channels():
    with pytest.raises(ValueError, match=r"\(B, 2, h, w\)"):
        quantizer_with_codes([[0.0, 0.0]]).nearest(torch.zeros(1, 3, 2, 2))


def test_squash_keeps_direction_and_maps_length():
    vector = torch.tensor([[3.0, 4.0]])  # length 5 → 25 / 26
    squashed = squash(vector)
    assert torch.linalg.vector_norm(squashed).item() == pytest.approx(25 / 26, rel=1e-6)
    assert torch.allclose(squashed / torch.linalg.vector_norm(squashed), vector / 5)
    zero = torch.zeros(1, 4, requires_grad=True)
    squash(zero).sum().backward()
    assert torch.equal(squash(zero.detach()), torch.zeros(1, 4))
    assert torch.isfinite(zero.grad).all()


def make_capsules(seed: int = 0, **overrides) -> CapsuleBottleneck:
    torch.manual_seed(seed)
    arguments = {
        "in_channels": 8,
        "out_channels": 6,
        "capsule_types": 4,
        "capsule_dim": 3,
        "prediction_dim": 5,
    }
    return CapsuleBottleneck(**{**arguments, **overrides})


@pytest.mark.parametrize("size", [1, 4, 7, 16])
def test_capsule_bottleneck_keeps_the_latent_grid(size):
    capsules = make_capsules()
    features = torch.randn(2, 8, size, size + 2)
    output = capsules(features)
    assert output.quantized.shape == (2, 6, size, size + 2)
    grid = (CapsuleBottleneck.grid_size(size), CapsuleBottleneck.grid_size(size + 2))
    assert output.capsule_lengths.shape == (2, 4, *grid)
    assert output.indices is None and output.codebook_loss.item() == 0 and output.commitment_loss.item() == 0


def test_capsule_grid_of_the_paper():
    # 256×16×16 encoder output → 9×9 grid of primary capsules (authors' PrimaryCaps)
    assert CapsuleBottleneck.grid_size(16) == 9


def test_routing_couplings_sum_to_one_and_lengths_are_weighted_prediction_norms():
    capsules = make_capsules()
    primary = capsules.primary_capsules(torch.randn(2, 8, 6, 6))
    assert (torch.linalg.vector_norm(primary, dim=1) < 1).all()  # squashed
    coupling, predictions, outputs = capsules.route(primary)
    assert torch.allclose(coupling.sum(dim=1), torch.ones_like(coupling[:, 0]))
    assert (torch.linalg.vector_norm(outputs, dim=1) < 1).all()
    single = make_capsules(routing_iterations=1)
    coupling_one, _, _ = single.route(single.primary_capsules(torch.randn(1, 8, 6, 6)))
    assert torch.allclose(coupling_one, torch.full_like(coupling_one, 1 / 4))  # no agreement step yet
    lengths = capsules(torch.randn(1, 8, 6, 6)).capsule_lengths
    assert (lengths >= 0).all()


def test_capsule_bottleneck_is_differentiable_end_to_end():
    capsules = make_capsules()
    features = torch.randn(2, 8, 4, 4, requires_grad=True)
    capsules(features).quantized.square().sum().backward()
    assert features.grad.abs().sum() > 0
    for name, parameter in capsules.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_capsule_routing_is_per_image():
    capsules = make_capsules()
    features = torch.randn(3, 8, 4, 4)
    together = capsules(features).quantized
    alone = capsules(features[1:2]).quantized
    assert torch.allclose(together[1:2], alone, atol=1e-6)


def test_capsule_bottleneck_rejects_bad_sizes():
    with pytest.raises(ValueError, match="capsule_types"):
        make_capsules(capsule_types=0)
    assert math.isfinite(make_capsules()(torch.zeros(1, 8, 2, 2)).quantized.sum().item())


def test_ema_codebook_update_hand_computed():
    """K=2, D=1, γ=0.5, no smoothing; codes (0, 10); latents 1 and 3 both nearest code 0:
    n = (2, 0), Σz = (4, 0); N = 0.5·(1, 1) + 0.5·(2, 0) = (1.5, 0.5);
    m = 0.5·(0, 10) + 0.5·(4, 0) = (2, 5); e = m / N = (4/3, 10): the used code moves towards
    its latents, the unused one keeps its place."""
    from vaerepro.models.vector_quantizer import EmaVectorQuantizer

    quantizer = EmaVectorQuantizer(2, 1, decay=0.5, epsilon=0.0)
    with torch.no_grad():
        quantizer.codebook.weight.copy_(torch.tensor([[0.0], [10.0]]))
        quantizer.embedding_sum.copy_(quantizer.codebook.weight)
    output = quantizer.train()(as_latents([[1.0], [3.0]]))
    assert output.indices.flatten().tolist() == [0, 0]
    assert torch.allclose(quantizer.cluster_size, torch.tensor([1.5, 0.5]))
    assert torch.allclose(quantizer.codebook.weight.flatten(), torch.tensor([4 / 3, 10.0]))
    assert float(output.codebook_loss) == 0.0 and not quantizer.codebook.weight.requires_grad
    # commitment: mean of (1 - 0)² and (3 - 0)² against the codes used in this forward pass
    assert math.isclose(float(output.commitment_loss), 5.0)
    quantizer.eval()(as_latents([[1.0], [3.0]]))  # evaluation leaves the codebook alone
    assert torch.allclose(quantizer.codebook.weight.flatten(), torch.tensor([4 / 3, 10.0]))


def test_ema_dead_codes_restart_at_batch_latents():
    from vaerepro.models.vector_quantizer import EmaVectorQuantizer

    torch.manual_seed(0)
    quantizer = EmaVectorQuantizer(4, 2, decay=0.5, dead_code_threshold=0.6).train()
    latents = as_latents([[5.0, 5.0], [5.1, 5.0], [4.9, 5.0]])  # all far from the ±1/K init
    quantizer(latents)  # one code takes all three; the other three decay to N = 0.5 < 0.6
    assert int(quantizer.restarts) == 3
    rows = {tuple(round(v, 4) for v in row) for row in quantizer.codebook.weight.tolist()}
    assert len(rows & {(5.0, 5.0), (5.1, 5.0), (4.9, 5.0)}) >= 1  # restarted at batch latents
    assert torch.all(quantizer.cluster_size >= 0.6)
