"""label_similarity against explicit loops."""
import math

import pytest
import torch

from csdh.losses import label_similarity


def naive(a, b, soft):
    out = torch.zeros(len(a), len(b), dtype=torch.float64)
    for i, yi in enumerate(a.tolist()):
        for j, yj in enumerate(b.tolist()):
            inner = sum(x * y for x, y in zip(yi, yj))
            if not soft:
                out[i, j] = 1.0 if inner > 0 else 0.0
            else:
                ni, nj = math.sqrt(sum(x * x for x in yi)), math.sqrt(sum(y * y for y in yj))
                out[i, j] = 0.0 if ni == 0 or nj == 0 else inner / (ni * nj)
    return out


LABELS_A = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]])
LABELS_B = torch.tensor([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0]])


@pytest.mark.parametrize("soft", [False, True])
def test_matches_naive(soft):
    got = label_similarity(LABELS_A.double(), LABELS_B.double(), soft=soft)
    assert got.shape == (4, 3) and got.dtype == torch.float64
    assert torch.allclose(got, naive(LABELS_A, LABELS_B, soft))
    assert ((got >= 0) & (got <= 1)).all()


def test_integer_labels_give_float32_and_symmetry():
    got = label_similarity(LABELS_A, LABELS_A)
    assert got.dtype == torch.float32
    assert torch.equal(got, got.T)
    assert got[2].sum() == 0  # an item without labels is similar to nothing, itself included
    soft = label_similarity(LABELS_A, LABELS_A, soft=True)
    assert torch.allclose(soft.diagonal(), torch.tensor([1.0, 1.0, 0.0, 1.0]))


def test_single_label_hard_equals_soft():
    y = torch.nn.functional.one_hot(torch.tensor([0, 2, 2, 1]), 3).float()
    assert torch.equal(label_similarity(y, y), label_similarity(y, y, soft=True))


@pytest.mark.parametrize("soft", [False, True])
def test_class_distributions_give_the_probability_of_one_class(soft):
    """Mixed single-label items: s_ij = P(class_i == class_j), by enumerating the class pairs."""
    g = torch.Generator().manual_seed(0)
    a = torch.rand(5, 4, generator=g) ** 3
    a = a / a.sum(1, keepdim=True)
    b = torch.nn.functional.one_hot(torch.tensor([0, 3, 1]), 4).float()  # pure items (e.g. a memory bank)
    expected = torch.zeros(5, 3)
    for i in range(5):
        for j in range(3):
            expected[i, j] = sum(float(a[i, k]) * float(b[j, m]) for k in range(4) for m in range(4) if k == m)
    assert torch.allclose(label_similarity(a, b, soft=soft), expected, atol=1e-6)
    assert torch.allclose(label_similarity(b, a, soft=soft), expected.T, atol=1e-6)
    pure = label_similarity(b, b, soft=soft)
    assert torch.equal(pure, torch.eye(3))  # one-hot labels keep the field's rule
