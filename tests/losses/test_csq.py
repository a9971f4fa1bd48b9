"""CSQ: hash centres (Hadamard / random), multi-label centre binarisation, loss against a naive loop."""
import itertools
import math

import pytest
import torch

from csdh.losses import LOSSES, CSQLoss
from csdh.losses.csq import sylvester_hadamard

hadamard = pytest.importorskip("scipy.linalg").hadamard


def hamming(a, b):
    return sum(1 for x, y in zip(a.tolist(), b.tolist()) if x != y)


def test_sylvester_matches_scipy():
    for n in (1, 2, 4, 16, 64):
        assert torch.equal(sylvester_hadamard(n), torch.from_numpy(hadamard(n)).float())
    with pytest.raises(ValueError):
        sylvester_hadamard(48)


def test_hadamard_centres_k16_c10():
    loss = CSQLoss(16, 10)
    assert torch.equal(loss.centers, torch.from_numpy(hadamard(16)[:10]).float())
    for i, j in itertools.combinations(range(10), 2):
        assert hamming(loss.centers[i], loss.centers[j]) == 8


def test_hadamard_centres_up_to_2k():
    loss = CSQLoss(16, 20)
    h = torch.from_numpy(hadamard(16)).float()
    assert torch.equal(loss.centers, torch.cat([h, -h])[:20])
    assert min(hamming(a, b) for a, b in itertools.combinations(loss.centers, 2)) >= 8


@pytest.mark.parametrize("n_bits,n_classes", [(48, 10), (16, 40)])
def test_random_centres_pass_distance_check(n_bits, n_classes):
    loss = CSQLoss(n_bits, n_classes, seed=5, min_distance=n_bits // 4 + 1 if n_bits == 48 else 2)
    c = loss.centers
    assert c.shape == (n_classes, n_bits)
    assert set(c.unique().tolist()) == {-1.0, 1.0}
    assert (c.sum(dim=1) == 0).all()  # K/2 bits at -1 each
    dists = [hamming(a, b) for a, b in itertools.combinations(c, 2)]
    assert min(dists) >= (n_bits // 4 + 1 if n_bits == 48 else 2)
    assert sum(dists) / len(dists) >= n_bits / 2
    # not a truncated Hadamard matrix
    if n_bits == 48:
        assert min(dists) < max(dists)


def test_random_centres_are_seeded():
    a, b, c = CSQLoss(48, 10, seed=1), CSQLoss(48, 10, seed=1), CSQLoss(48, 10, seed=2)
    assert torch.equal(a.centers, b.centers) and torch.equal(a.tie_break, b.tie_break)
    assert not torch.equal(a.centers, c.centers)


def test_impossible_distance_keeps_best_and_warns(caplog):
    with caplog.at_level("WARNING", logger="csdh.losses.csq"):
        loss = CSQLoss(12, 6, min_distance=12, max_tries=5)
    assert loss.centers.shape == (6, 12)
    assert "random 12-bit hash centres" in caplog.text


def naive_centre(loss, y):
    """Centroid of the label centres, binarised; ties from the tie-break vector."""
    k = loss.centers.shape[1]
    active = [c for c in range(len(y)) if float(y[c]) > 0]
    out = []
    for bit in range(k):
        mean = sum(float(loss.centers[c, bit]) for c in active) / max(len(active), 1)
        out.append(1.0 if mean > 0 else -1.0 if mean < 0 else float(loss.tie_break[bit]))
    return torch.tensor(out, dtype=torch.float64)


def test_multi_label_centres_binarised_with_seeded_ties(naive):
    _, labels = naive.make_batch("multi", k=16, c=4)
    labels[0] = torch.tensor([1.0, 1.0, 0.0, 0.0])  # two Hadamard rows: half the bits tie
    labels[1] = torch.zeros(4)  # no label: the tie vector
    loss = CSQLoss(16, 4, seed=3)
    got = loss.label_centers(labels)
    for i in range(labels.shape[0]):
        assert torch.equal(got[i].double(), naive_centre(loss, labels[i]))
    assert torch.equal(got[1], loss.tie_break)
    assert torch.equal(CSQLoss(16, 4, seed=3).label_centers(labels), got)
    assert set(CSQLoss(16, 4, seed=3).tie_break.unique().tolist()) <= {-1.0, 1.0}
    # single labels get their own centre
    one_hot = torch.eye(4)
    assert torch.equal(loss.label_centers(one_hot), loss.centers)


def naive_csq(loss, codes, labels, lam):
    total = 0.0
    q = 0.0
    for i in range(codes.shape[0]):
        c = naive_centre(loss, labels[i])
        for k in range(codes.shape[1]):
            p = (codes[i, k] + 1) / 2
            t = (c[k] + 1) / 2
            total = total - (t * torch.log(p) + (1 - t) * torch.log(1 - p))
            q = q + (codes[i, k].abs() - 1) ** 2
    return total / codes.numel() + lam * q / codes.numel()


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_loss_matches_naive(naive, grad_of, kind):
    codes, labels = naive.make_batch(kind)
    codes.requires_grad_(True)
    loss = CSQLoss(naive.K, naive.C, lambda_q=0.3).double()
    got = loss(codes, labels)
    want = naive_csq(loss, codes, labels, 0.3)
    assert torch.allclose(got, want, rtol=1e-10)
    assert torch.allclose(grad_of(got, codes), grad_of(want, codes), rtol=1e-9, atol=1e-12)


def test_centres_saved_with_checkpoint():
    src = CSQLoss(48, 10, seed=7)
    dst = LOSSES.create("csq", n_bits=48, n_classes=10, n_train=123, seed=8)
    assert not torch.equal(src.centers, dst.centers)
    dst.load_state_dict(src.state_dict())
    assert torch.equal(src.centers, dst.centers) and torch.equal(src.tie_break, dst.tie_break)
    assert math.isclose(CSQLoss(16, 4).lambda_q, 1e-4)


def test_gradients_flow_and_codes_at_centres_score_lower(naive):
    codes, labels = naive.make_batch("multi")
    codes = codes.float().requires_grad_(True)
    loss = CSQLoss(naive.K, naive.C)
    loss(codes, labels.float()).backward()
    assert torch.isfinite(codes.grad).all() and codes.grad.abs().sum() > 0
    good = 0.9 * loss.label_centers(labels.float())
    assert float(loss(good, labels.float())) < float(loss(codes.detach(), labels.float()))


def test_mixed_labels_target_the_same_mixture_of_centres():
    """Mixup of single-label items: the per-bit target is the label mixture of the classes' (centre + 1) / 2."""
    loss = CSQLoss(16, 4).double()
    mixed = torch.tensor([[0.7, 0.3, 0.0, 0.0], [0.0, 0.0, 0.55, 0.45]], dtype=torch.float64)
    got = loss.target_probabilities(mixed)
    c = (loss.centers.double() + 1) / 2
    for i, (a, b) in enumerate([(0, 1), (2, 3)]):
        for k in range(16):
            want = float(mixed[i, a]) * float(c[a, k]) + float(mixed[i, b]) * float(c[b, k])
            assert math.isclose(float(got[i, k]), want, rel_tol=1e-12)
    pure = torch.eye(4, dtype=torch.float64)
    assert torch.equal(loss.target_probabilities(pure), c)  # one-hot labels keep the binary centres
