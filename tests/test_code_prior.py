"""The causal transformer prior over codes (VQGAN Eq. 5 / DALL-E's image-token prior)."""

from __future__ import annotations

import math

import pytest
import torch

from vaerepro.models.code_prior import CodePrior, CodePriorOptions


def tiny(**changes) -> CodePrior:
    torch.manual_seed(0)
    options = {"vocabulary_size": 5, "max_positions": 12, "embedding_dim": 16, "layers": 2, "heads": 2} | changes
    return CodePrior(CodePriorOptions(**options)).eval()


def test_a_code_depends_only_on_the_codes_before_it():
    prior = tiny()
    codes = torch.tensor([[1, 2, 3, 4, 0, 1]])
    changed = codes.clone()
    changed[0, 4:] = torch.tensor([3, 3])
    before, after = prior.logits(codes), prior.logits(changed)
    assert torch.allclose(before[:, :5], after[:, :5], atol=0)  # entry t sees codes[:t] only
    assert not torch.allclose(before[:, 5], after[:, 5])


@torch.no_grad()
def test_log_prob_is_the_chain_rule_over_next_code_distributions():
    prior = tiny()
    codes = torch.tensor([[4, 0, 2], [1, 1, 3]])
    expected = torch.zeros(2)
    for t in range(3):  # p(s_t | s_<t) read from a sequence that ends at t (causality, above)
        distribution = torch.log_softmax(prior.logits(codes[:, : t + 1])[:, t], dim=-1)
        expected += distribution.gather(1, codes[:, t : t + 1]).squeeze(1)
    assert torch.allclose(prior.log_prob(codes), expected, atol=1e-5)
    # The training loss is the mean negative log-likelihood per code, in nats and bits.
    terms = prior(codes)
    assert math.isclose(float(terms["loss"]), float(-expected.sum() / 6), rel_tol=1e-5)
    assert math.isclose(float(terms["bits_per_code"]), float(terms["loss"]) / math.log(2), rel_tol=1e-6)


def test_it_learns_a_conditional_sequence_and_samples_it():
    """Two classes, each with its own code sequence: trained briefly, the prior reproduces the
    right sequence for each class (greedy-like sampling at a low temperature)."""
    prior = tiny(condition_vocabulary_size=2).train()
    sequences = torch.tensor([[0, 1, 2, 3], [4, 3, 2, 1]])
    condition = torch.tensor([[0], [1]])
    optimizer = torch.optim.Adam(prior.parameters(), lr=3e-3)
    for _ in range(150):
        optimizer.zero_grad()
        loss = prior(sequences, condition)["loss"]
        loss.backward()
        optimizer.step()
    assert float(loss.detach()) < 0.05
    prior.eval()
    drawn = prior.sample(2, 4, condition, generator=torch.Generator().manual_seed(1), temperature=0.1)
    assert torch.equal(drawn, sequences)
    again = prior.sample(2, 4, condition, generator=torch.Generator().manual_seed(1), temperature=0.1)
    assert torch.equal(drawn, again)  # seeded: the same draw


def test_top_k_and_bad_input():
    prior = tiny()
    drawn = prior.sample(64, 3, generator=torch.Generator().manual_seed(0), top_k=1)
    assert drawn.shape == (64, 3) and len(set(map(tuple, drawn.tolist()))) == 1  # top-1: one sequence
    with pytest.raises(ValueError, match="unconditional"):
        prior.logits(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="exceed the prior's 12 positions"):
        prior.logits(torch.zeros(1, 14, dtype=torch.long))
    with pytest.raises(ValueError, match="not divisible"):
        CodePriorOptions(vocabulary_size=2, max_positions=2, embedding_dim=10, heads=3)
