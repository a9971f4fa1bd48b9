"""The benchmark directory: everything a benchmark writes, and how to read it back.

Layout::

    DIR/benchmark.json            the BenchmarkSpec, the resolved set-up, the command line and date
    DIR/split.json                the split every cell uses (protocol seed 0)
    DIR/features.json             the shared frozen-feature extraction (images, seconds)
    DIR/cells/<key>.json          one finished cell: metrics, curves, timings, settings
    DIR/runs/<key>/               a deep cell's run directory (``csdh evaluate`` works on it)
    DIR/results.md, results.csv   the tables (regenerated from benchmark.json and cells/)
    DIR/pr_<bits>.png, pn_<bits>.png   precision-recall and precision@N of every method

A cell file is written (atomically) only once the cell is finished, so its presence means "done".
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Union

from csdh.atomic_io import atomic_output
from csdh.errors import UserError

CELL_FORMAT = 1


def cell_key(row: str, bits: int, repeat: int) -> str:
    """``<row>-<bits>-r<repeat>``, e.g. ``csdh-48-r0``."""
    return f"{row}-{int(bits)}-r{int(repeat)}"


def write_json(path: Path, obj: Any) -> None:
    """Write JSON to a temporary name next to ``path``, then rename it onto ``path``."""
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=1, sort_keys=True, allow_nan=True) + "\n", encoding="utf-8")


def read_json(path: Path) -> Dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError("missing file", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"unreadable JSON: {exc}", path) from None
    if not isinstance(obj, dict):
        raise UserError("expected a JSON object", path)
    return obj


class BenchDir:
    """Paths of one benchmark directory."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)

    spec = property(lambda self: self.path / "benchmark.json")
    split = property(lambda self: self.path / "split.json")
    features = property(lambda self: self.path / "features.json")
    cells_dir = property(lambda self: self.path / "cells")
    runs_dir = property(lambda self: self.path / "runs")
    results_md = property(lambda self: self.path / "results.md")
    results_csv = property(lambda self: self.path / "results.csv")

    def cell(self, key: str) -> Path:
        return self.cells_dir / f"{key}.json"

    def run(self, key: str) -> Path:
        return self.runs_dir / key

    def pr_plot(self, bits: int) -> Path:
        return self.path / f"pr_{int(bits)}.png"

    def pn_plot(self, bits: int) -> Path:
        return self.path / f"pn_{int(bits)}.png"

    def write_cell(self, cell: Dict[str, Any]) -> Path:
        path = self.cell(cell["key"])
        write_json(path, cell)
        return path

    def read_cell(self, path: Path) -> Dict[str, Any]:
        cell = read_json(path)
        if cell.get("format") != CELL_FORMAT or "key" not in cell:
            raise UserError("not a benchmark cell file of this version (delete it to recompute the cell)", path)
        return cell

    def cells(self) -> List[Dict[str, Any]]:
        """Every finished cell, sorted by file name."""
        if not self.cells_dir.is_dir():
            return []
        return [self.read_cell(p) for p in sorted(self.cells_dir.glob("*.json"))]
