"""DHN loss against a naive per-pair loop (pairwise cross-entropy + log cosh quantization)."""
import math

import pytest
import torch

from csdh.losses import LOSSES, DHNLoss
from csdh.losses.dhn import log_cosh


def naive_dhn(codes, pairs, labels, shares_label, alpha, lam):
    ce = 0.0
    for i, hj, yj in pairs:
        dot = alpha * torch.dot(codes[i], hj)
        ce = ce + torch.log(1 + torch.exp(dot)) - shares_label(labels[i], yj) * dot
    ce = ce / len(pairs)
    q = 0.0
    for i in range(codes.shape[0]):
        for k in range(codes.shape[1]):
            q = q + torch.log(torch.cosh(codes[i, k].abs() - 1))
    return ce + lam * q / codes.numel()


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_matches_naive_within_batch(naive, grad_of, kind):
    codes, labels = naive.make_batch(kind)
    codes.requires_grad_(True)
    loss = DHNLoss(naive.K, naive.C)
    assert loss.alpha == pytest.approx(10 / naive.K) and loss.lambda_q == 0.1
    got = loss(codes, labels)
    want = naive_dhn(codes, naive.batch_pairs(codes, labels), labels, naive.shares_label, 10 / naive.K, 0.1)
    assert torch.allclose(got, want, rtol=1e-10)
    assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_matches_naive_with_memory_bank(naive, batches, grad_of, kind):
    loss = DHNLoss(naive.K, naive.C, n_train=10, alpha=1.0, lambda_q=0.5, memory_bank=True).double()
    bank = naive.NaiveBank()
    for codes, labels, index in batches(kind):
        codes = codes.clone().requires_grad_(True)
        got = loss(codes, labels, index)
        want = naive_dhn(codes, bank.pairs(codes, labels, index), labels, naive.shares_label, 1.0, 0.5)
        assert torch.allclose(got, want, rtol=1e-10)
        assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-9, atol=1e-12)


def test_log_cosh_is_stable():
    x = torch.tensor([-1000.0, -3.0, 0.0, 0.5, 1000.0], dtype=torch.float64)
    got = log_cosh(x)
    assert torch.isfinite(got).all()
    assert got[2] == 0
    assert float(got[1]) == pytest.approx(math.log(math.cosh(3.0)))
    assert float(got[-1]) == pytest.approx(1000 - math.log(2))


def test_gradients_flow_and_invariance(naive):
    codes, labels = naive.make_batch("multi")
    codes = codes.float().requires_grad_(True)
    LOSSES.create("dhn", n_bits=naive.K, n_classes=naive.C, n_train=0)(codes, labels.float()).backward()
    assert torch.isfinite(codes.grad).all() and codes.grad.abs().sum() > 0
    _, labels = naive.make_batch("single")
    rand = torch.tanh(torch.randn(naive.B, naive.K, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    loss = DHNLoss(naive.K, naive.C)
    assert float(loss(naive.hadamard_codes(labels), labels)) < float(loss(rand, labels))
