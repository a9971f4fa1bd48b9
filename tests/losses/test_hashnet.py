"""HashNet loss against a naive per-pair loop (paper's weighted likelihood), and beta continuation."""
import math

import pytest
import torch

from csdh.losses import LOSSES, HashNetLoss


def naive_hashnet(codes, pairs, labels, shares_label, alpha):
    """1/|S| sum w_ij [log(1 + exp(a <h_i,h_j>)) - a s_ij <h_i,h_j>], w = |S|/|S1| or |S|/|S0|."""
    sims = [shares_label(labels[i], yj) for i, _, yj in pairs]
    n = len(pairs)
    n1 = sum(1 for s in sims if s > 0)
    n0 = n - n1
    total = 0.0
    for (i, hj, _), s in zip(pairs, sims):
        dot = alpha * torch.dot(codes[i], hj)
        w = n / n1 if s > 0 else n / n0
        total = total + w * (torch.log(1 + torch.exp(dot)) - s * dot)
    return total / n


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_matches_naive_within_batch(naive, grad_of, kind):
    codes, labels = naive.make_batch(kind)
    codes.requires_grad_(True)
    loss = HashNetLoss(naive.K, naive.C)
    assert math.isclose(loss.alpha, 10 / naive.K)
    got = loss(codes, labels)
    want = naive_hashnet(codes, naive.batch_pairs(codes, labels), labels, naive.shares_label, 10 / naive.K)
    assert torch.allclose(got, want, rtol=1e-10)
    assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_matches_naive_with_memory_bank(naive, batches, grad_of, kind):
    loss = HashNetLoss(naive.K, naive.C, n_train=10, alpha=0.3, memory_bank=True).double()
    bank = naive.NaiveBank()
    for codes, labels, index in batches(kind):
        codes = codes.clone().requires_grad_(True)
        got = loss(codes, labels, index)
        want = naive_hashnet(codes, bank.pairs(codes, labels, index), labels, naive.shares_label, 0.3)
        assert torch.allclose(got, want, rtol=1e-10)
        assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-9, atol=1e-12)


def test_one_group_only_gets_unit_weights(naive):
    codes, _ = naive.make_batch("single")
    labels = torch.zeros(naive.B, naive.C, dtype=torch.float64)
    labels[:, 0] = 1  # all pairs similar
    loss = HashNetLoss(naive.K, naive.C, alpha=1.0)
    dot = codes @ codes.T
    off = ~torch.eye(naive.B, dtype=torch.bool)
    want = (torch.nn.functional.softplus(dot) - dot)[off].mean()
    assert torch.allclose(loss(codes, labels), want)


def test_continuation_increases():
    loss = HashNetLoss(16, 4)
    scales = []
    for epoch in range(6):
        loss.on_epoch_start(epoch)
        scales.append(loss.head_scale())
    assert scales[0] == pytest.approx(1.0)
    assert all(b > a for a, b in zip(scales, scales[1:]))
    assert scales[3] == pytest.approx((1 + 1.0 * 3) ** 0.5)
    loss = HashNetLoss(16, 4, beta0=2.0, gamma=0.5, power=1.0)
    loss.on_epoch_start(4)
    assert loss.head_scale() == pytest.approx(2.0 * (1 + 0.5 * 4))
    assert HashNetLoss(16, 4, continuation=False).head_scale() is None


def test_gradients_flow_and_invariance(naive):
    codes, labels = naive.make_batch("multi")
    codes = codes.float().requires_grad_(True)
    loss = LOSSES.create("hashnet", n_bits=naive.K, n_classes=naive.C, n_train=naive.B)
    assert not loss.uses_index
    loss(codes, labels.float()).backward()
    assert torch.isfinite(codes.grad).all() and codes.grad.abs().sum() > 0
    _, labels = naive.make_batch("single")
    rand = torch.tanh(torch.randn(naive.B, naive.K, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    loss = HashNetLoss(naive.K, naive.C)
    assert float(loss(naive.hadamard_codes(labels, 1.0), labels)) < float(loss(rand, labels))
