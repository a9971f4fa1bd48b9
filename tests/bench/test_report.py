"""The report from synthetic cell files: mean ± std over repeats, bold best, missing cells, CSV."""
from __future__ import annotations

import csv

import pytest

from csdh.bench import BenchDir, aggregate, write_report
from csdh.bench.bench_dir import CELL_FORMAT


def cell(row: str, kind: str, bits: int, repeat: int, value: float) -> dict:
    return {
        "format": CELL_FORMAT, "key": f"{row}-{bits}-r{repeat}", "row": row, "method": row, "label": row.upper(),
        "kind": kind, "table": "main", "bits": bits, "repeat": repeat, "seed": repeat, "dataset": "toy",
        "protocol": "toy", "backbone": "bb", "input_size": 32, "finetune": False, "epochs": 3,
        "map": value, "map_topk": "all", "map_tie_aware": value, "precision_at_radius_2": value / 2,
        "precision_at_1000": value / 3, "precision_at_n": 1000, "n_queries": 5, "n_database": 2000,
        "pr_curve": {"radius": list(range(bits + 1)), "precision": [value] * (bits + 1), "recall": [0.5] * (bits + 1)},
        "pn_curve": {"n": [1, 1000], "precision": [value, value / 3], "recall": [0.1, 0.9]},
        "train_seconds": 2.0 + repeat, "encode_seconds": 0.5,
    }


@pytest.fixture
def bench(tmp_path):
    b = BenchDir(tmp_path)
    for r, v in enumerate((0.5, 0.7)):
        b.write_cell(cell("csdh", "deep", 16, r, v))
        b.write_cell(cell("lsh", "shallow", 16, r, v - 0.2))
    b.write_cell(cell("csdh", "deep", 32, 0, 0.4))
    b.write_cell(cell("lsh", "shallow", 32, 0, 0.45))  # LSH wins at 32 bits; CSDH has one repeat there
    return b


def test_aggregate_mean_and_sample_std(bench):
    stats = aggregate(bench.cells())
    mean, std = stats[("csdh", 16)]["map"]
    assert mean == pytest.approx(0.6) and std == pytest.approx(0.1414213562)
    assert stats[("csdh", 32)]["map"] == (pytest.approx(0.4), None)
    assert stats[("csdh", 16)]["train_seconds"] == pytest.approx(2.5)
    assert stats[("csdh", 16)]["seconds_total"] == pytest.approx(6.0)
    assert stats[("csdh", 16)]["pn"] == ([1, 1000], [pytest.approx(0.6), pytest.approx(0.2)])


def test_tables_bold_the_best_mean_and_show_std_only_for_repeats(bench):
    report = write_report(bench.path)
    md = report.results_md.read_text()
    assert "| CSDH | deep | **0.6000 ± 0.1414** | 0.4000 |" in md
    assert "| LSH | shallow | 0.4000 ± 0.1414 | **0.4500** |" in md
    assert "| CSDH | deep | 2.5 + 0.5 | 2.0 + 0.5 | 8.5 |" in md  # wall time: mean per cell, then total
    assert "Repeats**: 2" in md
    rows = list(csv.DictReader(report.results_csv.read_text().splitlines()))
    by = {(r["method"], r["bits"]): r for r in rows}
    assert by[("csdh", "16")]["n"] == "2" and float(by[("csdh", "16")]["map_std"]) == pytest.approx(0.141421, abs=1e-6)
    assert by[("csdh", "32")]["map_std"] == ""
    assert {p.name for p in report.plots} == {"pr_16.png", "pn_16.png", "pr_32.png", "pn_32.png"}


def test_missing_cells_show_a_dash(bench):
    (bench.cells_dir / "lsh-32-r0.json").unlink()
    md = write_report(bench.path).results_md.read_text()
    assert "| LSH | shallow | 0.4000 ± 0.1414 | – |" in md
    assert "| CSDH | deep | **0.6000 ± 0.1414** | **0.4000** |" in md
