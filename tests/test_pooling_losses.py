import math

import pytest
import torch
import torch.nn.functional as F

from kws.models.losses import AMSoftmax, CosineClassifier
from kws.models.pooling import MeanPooling, SelfAttentionPooling, masked_mean


def _sequences(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(2, 5, 12, generator=generator, dtype=torch.float64)


def test_masked_mean_ignores_padded_frames():
    x = _sequences()
    lengths = torch.tensor([5, 3])
    pooled = masked_mean(x, lengths)
    assert pooled.shape == (2, 12)
    torch.testing.assert_close(pooled[0], x[0].mean(0))
    torch.testing.assert_close(pooled[1], x[1, :3].mean(0))
    torch.testing.assert_close(MeanPooling()(x), x.mean(1))


def test_self_attention_pooling_is_a_masked_softmax_weighted_sum():
    torch.manual_seed(0)
    pool = SelfAttentionPooling(12).double()
    assert sum(p.numel() for p in pool.parameters()) == 13
    x = _sequences()
    padded = x.clone()
    padded[1, 3:] = 1e3  # garbage in the padding must not matter
    pooled = pool(padded, torch.tensor([5, 3]))
    assert pooled.shape == (2, 12)
    assert pool.last_weights[1, 3:].eq(0).all()
    torch.testing.assert_close(pool.last_weights.sum(-1), torch.ones(2, dtype=torch.float64))
    torch.testing.assert_close(pooled[1], pool(x[1:, :3])[0])
    weights = torch.softmax(pool.score(x[0]).squeeze(-1), dim=0)
    torch.testing.assert_close(pooled[0], weights @ x[0])


def test_self_attention_pooling_gradients_flow_to_the_scorer():
    pool = SelfAttentionPooling(12).double()
    x = _sequences().requires_grad_()
    pool(x, torch.tensor([5, 3])).pow(2).sum().backward()
    assert pool.score.weight.grad.abs().sum() > 0
    assert x.grad[1, 3:].abs().sum() == 0


def test_cosine_classifier_outputs_cosines():
    head = CosineClassifier(12, 7).double()
    x = _sequences()[:, 0]
    cosines = head(x)
    assert cosines.shape == (2, 7)
    expected = F.cosine_similarity(x[:, None, :], head.weight[None], dim=-1)
    torch.testing.assert_close(cosines, expected)
    # Scaling an embedding does not change its cosines (and so not its prediction).
    torch.testing.assert_close(head(3.0 * x), cosines)


def test_am_softmax_matches_the_formula_and_reduces_to_cross_entropy():
    cosines = torch.tensor([[0.9, 0.1, -0.2], [0.3, 0.5, 0.0]], dtype=torch.float64)
    targets = torch.tensor([0, 2])
    loss = AMSoftmax(margin=0.35, scale=30.0)(cosines, targets)
    logits = 30.0 * cosines.clone()
    logits[0, 0] = 30.0 * (0.9 - 0.35)
    logits[1, 2] = 30.0 * (0.0 - 0.35)
    manual = -(torch.log_softmax(logits[0], 0)[0] + torch.log_softmax(logits[1], 0)[2]) / 2
    torch.testing.assert_close(loss, manual)
    torch.testing.assert_close(
        AMSoftmax(margin=0.0, scale=1.0)(cosines, targets), F.cross_entropy(cosines, targets)
    )
    # The margin makes the loss larger than the plain scaled softmax: a harder target.
    assert loss > AMSoftmax(margin=0.0, scale=30.0)(cosines, targets)


def test_am_softmax_trains_a_cosine_head_to_separate_classes():
    torch.manual_seed(0)
    centres = F.normalize(torch.randn(3, 12, dtype=torch.float64), dim=-1)
    x = centres.repeat(4, 1) + 0.05 * torch.randn(12, 12, dtype=torch.float64)
    y = torch.arange(3).repeat(4)
    head = CosineClassifier(12, 3).double()
    loss_fn = AMSoftmax(margin=0.2, scale=10.0)
    optimizer = torch.optim.SGD(head.parameters(), lr=0.5)
    first = loss_fn(head(x), y).item()
    for _ in range(50):
        optimizer.zero_grad()
        loss = loss_fn(head(x), y)
        loss.backward()
        optimizer.step()
    assert loss.item() < first
    assert (head(x).argmax(-1) == y).all()
    assert not math.isnan(loss.item())


def test_am_softmax_errors():
    with pytest.raises(ValueError, match="margin"):
        AMSoftmax(margin=-0.1)
    with pytest.raises(ValueError, match="scale"):
        AMSoftmax(scale=0.0)
    with pytest.raises(ValueError, match="targets"):
        AMSoftmax()(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
