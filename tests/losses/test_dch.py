"""DCH loss against a naive per-pair loop (Cauchy cross-entropy, Eqs. 2, 6, 8, 9 of the paper)."""
import math

import pytest
import torch

from csdh.losses import LOSSES, DCHLoss


def cauchy_distance(a, b, k):
    cos = torch.dot(a, b) / (torch.sqrt(torch.dot(a, a)) * torch.sqrt(torch.dot(b, b)))
    return k / 2 * (1 - cos)


def naive_dch(codes, pairs, labels, shares_label, gamma, lam):
    k = codes.shape[1]
    sims = [shares_label(labels[i], yj) for i, _, yj in pairs]
    n = len(pairs)
    n1 = sum(1 for s in sims if s > 0)
    n0 = n - n1
    total = 0.0
    for (i, hj, _), s in zip(pairs, sims):
        d = cauchy_distance(codes[i], hj, k)
        w = n / n1 if s > 0 else n / n0
        # -[s log(g / (g + d)) + (1 - s) log(d / (g + d))], the paper's Eq. 8 written out
        p = gamma / (gamma + d)
        total = total - w * (s * torch.log(p) + (1 - s) * torch.log(1 - p))
    q = 0.0
    ones = torch.ones(k, dtype=codes.dtype)
    for i in range(codes.shape[0]):
        q = q + torch.log(1 + cauchy_distance(codes[i].abs(), ones, k) / gamma)
    return total / n + lam * q / codes.shape[0]


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_matches_naive_within_batch(naive, grad_of, kind):
    codes, labels = naive.make_batch(kind)
    codes.requires_grad_(True)
    loss = DCHLoss(naive.K, naive.C)
    assert loss.gamma == 20.0 and loss.lambda_q == 0.1
    got = loss(codes, labels)
    want = naive_dch(codes, naive.batch_pairs(codes, labels), labels, naive.shares_label, 20.0, 0.1)
    assert torch.allclose(got, want, rtol=1e-10)
    assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_matches_naive_with_memory_bank(naive, batches, grad_of, kind):
    loss = DCHLoss(naive.K, naive.C, n_train=10, gamma=5.0, lambda_q=1.0, memory_bank=True).double()
    bank = naive.NaiveBank()
    for codes, labels, index in batches(kind):
        codes = codes.clone().requires_grad_(True)
        got = loss(codes, labels, index)
        want = naive_dch(codes, bank.pairs(codes, labels, index), labels, naive.shares_label, 5.0, 1.0)
        assert torch.allclose(got, want, rtol=1e-10)
        assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-9, atol=1e-12)


def test_identical_codes_stay_finite(naive):
    codes, labels = naive.make_batch("single")
    same = codes[:1].expand(naive.B, -1).clone().requires_grad_(True)
    value = DCHLoss(naive.K, naive.C)(same, labels)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(same.grad).all()
    # a similar pair at distance 0 costs log(1 + 0 / gamma) = 0
    labels = torch.zeros(2, naive.C, dtype=torch.float64)
    labels[:, 0] = 1
    pair = torch.ones(2, naive.K, dtype=torch.float64)
    assert float(DCHLoss(naive.K, naive.C, lambda_q=0.0)(pair, labels)) == pytest.approx(0.0, abs=1e-12)


def test_gradients_flow_and_invariance(naive):
    codes, labels = naive.make_batch("multi")
    codes = codes.float().requires_grad_(True)
    LOSSES.create("dch", n_bits=naive.K, n_classes=naive.C, n_train=0)(codes, labels.float()).backward()
    assert torch.isfinite(codes.grad).all() and codes.grad.abs().sum() > 0
    _, labels = naive.make_batch("single")
    rand = torch.tanh(torch.randn(naive.B, naive.K, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    loss = DCHLoss(naive.K, naive.C)
    assert float(loss(naive.hadamard_codes(labels), labels)) < float(loss(rand, labels))
    assert math.isclose(loss.min_distance, 0.005 * naive.K)
