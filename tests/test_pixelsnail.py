"""The PixelSNAIL-style prior (models/pixelsnail.py): strict raster-order causality, use of the
condition, and sampling that respects its own grid."""

from __future__ import annotations

import pytest
import torch

from vaerepro.models.pixelsnail import MaskedConv2d, PixelSnailOptions, PixelSnailPrior


def prior(conditional: bool) -> PixelSnailPrior:
    torch.manual_seed(0)
    return PixelSnailPrior(
        PixelSnailOptions(
            vocabulary_size=8,
            grid=(4, 4),
            channels=16,
            residual_blocks=1,
            attention_groups=2,
            heads=2,
            dropout=0.0,
            condition_vocabulary_size=8 if conditional else 0,
            condition_grid=(2, 2) if conditional else None,
        )
    ).eval()


@pytest.mark.parametrize("conditional", [False, True])
def test_a_change_at_position_t_changes_no_prediction_at_or_before_t(conditional):
    model = prior(conditional)
    generator = torch.Generator().manual_seed(1)
    codes = torch.randint(0, 8, (3, 16), generator=generator)
    condition = torch.randint(0, 8, (3, 4), generator=generator) if conditional else None
    with torch.no_grad():
        base = model.logits(codes, condition)
        for position in range(16):
            changed = codes.clone()
            changed[:, position] = (changed[:, position] + 3) % 8
            logits = model.logits(changed, condition)
            assert torch.equal(logits[:, : position + 1], base[:, : position + 1]), position
            if position < 15:  # and the later predictions do read it
                assert not torch.allclose(logits[:, position + 1 :], base[:, position + 1 :]), position


def test_the_conditional_prior_reads_its_condition_everywhere():
    model = prior(True)
    codes = torch.randint(0, 8, (2, 16), generator=torch.Generator().manual_seed(2))
    condition = torch.zeros(2, 4, dtype=torch.long)
    with torch.no_grad():
        first = model.logits(codes, condition)
        second = model.logits(codes, condition + 1)
    assert not torch.allclose(first[:, 0], second[:, 0])  # even the first code's distribution
    with pytest.raises(ValueError, match="conditional"):
        model.logits(codes)
    with pytest.raises(ValueError, match="unconditional"):
        prior(False).logits(codes, condition)


def test_masks_see_only_earlier_positions():
    first, later = MaskedConv2d(1, 1, "A").mask.view(3, 3), MaskedConv2d(1, 1, "B").mask.view(3, 3)
    assert first.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert later.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]


def test_sampling_is_seeded_and_log_prob_matches_the_loss():
    model = prior(False)
    first = model.sample(3, 16, generator=torch.Generator().manual_seed(5))
    second = model.sample(3, 16, generator=torch.Generator().manual_seed(5))
    assert first.shape == (3, 16) and torch.equal(first, second)
    with torch.no_grad():
        nats = -model.log_prob(first)
        loss = model(first)["loss"]
    assert float(nats.mean() / 16) == pytest.approx(float(loss), rel=1e-5)
    with pytest.raises(ValueError, match="16 codes, not 9"):
        model.sample(1, 9)
