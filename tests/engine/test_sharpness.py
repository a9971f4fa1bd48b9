"""SharpnessAware (SAM) against the update written out by hand, and its use in the trainer."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from csdh.engine.pipeline import make_config, prepare_data, train_run
from csdh.engine.run_dir import RunDir
from csdh.engine.sharpness import SharpnessAware
from csdh.engine.trainer import Trainer
from csdh.errors import UserError


def test_perturbation_is_rho_along_the_normalised_gradient_and_is_undone_exactly():
    torch.manual_seed(0)
    a, b, idle = (nn.Parameter(torch.randn(3, 2)), nn.Parameter(torch.randn(4)), nn.Parameter(torch.randn(2)))
    a.grad, b.grad = torch.randn(3, 2), torch.randn(4)  # ``idle`` has no gradient this step
    before = [p.detach().clone() for p in (a, b, idle)]
    norm = np.sqrt(sum(float((g.double() ** 2).sum()) for g in (a.grad, b.grad)))
    sam = SharpnessAware([a, b, idle], rho=0.3)
    with sam.perturbed():
        for p, w in zip((a, b), before):
            np.testing.assert_allclose(p.detach().numpy(), (w + 0.3 * p.grad / norm).numpy(), rtol=1e-6)
        assert torch.equal(idle, before[2])
        moved = torch.cat([(p.detach() - w).flatten() for p, w in zip((a, b), before)])
        assert float(moved.norm()) == pytest.approx(0.3, rel=1e-5)
    for p, w in zip((a, b, idle), before):
        assert torch.equal(p.detach(), w)


def test_weights_are_restored_when_the_second_pass_fails():
    w = nn.Parameter(torch.ones(3))
    w.grad = torch.tensor([3.0, 0.0, 4.0])
    with pytest.raises(RuntimeError, match="boom"):
        with SharpnessAware([w], rho=1.0).perturbed():
            assert torch.allclose(w.detach(), torch.tensor([1.6, 1.0, 1.8]))
            raise RuntimeError("boom")
    assert torch.equal(w.detach(), torch.ones(3))


def test_one_sam_step_of_sgd_on_a_quadratic_matches_the_formula():
    """f(w) = 1/2 w'Aw: SAM steps with A (w + rho Aw / |Aw|)."""
    torch.manual_seed(1)
    m = torch.randn(5, 5, dtype=torch.float64)
    a = m @ m.T + torch.eye(5, dtype=torch.float64)
    w0 = torch.randn(5, dtype=torch.float64)
    w = nn.Parameter(w0.clone())
    opt = torch.optim.SGD([w], lr=0.1)
    sam = SharpnessAware([w], rho=0.05)
    (0.5 * w @ a @ w).backward()
    with sam.perturbed():
        opt.zero_grad()
        (0.5 * w @ a @ w).backward()
    opt.step()
    g = a @ w0
    expected = w0 - 0.1 * (a @ (w0 + 0.05 * g / g.norm()))
    torch.testing.assert_close(w.detach(), expected)


def test_radius_must_be_positive():
    with pytest.raises(ValueError, match="radius"):
        SharpnessAware([nn.Parameter(torch.zeros(1))], rho=0.0)
    with pytest.raises(UserError, match="SAM's radius must be >= 0"):
        make_config(sam_rho=-0.1)


def _config(folder, **kw):
    base = dict(dataset="image-folder", data_dir=str(folder), bits=16, epochs=2, input_size=32, batch_size=32,
                n_val=40, eval_every=1, dropout=0.0)
    base.update(kw)
    return make_config(**base)


def test_trainer_takes_the_gradient_at_the_perturbed_weights_and_keeps_the_first_pass_bank(fashion_folder,
                                                                                        tmp_path):
    cfg = _config(fashion_folder, sam_rho=0.05, loss_args=(("lambda_cls", 0.1),))
    trainer = Trainer(cfg, *prepare_data(cfg), RunDir(tmp_path / "run"))
    trainer._setup()
    x = trainer.features["train"][:32]
    y = trainer.labels[torch.from_numpy(trainer.train_pos[:32])]
    idx = torch.arange(32)
    params = [p for g in trainer.optimizer.param_groups for p in g["params"]]
    head_params = [p for p in params if p.requires_grad]

    # reference on copies: gradient g at w, then the gradient at w + rho g / |g|
    net, loss = copy.deepcopy(trainer.net), copy.deepcopy(trainer.loss)
    ref_params = list(net.head.parameters()) + list(loss.parameters())
    loss(net.forward_head(x), y, idx).backward()
    bank_after_first = loss.bank_codes.clone()
    terms_first = dict(loss.last_terms)
    grads = [p.grad.clone() for p in ref_params]
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    with torch.no_grad():
        for p, g in zip(ref_params, grads):
            p.add_(0.05 * g / norm)
    for p in ref_params:
        p.grad = None
    loss(net.forward_head(x), y, idx).backward()
    expected = [p.grad for p in ref_params]

    weights = [p.detach().clone() for p in head_params]
    trainer.loss(trainer.net.forward_head(x), y, idx).backward()
    trainer._sharpness_aware_gradient(x, y, idx, None, end_to_end=False)
    assert len(head_params) == len(expected)
    for p, e in zip(head_params, expected):
        torch.testing.assert_close(p.grad, e)
    for p, w in zip(head_params, weights):
        assert torch.equal(p.detach(), w)
    assert torch.equal(trainer.loss.bank_codes, bank_after_first)
    assert trainer.loss.last_terms == terms_first


def test_sam_runs_are_reproducible_differ_from_plain_ones_and_record_the_radius(fashion_folder, tmp_path):
    train_run(_config(fashion_folder, sam_rho=0.05), tmp_path / "a")
    train_run(_config(fashion_folder, sam_rho=0.05), tmp_path / "b")
    train_run(_config(fashion_folder), tmp_path / "plain")
    a, b, plain = (torch.load(tmp_path / n / "checkpoint.pt", weights_only=True)["head"] for n in ("a", "b", "plain"))
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not torch.equal(a["hash.weight"], plain["hash.weight"])
    with pytest.raises(UserError, match="sam_rho"):
        train_run(_config(fashion_folder, epochs=3), tmp_path / "a", resume=True)


def test_fine_tuning_with_sam_perturbs_and_trains_the_backbone_too(fashion_folder, tmp_path, monkeypatch):
    moved = []
    original = SharpnessAware.perturbed

    def spy(self):
        moved.append(sum(1 for p in self.params if p.grad is not None))
        return original(self)

    monkeypatch.setattr(SharpnessAware, "perturbed", spy)
    cfg = _config(fashion_folder, finetune=True, warmup_epochs=1, epochs=1, batch_size=16, n_val=20, sam_rho=0.05)
    train_run(cfg, tmp_path / "sam")
    monkeypatch.setattr(SharpnessAware, "perturbed", original)
    train_run(cfg.replace(sam_rho=0.0), tmp_path / "plain")
    trainer = Trainer(cfg, *prepare_data(cfg), RunDir(tmp_path / "fresh"))
    trainer._setup()
    n_head = len(list(trainer.net.head.parameters()))
    steps = len(moved) // 2  # the head warm-up epoch, then the end-to-end one, with the same batches
    assert len(moved) == 2 * steps > 0
    assert set(moved[:steps]) == {n_head}  # the warm-up perturbs the head only
    assert all(n > n_head for n in moved[steps:])  # then the backbone's parameters as well
    sam, plain = (torch.load(tmp_path / n / "model.pt", weights_only=True)["backbone"] for n in ("sam", "plain"))
    assert any(not torch.equal(sam[k], plain[k]) for k in sam if sam[k].is_floating_point())
