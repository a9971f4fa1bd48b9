"""Self-training on pseudo-labelled database images (--pseudo-labels): the choice, the refusals, the trainer."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from csdh.data.transforms import to_float
from csdh.engine.features import pool_loader
from csdh.engine.pipeline import check_label_mixing, prepare_data, train_run
from csdh.engine.pseudo_labels import PseudoLabels, unlabelled_candidates
from csdh.engine.run_dir import RunDir
from csdh.engine.teacher import Teacher
from csdh.errors import UserError

from .test_teacher import _config, _train_argv, teacher_run  # noqa: F401  (the labeller: a finished run with a classifier)


def test_candidates_are_database_images_neither_trained_on_nor_validation_queries(fashion_folder):
    _, split = prepare_data(_config(fashion_folder))
    got = unlabelled_candidates(split)
    expected = sorted(set(split.database.tolist()) - set(split.train.tolist()) - set(split.val_query.tolist()))
    assert got.tolist() == expected and len(got) > 0
    assert not set(got.tolist()) & set(split.query.tolist())


def test_the_labeller_s_most_confident_images_keep_its_most_probable_class(fashion_folder, teacher_run):
    cfg = _config(fashion_folder)
    pool, split = prepare_data(cfg)
    labeller = Teacher.load(teacher_run, split, pool.n_classes, 1.0, 1.0)
    pseudo = PseudoLabels.from_teacher(labeller, pool, split, count=60, keep=0.5, seed=3, batch_size=7)
    again = PseudoLabels.from_teacher(labeller, pool, split, count=60, keep=0.5, seed=3, batch_size=16)
    assert np.array_equal(pseudo.positions, again.positions) and np.array_equal(pseudo.labels, again.labels)
    assert len(pseudo) == 30 and np.all(np.diff(pseudo.positions) > 0)
    assert set(pseudo.positions.tolist()) <= set(unlabelled_candidates(split).tolist())
    # the naive reading: every candidate drawn through the labeller, then the 30 largest posteriors
    drawn = np.sort(np.random.default_rng([3, 0x5E1F]).choice(unlabelled_candidates(split), 60, replace=False))
    images, _, _ = next(iter(pool_loader(pool, drawn, cfg.input_size, len(drawn))))
    p = labeller.posteriors(to_float(images)).numpy()
    best = np.sort(drawn[np.argsort(-p.max(1), kind="stable")[:30]])
    assert pseudo.positions.tolist() == best.tolist()
    rows = np.searchsorted(drawn, pseudo.positions)
    assert pseudo.labels.argmax(1).tolist() == p[rows].argmax(1).tolist()
    assert np.array_equal(pseudo.labels.sum(1), np.ones(30, np.float32))
    np.testing.assert_allclose(pseudo.confidence, p[rows].max(1), rtol=1e-6)
    assert pseudo.confidence.min() >= np.delete(p.max(1), np.searchsorted(drawn, pseudo.positions)).max()
    other = PseudoLabels.from_teacher(labeller, pool, split, count=60, keep=0.5, seed=4)
    assert not np.array_equal(other.positions, pseudo.positions)  # another seed, another draw
    everything = PseudoLabels.from_teacher(labeller, pool, split, count=10**6, keep=1.0, seed=3)
    assert everything.positions.tolist() == unlabelled_candidates(split).tolist()
    assert len(PseudoLabels.from_teacher(labeller, pool, split, count=1, keep=0.01, seed=3)) == 1


def test_refusals(fashion_folder, teacher_run, tmp_path):
    with pytest.raises(UserError, match="needs --finetune"):
        _config(fashion_folder, finetune=False, pseudo_labels=str(teacher_run))
    with pytest.raises(UserError, match="must be >= 1, got 0"):
        _config(fashion_folder, pseudo_labels=str(teacher_run), pseudo_count=0)
    for bad in (0.0, 1.5):
        with pytest.raises(UserError, match=r"kept fraction of pseudo-labels must be in \(0, 1\]"):
            _config(fashion_folder, pseudo_labels=str(teacher_run), pseudo_keep=bad)
    with pytest.raises(UserError, match="another split"):
        train_run(_config(fashion_folder, seed=1, pseudo_labels=str(teacher_run)), tmp_path / "other")
    assert not (tmp_path / "other").exists()

    class MultiLabel:
        multi_label = True

    with pytest.raises(UserError, match="--pseudo-labels needs single-label data"):
        check_label_mixing(_config(fashion_folder, pseudo_labels=str(teacher_run)), MultiLabel())


def _log(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_pseudo_labelled_images_train_end_to_end_with_the_labeller_s_classes(fashion_folder, teacher_run, tmp_path):
    plain = train_run(_config(fashion_folder), tmp_path / "plain")
    runs = [train_run(_config(fashion_folder, pseudo_labels=str(teacher_run), pseudo_count=80, pseudo_keep=0.5),
                      tmp_path / f"self{i}") for i in (0, 1)]
    assert runs[0]["last"]["loss"] == runs[1]["last"]["loss"]  # seeded; labelling adds no randomness
    head, alone = _log(tmp_path / "self0"), _log(tmp_path / "plain")
    # the head warm-up keeps to the labelled images (the longer bank only reorders the sums)
    assert head[0]["loss"] == pytest.approx(alone[0]["loss"], rel=1e-6)
    assert head[1]["phase"] == "end-to-end" and head[1]["loss"] != plain["last"]["loss"]
    # the memory bank holds the training images, then the 40 pseudo-labelled ones with the labeller's classes
    cfg = _config(fashion_folder)
    pool, split = prepare_data(cfg)
    labeller = Teacher.load(teacher_run, split, pool.n_classes, 1.0, 1.0)
    pseudo = PseudoLabels.from_teacher(labeller, pool, split, count=80, keep=0.5, seed=cfg.seed)
    bank = RunDir(tmp_path / "self0").load_torch(RunDir(tmp_path / "self0").checkpoint)["loss"]
    n_train = len(split.train)
    assert bank["bank_labels"].shape[0] == n_train + 40 and bool(bank["bank_filled"].all())
    torch.testing.assert_close(bank["bank_labels"][n_train:], torch.from_numpy(pseudo.labels))
    torch.testing.assert_close(bank["bank_labels"][:n_train], torch.from_numpy(pool.labels[split.train]).float())
    assert not np.array_equal(pseudo.labels, pool.labels[pseudo.positions])  # the labeller errs at 32 px


def test_pseudo_labels_on_the_command_line(fashion_folder, teacher_run, tmp_path, capsys):
    from csdh.cli import main

    base = _train_argv(fashion_folder)
    assert main(base + ["--pseudo-labels", str(teacher_run), "--pseudo-count", "50", "--pseudo-keep", "0.4",
                        "--out", str(tmp_path / "r")]) == 0
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (saved["pseudo_labels"], saved["pseudo_count"], saved["pseudo_keep"]) == (str(teacher_run), 50, 0.4)
    capsys.readouterr()
    assert main(base + ["--pseudo-labels", str(teacher_run), "--pseudo-keep", "2", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "kept fraction" in err[0]
    assert not (tmp_path / "b").exists()
