"""Shared test data for the losses: small seeded float64 batches and naive pair enumerations.

Everything here is written from the definitions (explicit loops), independently of
``csdh.losses.pairwise`` and ``csdh.losses.memory_bank``.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Dict, List, Tuple

import pytest
import torch

B, K, C = 6, 16, 4


def make_batch(kind: str, seed: int = 0, b: int = B, k: int = K, c: int = C) -> Tuple[torch.Tensor, torch.Tensor]:
    """Seeded float64 codes in (-1, 1) and labels: ``kind`` "single" (one-hot) or "multi" (multi-hot)."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.tanh(1.5 * torch.randn(b, k, generator=g, dtype=torch.float64))
    if kind == "single":
        labels = torch.nn.functional.one_hot(torch.randint(0, c, (b,), generator=g), c).to(torch.float64)
    elif kind == "multi":
        labels = (torch.rand(b, c, generator=g) < 0.35).to(torch.float64)
        for i in range(b):
            if labels[i].sum() == 0:
                labels[i, int(torch.randint(0, c, (1,), generator=g))] = 1.0
    else:
        raise ValueError(kind)
    return codes, labels


def shares_label(yi: torch.Tensor, yj: torch.Tensor) -> float:
    return 1.0 if any(float(a) > 0 and float(b) > 0 for a, b in zip(yi, yj)) else 0.0


def batch_pairs(codes: torch.Tensor, labels: torch.Tensor) -> List[Tuple[int, torch.Tensor, torch.Tensor]]:
    """All ordered pairs (i, j), i != j, of the batch, as (i, h_j, y_j); h_j keeps its gradient."""
    n = codes.shape[0]
    return [(i, codes[j], labels[j]) for i in range(n) for j in range(n) if i != j]


class NaiveBank:
    """The latest detached code and label of each training position seen so far, in a dict."""

    def __init__(self) -> None:
        self.items: Dict[int, Tuple[torch.Tensor, torch.Tensor]] = {}

    def pairs(self, codes: torch.Tensor, labels: torch.Tensor, index: torch.Tensor) -> List[Tuple[int, torch.Tensor, torch.Tensor]]:
        for i, t in enumerate(index.tolist()):
            self.items[t] = (codes[i].detach().clone(), labels[i].clone())
        out = []
        for i, t in enumerate(index.tolist()):
            for u in sorted(self.items):
                if u != t:
                    out.append((i, self.items[u][0], self.items[u][1]))
        return out


def hadamard_codes(labels: torch.Tensor, scale: float = 0.9) -> torch.Tensor:
    """Codes consistent with single labels: ``scale`` times a distinct Hadamard row per class (K = 16)."""
    h = torch.ones(1, 1, dtype=torch.float64)
    while h.shape[0] < K:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return scale * h[1 : labels.shape[1] + 1][labels.argmax(dim=1)]


@pytest.fixture
def naive() -> SimpleNamespace:
    return SimpleNamespace(
        B=B, K=K, C=C, make_batch=make_batch, shares_label=shares_label, batch_pairs=batch_pairs,
        NaiveBank=NaiveBank, hadamard_codes=hadamard_codes,
    )


def two_batches(kind: str) -> Tuple[Tuple[torch.Tensor, torch.Tensor, torch.Tensor], Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Two consecutive batches of a 10-item training set whose indices overlap (3, 4, 5)."""
    c1, y1 = make_batch(kind, seed=1)
    c2, y2 = make_batch(kind, seed=2)
    return (c1, y1, torch.tensor([0, 1, 2, 3, 4, 5])), (c2, y2, torch.tensor([3, 4, 5, 6, 7, 9]))


@pytest.fixture
def batches():
    return two_batches


def grads(loss_value: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(loss_value, codes)
    return g


@pytest.fixture
def grad_of():
    return grads
