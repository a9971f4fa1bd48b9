"""A finished run teaching another (--teacher): the softened labels, the refusals, and its effect on training."""
from __future__ import annotations

import json

import pytest
import torch

from csdh.data.transforms import to_float
from csdh.engine.features import pool_loader
from csdh.engine.pipeline import check_label_mixing, make_config, prepare_data, train_run
from csdh.engine.run_dir import RunDir
from csdh.engine.teacher import Teacher
from csdh.errors import UserError


def _config(folder, **kw):
    base = dict(dataset="image-folder", data_dir=str(folder), bits=16, epochs=1, warmup_epochs=1, input_size=32,
                batch_size=16, n_val=20, eval_every=1, finetune=True, loss_args=(("lambda_cls", 0.1),))
    base.update(kw)
    return make_config(**base)


@pytest.fixture(scope="module")
def teacher_run(fashion_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher") / "run"
    train_run(_config(fashion_folder), out)
    return out


def _train_argv(folder):
    """``csdh train`` arguments of a tiny fine-tuning run on ``folder`` (add ``--out`` and the rest)."""
    return ["train", "--dataset", "image-folder", "--data-dir", str(folder), "--bits", "16", "--input-size", "32",
            "--finetune", "--warmup-epochs", "1", "--epochs", "1", "--batch-size", "16", "--n-val", "20"]


def _batch(cfg, n=12):
    pool, split = prepare_data(cfg)
    images, labels, _ = next(iter(pool_loader(pool, split.train[:n], cfg.input_size, n, 0, "cpu")))
    return pool, split, to_float(images), labels.float()


def test_soften_mixes_the_labels_with_the_teachers_tempered_posteriors(fashion_folder, teacher_run):
    cfg = _config(fashion_folder)
    pool, split, x, y = _batch(cfg)
    teacher = Teacher.load(teacher_run, split, pool.n_classes, weight=0.3, temperature=2.0)
    state = torch.load(RunDir(teacher_run).model, weights_only=True)
    with torch.no_grad():  # the naive reading: network, then the saved classifier, then the softmax
        logits = teacher.net(x) @ state["classifier"]["weight"].T + state["classifier"]["bias"]
        expected = 0.7 * y + 0.3 * torch.softmax(logits / 2.0, dim=1)
    soft = teacher.soften(x, y)
    torch.testing.assert_close(soft, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(soft.sum(1), torch.ones(len(x)))
    assert not soft.requires_grad


def test_a_larger_temperature_softens_and_another_input_size_is_resized(fashion_folder, teacher_run):
    cfg = _config(fashion_folder)
    pool, split, x, _ = _batch(cfg)
    sharp = Teacher.load(teacher_run, split, pool.n_classes, weight=1.0, temperature=1.0).posteriors(x)
    soft = Teacher.load(teacher_run, split, pool.n_classes, weight=1.0, temperature=4.0).posteriors(x)
    assert (soft.max(1).values < sharp.max(1).values).all()
    assert torch.equal(soft.argmax(1), sharp.argmax(1))
    bigger = torch.nn.functional.interpolate(x, size=(64, 64), mode="bilinear", align_corners=False)
    resized = Teacher.load(teacher_run, split, pool.n_classes, weight=1.0, temperature=1.0).posteriors(bigger)
    assert resized.shape == sharp.shape and torch.isfinite(resized).all()


def test_a_teacher_from_before_model_files_kept_the_classifier_reads_the_checkpoint(fashion_folder, teacher_run,
                                                                                   tmp_path):
    import shutil

    old = tmp_path / "old"
    shutil.copytree(teacher_run, old)
    state = torch.load(old / "model.pt", weights_only=True)
    del state["classifier"]
    torch.save(state, old / "model.pt")
    pool, split, x, y = _batch(_config(fashion_folder))
    new = Teacher.load(teacher_run, split, pool.n_classes, 0.5, 2.0).soften(x, y)
    torch.testing.assert_close(Teacher.load(old, split, pool.n_classes, 0.5, 2.0).soften(x, y), new)


def test_refusals(fashion_folder, teacher_run, tmp_path):
    pool, split = prepare_data(_config(fashion_folder))
    _, other_split = prepare_data(_config(fashion_folder, seed=1))
    with pytest.raises(UserError, match="another split"):
        Teacher.load(teacher_run, other_split, pool.n_classes, 0.5, 2.0)
    with pytest.raises(UserError, match="classes"):
        Teacher.load(teacher_run, split, pool.n_classes + 1, 0.5, 2.0)
    plain = tmp_path / "plain"
    train_run(_config(fashion_folder, loss_args=()), plain)
    with pytest.raises(UserError, match="no code classifier"):
        Teacher.load(plain, split, pool.n_classes, 0.5, 2.0)
    with pytest.raises(UserError, match="needs --finetune"):
        _config(fashion_folder, finetune=False, teacher=str(teacher_run))
    for bad in (0.0, 1.5):
        with pytest.raises(UserError, match="weight"):
            _config(fashion_folder, teacher=str(teacher_run), teacher_weight=bad)
    with pytest.raises(UserError, match="temperature"):
        _config(fashion_folder, teacher=str(teacher_run), teacher_temperature=0.0)
    with pytest.raises(UserError, match="target must be one of labels, classifier"):
        _config(fashion_folder, teacher=str(teacher_run), teacher_target="codes")
    with pytest.raises(UserError, match="add --loss-arg lambda_cls"):
        train_run(_config(fashion_folder, loss_args=(), teacher=str(teacher_run), teacher_target="classifier"),
                  tmp_path / "no_cls")
    assert not (tmp_path / "no_cls").exists()

    class MultiLabel:
        multi_label = True

    with pytest.raises(UserError, match="--teacher needs single-label data"):
        check_label_mixing(_config(fashion_folder, teacher=str(teacher_run)), MultiLabel())


def test_a_taught_run_learns_from_the_teacher_and_is_reproducible(fashion_folder, teacher_run, tmp_path):
    alone = train_run(_config(fashion_folder, seed=0), tmp_path / "alone")
    taught = [train_run(_config(fashion_folder, teacher=str(teacher_run)), tmp_path / f"taught{i}") for i in (0, 1)]
    assert taught[0]["last"]["loss"] == taught[1]["last"]["loss"]  # seeded, and the teacher adds no randomness
    assert taught[0]["last"]["loss"] != alone["last"]["loss"]  # its labels are not the plain ones
    head = [json.loads(line) for line in (tmp_path / "taught0" / "log.jsonl").read_text().splitlines()]
    plain = [json.loads(line) for line in (tmp_path / "alone" / "log.jsonl").read_text().splitlines()]
    assert head[0]["loss"] == plain[0]["loss"]  # the head warm-up on cached features is not taught
    assert head[1]["phase"] == "end-to-end" and head[1]["loss"] != plain[1]["loss"]
    # taught through the code classifier only: the pairwise terms see the plain labels
    train_run(_config(fashion_folder, teacher=str(teacher_run), teacher_target="classifier"), tmp_path / "cls")
    cls = [json.loads(line) for line in (tmp_path / "cls" / "log.jsonl").read_text().splitlines()]
    assert cls[0]["loss"] == plain[0]["loss"]
    assert cls[1]["loss_cls"] not in (plain[1]["loss_cls"], head[1]["loss_cls"])
    assert cls[1]["loss_sim"] != head[1]["loss_sim"]  # not the softened similarities of the labels target


def test_train_teacher_on_the_command_line(fashion_folder, teacher_run, tmp_path, capsys):
    from csdh.cli import main

    base = _train_argv(fashion_folder) + ["--loss-arg", "lambda_cls=0.1"]
    assert main(base + ["--teacher", str(teacher_run), "--teacher-weight", "0.4", "--teacher-temperature", "3",
                        "--out", str(tmp_path / "r")]) == 0
    saved = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (saved["teacher"], saved["teacher_weight"], saved["teacher_temperature"]) == (str(teacher_run), 0.4, 3.0)
    capsys.readouterr()
    assert main(base + ["--seed", "1", "--teacher", str(teacher_run), "--out", str(tmp_path / "s1")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another split" in err[0] and "split.json" in err[0]
    assert not (tmp_path / "s1").exists()  # the folder made for it is removed again
