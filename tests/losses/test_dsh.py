"""DSH loss against a naive per-pair loop (paper's relaxed contrastive loss)."""
import pytest
import torch

from csdh.losses import LOSSES, DSHLoss


def naive_dsh(codes, pairs, labels, shares_label, margin, alpha):
    """mean over pairs of 1/2 s D + 1/2 (1-s) max(m - D, 0) + alpha (|| |h_i|-1 ||_1 + || |h_j|-1 ||_1)."""
    total = 0.0
    for i, hj, yj in pairs:
        s = shares_label(labels[i], yj)
        d = sum((codes[i, k] - hj[k]) ** 2 for k in range(codes.shape[1]))
        reg = sum(abs(abs(codes[i, k]) - 1) for k in range(codes.shape[1])) + sum(
            abs(abs(hj[k]) - 1) for k in range(codes.shape[1])
        )
        total = total + 0.5 * s * d + 0.5 * (1 - s) * torch.clamp(margin - d, min=0) + alpha * reg
    return total / len(pairs)


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_matches_naive_within_batch(naive, grad_of, kind):
    codes, labels = naive.make_batch(kind)
    codes.requires_grad_(True)
    loss = DSHLoss(naive.K, naive.C, margin=10.0, alpha=0.05)
    got = loss(codes, labels)
    want = naive_dsh(codes, naive.batch_pairs(codes, labels), labels, naive.shares_label, 10.0, 0.05)
    assert torch.allclose(got, want, rtol=1e-10)
    assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-9, atol=1e-12)


def test_defaults_and_weixu000_form(naive):
    codes, labels = naive.make_batch("single")
    loss = DSHLoss(naive.K, naive.C)
    assert loss.margin == 2 * naive.K and loss.alpha == 0.01
    # within a batch the pairwise regulariser is 2 alpha mean_i || |h_i| - 1 ||_1
    loss(codes, labels)
    want_reg = 2 * (codes.abs() - 1).abs().sum(dim=1).mean()
    assert loss.last_terms["reg"] == pytest.approx(float(want_reg))


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_matches_naive_with_memory_bank(naive, batches, grad_of, kind):
    loss = DSHLoss(naive.K, naive.C, n_train=10, memory_bank=True).double()
    bank = naive.NaiveBank()
    for codes, labels, index in batches(kind):
        codes = codes.clone().requires_grad_(True)
        got = loss(codes, labels, index)
        want = naive_dsh(codes, bank.pairs(codes, labels, index), labels, naive.shares_label, 2.0 * naive.K, 0.01)
        assert torch.allclose(got, want, rtol=1e-10)
        assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-9, atol=1e-12)


def test_gradients_flow_and_invariance(naive):
    codes, labels = naive.make_batch("multi")
    codes = codes.float().requires_grad_(True)
    LOSSES.create("dsh", n_bits=naive.K, n_classes=naive.C, n_train=0)(codes, labels.float()).backward()
    assert torch.isfinite(codes.grad).all() and codes.grad.abs().sum() > 0
    _, labels = naive.make_batch("single")
    rand = torch.tanh(torch.randn(naive.B, naive.K, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    loss = DSHLoss(naive.K, naive.C)
    assert float(loss(naive.hadamard_codes(labels), labels)) < float(loss(rand, labels))
