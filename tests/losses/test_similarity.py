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
