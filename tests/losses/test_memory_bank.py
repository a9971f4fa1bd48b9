"""MemoryBank and the pairwise helpers."""
import pytest
import torch

from csdh.losses.memory_bank import MemoryBank
from csdh.losses.pairwise import class_balance_weights


def test_pairs_refresh_then_exclude_self_and_unfilled():
    bank = MemoryBank(5, 3, 2)
    codes = torch.tensor([[1.0, -1.0, 0.5], [0.2, 0.3, -0.4]], requires_grad=True)
    labels = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    other, other_labels, mask = bank.pairs(codes, labels, torch.tensor([3, 1]))
    assert torch.equal(other[3], codes.detach()[0]) and torch.equal(other_labels[1], labels[1])
    assert not other.requires_grad
    assert mask.tolist() == [[False, True, False, False, False], [False, False, False, True, False]]
    assert set(bank.state_dict()) == {"codes", "labels", "filled"}
    with pytest.raises(IndexError):
        bank.update(codes, labels, torch.tensor([0, 5]))
    with pytest.raises(ValueError):
        MemoryBank(0, 3, 2)


def test_class_balance_weights():
    sim = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    mask = torch.tensor([[False, True, True], [True, False, True]])
    w = class_balance_weights(sim, mask)
    # |S| = 4 pairs, |S1| = 1 (pair (1, 2)), |S0| = 3
    assert torch.allclose(w, torch.tensor([[0.0, 4 / 3, 4 / 3], [4 / 3, 0.0, 4.0]]))
    assert torch.allclose(class_balance_weights(torch.ones(2, 2), torch.ones(2, 2, dtype=torch.bool)), torch.ones(2, 2))
