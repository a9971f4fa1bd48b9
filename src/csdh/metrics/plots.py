"""Figures and files for retrieval metrics: PR and P@N plots (PNG), ``metrics.json`` and CSV curves.

The only module of :mod:`csdh.metrics` that writes files. matplotlib is imported inside the functions
and used through ``matplotlib.figure.Figure`` (Agg canvas, no pyplot), so importing this module costs
nothing and no global backend is changed. Every file is written to a temporary name in the same folder
and then moved into place with ``os.replace``, so a reader never sees a half-written file.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Sequence, Tuple, Union

import numpy as np

PathLike = Union[str, Path]
Curve = Tuple[Sequence[float], Sequence[float]]


def _atomic_write(path: PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then move it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _write_text(path: PathLike, text: str) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(text)

    return _atomic_write(path, write)


def _save_figure(fig: Any, path: PathLike) -> Path:
    return _atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))


def _new_axes(title: str, xlabel: str, ylabel: str) -> Tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def plot_pr_curves(curves: Mapping[str, Curve], path: PathLike, title: str = "Precision-recall") -> Path:
    """Plot precision against recall, one line per run, and save a PNG.

    Args:
        curves: run name -> ``(precision, recall)``, equal-length sequences (e.g. from
            :func:`csdh.metrics.precision_recall_curve`, one point per Hamming radius).
        path: the PNG to write (folders are created).
        title: figure title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    fig, ax = _new_axes(title, "recall", "precision")
    for name, (precision, recall) in curves.items():
        ax.plot(np.asarray(recall), np.asarray(precision), marker=".", label=str(name))
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    if curves:
        ax.legend(loc="best")
    return _save_figure(fig, path)


def plot_precision_at_n(curves: Mapping[str, Curve], path: PathLike, title: str = "Precision@N") -> Path:
    """Plot precision@N against N (log scale), one line per run, and save a PNG.

    Args:
        curves: run name -> ``(ns, precision)``, equal-length sequences (e.g. from
            :func:`csdh.metrics.precision_recall_at_n`).
        path: the PNG to write (folders are created).
        title: figure title.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    fig, ax = _new_axes(title, "N (top retrieved)", "precision@N")
    for name, (ns, precision) in curves.items():
        ax.plot(np.asarray(ns), np.asarray(precision), marker=".", label=str(name))
    ax.set_xscale("log")
    ax.set_ylim(0.0, 1.0)
    if curves:
        ax.legend(loc="best")
    return _save_figure(fig, path)


def _to_builtin(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _csv_text(header: Sequence[str], columns: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(zip(*columns))
    return buf.getvalue()


def write_metrics_files(metrics: Mapping[str, Any], out_dir: PathLike, name: str = "") -> List[Path]:
    """Write one run's metrics: ``metrics.json``, ``pr_curve.csv``, ``pn_curve.csv`` and two PNGs.

    Args:
        metrics: the dict of :func:`csdh.metrics.evaluate_all` (``pr_curve`` and ``pn_curve`` entries
            are needed for the CSVs and plots; extra JSON-serialisable keys are kept in the JSON).
        out_dir: folder to write into (created if missing); existing files are replaced atomically.
        name: legend label of the run in the plots (default: ``"<n_bits> bits"``).

    Returns:
        the written paths: ``metrics.json``, ``pr_curve.csv``, ``pn_curve.csv``, ``pr_curve.png``,
        ``precision_at_n.png``.
    """
    out = Path(out_dir)
    label = name or f"{metrics.get('n_bits', '?')} bits"
    pr: Dict[str, Sequence[float]] = metrics["pr_curve"]
    pn: Dict[str, Sequence[float]] = metrics["pn_curve"]
    text = json.dumps(metrics, indent=2, sort_keys=False, allow_nan=False, default=_to_builtin) + "\n"
    return [
        _write_text(out / "metrics.json", text),
        _write_text(out / "pr_curve.csv", _csv_text(["radius", "precision", "recall"], [pr["radius"], pr["precision"], pr["recall"]])),
        _write_text(out / "pn_curve.csv", _csv_text(["n", "precision", "recall"], [pn["n"], pn["precision"], pn["recall"]])),
        plot_pr_curves({label: (pr["precision"], pr["recall"])}, out / "pr_curve.png",
                       title="Precision-recall over Hamming radius"),
        plot_precision_at_n({label: (pn["n"], pn["precision"])}, out / "precision_at_n.png"),
    ]
