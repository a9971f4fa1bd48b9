"""The benchmark report, rebuilt from the finished cell files: ``results.md``, ``results.csv`` and plots.

:func:`write_report` reads only ``DIR/cells/*.json`` and, when present, ``DIR/benchmark.json`` (the rows,
code lengths, command line and date of the run) and ``DIR/features.json``; without ``benchmark.json`` the
layout is inferred from the cells. The same files always give the same tables, so ``csdh benchmark
--report-only`` can regenerate them at any time, e.g. while a benchmark is still running.

Tables: one row per method (deep methods, CSDH first, then shallow ones), one column per code length;
a cell is the mean over repeats ± the sample standard deviation (only the mean for one repeat); the best
mean of each column is bold. Missing cells show "–".
"""
from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from csdh.bench.bench_dir import BenchDir, read_json
from csdh.bench.benchmark_spec import ABLATION, DEEP_ORDER, SHALLOW_ORDER
from csdh.engine.run_dir import atomic_write_text
from csdh.errors import UserError

LOG = logging.getLogger(__name__)

METRICS = ("map", "map_tie_aware", "precision_at_radius_2", "precision_at_1000")
MISSING = "–"

RowSpec = Tuple[str, str, str]  # (row key, label, kind)


@dataclass(frozen=True)
class Report:
    """What :func:`write_report` wrote, and the main mAP table as Markdown (for printing)."""

    results_md: Path
    results_csv: Path
    plots: Tuple[Path, ...]
    map_table: str


# ----------------------------------------------------------------------------------------- aggregation
def _mean_std(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), (float(arr.std(ddof=1)) if arr.size > 1 else None)


def _mean_curve(curves: List[Dict[str, List[float]]], x: str, y: str) -> Tuple[List[float], List[float]]:
    """The mean of ``y`` over repeats (``x`` from the first; repeats with a different ``x`` are skipped)."""
    ref = curves[0][x]
    ys = [c[y] for c in curves if c[x] == ref]
    return list(ref), np.mean(np.asarray(ys, dtype=np.float64), axis=0).tolist()


def aggregate(cells: Sequence[Dict[str, Any]]) -> Dict[Tuple[str, int], Dict[str, Any]]:
    """Group cells by (row key, bits): mean and std of each metric, mean seconds, mean curves."""
    groups: Dict[Tuple[str, int], List[Dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault((cell["row"], int(cell["bits"])), []).append(cell)
    out: Dict[Tuple[str, int], Dict[str, Any]] = {}
    for key, group in groups.items():
        group = sorted(group, key=lambda c: c["repeat"])
        stats: Dict[str, Any] = {"n": len(group), "repeats": [c["repeat"] for c in group]}
        for metric in METRICS:
            stats[metric] = _mean_std([c[metric] for c in group])
        stats["train_seconds"] = float(np.mean([c["train_seconds"] for c in group]))
        stats["encode_seconds"] = float(np.mean([c["encode_seconds"] for c in group]))
        stats["seconds_total"] = float(sum(c["train_seconds"] + c["encode_seconds"] for c in group))
        stats["pr"] = (_mean_curve([c["pr_curve"] for c in group], "radius", "precision")[1],
                       _mean_curve([c["pr_curve"] for c in group], "radius", "recall")[1])
        stats["pn"] = _mean_curve([c["pn_curve"] for c in group], "n", "precision")
        out[key] = stats
    return out


# ----------------------------------------------------------------------------------------- layout
def _order(kind: str, method: str) -> Tuple[int, int, str]:
    order = DEEP_ORDER if kind == "deep" else SHALLOW_ORDER
    return (0 if kind == "deep" else 1, order.index(method) if method in order else len(order), method)


def _layout(info: Optional[Dict[str, Any]], cells: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Rows, code lengths and header facts, from ``benchmark.json`` or inferred from the cells."""
    if info is not None:
        main = [(r["key"], r["label"], r["kind"]) for r in info["rows"] if r["table"] == "main"]
        ablation = [(k, label, "deep") for k, label in info.get("ablation_rows") or []]
        return {"main": main, "ablation": ablation, "bits": list(info["bits"]),
                "ablation_bits": list(info.get("ablation_bits") or []), "info": info}
    seen: Dict[str, Dict[str, Any]] = {}
    for c in cells:
        seen.setdefault(c["row"], c)
    main = [(k, c["label"], c["kind"]) for k, c in seen.items() if c["table"] == "main"]
    main.sort(key=lambda r: _order(r[2], seen[r[0]]["method"]))
    ablation_cells = [c for c in cells if c["table"] == "ablation"]
    ablation = [(k, label, "deep") for k, label, _ in ABLATION] if ablation_cells else []
    first = cells[0] if cells else {}
    deep = next((c for c in cells if c["kind"] == "deep"), {})
    derived = {"dataset": first.get("dataset"), "protocol": first.get("protocol"), "backbone": first.get("backbone"),
               "input_size": first.get("input_size"), "finetune": first.get("finetune"),
               "epochs": deep.get("epochs"), "repeats": 1 + max((c["repeat"] for c in cells), default=0),
               "n_query": first.get("n_queries"), "n_database": first.get("n_database")}
    return {"main": main, "ablation": ablation,
            "bits": sorted({int(c["bits"]) for c in cells if c["table"] == "main"}),
            "ablation_bits": sorted({int(c["bits"]) for c in ablation_cells}), "info": derived}


# ----------------------------------------------------------------------------------------- formatting
def _fmt(stat: Optional[Tuple[float, Optional[float]]], digits: int = 4) -> str:
    if stat is None:
        return MISSING
    mean, std = stat
    return f"{mean:.{digits}f}" if std is None else f"{mean:.{digits}f} ± {std:.{digits}f}"


def metric_table(rows: Sequence[RowSpec], bits: Sequence[int], stats: Dict[Tuple[str, int], Dict[str, Any]],
                 metric: str, with_kind: bool = True) -> str:
    """A Markdown table: ``rows`` x code lengths, mean ± std of ``metric``, best mean per column in bold."""
    head = ["Method"] + (["Type"] if with_kind else []) + [f"{b} bits" for b in bits]
    align = ["---"] * (len(head) - len(bits)) + ["---:"] * len(bits)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    best = {}
    for b in bits:
        means = [stats[(k, b)][metric][0] for k, _, _ in rows if (k, b) in stats]
        best[b] = max(means) if means else None
    for key, label, kind in rows:
        cells = []
        for b in bits:
            s = stats.get((key, b))
            text = _fmt(s[metric] if s else None)
            if s and best[b] is not None and s[metric][0] == best[b]:
                text = f"**{text}**"
            cells.append(text)
        lines.append("| " + " | ".join([label] + ([kind] if with_kind else []) + cells) + " |")
    return "\n".join(lines)


def time_table(rows: Sequence[RowSpec], bits: Sequence[int], stats: Dict[Tuple[str, int], Dict[str, Any]]) -> str:
    """Seconds per cell (mean over repeats) as "train + encode", and the total over every cell of the row."""
    head = ["Method", "Type"] + [f"{b} bits" for b in bits] + ["total"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---", "---"] + ["---:"] * (len(bits) + 1)) + "|"]
    for key, label, kind in rows:
        cells, total = [], 0.0
        for b in bits:
            s = stats.get((key, b))
            cells.append(MISSING if s is None else f"{s['train_seconds']:.1f} + {s['encode_seconds']:.1f}")
            total += s["seconds_total"] if s else 0.0
        lines.append("| " + " | ".join([label, kind] + cells + [f"{total:.1f}"]) + " |")
    return "\n".join(lines)


def _map_title(cells: Sequence[Dict[str, Any]]) -> str:
    topks = {str(c.get("map_topk")) for c in cells}
    if len(topks) == 1:
        k = topks.pop()
        return "mAP@ALL" if k == "all" else f"mAP@{k}"
    return "mAP"


def _pn_title(cells: Sequence[Dict[str, Any]]) -> str:
    ns = {int(c.get("precision_at_n", 1000)) for c in cells}
    if ns == {1000} or not ns:
        return "Precision@1000"
    return "Precision@1000 (N = " + ", ".join(str(n) for n in sorted(ns)) + ": capped at the database size)"


def _header(info: Dict[str, Any], features: Optional[Dict[str, Any]], map_title: str) -> List[str]:
    mode = info.get("finetune")
    backbone = f"{info.get('backbone')} at {info.get('input_size')} px"
    if mode:
        how = ("fine-tuned: every deep method trains the backbone end to end; shallow methods use its frozen "
               "pretrained features")
    else:
        how = ("frozen: every method uses the same cached pretrained features (deep methods train a hash head "
               "on them, shallow methods fit on them)")
    sizes = ", ".join(f"{info[k]:,} {name}" for k, name in (("n_query", "queries"), ("n_train", "training images"),
                                                         ("n_database", "database images")) if info.get(k) is not None)
    repeats = int(info.get("repeats") or 1)
    lines = [
        f"# Hashing benchmark: {info.get('dataset')}",
        "",
        f"- **Data set**: {info.get('dataset')}, protocol `{info.get('protocol')}`" + (f" ({sizes})" if sizes else "")
        + "; one split (protocol seed 0) for every method, code length and repeat",
        f"- **Backbone**: {backbone}, {how}",
    ]
    if info.get("epochs") is not None:
        extra = f", batch {info['batch_size']}, lr {info['lr']}" if info.get("batch_size") else ""
        lines.append(f"- **Deep training**: {info['epochs']} epochs{extra}, the same for every deep method; the "
                     "epoch with the best validation mAP is kept")
    if features:
        lines.append(f"- **Features**: {features.get('n_images'):,} images through the frozen backbone once, "
                     f"{features.get('seconds', 0.0):.1f} s (shared by every cell; not in the times below)")
    lines.append(f"- **Repeats**: {repeats}" + (
        "; repeat r seeds the method with r (deep: initialisation, shuffling, dropout; shallow: its random "
        "draws), the split stays fixed; cells show mean ± sample standard deviation" if repeats > 1 else
        " (seed 0)"))
    lines.append(f"- **Metrics**: {map_title} (Hamming ranking, ties by database position), precision within "
                 "Hamming radius 2 (an empty ball counts 0), precision of the top 1000; best mean in bold")
    if info.get("command"):
        lines.append(f"- **Command**: `{info['command']}`")
    if info.get("date"):
        lines.append(f"- **Date**: {info['date']}")
    return lines


# ----------------------------------------------------------------------------------------- files
def _csv(layout: Dict[str, Any], stats: Dict[Tuple[str, int], Dict[str, Any]],
         methods: Dict[str, str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    head = ["table", "row", "method", "label", "kind", "bits", "n"]
    for m in METRICS:
        head += [f"{m}_mean", f"{m}_std"]
    w.writerow(head + ["train_seconds_mean", "encode_seconds_mean", "seconds_total"])
    for table, rows, bits in (("main", layout["main"], layout["bits"]),
                              ("ablation", layout["ablation"], layout["ablation_bits"])):
        for key, label, kind in rows:
            for b in bits:
                s = stats.get((key, b))
                if s is None:
                    continue
                values = [table, key, methods.get(key, key), label, kind, b, s["n"]]
                for m in METRICS:
                    mean, std = s[m]
                    values += [f"{mean:.6f}", "" if std is None else f"{std:.6f}"]
                values += [f"{s['train_seconds']:.3f}", f"{s['encode_seconds']:.3f}", f"{s['seconds_total']:.3f}"]
                w.writerow(values)
    return buf.getvalue()


def _plots(bench: BenchDir, layout: Dict[str, Any], stats: Dict[Tuple[str, int], Dict[str, Any]]) -> List[Path]:
    from csdh.metrics import plot_pr_curves, plot_precision_at_n

    dataset = layout["info"].get("dataset")
    out = []
    for b in layout["bits"]:
        rows = [(key, label) for key, label, _ in layout["main"] if (key, b) in stats]
        if not rows:
            continue
        pr = {label: stats[(key, b)]["pr"] for key, label in rows}
        pn = {label: stats[(key, b)]["pn"] for key, label in rows}
        out.append(plot_pr_curves(pr, bench.pr_plot(b),
                                  title=f"{dataset}, {b} bits: precision-recall (Hamming radius)"))
        out.append(plot_precision_at_n(pn, bench.pn_plot(b), title=f"{dataset}, {b} bits: precision@N"))
    return out


def render_markdown(layout: Dict[str, Any], stats: Dict[Tuple[str, int], Dict[str, Any]],
                    cells: Sequence[Dict[str, Any]], features: Optional[Dict[str, Any]] = None) -> str:
    """The whole ``results.md``."""
    map_title, pn_title = _map_title(cells), _pn_title(cells)
    main, bits = layout["main"], layout["bits"]
    parts = _header(layout["info"], features, map_title)
    titles = ((map_title, "map"), ("Precision within Hamming radius 2", "precision_at_radius_2"),
              (pn_title, "precision_at_1000"))
    for title, metric in titles:
        parts += ["", f"## {title}", "", metric_table(main, bits, stats, metric)]
    parts += ["", "## Wall time", "",
              "Seconds per cell, mean over repeats: training (deep: epochs and validation; shallow: fitting) + "
              "encoding the queries and the database" + (" from the cached features" if not layout["info"].get(
                  "finetune") else "") + "; total: every cell of the row.", "", time_table(main, bits, stats)]
    if layout["ablation"]:
        parts += ["", "## Ablation: CSDH loss terms", "",
                  "L_sim alone (lambda_ham = lambda_q = 0), plus the Hamming term (lambda_q = 0), and the full loss."]
        for title, metric in titles:
            parts += ["", f"### {title}", "", metric_table(layout["ablation"], layout["ablation_bits"], stats, metric,
                                                          with_kind=False)]
    return "\n".join(parts) + "\n"


def _load(bench: BenchDir) -> Tuple[List[Dict[str, Any]], Optional[Dict[str, Any]]]:
    cells = bench.cells()
    if not cells:
        raise UserError("no finished benchmark cells (expected DIR/cells/*.json); run `csdh benchmark` first",
                        bench.path)
    return cells, (read_json(bench.spec) if bench.spec.exists() else None)


def summary_table(out_dir: Union[str, Path]) -> str:
    """The main mAP table of a benchmark directory as Markdown, with its title (nothing is written)."""
    cells, info = _load(BenchDir(out_dir))
    layout = _layout(info, cells)
    return f"{_map_title(cells)}\n\n" + metric_table(layout["main"], layout["bits"], aggregate(cells), "map")


def write_report(out_dir: Union[str, Path]) -> Report:
    """Write ``results.md``, ``results.csv``, ``pr_<bits>.png`` and ``pn_<bits>.png`` from the cell files.

    Raises:
        UserError: the directory has no finished cell.
    """
    bench = BenchDir(out_dir)
    cells, info = _load(bench)
    features = read_json(bench.features) if bench.features.exists() else None
    layout = _layout(info, cells)
    stats = aggregate(cells)
    methods = {c["row"]: c["method"] for c in cells}
    atomic_write_text(bench.results_md, render_markdown(layout, stats, cells, features))
    atomic_write_text(bench.results_csv, _csv(layout, stats, methods))
    plots = _plots(bench, layout, stats)
    LOG.info("wrote %s, %s and %d plots", bench.results_md, bench.results_csv, len(plots))
    table = metric_table(layout["main"], layout["bits"], stats, "map")
    return Report(bench.results_md, bench.results_csv, tuple(plots), f"{_map_title(cells)}\n\n{table}")
