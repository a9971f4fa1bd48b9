"""``csdh benchmark`` end to end on a tiny image folder: files, tables, resumability, --report-only."""
from __future__ import annotations

import csv
import json
import logging
import shutil
from pathlib import Path
from typing import Dict, List

import pytest

from csdh.bench import write_report
from csdh.cli import main

from .writers import write_multilabel_list

pytestmark = pytest.mark.slow

METHODS = ["csdh", "dpsh", "lsh", "itq"]
LABELS = {"csdh": "CSDH", "dpsh": "DPSH", "lsh": "LSH", "itq": "ITQ"}
BITS = [8, 16]
ABLATION_LABELS = ["CSDH (L_sim)", "CSDH (L_sim+L_ham)", "CSDH (full)"]


def bench_args(data: Path, out: Path, *extra: str) -> List[str]:
    return ["benchmark", "--dataset", "image-folder", "--data-dir", str(data), "--methods", ",".join(METHODS),
            "--bits", ",".join(map(str, BITS)), "--epochs", "2", "--input-size", "32", "--ablation", "8",
            "--out", str(out), *extra]


@pytest.fixture(scope="module")
def bench(image_folder: Path, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """One benchmark run (4 methods x 2 code lengths + the 8-bit ablation)."""
    root = tmp_path_factory.mktemp("bench")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CSDH_CACHE", str(cache_dir))
        out = root / "out"
        assert main(bench_args(image_folder, out)) == 0
        yield {"data": image_folder, "out": out}


def mtimes(out: Path) -> Dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted((out / "cells").glob("*.json"))}


def computed(caplog: pytest.LogCaptureFixture) -> List[str]:
    """Keys of the cells the last run computed (from the runner's log)."""
    return sorted(r.getMessage().split("] ")[1].split(":")[0] for r in caplog.records
                  if r.name == "csdh.bench.runner" and r.getMessage().endswith(": computing"))


def read_csv(path: Path) -> List[Dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_writes_every_cell_table_and_plot(bench):
    out = bench["out"]
    expected = {f"{m}-{b}-r0.json" for m in METHODS for b in BITS} | {"csdh-lsim-8-r0.json", "csdh-lsim-lham-8-r0.json"}
    assert set(mtimes(out)) == expected
    for b in BITS:
        assert (out / f"pr_{b}.png").stat().st_size > 1000
        assert (out / f"pn_{b}.png").stat().st_size > 1000
    for m in ("csdh", "dpsh"):  # every deep cell is a normal run directory
        for b in BITS:
            run = out / "runs" / f"{m}-{b}-r0"
            assert (run / "model.pt").exists() and (run / "split.json").exists()
    # one split for every cell: the benchmark's own
    split = json.loads((out / "split.json").read_text())
    assert split["seed"] == 0
    assert json.loads((out / "runs" / "csdh-8-r0" / "split.json").read_text()) == split


def test_tables_hold_every_method_and_length(bench):
    out = bench["out"]
    md = (out / "results.md").read_text()
    for heading in ("## mAP@ALL", "## Precision within Hamming radius 2", "## Precision@1000", "## Wall time",
                    "## Ablation: CSDH loss terms"):
        assert heading in md
    for label in list(LABELS.values()) + ABLATION_LABELS:
        assert f"| {label} |" in md
    for b in BITS:
        assert f"| {b} bits |" in md
    assert "csdh benchmark --dataset image-folder" in md and "--ablation 8" in md
    assert md.index("| CSDH | deep") < md.index("| DPSH | deep") < md.index("| LSH | shallow") < md.index("| ITQ |")
    assert "**" in md  # the best of each column

    rows = read_csv(out / "results.csv")
    main_rows = {(r["method"], int(r["bits"])) for r in rows if r["table"] == "main"}
    assert main_rows == {(m, b) for m in METHODS for b in BITS}
    ablation = {(r["label"], int(r["bits"])) for r in rows if r["table"] == "ablation"}
    assert ablation == {(label, 8) for label in ABLATION_LABELS}
    for r in rows:
        assert r["n"] == "1" and r["map_std"] == ""
        for metric in ("map", "map_tie_aware", "precision_at_radius_2", "precision_at_1000"):
            assert 0.0 <= float(r[f"{metric}_mean"]) <= 1.0
        assert float(r["train_seconds_mean"]) >= 0.0 and float(r["encode_seconds_mean"]) >= 0.0
    # the full-loss ablation row is the main CSDH cell, not a second training
    full = next(r for r in rows if r["label"] == "CSDH (full)")
    main8 = next(r for r in rows if r["table"] == "main" and r["method"] == "csdh" and r["bits"] == "8")
    assert full["map_mean"] == main8["map_mean"]


def test_cells_record_metrics_curves_and_times(bench):
    cell = json.loads((bench["out"] / "cells" / "itq-16-r0.json").read_text())
    assert cell["kind"] == "shallow" and cell["bits"] == 16 and cell["seed"] == 0
    assert len(cell["pr_curve"]["precision"]) == 17
    assert cell["precision_at_n"] == cell["n_database"]  # 1000 capped at the tiny database
    assert cell["pn_curve"]["n"][-1] == cell["n_database"]
    deep = json.loads((bench["out"] / "cells" / "csdh-lsim-8-r0.json").read_text())
    assert deep["args"] == {"lambda_ham": 0.0, "lambda_q": 0.0}
    assert deep["settings"]["loss_args"] == {"lambda_ham": 0.0, "lambda_q": 0.0}
    assert deep["run_dir"] == "runs/csdh-lsim-8-r0" and deep["epochs"] == 2


def test_rerun_keeps_every_finished_cell(bench, caplog):
    before = mtimes(bench["out"])
    caplog.set_level(logging.INFO, logger="csdh.bench.runner")
    assert main(bench_args(bench["data"], bench["out"])) == 0
    assert computed(caplog) == []
    assert mtimes(bench["out"]) == before


def test_cells_written_before_a_new_config_field_are_kept(bench, caplog):
    """A deep cell from an older version lacks fields added to TrainConfig since; they read as defaults."""
    path = bench["out"] / "cells" / "dpsh-8-r0.json"
    original = path.read_text()
    cell = json.loads(original)
    assert cell["settings"].pop("erase_prob") == 0.0
    path.write_text(json.dumps(cell))
    try:
        caplog.set_level(logging.INFO, logger="csdh.bench.runner")
        assert main(bench_args(bench["data"], bench["out"])) == 0
        assert computed(caplog) == []
    finally:
        path.write_text(original)


def test_deleted_cells_and_only_they_are_recomputed(bench, caplog):
    out = bench["out"]
    old = {k: json.loads((out / "cells" / f"{k}.json").read_text()) for k in ("itq-16-r0", "dpsh-16-r0")}
    before = mtimes(out)
    for key in old:
        (out / "cells" / f"{key}.json").unlink()
    caplog.set_level(logging.INFO, logger="csdh.bench.runner")
    assert main(bench_args(bench["data"], out)) == 0
    assert computed(caplog) == ["dpsh-16-r0", "itq-16-r0"]
    after = mtimes(out)
    assert set(after) == set(before)
    assert {k for k in before if before[k] != after[k]} == {"itq-16-r0.json", "dpsh-16-r0.json"}
    for key, cell in old.items():  # same split, same seed: the same numbers
        new = json.loads((out / "cells" / f"{key}.json").read_text())
        assert new["map"] == pytest.approx(cell["map"])
    assert any("dpsh-16-r0: resuming" in r.getMessage() for r in caplog.records)


def test_report_only_regenerates_identical_tables(bench, capsys):
    out = bench["out"]
    md, table = (out / "results.md").read_text(), (out / "results.csv").read_text()
    for name in ("results.md", "results.csv", "pr_8.png", "pn_16.png"):
        (out / name).unlink()
    assert main(["benchmark", "--report-only", "--out", str(out)]) == 0
    assert (out / "results.md").read_text() == md
    assert (out / "results.csv").read_text() == table
    assert (out / "pr_8.png").exists() and (out / "pn_16.png").exists()
    printed = capsys.readouterr().out
    assert "| CSDH | deep |" in printed and str(out / "results.md") in printed


def test_report_from_the_cell_files_alone(bench, tmp_path):
    shutil.copytree(bench["out"] / "cells", tmp_path / "cells")
    report = write_report(tmp_path)
    md = report.results_md.read_text()
    for label in list(LABELS.values()) + ABLATION_LABELS:
        assert f"| {label} |" in md
    original = (bench["out"] / "results.md").read_text()
    section = original[original.index("## mAP@ALL"):original.index("## Precision within")]
    assert section in md
    assert sorted(p.name for p in report.plots) == ["pn_16.png", "pn_8.png", "pr_16.png", "pr_8.png"]


def test_interrupted_deep_cell_resumes_from_its_checkpoint(image_folder, cache_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("CSDH_CACHE", str(cache_dir))
    out = tmp_path / "out"
    args = ["benchmark", "--dataset", "image-folder", "--data-dir", str(image_folder), "--methods", "csdh",
            "--bits", "8", "--input-size", "32", "--out", str(out)]
    assert main(args + ["--epochs", "1"]) == 0
    log = out / "runs" / "csdh-8-r0" / "log.jsonl"
    first = log.read_text().splitlines()
    assert len(first) == 1
    # as if killed after epoch 1 of 2: the checkpoint is there, the cell file is not
    (out / "cells" / "csdh-8-r0.json").unlink()
    assert main(args + ["--epochs", "2"]) == 0
    lines = log.read_text().splitlines()
    assert lines[0] == first[0] and len(lines) == 2 and json.loads(lines[1])["epoch"] == 2
    cell = json.loads((out / "cells" / "csdh-8-r0.json").read_text())
    assert cell["epochs"] == 2 and cell["train_seconds"] >= json.loads(first[0])["seconds"]


def test_changed_settings_are_refused_not_mixed(image_folder, cache_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CSDH_CACHE", str(cache_dir))
    out = tmp_path / "out"

    def args(size: int) -> List[str]:
        return ["benchmark", "--dataset", "image-folder", "--data-dir", str(image_folder), "--methods", "lsh",
                "--bits", "8", "--input-size", str(size), "--out", str(out)]

    assert main(args(32)) == 0
    info = (out / "benchmark.json").read_text()
    capsys.readouterr()
    assert main(args(64)) == 2
    err = capsys.readouterr().err
    assert "other settings" in err and "input_size: 32 -> 64" in err
    assert (out / "benchmark.json").read_text() == info  # the refused run rewrote nothing


def test_a_cell_computed_under_other_method_defaults_is_refused(image_folder, cache_dir, tmp_path, monkeypatch,
                                                                capsys):
    monkeypatch.setenv("CSDH_CACHE", str(cache_dir))
    out = tmp_path / "out"
    args = ["benchmark", "--dataset", "image-folder", "--data-dir", str(image_folder), "--methods", "itq",
            "--bits", "8", "--input-size", "32", "--out", str(out)]
    assert main(args) == 0
    path = out / "cells" / "itq-8-r0.json"
    cell = json.loads(path.read_text())
    assert cell["settings"]["method_defaults"] == {"n_iter": 50}
    cell["settings"]["method_defaults"] = {"n_iter": 20}  # as if an older csdh had another default
    path.write_text(json.dumps(cell))
    capsys.readouterr()
    assert main(args) == 2
    assert "method_defaults" in capsys.readouterr().err
    del cell["settings"]["method_defaults"]  # written before defaults were recorded: kept
    path.write_text(json.dumps(cell))
    assert main(args) == 0


def test_unknown_method_lists_the_known_ones(tmp_path, capsys):
    assert main(["benchmark", "--dataset", "image-folder", "--methods", "csdh,nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'nope'" in err and "csdh" in err and "itq" in err


def test_multi_label_image_list(tmp_path, cache_dir, monkeypatch):
    monkeypatch.setenv("CSDH_CACHE", str(cache_dir))
    data = write_multilabel_list(tmp_path / "list")
    out = tmp_path / "out"
    assert main(["benchmark", "--dataset", "image-list", "--data-dir", str(data), "--methods", "csdh,sdh,lsh",
                 "--bits", "8", "--epochs", "1", "--input-size", "32", "--method-arg", "sdh:n_anchors=20",
                 "--out", str(out)]) == 0
    rows = {r["method"]: r for r in read_csv(out / "results.csv")}
    assert set(rows) == {"csdh", "sdh", "lsh"}
    assert all(0.0 <= float(r["map_mean"]) <= 1.0 for r in rows.values())
    cell = json.loads((out / "cells" / "sdh-8-r0.json").read_text())
    assert cell["protocol"] == "image-list" and cell["n_queries"] == 10 and cell["n_database"] == 60
    assert cell["args"] == {"n_anchors": 20}
    assert "protocol `image-list`" in (out / "results.md").read_text()
