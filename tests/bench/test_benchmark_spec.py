"""The benchmark's spec (methods, rows, arguments), its scoring and the CLI's argument parsing."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from csdh.bench import BenchmarkSpec, default_ablation_bits, deep_config, known_methods, resolve_methods, score_codes
from csdh.cli.benchmark_cmd import command_line, parse_method_args
from csdh.errors import UserError
from csdh.losses import LOSSES
from csdh.metrics import evaluate_all, precision_recall_at_n
from csdh.shallow import SHALLOW


def test_all_is_every_deep_then_every_shallow_method_csdh_first():
    names = resolve_methods("all")
    assert set(names) == set(LOSSES.names()) | set(SHALLOW.names())
    assert names[0] == "csdh"
    kinds = ["deep" if n in LOSSES else "shallow" for n in names]
    assert kinds == sorted(kinds)  # every deep method before every shallow one
    assert resolve_methods("deep") == tuple(n for n in names if n in LOSSES)
    assert resolve_methods("shallow") == tuple(n for n in names if n in SHALLOW)
    assert resolve_methods("itq, CSDH,itq") == ("csdh", "itq")
    assert known_methods() == list(names)


def test_unknown_method_is_a_user_error_listing_the_known_ones():
    with pytest.raises(UserError, match=r"unknown method 'nope'; known: csdh, .*itq"):
        resolve_methods("csdh,nope")
    with pytest.raises(UserError):
        resolve_methods(" , ")


def test_rows_and_ablation_share_the_full_csdh_cells():
    spec = BenchmarkSpec(dataset="fashion-mnist", methods="csdh,lsh", bits=(16, 32), ablation_bits=(48,),
                         method_args={"csdh": {"alpha": 0.5}})
    rows = {r.key: r for r in spec.rows()}
    assert list(rows) == ["csdh", "lsh", "csdh-lsim", "csdh-lsim-lham"]
    assert rows["csdh"].bits == (16, 32, 48) and rows["csdh"].table == "main"
    assert dict(rows["csdh-lsim"].args) == {"alpha": 0.5, "lambda_ham": 0.0, "lambda_q": 0.0}
    assert dict(rows["csdh-lsim-lham"].args) == {"alpha": 0.5, "lambda_q": 0.0}
    assert rows["csdh-lsim"].table == "ablation" and rows["csdh-lsim"].bits == (48,)
    assert [k for k, _ in spec.ablation_rows()] == ["csdh-lsim", "csdh-lsim-lham", "csdh"]
    # without CSDH among the methods, the ablation still gets its full-loss row (outside the main table)
    only = BenchmarkSpec(dataset="fashion-mnist", methods="lsh", ablation_bits=(48,))
    full = next(r for r in only.rows() if r.key == "csdh")
    assert full.table == "ablation" and full.bits == (48,)
    assert default_ablation_bits([16, 48]) == (48,) and default_ablation_bits([8, 16]) == (8, 16)


def test_spec_round_trips_and_checks_arguments():
    spec = BenchmarkSpec(dataset="cifar10", methods="all", bits=(64, 16), repeats=3, epochs=5,
                         method_args={"itq": {"n_iter": 10}})
    assert spec.bits == (16, 64)
    assert BenchmarkSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(UserError, match="no argument bogus"):
        BenchmarkSpec(dataset="cifar10", methods="itq", method_args={"itq": {"bogus": 1}})
    with pytest.raises(UserError, match="set by the benchmark"):
        BenchmarkSpec(dataset="cifar10", methods="itq", method_args={"itq": {"seed": 1}})
    with pytest.raises(UserError, match="not among the methods"):
        BenchmarkSpec(dataset="cifar10", methods="itq", method_args={"csdh": {"alpha": 1.0}})
    with pytest.raises(UserError):
        BenchmarkSpec(dataset="cifar10", methods="itq", bits=(12,))
    with pytest.raises(UserError):
        BenchmarkSpec(dataset="cifar10", methods="itq", repeats=0)


def test_deep_cells_share_the_training_settings_and_vary_only_the_seed():
    spec = BenchmarkSpec(dataset="fashion-mnist", methods="csdh,dpsh,csq", epochs=7, input_size=32)
    rows = {r.key: r for r in spec.rows()}
    a, b = deep_config(spec, rows["csdh"], 16, 0), deep_config(spec, rows["dpsh"], 16, 2)
    assert (a.epochs, a.input_size, a.lr, a.batch_size) == (b.epochs, b.input_size, b.lr, b.batch_size) == (
        7, 32, a.lr, a.batch_size)
    assert (a.seed, b.seed) == (0, 2)
    assert deep_config(spec, rows["csq"], 16, 3).loss_kwargs["seed"] == 3  # the hash centres too
    default = deep_config(BenchmarkSpec(dataset="fashion-mnist", methods="csdh"), rows["csdh"], 16, 0)
    assert default.epochs == 40  # make_config's frozen default


def test_score_codes_matches_the_metrics_module():
    rng = np.random.default_rng(0)
    q, d = rng.integers(0, 256, (20, 2), dtype=np.uint8), rng.integers(0, 256, (1500, 2), dtype=np.uint8)
    ql, dl = np.eye(3, dtype=np.uint8)[rng.integers(0, 3, 20)], np.eye(3, dtype=np.uint8)[rng.integers(0, 3, 1500)]
    s = score_codes(q, d, ql, dl, topk=100)
    ref = evaluate_all(q, d, ql, dl, topk=100)
    assert s["map"] == pytest.approx(ref["map"]) and s["map_topk"] == 100
    assert s["precision_at_radius_2"] == pytest.approx(ref["precision_at_radius_2"])
    _, p, _ = precision_recall_at_n(q, d, ql, dl, ns=[1000])
    assert s["precision_at_1000"] == pytest.approx(p[0]) and s["precision_at_n"] == 1000
    small = score_codes(q, d[:50], ql, dl[:50])
    assert small["precision_at_n"] == 50 and small["map_topk"] == "all"


def test_method_args_and_command_line():
    assert parse_method_args(["csdh:alpha=0.5", "sdh:n_anchors=300", "CSDH:balance=false"]) == {
        "csdh": {"alpha": 0.5, "balance": False}, "sdh": {"n_anchors": 300}}
    for bad in ("alpha=0.5", "csdh:alpha", ":alpha=1"):
        with pytest.raises(UserError, match="METHOD:NAME=VALUE"):
            parse_method_args([bad])
    args = argparse.Namespace(dataset="cifar10", data_dir=None, image_root=None, protocol=None, methods="all",
                              bits="16,32", repeats=3, epochs=None, input_size=64, backbone=None, finetune=True,
                              method_arg=["csdh:alpha=0.5"], ablation="", out="out dir", device="cpu")
    assert command_line(args) == ("csdh benchmark --dataset cifar10 --methods all --bits 16,32 --repeats 3 "
                                  "--input-size 64 --finetune --method-arg csdh:alpha=0.5 --ablation --out 'out dir'")
