"""Benchmarks: every method and code length on one data set, split and backbone, with paper-style tables.

``run_benchmark(BenchmarkSpec(dataset="fashion-mnist", methods=("all",)), "bench/")`` trains and evaluates
every cell (resumably) and writes ``results.md``, ``results.csv`` and plots; :func:`write_report` rebuilds
the report from the finished cells alone.
"""
from csdh.bench.bench_dir import BenchDir, cell_key
from csdh.bench.benchmark_spec import (
    BenchmarkSpec,
    Row,
    default_ablation_bits,
    display_name,
    known_methods,
    resolve_methods,
)
from csdh.bench.report import Report, aggregate, summary_table, write_report
from csdh.bench.runner import deep_config, run_benchmark, score_codes

__all__ = [
    "BenchDir", "BenchmarkSpec", "Report", "Row", "aggregate", "cell_key", "deep_config", "default_ablation_bits",
    "display_name", "known_methods", "resolve_methods", "run_benchmark", "score_codes", "summary_table",
    "write_report",
]
