"""The generic trainer: run files, determinism, --resume after a kill, refusal of incompatible runs."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from csdh.engine.pipeline import make_config, prepare_data, train_run
from csdh.engine.run_dir import RunDir
from csdh.engine.trainer import Trainer
from csdh.errors import UserError
from naive_translate import translate_naive


def _config(folder, **kw):
    base = dict(dataset="image-folder", data_dir=str(folder), bits=16, epochs=4, input_size=32, batch_size=32,
                n_val=40, eval_every=1)
    base.update(kw)
    return make_config(**base)


def _kill_at_epoch_then_resume(cfg, run, epoch, monkeypatch):
    """Train ``cfg`` into ``run``, interrupted as epoch ``epoch`` (0-based) starts, then ``--resume`` it."""
    original = Trainer._train_epoch

    def dies(self, e):
        if e == epoch:
            raise KeyboardInterrupt
        return original(self, e)

    monkeypatch.setattr(Trainer, "_train_epoch", dies)
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, run)
    monkeypatch.setattr(Trainer, "_train_epoch", original)
    assert torch.load(run / "checkpoint.pt", weights_only=True)["epoch"] == epoch - 1
    train_run(cfg, run, resume=True)


def test_frozen_run_writes_every_file(fashion_folder, tmp_path):
    summary = train_run(_config(fashion_folder), tmp_path / "run")
    run = RunDir(tmp_path / "run")
    for p in (run.config, run.split, run.checkpoint, run.model, run.log):
        assert p.exists(), p
    log = [json.loads(line) for line in run.log.read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2, 3, 4]
    assert all(0.0 <= r["val_map"] <= 1.0 for r in log)
    assert summary["best_val_map"] == max(r["val_map"] for r in log)
    assert not list((tmp_path / "run").glob(".*tmp*")), "temporary files left behind"


def test_same_seed_same_model(fashion_folder, tmp_path):
    train_run(_config(fashion_folder, epochs=2), tmp_path / "a")
    train_run(_config(fashion_folder, epochs=2), tmp_path / "b")
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["head"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["head"]
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_resume_after_kill_matches_uninterrupted_run(fashion_folder, tmp_path, monkeypatch):
    cfg = _config(fashion_folder, epochs=4)
    train_run(cfg, tmp_path / "full")
    _kill_at_epoch_then_resume(cfg, tmp_path / "killed", 2, monkeypatch)

    full = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    resumed = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    assert resumed["epoch"] == full["epoch"] == 3
    for k in full["head"]:
        assert torch.allclose(full["head"][k], resumed["head"][k], atol=1e-6), k
    assert resumed["best"] == pytest.approx(full["best"])


def test_resume_refuses_a_different_configuration(fashion_folder, tmp_path):
    train_run(_config(fashion_folder, epochs=1), tmp_path / "run")
    with pytest.raises(UserError, match=r"checkpoint\.pt.*bits=16.*bits=32"):
        train_run(_config(fashion_folder, epochs=2, bits=32), tmp_path / "run", resume=True)


def test_resume_refuses_a_corrupt_checkpoint(fashion_folder, tmp_path):
    train_run(_config(fashion_folder, epochs=1), tmp_path / "run")
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="checkpoint.pt: unreadable checkpoint"):
        train_run(_config(fashion_folder, epochs=2), tmp_path / "run", resume=True)


def test_existing_run_is_not_overwritten(fashion_folder, tmp_path):
    train_run(_config(fashion_folder, epochs=1), tmp_path / "run")
    before = (tmp_path / "run" / "model.pt").read_bytes()
    with pytest.raises(UserError, match="--overwrite"):
        train_run(_config(fashion_folder, epochs=1, seed=1), tmp_path / "run")
    assert (tmp_path / "run" / "model.pt").read_bytes() == before
    train_run(_config(fashion_folder, epochs=1, seed=1), tmp_path / "run", overwrite=True)
    assert (tmp_path / "run" / "model.pt").read_bytes() != before


def test_no_validation_split_keeps_the_last_epoch(fashion_folder, tmp_path):
    with_val = prepare_data(_config(fashion_folder))[1]
    cfg = _config(fashion_folder, n_val=0, eval_every=None, epochs=2)
    assert cfg.eval_every == 0  # n_val=0 turns validation off unless asked for
    train_run(cfg, tmp_path / "all")
    split = json.loads((tmp_path / "all" / "split.json").read_text())
    assert split["val_query"] == []
    for name in ("query", "train", "database"):  # validation queries come from database-only images here
        assert split[name] == getattr(with_val, name).tolist(), name
    log = [json.loads(line) for line in (tmp_path / "all" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2] and not any("val_map" in r for r in log)
    model = torch.load(tmp_path / "all" / "model.pt", weights_only=True)
    assert model["epoch"] == 2 and model["val_map"] is None


def test_asking_to_validate_without_validation_queries_is_refused(fashion_folder):
    with pytest.raises(UserError, match="--eval-every 0"):
        _config(fashion_folder, n_val=0, eval_every=1)


def test_a_split_left_without_validation_queries_keeps_the_last_epoch(fashion_folder, tmp_path, caplog):
    import dataclasses

    cfg = _config(fashion_folder, epochs=2, eval_every=1)
    pool, split = prepare_data(cfg)
    split = dataclasses.replace(split, val_query=split.val_query[:0])  # as a pool too small to spare any gives
    run = RunDir(tmp_path / "run")
    run.prepare_new(False)
    with caplog.at_level("WARNING", logger="csdh.engine.trainer"):
        summary = Trainer(cfg, pool, split, run).fit()
    assert "no validation queries" in caplog.text
    assert summary["best_epoch"] == 2 and summary["best_val_map"] is None
    assert torch.load(run.model, weights_only=True)["epoch"] == 2


def test_finetune_mode_trains_the_backbone(fashion_folder, tmp_path):
    cfg = _config(fashion_folder, finetune=True, epochs=1, batch_size=16, n_val=20)
    summary = train_run(cfg, tmp_path / "ft")
    state = torch.load(tmp_path / "ft" / "model.pt", weights_only=True)
    assert state["backbone"] is not None
    from csdh.models import BACKBONES

    fresh = BACKBONES.create("efficientnet-lite0", pretrained=True, input_size=32).state_dict()
    changed = [k for k, v in state["backbone"].items() if v.is_floating_point() and not torch.equal(v, fresh[k])]
    assert changed, "fine-tuning left the backbone unchanged"
    assert np.isfinite(summary["best_val_map"])


def test_finetune_with_head_warmup_trains_head_first_then_end_to_end(fashion_folder, tmp_path):
    cfg = _config(fashion_folder, finetune=True, warmup_epochs=2, epochs=1, batch_size=16, n_val=20)
    train_run(cfg, tmp_path / "ft")
    log = [json.loads(line) for line in (tmp_path / "ft" / "log.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in log] == ["head", "head", "end-to-end"]
    assert "val_map" not in log[0] and "val_map" in log[2]  # validation only once the backbone trains
    state = torch.load(tmp_path / "ft" / "model.pt", weights_only=True)
    assert state["epoch"] == 3


def test_weight_average_is_validated_saved_and_resumed(fashion_folder, tmp_path, monkeypatch):
    cfg = _config(fashion_folder, epochs=3, eval_every=3, ema_decay=0.9)
    train_run(cfg, tmp_path / "full")
    model = torch.load(tmp_path / "full" / "model.pt", weights_only=True)
    ck = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    for k, v in model["head"].items():  # the saved model is the average, not the last weights
        assert torch.equal(v, ck["ema"]["weights"]["head." + k]), k
    assert not torch.equal(model["head"]["hash.weight"], ck["head"]["hash.weight"])
    assert ck["ema"]["updates"] > 0 and ck["ema"]["updates"] % 3 == 0  # one per step, same steps each epoch
    _kill_at_epoch_then_resume(cfg, tmp_path / "killed", 1, monkeypatch)
    resumed = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    assert resumed["ema"]["updates"] == ck["ema"]["updates"]
    for k, v in ck["ema"]["weights"].items():
        assert torch.allclose(v, resumed["ema"]["weights"][k], atol=1e-6), k


def test_mixup_trains_reproducibly_and_resumes(fashion_folder, tmp_path, monkeypatch):
    cfg = _config(fashion_folder, epochs=3, mixup=0.4)
    train_run(cfg, tmp_path / "a")
    train_run(_config(fashion_folder, epochs=3), tmp_path / "plain")
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    plain = torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=True)
    assert not torch.equal(a["head"]["hash.weight"], plain["head"]["hash.weight"])
    bank = a["loss"]["bank_labels"]  # the memory bank holds the mixed labels, each mostly its own class
    assert ((bank > 0) & (bank < 1)).any() and (bank.max(1).values >= 0.5).all()
    _kill_at_epoch_then_resume(cfg, tmp_path / "killed", 2, monkeypatch)
    resumed = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    for k in a["head"]:
        assert torch.allclose(a["head"][k], resumed["head"][k], atol=1e-6), k
    assert json.loads((tmp_path / "a" / "config.json").read_text())["mixup"] == 0.4


def test_cutmix_mixes_end_to_end_batches_only_and_resumes(fashion_folder, tmp_path, monkeypatch):
    import csdh.engine.trainer as trainer_mod

    seen = []
    real = trainer_mod.cutmix

    def spy(x, y, alpha, rng):
        seen.append(tuple(x.shape))
        return real(x, y, alpha, rng)

    monkeypatch.setattr(trainer_mod, "cutmix", spy)
    cfg = _config(fashion_folder, finetune=True, warmup_epochs=1, epochs=2, batch_size=16, n_val=20, cutmix=1.0)
    train_run(cfg, tmp_path / "a")
    assert seen and all(len(s) == 4 for s in seen)  # images in the end-to-end epochs, never the warm-up's features
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    bank = a["loss"]["bank_labels"]  # labels mixed by area, each mostly its own class
    assert ((bank > 0) & (bank < 1)).any() and (bank.max(1).values >= 0.5).all()
    _kill_at_epoch_then_resume(cfg, tmp_path / "killed", 2, monkeypatch)
    resumed = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    for k in a["head"]:
        assert torch.allclose(a["head"][k], resumed["head"][k], atol=1e-6), k
    with pytest.raises(UserError, match="--cutmix mixes image regions, so it needs --finetune"):
        _config(fashion_folder, cutmix=1.0)


def test_mixup_refuses_multi_label_data_before_writing(tmp_path):
    from tests.data.writers import write_list, write_png

    rows = []
    for i in range(12):
        write_png(tmp_path / "d" / f"{i}.png", np.full((8, 8, 3), 20 * i, np.uint8))
        rows.append(f"{i}.png {i % 2} 1 {i % 3 == 0:d}")
    for name in ("train.txt", "test.txt", "database.txt"):
        write_list(tmp_path / "d" / name, rows)
    cfg = make_config(dataset="image-list", data_dir=str(tmp_path / "d"), bits=16, epochs=1, input_size=32,
                      n_val=4, mixup=0.4)
    with pytest.raises(UserError, match="--mixup needs single-label data"):
        train_run(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()
    cfg = cfg.replace(mixup=0.0, cutmix=1.0, finetune=True)
    with pytest.raises(UserError, match="--cutmix needs single-label data"):
        train_run(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_validation_uses_the_dithered_database_codes_and_resume_may_change_the_dither(fashion_folder, tmp_path):
    from csdh.engine.evaluate import load_run_data
    from csdh.engine.run_model import RunModel
    from csdh.metrics import mean_average_precision

    cfg = _config(fashion_folder, epochs=2, db_dither=0.9)
    summary = train_run(cfg, tmp_path / "run")
    model = RunModel.load(tmp_path / "run")
    assert model.db_dither == 0.9
    pool, split = load_run_data(model)
    q = model.pack_query(model.encode_pool(pool, split.val_query))
    d = model.pack_database(model.encode_pool(pool, split.val_database))
    want = mean_average_precision(q, d, pool.labels[split.val_query], pool.labels[split.val_database])
    assert summary["best_val_map"] == pytest.approx(want, abs=1e-6)
    plain = mean_average_precision(q, model.pack_query(model.encode_pool(pool, split.val_database)),
                                   pool.labels[split.val_query], pool.labels[split.val_database])
    assert plain != pytest.approx(want, abs=1e-9)  # the dither changed the database codes
    train_run(_config(fashion_folder, epochs=3, db_dither=0.5), tmp_path / "run", resume=True)  # not a training change


def test_shaped_database_codes_use_the_moment_saved_with_the_model(fashion_folder, tmp_path):
    import torch

    from csdh.codes import code_moment, pack_dithered, pack_shaped
    from csdh.engine.evaluate import load_run_data
    from csdh.engine.run_model import RunModel
    from csdh.errors import UserError
    from csdh.metrics import mean_average_precision

    cfg = _config(fashion_folder, epochs=2, db_dither=0.9, db_shape=True)
    summary = train_run(cfg, tmp_path / "run")
    model = RunModel.load(tmp_path / "run")
    assert model.db_shape and model.db_dither == 0.9
    pool, split = load_run_data(model)
    h_train = model.encode_pool(pool, split.val_database)  # the training images
    assert np.allclose(model.code_moment, code_moment(h_train))  # saved with the kept model
    d = model.pack_database(h_train)
    assert np.array_equal(d, pack_shaped(h_train, code_moment(h_train), 0.9, cfg.seed))
    assert not np.array_equal(d, pack_dithered(h_train, 0.9, cfg.seed))  # shaping flipped bits
    q = model.pack_query(model.encode_pool(pool, split.val_query))
    want = mean_average_precision(q, d, pool.labels[split.val_query], pool.labels[split.val_database])
    assert summary["best_val_map"] == pytest.approx(want, abs=1e-6)  # validation measured the shaped codes
    assert not RunModel.load(tmp_path / "run", db_shape=False).db_shape
    train_run(_config(fashion_folder, epochs=3, db_dither=0.9), tmp_path / "run", resume=True)  # not a training change

    # a model file written before the moment existed: usable, but not with shaping
    state = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    del state["code_moment"]
    state["config"]["db_shape"] = False
    torch.save(state, tmp_path / "run" / "model.pt")
    assert RunModel.load(tmp_path / "run").code_moment is None
    with pytest.raises(UserError, match="predates shaped database codes") as exc:
        RunModel.load(tmp_path / "run", db_shape=True)
    assert "model.pt" in str(exc.value)


def test_a_run_without_validation_still_saves_the_code_moment(fashion_folder, tmp_path):
    from csdh.codes import code_moment
    from csdh.engine.evaluate import load_run_data
    from csdh.engine.run_model import RunModel

    train_run(_config(fashion_folder, epochs=1, eval_every=0), tmp_path / "run")
    model = RunModel.load(tmp_path / "run", db_shape=True)
    pool, split = load_run_data(model)
    assert np.allclose(model.code_moment, code_moment(model.encode_pool(pool, split.val_database)))


def test_loader_workers_change_nothing_but_speed(fashion_folder, tmp_path, monkeypatch):
    """Images loaded and resized in worker processes: the same fine-tuned model, validation and codes."""
    import csdh.engine.features as features
    import csdh.engine.trainer as trainer
    from csdh.engine.run_model import RunModel

    used = []

    def spy(pool, positions, input_size, batch_size, workers=0, device="cpu"):
        used.append(workers)
        return features.pool_loader(pool, positions, input_size, batch_size, workers, device)

    monkeypatch.setattr(trainer, "pool_loader", spy)
    cfg = _config(fashion_folder, finetune=True, warmup_epochs=1, epochs=1, batch_size=16, n_val=20)
    train_run(cfg, tmp_path / "w0")
    assert used == [0]
    train_run(cfg, tmp_path / "w2", workers=2)
    assert used == [0, 2]  # the end-to-end epoch loaded its batches in two worker processes
    a = torch.load(tmp_path / "w0" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "w2" / "model.pt", weights_only=True)
    for part in ("head", "backbone"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), (part, k)
    assert a["val_map"] == b["val_map"]
    m0 = RunModel.load(tmp_path / "w0")
    m2 = RunModel.load(tmp_path / "w0", workers=2)
    assert m2.workers == 2
    from csdh.engine.evaluate import load_run_data

    pool, split = load_run_data(m0)
    np.testing.assert_array_equal(m0.encode_pool(pool, split.database), m2.encode_pool(pool, split.database))


def test_a_loss_with_parameters_learns_with_the_head_and_resumes(fashion_folder, tmp_path, monkeypatch):
    cfg = _config(fashion_folder, epochs=3, loss_args=(("lambda_cls", 0.5),))
    train_run(cfg, tmp_path / "full")
    ck = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    trainer = Trainer(cfg, *prepare_data(cfg), RunDir(tmp_path / "fresh"))
    trainer._setup()  # the same seed: the classifier's initial weights
    initial = trainer.loss.classifier.weight.detach().clone()
    assert not torch.allclose(ck["loss"]["classifier.weight"], initial), "the code classifier did not train"
    assert any(p is trainer.loss.classifier.weight for g in trainer.optimizer.param_groups for p in g["params"])
    log = [json.loads(line) for line in (tmp_path / "full" / "log.jsonl").read_text().splitlines()]
    assert all(r["loss_cls"] > 0 for r in log)
    _kill_at_epoch_then_resume(cfg, tmp_path / "killed", 2, monkeypatch)
    resumed = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    for k in ("classifier.weight", "classifier.bias"):
        assert torch.allclose(ck["loss"][k], resumed["loss"][k], atol=1e-6), k


def test_csdh_beta_continuation_sharpens_the_head_and_is_saved_and_resumed(fashion_folder, tmp_path, monkeypatch):
    cfg = _config(fashion_folder, epochs=3, eval_every=3, loss_args=(("beta_gamma", 1.0),))
    train_run(cfg, tmp_path / "full")
    final_beta = (1 + 1.0 * 2) ** 0.5  # set before the last epoch (0-based 2)
    ck = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    model = torch.load(tmp_path / "full" / "model.pt", weights_only=True)
    assert ck["head_beta"] == pytest.approx(final_beta) and model["head_beta"] == pytest.approx(final_beta)
    _kill_at_epoch_then_resume(cfg, tmp_path / "killed", 2, monkeypatch)
    resumed = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    assert resumed["head_beta"] == pytest.approx(final_beta)
    for k in ck["head"]:
        assert torch.allclose(ck["head"][k], resumed["head"][k], atol=1e-6), k


def _mirrored_codes(model, pool, positions, dx=0, dy=0, mirror=True):
    """Reference: the network on each image, mirrored left to right (``mirror``) and then moved ``dx`` pixels
    right and ``dy`` down with reflected borders, one image and one pixel at a time."""
    from csdh.data.transforms import resize_square, to_float

    out = []
    with torch.inference_mode():
        for pos in positions:
            img = resize_square(pool.load(int(pos)), model.config.input_size)
            img = img[:, ::-1] if mirror else img
            moved = translate_naive(np.ascontiguousarray(img.transpose(2, 0, 1)), dx, dy)
            x = torch.from_numpy(moved)[None]
            out.append(model.net(to_float(x)).float().numpy()[0])
    return np.stack(out)


@pytest.mark.parametrize("finetune", [False, True])
def test_flip_average_encodes_the_mean_of_an_image_and_its_mirror_image(fashion_folder, tmp_path, finetune):
    from csdh.engine.evaluate import load_run_data
    from csdh.engine.features import FeatureCache
    from csdh.engine.run_model import RunModel

    cfg = _config(fashion_folder, finetune=finetune, epochs=1, batch_size=16, n_val=20, flip_average=True)
    train_run(cfg, tmp_path / "run", feature_cache=FeatureCache(tmp_path / "cache"))
    model = RunModel.load(tmp_path / "run")
    assert model.flip_average
    plain = RunModel.load(tmp_path / "run", flip_average=False)
    assert not plain.flip_average and RunModel.load(tmp_path / "run").flip_average  # an override, not a change
    pool, split = load_run_data(model)
    pos = split.query[:12]
    cache = FeatureCache(tmp_path / "cache")
    want = (plain.encode_pool(pool, pos, feature_cache=cache) + _mirrored_codes(plain, pool, pos)) / 2
    got = model.encode_pool(pool, pos, feature_cache=cache)
    assert np.allclose(got, want, atol=1e-5)
    assert not np.allclose(got, plain.encode_pool(pool, pos, feature_cache=cache), atol=1e-3)  # it did average
    images = [pool.load(int(p)) for p in pos]
    assert np.allclose(model.encode_images(images), want, atol=1e-5)  # the service's path agrees
    if not finetune:  # the mirrored images' features are cached under a key of their own
        assert len(list((tmp_path / "cache").rglob("*.f32"))) == 2


@pytest.mark.parametrize("finetune", [False, True])
@pytest.mark.parametrize("flip", [False, True])
def test_shift_average_adds_four_shifted_views_to_the_mean(fashion_folder, tmp_path, finetune, flip):
    from csdh.engine.evaluate import load_run_data
    from csdh.engine.features import FeatureCache
    from csdh.engine.run_model import RunModel

    cfg = _config(fashion_folder, finetune=finetune, epochs=1, batch_size=16, n_val=20, flip_average=flip,
                  shift_average=4)
    train_run(cfg, tmp_path / "run", feature_cache=FeatureCache(tmp_path / "cache"))
    model = RunModel.load(tmp_path / "run")
    assert model.shift_average == 4 and len(model.views) == 5 + flip
    plain = RunModel.load(tmp_path / "run", flip_average=False, shift_average=0)
    assert len(plain.views) == 1 and RunModel.load(tmp_path / "run").shift_average == 4  # an override
    pool, split = load_run_data(model)
    pos = split.query[:6]
    views = [_mirrored_codes(plain, pool, pos, mirror=False)] + [
        _mirrored_codes(plain, pool, pos, dx=dx, dy=dy, mirror=False) for dx, dy in ((4, 0), (-4, 0), (0, 4), (0, -4))]
    if flip:
        views.append(_mirrored_codes(plain, pool, pos))
    want = np.mean(views, axis=0)
    cache = FeatureCache(tmp_path / "cache")
    got = model.encode_pool(pool, pos, feature_cache=cache)
    assert np.allclose(got, want, atol=1e-5)
    assert not np.allclose(views[1], views[0], atol=1e-3)  # a shift is a different view
    assert np.allclose(model.encode_images([pool.load(int(p)) for p in pos]), want, atol=1e-5)  # the service's path
    if not finetune:  # one feature file per view, each under a key of its own
        assert len(list((tmp_path / "cache").rglob("*.f32"))) == 5 + flip


def test_shift_average_must_stay_within_half_the_input(fashion_folder):
    with pytest.raises(UserError, match="between 0 and 15 pixels at input size 32, got 16"):
        _config(fashion_folder, shift_average=16)
    with pytest.raises(UserError, match="got -1"):
        _config(fashion_folder, shift_average=-1)


def test_frozen_stages_keep_their_pretrained_weights_and_statistics(fashion_folder, tmp_path):
    # batch-norm statistics updated (train_bn), so that only the frozen stages can keep theirs
    cfg = _config(fashion_folder, finetune=True, epochs=1, batch_size=16, n_val=20, freeze_stages=3, freeze_bn=False)
    train_run(cfg, tmp_path / "ft")
    state = torch.load(tmp_path / "ft" / "model.pt", weights_only=True)["backbone"]
    from csdh.models import BACKBONES

    fresh = BACKBONES.create("efficientnet-lite0", pretrained=True, input_size=32)
    names = {id(p): n for n, p in fresh.named_parameters()}
    names.update({id(b): n for n, b in fresh.named_buffers()})
    stages = fresh.stages()
    kept = [names[id(t)] for s in stages[:3] for t in list(s.parameters()) + list(s.buffers())]
    later = [names[id(t)] for s in stages[3:] for t in list(s.parameters()) + list(s.buffers())]
    reference = fresh.state_dict()
    assert kept and all(torch.equal(state[k], reference[k]) for k in kept)
    changed = [k for k in later if state[k].is_floating_point() and not torch.equal(state[k], reference[k])]
    assert len(changed) > len(later) // 2, "the stages after the frozen ones did not train"


def test_frozen_stages_are_checked_against_the_backbone(fashion_folder, tmp_path):
    cfg = _config(fashion_folder, finetune=True, epochs=1, batch_size=16, n_val=20, freeze_stages=19)
    with pytest.raises(UserError, match="efficientnet-lite0 has 18 stages; cannot freeze 19"):
        train_run(cfg, tmp_path / "ft")
    assert not (tmp_path / "ft" / "model.pt").exists()
    with pytest.raises(UserError, match="needs --finetune"):
        _config(fashion_folder, freeze_stages=2)
    with pytest.raises(UserError, match=">= 0"):
        _config(fashion_folder, finetune=True, freeze_stages=-1)


def test_warmup_factor_rises_linearly_to_one():
    from csdh.engine.trainer import warmup_factor

    assert [warmup_factor(0, s, 4, 1) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert [warmup_factor(e, 1, 4, 2) for e in range(3)] == [0.25, 0.75, 1.0]
    assert warmup_factor(0, 0, 4, 0) == 1.0


def test_lr_warmup_ramps_the_first_end_to_end_epoch_step_by_step(fashion_folder, tmp_path, monkeypatch):
    seen = []
    original = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        seen.append([g["lr"] for g in self.param_groups])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step)
    cfg = _config(fashion_folder, finetune=True, warmup_epochs=1, epochs=2, batch_size=16, n_val=20, eval_every=2,
                  lr_warmup=1, lr=1e-3, backbone_lr=1e-4)
    train_run(cfg, tmp_path / "ft")
    n = len(seen) // 3  # three epochs of equal length: head warm-up, then two end-to-end epochs
    assert len(seen) == 3 * n and n >= 4
    head, first, second = seen[:n], seen[n:2 * n], seen[2 * n:]
    assert all(lrs == [1e-3, 0.0] for lrs in head)  # head warm-up: its own schedule, untouched by lr_warmup
    for s, (head_lr, backbone_lr) in enumerate(first):
        assert head_lr == pytest.approx(1e-3 * (s + 1) / n) and backbone_lr == pytest.approx(1e-4 * (s + 1) / n)
    # the second end-to-end epoch follows the cosine schedule (halfway: half the base rates), every step
    assert all(lrs == pytest.approx([5e-4, 5e-5]) for lrs in second)


def test_lr_warmup_longer_than_training_is_refused(fashion_folder):
    with pytest.raises(UserError, match="learning-rate warm-up must be between 0 and the 2 epochs, got 3"):
        _config(fashion_folder, epochs=2, lr_warmup=3)


def test_lr_warmup_changes_training_and_resumes_mid_ramp(fashion_folder, tmp_path, monkeypatch):
    cfg = _config(fashion_folder, epochs=3, lr_warmup=2)  # frozen mode: the ramp covers epochs 0 and 1
    train_run(cfg, tmp_path / "a")
    train_run(_config(fashion_folder, epochs=3), tmp_path / "plain")
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)
    plain = torch.load(tmp_path / "plain" / "checkpoint.pt", weights_only=True)
    assert not torch.equal(a["head"]["hash.weight"], plain["head"]["hash.weight"])
    _kill_at_epoch_then_resume(cfg, tmp_path / "killed", 1, monkeypatch)
    resumed = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=True)
    for k in a["head"]:
        assert torch.allclose(a["head"][k], resumed["head"][k], atol=1e-6), k
    assert json.loads((tmp_path / "a" / "config.json").read_text())["lr_warmup"] == 2


def test_overwrite_with_an_unreadable_image_keeps_the_old_run(fashion_folder, tmp_path):
    import shutil

    folder = tmp_path / "photos"
    shutil.copytree(fashion_folder, folder)
    train_run(_config(folder, epochs=1), tmp_path / "run")
    before = {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()}
    victim = sorted(folder.glob("*/*.png"))[7]
    victim.write_bytes(victim.read_bytes()[:60])  # truncated: found when the features are computed
    with pytest.raises(UserError, match=victim.name):
        train_run(_config(folder, epochs=1, seed=1), tmp_path / "run", overwrite=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "run").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos", "run"]


def test_drop_path_reaches_the_backbone_and_is_refused_where_it_cannot_act(fashion_folder):
    from csdh.engine.trainer import build_net

    cfg = _config(fashion_folder, finetune=True, drop_path=0.05)
    assert build_net(cfg, pretrained=False).backbone.net._global_params.drop_connect_rate == 0.05
    with pytest.raises(UserError, match="needs --finetune"):
        _config(fashion_folder, drop_path=0.05)
    with pytest.raises(UserError, match=r"in \[0, 1\)"):
        _config(fashion_folder, finetune=True, drop_path=-0.1)
    with pytest.raises(UserError, match="no stochastic depth"):
        build_net(cfg.replace(backbone="resnet50"), pretrained=False)
