"""The command line on a small real Fashion-MNIST subset, and its handling of bad input."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from csdh.cli import COMMANDS, build_parser, main
from csdh.metrics import mean_average_precision


@pytest.fixture(scope="module")
def trained_run(fashion_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    code = main(["-q", "train", "--dataset", "image-folder", "--data-dir", str(fashion_folder), "--bits", "32",
                 "--epochs", "15", "--input-size", "32", "--n-val", "50", "--out", str(out)])
    assert code == 0
    return out


def test_train_evaluate_encode_beats_random_codes(trained_run, capsys, tmp_path):
    assert main(["-q", "evaluate", str(trained_run)]) == 0
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["map_topk"] == "all" or metrics["map_topk"] == metrics["n_database"]
    for name in ("pr_curve.png", "precision_at_n.png", "pr_curve.csv", "pn_curve.csv"):
        assert (trained_run / name).exists(), name

    out = tmp_path / "db.npz"
    assert main(["-q", "encode", str(trained_run), "--split", "database", "--out", str(out)]) == 0
    db = np.load(out)
    assert db["codes"].dtype == np.uint8 and db["codes"].shape[1] == 32 // 8
    assert db["labels"].dtype == np.uint8 and db["labels"].shape == (len(db["codes"]), 10)
    assert db["index"].dtype == np.int64
    assert main(["-q", "encode", str(trained_run), "--split", "query", "--out", str(tmp_path / "q.npz")]) == 0
    q = np.load(tmp_path / "q.npz")
    ours = mean_average_precision(q["codes"], db["codes"], q["labels"], db["labels"])
    assert ours == pytest.approx(metrics["map"], abs=1e-9)

    rng = np.random.default_rng(0)
    rand = [mean_average_precision(rng.integers(0, 256, q["codes"].shape, dtype=np.uint8),
                                   rng.integers(0, 256, db["codes"].shape, dtype=np.uint8), q["labels"], db["labels"])
            for _ in range(3)]
    assert metrics["map"] > max(rand) + 0.25, (metrics["map"], rand)


def test_database_dither_applies_to_database_codes_only(trained_run, tmp_path):
    from csdh.codes import dither_thresholds, pack
    from csdh.engine.evaluate import load_run_data
    from csdh.engine.run_model import RunModel

    for split, dither in (("query", 0.0), ("query", 0.9), ("database", 0.0), ("database", 0.9)):
        out = tmp_path / f"{split}-{dither}.npz"
        assert main(["-q", "encode", str(trained_run), "--split", split, "--db-dither", str(dither),
                     "--out", str(out)]) == 0
    plain = RunModel.load(trained_run)
    pool, split = load_run_data(plain)
    h_q, h_d = plain.encode_pool(pool, split.query), plain.encode_pool(pool, split.database)
    tau = dither_thresholds(32, 0.9, seed=plain.config.seed)
    q0, q9 = np.load(tmp_path / "query-0.0.npz"), np.load(tmp_path / "query-0.9.npz")
    d0, d9 = np.load(tmp_path / "database-0.0.npz"), np.load(tmp_path / "database-0.9.npz")
    assert np.array_equal(q0["codes"], q9["codes"]) and np.array_equal(q0["codes"], pack(h_q))  # queries: sign(h)
    assert float(q9["db_dither"]) == 0.0 and float(d9["db_dither"]) == pytest.approx(0.9)
    assert np.array_equal(d0["codes"], pack(h_d))
    assert np.array_equal(d9["codes"], pack(h_d - tau)) and not np.array_equal(d9["codes"], d0["codes"])

    assert main(["-q", "evaluate", str(trained_run), "--db-dither", "0.9"]) == 0
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["db_dither"] == pytest.approx(0.9)
    assert metrics["map"] == pytest.approx(
        mean_average_precision(q9["codes"], d9["codes"], q9["labels"], d9["labels"]), abs=1e-9)
    assert RunModel.load(trained_run).db_dither == 0.0  # evaluating with a dither leaves the run as it was


def test_shaped_database_codes_on_the_command_line(trained_run, tmp_path, capsys):
    import shutil

    import torch

    from csdh.codes import pack, pack_shaped
    from csdh.engine.evaluate import load_run_data
    from csdh.engine.run_model import RunModel

    for split in ("query", "database"):
        assert main(["-q", "encode", str(trained_run), "--split", split, "--db-dither", "0.9", "--db-shape",
                     "--out", str(tmp_path / f"{split}.npz")]) == 0
    model = RunModel.load(trained_run)
    pool, split = load_run_data(model)
    h_q, h_d = model.encode_pool(pool, split.query), model.encode_pool(pool, split.database)
    q, d = np.load(tmp_path / "query.npz"), np.load(tmp_path / "database.npz")
    assert np.array_equal(q["codes"], pack(h_q)) and not bool(q["db_shape"])  # queries: sign(h), always
    assert np.array_equal(d["codes"], pack_shaped(h_d, model.code_moment, 0.9, model.config.seed))
    assert bool(d["db_shape"])

    assert main(["-q", "evaluate", str(trained_run), "--db-dither", "0.9", "--db-shape"]) == 0
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["db_shape"] is True
    assert metrics["map"] == pytest.approx(mean_average_precision(q["codes"], d["codes"], q["labels"], d["labels"]),
                                           abs=1e-9)
    assert not RunModel.load(trained_run).db_shape  # the run itself is unchanged
    capsys.readouterr()

    old = tmp_path / "old"  # a run whose model file predates the code moment
    shutil.copytree(trained_run, old)
    state = torch.load(old / "model.pt", weights_only=True)
    del state["code_moment"]
    torch.save(state, old / "model.pt")
    before = (old / "metrics.json").read_bytes()
    assert main(["evaluate", str(old), "--db-shape"]) == 2
    err = capsys.readouterr().err
    assert "model.pt" in err and "predates shaped database codes" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert (old / "metrics.json").read_bytes() == before  # nothing written


def test_encode_refuses_to_overwrite(trained_run, tmp_path, capsys):
    out = tmp_path / "x.npz"
    out.write_bytes(b"keep me")
    assert main(["encode", str(trained_run), "--split", "train", "--out", str(out)]) == 2
    assert out.read_bytes() == b"keep me"
    assert "x.npz: exists" in capsys.readouterr().err


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if not line.startswith(("INFO", "WARNING"))]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("argv, expected", [
    (["train", "--dataset", "fashion-mnist", "--bits", "12", "--out", "{tmp}/r"], "multiple of 8"),
    (["train", "--dataset", "image-folder", "--data-dir", "{tmp}/missing", "--out", "{tmp}/r"], "missing"),
    (["train", "--dataset", "nope", "--out", "{tmp}/r"], "known: "),
    (["evaluate", "{tmp}/not-a-run"], "not-a-run"),
    (["encode", "{tmp}/not-a-run", "--split", "query", "--out", "{tmp}/x.npz"], "not-a-run"),
    (["train", "--dataset", "fashion-mnist", "--method", "nope", "--out", "{tmp}/r"], "unknown method"),
    (["evaluate", "{tmp}", "--topk", "zero"], "--topk"),
    (["train", "--dataset", "fashion-mnist", "--finetune", "--erase-prob", "2", "--out", "{tmp}/r"],
     "erase probability"),
    (["train", "--dataset", "fashion-mnist", "--finetune", "--rotate", "200", "--out", "{tmp}/r"],
     "rotation must be between 0 and 180"),
    (["train", "--dataset", "fashion-mnist", "--finetune", "--scale-jitter", "1", "--out", "{tmp}/r"],
     "scale jitter must be in [0, 1)"),
    (["train", "--dataset", "fashion-mnist", "--rotate", "10", "--out", "{tmp}/r"], "need --finetune"),
    (["train", "--dataset", "fashion-mnist", "--ema-decay", "1", "--out", "{tmp}/r"], "EMA decay"),
    (["train", "--dataset", "fashion-mnist", "--sam", "-0.05", "--out", "{tmp}/r"], "SAM's radius must be >= 0"),
    (["train", "--dataset", "fashion-mnist", "--drop-path", "0.1", "--out", "{tmp}/r"], "needs --finetune"),
    (["train", "--dataset", "fashion-mnist", "--mixup", "-0.4", "--out", "{tmp}/r"], "mixup must be >= 0"),
    (["train", "--dataset", "fashion-mnist", "--cutmix", "-1", "--out", "{tmp}/r"], "cutmix must be >= 0"),
    (["train", "--dataset", "fashion-mnist", "--cutmix", "1", "--out", "{tmp}/r"], "needs --finetune"),
    (["train", "--dataset", "fashion-mnist", "--db-dither", "1", "--out", "{tmp}/r"], "database dither must be in"),
    (["train", "--dataset", "fashion-mnist", "--n-val", "-1", "--out", "{tmp}/r"], "validation queries must be >= 0"),
    (["train", "--dataset", "fashion-mnist", "--n-val", "0", "--eval-every", "2", "--out", "{tmp}/r"],
     "--eval-every 0"),
    (["train", "--dataset", "fashion-mnist", "--backbone", "efficientnet-lite9", "--out", "{tmp}/r"],
     "efficientnet-lite2"),
])
def test_user_errors_are_one_line_exit_2(argv, expected, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    assert expected in _one_line_error(capsys)


@pytest.mark.parametrize("arg, expected", [("no_such_weight=1", "no_such_weight"), ("lambda_cls=-1", "lambda_cls"),
                                           ("cls_sign=true", "cls_sign")])
def test_bad_loss_argument_is_a_user_error(fashion_folder, tmp_path, capsys, arg, expected):
    code = main(["train", "--dataset", "image-folder", "--data-dir", str(fashion_folder), "--epochs", "1",
                 "--input-size", "32", "--loss-arg", arg, "--out", str(tmp_path / "r")])
    assert code == 2
    assert expected in _one_line_error(capsys)
    assert not (tmp_path / "r").exists()  # refused before anything is written


def test_every_command_has_help(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"train", "evaluate", "encode", "demo"} <= set(sub.choices)
    for name in sub.choices:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        assert "usage: csdh" in capsys.readouterr().out
    assert set(sub.choices) <= set(COMMANDS)


def test_flip_average_on_the_command_line(trained_run, tmp_path):
    from csdh.engine.evaluate import load_run_data
    from csdh.engine.run_model import RunModel

    for split in ("query", "database"):
        assert main(["-q", "encode", str(trained_run), "--split", split, "--flip-average",
                     "--out", str(tmp_path / f"{split}.npz")]) == 0
    q, d = np.load(tmp_path / "query.npz"), np.load(tmp_path / "database.npz")
    assert bool(q["flip_average"]) and bool(d["flip_average"])
    model = RunModel.load(trained_run, flip_average=True)
    pool, split = load_run_data(model)
    assert np.array_equal(q["codes"], model.pack_query(model.encode_pool(pool, split.query)))
    assert not np.array_equal(q["codes"], RunModel.load(trained_run).pack_query(
        RunModel.load(trained_run).encode_pool(pool, split.query)))
    assert main(["-q", "evaluate", str(trained_run), "--flip-average"]) == 0
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["flip_average"] is True
    assert metrics["map"] == pytest.approx(mean_average_precision(q["codes"], d["codes"], q["labels"], d["labels"]),
                                           abs=1e-9)
    assert not RunModel.load(trained_run).flip_average  # the run itself is unchanged
    assert main(["-q", "evaluate", str(trained_run)]) == 0
    assert json.loads((trained_run / "metrics.json").read_text())["flip_average"] is False


def test_shift_average_on_the_command_line(trained_run, tmp_path, capsys):
    from csdh.engine.evaluate import load_run_data
    from csdh.engine.run_model import RunModel

    assert main(["-q", "encode", str(trained_run), "--split", "query", "--shift-average", "3",
                 "--out", str(tmp_path / "query.npz")]) == 0
    q = np.load(tmp_path / "query.npz")
    assert int(q["shift_average"]) == 3 and not bool(q["flip_average"])
    model = RunModel.load(trained_run, shift_average=3)
    pool, split = load_run_data(model)
    assert np.array_equal(q["codes"], model.pack_query(model.encode_pool(pool, split.query)))
    assert main(["evaluate", str(trained_run), "--shift-average", "3", "--flip-average"]) == 0
    assert "mirrored and moved 3 px right, left, down and up" in capsys.readouterr().out
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["shift_average"] == 3 and metrics["flip_average"] is True
    assert RunModel.load(trained_run).shift_average == 0  # the run itself is unchanged
    size = model.config.input_size
    assert main(["evaluate", str(trained_run), "--shift-average", str(size // 2)]) == 2
    err = capsys.readouterr().err
    assert f"the averaged shift must be between 0 and {size // 2 - 1} pixels" in err and "Traceback" not in err
    assert json.loads((trained_run / "metrics.json").read_text())["shift_average"] == 3  # nothing overwritten


def _parsers(parser, path=("csdh",)):
    """Every (sub)parser under ``parser`` with its command path."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, path + (name,))


def test_every_argument_says_what_it_does():
    missing = [f"{' '.join(path)} {(action.option_strings or [action.dest])[0]}"
               for path, parser in _parsers(build_parser()) for action in parser._actions
               if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)) and not action.help]
    assert missing == []


def test_precision_bf16_on_the_command_line(trained_run, tmp_path, capsys):
    from csdh.engine.evaluate import load_run_data
    from csdh.engine.run_model import RunModel

    assert main(["-q", "encode", str(trained_run), "--split", "query", "--out", str(tmp_path / "q32.npz")]) == 0
    assert main(["-q", "encode", str(trained_run), "--split", "query", "--precision", "bf16",
                 "--out", str(tmp_path / "q16.npz")]) == 0
    full, low = np.load(tmp_path / "q32.npz")["codes"], np.load(tmp_path / "q16.npz")["codes"]
    model = RunModel.load(trained_run, precision="bf16")
    pool, split = load_run_data(model)
    assert np.array_equal(low, model.pack_query(model.encode_pool(pool, split.query)))
    agree = 1.0 - np.unpackbits(full ^ low).mean()
    assert 0.9 < agree < 1.0, agree  # a few bits flip, most do not

    assert main(["evaluate", str(trained_run), "--precision", "bf16"]) == 0
    assert "backbone encoded in bf16" in capsys.readouterr().out
    low_metrics = json.loads((trained_run / "metrics.json").read_text())
    assert main(["-q", "evaluate", str(trained_run)]) == 0
    full_metrics = json.loads((trained_run / "metrics.json").read_text())
    assert (low_metrics["precision"], full_metrics["precision"]) == ("bf16", "fp32")
    assert low_metrics["map"] == pytest.approx(full_metrics["map"], abs=0.03)

    with pytest.raises(SystemExit) as exc:  # argparse's choices: usage, then one error line
        main(["evaluate", str(trained_run), "--precision", "fp16"])
    assert exc.value.code == 2 and "invalid choice: 'fp16'" in capsys.readouterr().err
    assert json.loads((trained_run / "metrics.json").read_text())["precision"] == "fp32"  # nothing overwritten
