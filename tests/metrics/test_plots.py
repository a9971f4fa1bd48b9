"""Tests of csdh.metrics.plots: every written file is read back."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from csdh.codes import pack
from csdh.metrics import evaluate_all, plot_pr_curves, plot_precision_at_n, write_metrics_files

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def metrics() -> dict:
    rng = np.random.default_rng(0)
    qB, dB = pack(rng.standard_normal((8, 16))), pack(rng.standard_normal((60, 16)))
    qL, dL = np.eye(3)[rng.integers(0, 3, 8)], np.eye(3)[rng.integers(0, 3, 60)]
    return evaluate_all(qB, dB, qL, dL, topk=30)


def read_csv(path: Path) -> list:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_write_metrics_files_round_trip(metrics: dict, tmp_path: Path) -> None:
    out = tmp_path / "run" / "eval"  # created on demand
    paths = write_metrics_files(metrics, out)
    assert [p.name for p in paths] == ["metrics.json", "pr_curve.csv", "pn_curve.csv", "pr_curve.png", "precision_at_n.png"]
    assert json.loads((out / "metrics.json").read_text()) == metrics

    rows = read_csv(out / "pr_curve.csv")
    assert rows[0] == ["radius", "precision", "recall"]
    assert [int(r[0]) for r in rows[1:]] == metrics["pr_curve"]["radius"]
    assert [float(r[1]) for r in rows[1:]] == metrics["pr_curve"]["precision"]
    assert [float(r[2]) for r in rows[1:]] == metrics["pr_curve"]["recall"]

    rows = read_csv(out / "pn_curve.csv")
    assert rows[0] == ["n", "precision", "recall"]
    assert [int(r[0]) for r in rows[1:]] == metrics["pn_curve"]["n"]
    assert [float(r[1]) for r in rows[1:]] == metrics["pn_curve"]["precision"]
    assert [float(r[2]) for r in rows[1:]] == metrics["pn_curve"]["recall"]

    for name in ("pr_curve.png", "precision_at_n.png"):
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths)  # no temporary left


def test_rewrite_replaces_files_and_accepts_numpy_values(metrics: dict, tmp_path: Path) -> None:
    write_metrics_files(metrics, tmp_path)
    changed = dict(metrics, map=np.float64(0.25), n_bits=np.int64(16), extra=np.arange(3))
    write_metrics_files(changed, tmp_path)
    loaded = json.loads((tmp_path / "metrics.json").read_text())
    assert loaded["map"] == 0.25 and loaded["n_bits"] == 16 and loaded["extra"] == [0, 1, 2]
    assert len(list(tmp_path.iterdir())) == 5


def test_failed_write_leaves_no_file(metrics: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_metrics_files(dict(metrics, map=float("nan")), tmp_path)  # NaN is not valid JSON
    assert list(tmp_path.iterdir()) == []


def test_multi_run_plots(tmp_path: Path) -> None:
    recall = np.linspace(0, 1, 5)
    path = plot_pr_curves({"csdh": (1 - 0.5 * recall, recall), "dpsh": (1 - 0.7 * recall, recall)},
                          tmp_path / "pr.png", title="PR")
    assert path == tmp_path / "pr.png" and path.read_bytes()[:8] == PNG_SIGNATURE
    ns = np.array([1, 10, 100])
    path = plot_precision_at_n({"csdh": (ns, [0.9, 0.8, 0.7]), "dpsh": (ns, [0.8, 0.7, 0.6])}, str(tmp_path / "pn.png"))
    assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_atomic_write_cleans_up_on_error(tmp_path: Path) -> None:
    from csdh.metrics.plots import _atomic_write

    def fail(tmp: str) -> None:
        Path(tmp).write_text("partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _atomic_write(tmp_path / "metrics.json", fail)
    assert list(tmp_path.iterdir()) == []
