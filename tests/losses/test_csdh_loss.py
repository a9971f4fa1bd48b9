"""CSDH loss against an independent per-pair loop that follows its docstring term by term."""
import math

import pytest
import torch

from csdh.losses import LOSSES, CSDHLoss


def similarity(yi, yj, soft):
    inner = sum(float(a) * float(b) for a, b in zip(yi, yj))
    if not soft:
        return 1.0 if inner > 0 else 0.0
    ni = math.sqrt(sum(float(a) ** 2 for a in yi))
    nj = math.sqrt(sum(float(b) ** 2 for b in yj))
    return 0.0 if ni == 0 or nj == 0 else min(max(inner / (ni * nj), 0.0), 1.0)


def naive_csdh(codes, labels, pairs, alpha, lambda_ham, lambda_q, margin, balance, soft, balance_ham=False,
               ham_cosine=False):
    """L = L_sim + lambda_ham L_ham + lambda_q L_q, each a mean as written in csdh_loss.py's docstring."""
    k = codes.shape[1]
    sims = [similarity(labels[i], yj, soft) for i, _, yj in pairs]
    n = len(pairs)
    if balance or balance_ham:
        n_pos = sum(1 for s in sims if s > 0.5)
        n_neg = n - n_pos
        groups = (n_pos > 0) + (n_neg > 0)
        weights = [n / (groups * n_pos) if s > 0.5 else n / (groups * n_neg) for s in sims]
    else:
        weights = [1.0] * n
    sim_weights = weights if balance else [1.0] * n
    ham_weights = weights if balance_ham else [1.0] * n
    l_sim = 0.0
    l_ham = 0.0
    for (i, hj, _), s, w, v in zip(pairs, sims, sim_weights, ham_weights):
        inner = sum(codes[i, b] * hj[b] for b in range(k))
        theta = alpha * inner / 2
        l_sim = l_sim + w * (torch.log(1 + torch.exp(theta)) - s * theta)
        if ham_cosine:
            norm_i = torch.sqrt(sum(codes[i, b] ** 2 for b in range(k)))
            norm_j = torch.sqrt(sum(hj[b] ** 2 for b in range(k)))
            d = k * (1 - inner / (norm_i * norm_j)) / 2
        else:
            d = (k - inner) / 2
        l_ham = l_ham + v * (s * d + (1 - s) * torch.clamp(margin - d, min=0)) / k
    l_q = sum((abs(codes[i, b]) - 1) ** 2 for i in range(codes.shape[0]) for b in range(k)) / codes.numel()
    return l_sim / n + lambda_ham * l_ham / n + lambda_q * l_q


# balanced_pair_weights divides int64 counts, which gives float32 weights even for float64 codes, so
# with balance=True the loss agrees with the float64 loop to ~1e-8 only.
def tol(opts):
    return dict(rtol=1e-6, atol=1e-8) if opts["balance"] or opts["balance_ham"] else dict(rtol=1e-9, atol=1e-12)


SETTINGS = [
    dict(balance=True, balance_ham=True, ham_cosine=True, soft_similarity=False),
    dict(balance=True, balance_ham=True, ham_cosine=False, soft_similarity=False),
    dict(balance=True, balance_ham=False, ham_cosine=True, soft_similarity=False),
    dict(balance=False, balance_ham=True, ham_cosine=False, soft_similarity=False),
    dict(balance=False, balance_ham=False, ham_cosine=False, soft_similarity=False),
    dict(balance=True, balance_ham=True, ham_cosine=True, soft_similarity=True),
]


@pytest.mark.parametrize("kind", ["single", "multi"])
@pytest.mark.parametrize("opts", SETTINGS)
def test_matches_naive_within_batch(naive, grad_of, kind, opts):
    codes, labels = naive.make_batch(kind)
    codes.requires_grad_(True)
    loss = CSDHLoss(naive.K, naive.C, memory_bank=False, alpha=0.4, lambda_ham=0.7, lambda_q=0.2, **opts)
    got = loss(codes, labels)
    want = naive_csdh(
        codes, labels, naive.batch_pairs(codes, labels), 0.4, 0.7, 0.2, naive.K / 2, opts["balance"], opts["soft_similarity"],
        opts["balance_ham"], opts["ham_cosine"]
    )
    assert torch.allclose(got, want, **tol(opts))
    assert torch.allclose(grad_of(got, codes), grad_of(want, codes), **tol(opts))


@pytest.mark.parametrize("kind", ["single", "multi"])
@pytest.mark.parametrize("opts", SETTINGS)
def test_matches_naive_with_memory_bank(naive, batches, grad_of, kind, opts):
    loss = CSDHLoss(naive.K, naive.C, n_train=10, alpha=0.25, lambda_ham=1.0, lambda_q=0.1, margin=5.0,
                    **opts).double()
    assert loss.uses_index
    bank = naive.NaiveBank()
    for codes, labels, index in batches(kind):
        codes = codes.clone().requires_grad_(True)
        got = loss(codes, labels, index)
        pairs = bank.pairs(codes, labels, index)
        want = naive_csdh(codes, labels, pairs, 0.25, 1.0, 0.1, 5.0, opts["balance"], opts["soft_similarity"],
                          opts["balance_ham"], opts["ham_cosine"])
        assert torch.allclose(got, want, **tol(opts))
        assert torch.allclose(grad_of(got, codes), grad_of(want, codes), **tol(opts))


def test_defaults_and_registry(naive):
    loss = LOSSES.create("csdh", n_bits=naive.K, n_classes=naive.C, n_train=10)
    # the defaults chosen on the fashion-mnist validation split (docs/method.md)
    assert (loss.alpha, loss.lambda_ham, loss.lambda_q, loss.margin) == (8 / naive.K, 32 / naive.K, 0.003, naive.K / 2)
    assert LOSSES.create("csdh", n_bits=64, n_classes=3, n_train=10).lambda_ham == 0.5
    assert loss.balance and loss.balance_ham and loss.ham_cosine and not loss.soft_similarity and loss.memory_bank
    with pytest.raises(ValueError):
        CSDHLoss(naive.K, naive.C, n_train=0)


def test_gradients_flow_and_consistent_codes_score_lower(naive):
    codes, labels = naive.make_batch("multi")
    codes = codes.float().requires_grad_(True)
    loss = CSDHLoss(naive.K, naive.C, n_train=naive.B)
    loss(codes, labels.float(), torch.arange(naive.B)).backward()
    assert torch.isfinite(codes.grad).all() and codes.grad.abs().sum() > 0
    assert set(loss.last_terms) == {"sim", "ham", "q"}
    _, labels = naive.make_batch("single")
    rand = torch.tanh(torch.randn(naive.B, naive.K, generator=torch.Generator().manual_seed(3), dtype=torch.float64))
    loss = CSDHLoss(naive.K, naive.C, memory_bank=False)
    assert float(loss(naive.hadamard_codes(labels), labels)) < float(loss(rand, labels))


def naive_code_cross_entropy(logits, labels):
    """Per-item loop: -sum_c p_c log softmax(logits)_c with p the label row divided by its sum; empty rows skipped."""
    total, n = 0.0, 0
    for row, y in zip(logits, labels):
        mass = sum(float(v) for v in y)
        if mass == 0:
            continue
        log_z = torch.log(sum(torch.exp(v) for v in row))
        total = total - sum(float(y[c]) / mass * (row[c] - log_z) for c in range(len(row)))
        n += 1
    return total / n


@pytest.mark.parametrize("kind", ["single", "multi", "mixed"])
def test_classification_term_adds_lambda_times_naive_cross_entropy(naive, grad_of, kind):
    codes, labels = naive.make_batch("single" if kind == "mixed" else kind)
    if kind == "mixed":  # mixup's label rows: class distributions
        labels = 0.7 * labels + 0.3 * labels.roll(1, dims=0)
    labels[0] = 0  # an item without a label takes no part in the term
    codes.requires_grad_(True)
    plain = CSDHLoss(naive.K, naive.C, memory_bank=False).double()
    extended = CSDHLoss(naive.K, naive.C, memory_bank=False, lambda_cls=0.3).double()
    got = extended(codes, labels)
    logits = codes @ extended.classifier.weight.T + extended.classifier.bias
    want = plain(codes, labels) + 0.3 * naive_code_cross_entropy(logits, labels)
    assert torch.allclose(got, want, rtol=1e-6, atol=1e-8)
    assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-6, atol=1e-8)
    assert extended.last_terms["cls"] == pytest.approx(float(naive_code_cross_entropy(logits, labels).detach()), rel=1e-9)


def test_class_targets_replace_the_labels_of_the_classification_term_only(naive, grad_of):
    codes, labels = naive.make_batch("single")
    codes.requires_grad_(True)
    targets = torch.softmax(torch.linspace(-1, 1, len(labels) * naive.C, dtype=codes.dtype).reshape(labels.shape),
                            dim=1)  # a teacher's posteriors, say
    plain = CSDHLoss(naive.K, naive.C, memory_bank=False).double()
    extended = CSDHLoss(naive.K, naive.C, memory_bank=False, lambda_cls=0.3).double()
    got = extended(codes, labels, class_targets=targets)
    logits = codes @ extended.classifier.weight.T + extended.classifier.bias
    want = plain(codes, labels) + 0.3 * naive_code_cross_entropy(logits, targets)  # pairwise terms: the labels
    assert torch.allclose(got, want, rtol=1e-6, atol=1e-8)
    assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="no classification term"):
        plain(codes, labels, class_targets=targets)
    with pytest.raises(ValueError, match="shape"):
        extended(codes, labels, class_targets=targets[:, :-1])
    assert extended.has_classifier() and not plain.has_classifier()
    assert not any(LOSSES.create(name, n_bits=naive.K, n_classes=naive.C, n_train=10).has_classifier()
                   for name in LOSSES.names() if name != "csdh")


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_classification_smoothing_mixes_the_targets_with_the_uniform_distribution(naive, grad_of, kind):
    codes, labels = naive.make_batch(kind)
    labels[0] = 0  # still left out, not given the uniform target
    codes.requires_grad_(True)
    plain = CSDHLoss(naive.K, naive.C, memory_bank=False).double()
    smoothed = CSDHLoss(naive.K, naive.C, memory_bank=False, lambda_cls=0.3, cls_smoothing=0.2).double()
    got = smoothed(codes, labels)
    logits = codes @ smoothed.classifier.weight.T + smoothed.classifier.bias
    targets = torch.stack([0.8 * row / row.sum() + 0.2 / naive.C if row.sum() > 0 else row for row in labels])
    assert torch.allclose(targets[1:].sum(1), torch.ones(len(labels) - 1, dtype=targets.dtype))
    want = plain(codes, labels) + 0.3 * naive_code_cross_entropy(logits, targets)
    assert torch.allclose(got, want, rtol=1e-6, atol=1e-8)
    assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="cls_smoothing .* needs lambda_cls > 0"):
        CSDHLoss(naive.K, naive.C, memory_bank=False, cls_smoothing=0.1)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"cls_smoothing must be in \[0, 1\)"):
            CSDHLoss(naive.K, naive.C, memory_bank=False, lambda_cls=0.1, cls_smoothing=bad)


def test_classification_on_signs_reads_binary_codes_with_straight_through_gradient(naive, grad_of):
    codes, labels = naive.make_batch("single")
    codes = codes.detach().clone()
    codes[0, 0] = 0.0  # sign(0) = +1
    codes.requires_grad_(True)
    plain = CSDHLoss(naive.K, naive.C, memory_bank=False).double()
    on_signs = CSDHLoss(naive.K, naive.C, memory_bank=False, lambda_cls=0.3, cls_sign=True).double()
    signs = torch.tensor([[1.0 if float(v) >= 0 else -1.0 for v in row] for row in codes.detach()], dtype=codes.dtype)
    assert signs[0, 0] == 1.0
    got = on_signs(codes, labels)
    w, b = on_signs.classifier.weight, on_signs.classifier.bias
    want = plain(codes, labels) + 0.3 * naive_code_cross_entropy(signs @ w.T + b, labels)
    assert torch.allclose(got, want, rtol=1e-6, atol=1e-8)
    # straight through: d/dh of the term is d/db of the cross-entropy at b = sign(h)
    signs.requires_grad_(True)
    ce_grad = grad_of(0.3 * naive_code_cross_entropy(signs @ w.T + b, labels), signs)
    assert torch.allclose(grad_of(got, codes), grad_of(plain(codes, labels), codes) + ce_grad, rtol=1e-6, atol=1e-8)


def test_classification_term_is_off_by_default_and_checked(naive):
    loss = CSDHLoss(naive.K, naive.C, n_train=10)
    assert loss.lambda_cls == 0 and loss.classifier is None and not list(loss.parameters())
    with_cls = CSDHLoss(naive.K, naive.C, n_train=10, lambda_cls=0.1)
    assert [n for n, _ in with_cls.named_parameters()] == ["classifier.weight", "classifier.bias"]
    with pytest.raises(ValueError, match="lambda_cls"):
        CSDHLoss(naive.K, naive.C, n_train=10, lambda_cls=-1)
    with pytest.raises(ValueError, match="cls_sign .* needs lambda_cls > 0"):
        CSDHLoss(naive.K, naive.C, n_train=10, cls_sign=True)  # nothing to read the signs without the term
    codes = torch.zeros(3, naive.K, requires_grad=True)
    out = with_cls(codes, torch.zeros(3, naive.C), torch.arange(3))  # no labelled item: the term is 0
    out.backward()
    assert with_cls.last_terms["cls"] == 0.0


def test_beta_continuation_is_off_by_default_and_follows_hashnet_schedule(naive):
    assert CSDHLoss(naive.K, naive.C, n_train=10).head_scale() is None
    loss = CSDHLoss(naive.K, naive.C, n_train=10, beta_gamma=0.5)
    scales = []
    for epoch in range(5):
        loss.on_epoch_start(epoch)
        scales.append(loss.head_scale())
    assert scales == pytest.approx([(1 + 0.5 * e) ** 0.5 for e in range(5)])
    loss = CSDHLoss(naive.K, naive.C, n_train=10, beta_gamma=2.0, beta_power=1.0)
    loss.on_epoch_start(3)
    assert loss.head_scale() == pytest.approx(7.0)
    with pytest.raises(ValueError, match="beta_gamma and beta_power"):
        CSDHLoss(naive.K, naive.C, n_train=10, beta_gamma=-1)
