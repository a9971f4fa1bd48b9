"""DPSH loss against a naive per-pair loop written from the paper's objective."""
import math

import pytest
import torch

from csdh.losses import LOSSES, DPSHLoss


def naive_dpsh(codes, pairs, labels, shares_label, eta):
    """mean over pairs of log(1 + e^T) - s T, T = <u_i, u_j> / 2; + eta mean (sign(u) - u)^2."""
    total = 0.0
    for i, hj, yj in pairs:
        theta = 0.5 * torch.dot(codes[i], hj)
        s = shares_label(labels[i], yj)
        total = total + (torch.log1p(torch.exp(theta)) - s * theta)
    lik = total / max(len(pairs), 1)
    q = 0.0
    for i in range(codes.shape[0]):
        for k in range(codes.shape[1]):
            b = 1.0 if float(codes[i, k].detach()) >= 0 else -1.0
            q = q + (b - codes[i, k]) ** 2
    q = q / codes.numel()
    return lik + eta * q


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_matches_naive_within_batch(naive, grad_of, kind):
    codes, labels = naive.make_batch(kind)
    codes.requires_grad_(True)
    loss = DPSHLoss(naive.K, naive.C, memory_bank=False, eta=0.3)
    got = loss(codes, labels)
    want = naive_dpsh(codes, naive.batch_pairs(codes, labels), labels, naive.shares_label, 0.3)
    assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)
    assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_matches_naive_with_memory_bank(naive, batches, grad_of, kind):
    loss = DPSHLoss(naive.K, naive.C, n_train=10).double()
    assert loss.uses_index
    bank = naive.NaiveBank()
    for codes, labels, index in batches(kind):
        codes = codes.clone().requires_grad_(True)
        got = loss(codes, labels, index)
        want = naive_dpsh(codes, bank.pairs(codes, labels, index), labels, naive.shares_label, 0.1)
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-12)
        assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-9, atol=1e-12)


def test_bank_needs_index_and_n_train(naive):
    codes, labels = naive.make_batch("single")
    with pytest.raises(ValueError):
        DPSHLoss(naive.K, naive.C, n_train=10)(codes, labels)
    with pytest.raises(ValueError):
        DPSHLoss(naive.K, naive.C, n_train=0)


def test_stable_for_large_inner_products(naive):
    codes, labels = naive.make_batch("single")
    loss = DPSHLoss(naive.K, naive.C, memory_bank=False)
    value = loss(200 * codes, labels)
    assert torch.isfinite(value)


def test_gradients_flow_and_registered(naive):
    codes, labels = naive.make_batch("multi")
    codes = codes.float().requires_grad_(True)
    loss = LOSSES.create("dpsh", n_bits=naive.K, n_classes=naive.C, n_train=naive.B)
    loss(codes, labels.float(), torch.arange(naive.B)).backward()
    assert torch.isfinite(codes.grad).all() and codes.grad.abs().sum() > 0
    assert set(loss.last_terms) == {"lik", "q"}
    assert "bank.codes" in loss.state_dict()


def test_consistent_codes_score_lower(naive):
    _, labels = naive.make_batch("single")
    good = naive.hadamard_codes(labels)
    rand = torch.tanh(torch.randn(naive.B, naive.K, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    loss = DPSHLoss(naive.K, naive.C, memory_bank=False)
    assert float(loss(good, labels)) < float(loss(rand, labels))
    assert math.isclose(loss.eta, 0.1)
