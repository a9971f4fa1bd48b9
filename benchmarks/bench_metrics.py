"""Time csdh.metrics on a CIFAR/NUS-sized problem: 1,000 queries x 69,000 database codes of 64 bits.

Run:  .venv/bin/python benchmarks/bench_metrics.py
Prints one Markdown table row for BENCHMARKS.md. Timings are the best of ``--repeat`` runs; peak
memory is measured in a separate run under tracemalloc (numpy reports its buffers to it), and the
process's maximum resident set size is reported as well.
"""
from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
import tracemalloc

import numpy as np

from csdh.codes import pack
from csdh.metrics import evaluate_all, mean_average_precision


def make_problem(nq: int, nd: int, n_bits: int, n_classes: int, seed: int):
    """Single-label codes clustered by class (so ties and relevance look like a trained model's)."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_classes, n_bits))
    q_cls, d_cls = rng.integers(0, n_classes, nq), rng.integers(0, n_classes, nd)
    qB = pack(centers[q_cls] + 1.5 * rng.standard_normal((nq, n_bits)).astype(np.float32))
    dB = pack(centers[d_cls] + 1.5 * rng.standard_normal((nd, n_bits)).astype(np.float32))
    eye = np.eye(n_classes, dtype=np.uint8)
    return qB, dB, eye[q_cls], eye[d_cls]


def best_time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--database", type=int, default=69_000)
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    qB, dB, qL, dL = make_problem(args.queries, args.database, args.bits, args.classes, args.seed)
    t_map, m = best_time(lambda: mean_average_precision(qB, dB, qL, dL), args.repeat)
    t_map1k, m1k = best_time(lambda: mean_average_precision(qB, dB, qL, dL, topk=1000), args.repeat)
    t_all, res = best_time(lambda: evaluate_all(qB, dB, qL, dL), args.repeat)

    tracemalloc.start()
    evaluate_all(qB, dB, qL, dL)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux

    print(
        f"| metrics | {args.queries} q x {args.database} db x {args.bits} bits, {args.classes} classes "
        f"| mAP(all) {t_map:.2f} s | mAP@1000 {t_map1k:.2f} s | evaluate_all {t_all:.2f} s "
        f"| peak traced {peak / 2**20:.0f} MiB, max RSS {rss_kib / 1024:.0f} MiB "
        f"| mAP {m:.4f}, mAP@1000 {m1k:.4f}, tie-aware {res['map_tie_aware']:.4f} "
        f"| numpy {np.__version__}, Python {platform.python_version()}, {platform.machine()} |"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
