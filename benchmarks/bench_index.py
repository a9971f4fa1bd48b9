"""Benchmarks of csdh's Hamming index (csdh.index.HammingIndex).

(a) Overhead of exact tie handling: top-k through ``HammingIndex.search`` (exact brute-force answer, ties by
    id) against FAISS ``IndexBinaryFlat.search`` called directly, on the same random codes::

        python benchmarks/bench_index.py                       # 1,000,000 x 64 bits, 1,000 queries, top-100
        python benchmarks/bench_index.py --n 200000 --repeat 2 # a quick check

(b) Approximate kinds on real learned codes (``csdh encode`` .npz files, arrays ``codes``, ``labels``,
    ``index``): recall@10 of ``hnsw`` and ``multihash`` against the exact index, and their speed-up::

        python benchmarks/bench_index.py --codes-db db.npz --codes-query q.npz

Prints markdown tables. Timings are the best of ``--repeat`` runs with ``--threads`` FAISS threads.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from csdh.index.binary_index import HammingIndex  # noqa: E402


CLOCK = time.perf_counter


def best_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = CLOCK()
        fn()
        times.append(CLOCK() - t0)
    return min(times)


def bench_overhead(n: int, bits: int, nq: int, k: int, repeat: int, seed: int) -> Dict[str, float]:
    import faiss

    rng = np.random.default_rng(seed)
    db = rng.integers(0, 256, (n, bits // 8), dtype=np.uint8)
    q = rng.integers(0, 256, (nq, bits // 8), dtype=np.uint8)
    raw = faiss.IndexBinaryFlat(bits)
    raw.add(db)
    ours = HammingIndex.create("flat", bits)
    ours.add(db, np.arange(n, dtype=np.int64))
    raw.search(q[:10], k)  # warm up
    ours.search(q[:10], k)
    t_raw = t_ours = float("inf")
    for _ in range(repeat):  # interleaved, so that load changes hit both alike
        t_raw = min(t_raw, best_time(lambda: raw.search(q, k), 1))
        t_ours = min(t_ours, best_time(lambda: ours.search(q, k), 1))
    d_raw, _ = raw.search(q, k)
    d_ours, _ = ours.search(q, k)
    assert np.array_equal(d_raw, d_ours), "the distances must agree with FAISS"
    return {"raw_qps": nq / t_raw, "csdh_qps": nq / t_ours, "ratio": t_raw / t_ours}


def load_codes(path: str) -> np.ndarray:
    with np.load(path) as z:
        codes = np.ascontiguousarray(z["codes"], dtype=np.uint8)
    return codes


def recall_at(exact: Tuple[np.ndarray, np.ndarray], approx: Tuple[np.ndarray, np.ndarray], k: int) -> Tuple[float, float]:
    """(id recall, tie-aware recall): share of the exact top-k ids found, and share of the k returned results
    whose distance is within the exact k-th distance (any member of a tie group counts)."""
    ed, ei = exact
    ad, ai = approx
    ids = np.mean([len(set(e.tolist()) & set(a[a >= 0].tolist())) / k for e, a in zip(ei, ai)])
    kth = ed[:, k - 1:k]
    ties = np.mean(((ad <= kth) & (ai >= 0)).sum(axis=1) / k)
    return float(ids), float(ties)


def bench_kinds(db: np.ndarray, q: np.ndarray, k: int, repeat: int, ef_list: List[int], nflip_list: List[int]):
    bits = db.shape[1] * 8
    ids = np.arange(len(db), dtype=np.int64)
    rows = []
    t0 = time.perf_counter()
    exact = HammingIndex.create("flat", bits)
    exact.add(db, ids)
    build_flat = time.perf_counter() - t0
    exact.search(q[:10], k)  # warm up
    t_exact = best_time(lambda: exact.search(q, k), repeat)
    ref = exact.search(q, k)
    rows.append(("flat", "-", build_flat, len(q) / t_exact, 1.0, 1.0, 1.0))

    t0 = time.perf_counter()
    hnsw = HammingIndex.create("hnsw", bits)
    hnsw.add(db, ids)
    build_hnsw = time.perf_counter() - t0
    for ef in ef_list:
        hnsw._index.hnsw.efSearch = ef
        hnsw.search(q[:10], k)
        t = best_time(lambda: hnsw.search(q, k), repeat)
        r_ids, r_ties = recall_at(ref, hnsw.search(q, k), k)
        rows.append(("hnsw", f"M=32 ef={ef}", build_hnsw, len(q) / t, t_exact / t, r_ids, r_ties))

    t0 = time.perf_counter()
    mh = HammingIndex.create("multihash", bits)
    mh.add(db, ids)
    build_mh = time.perf_counter() - t0
    for nflip in nflip_list:
        mh._index.nflip = nflip
        mh.search(q[:10], k)
        t = best_time(lambda: mh.search(q, k), repeat)
        r_ids, r_ties = recall_at(ref, mh.search(q, k), k)
        p = mh.params
        rows.append(("multihash", f"nhash={p['nhash']} b={p['b']} nflip={nflip}", build_mh, len(q) / t, t_exact / t,
                     r_ids, r_ties))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1_000_000, help="random database codes for (a)")
    p.add_argument("--bits", type=int, default=64)
    p.add_argument("--nq", type=int, default=1000, help="queries")
    p.add_argument("--k", type=int, default=100, help="top-k for (a)")
    p.add_argument("--threads", type=int, default=2, help="FAISS OpenMP threads")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall: elapsed time (default); cpu: CPU time of this process, summed over threads "
                        "(steadier on a busy machine; use with --threads 1)")
    p.add_argument("--codes-db", metavar="FILE.npz", help="database codes from `csdh encode` for (b)")
    p.add_argument("--codes-query", metavar="FILE.npz", help="query codes from `csdh encode` for (b)")
    p.add_argument("--ef-search", default="16,64,128,256", help="hnsw efSearch values for (b)")
    p.add_argument("--nflip", default="0,1,2", help="multihash nflip values for (b)")
    args = p.parse_args()

    import faiss

    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    faiss.omp_set_num_threads(args.threads)
    if args.codes_db or args.codes_query:
        if not (args.codes_db and args.codes_query):
            p.error("--codes-db and --codes-query go together")
        db, q = load_codes(args.codes_db), load_codes(args.codes_query)[: args.nq]
        rows = bench_kinds(db, q, 10, args.repeat, [int(x) for x in args.ef_search.split(",")],
                           [int(x) for x in args.nflip.split(",")])
        print(f"\n{len(db):,} database codes x {db.shape[1] * 8} bits, {len(q):,} queries, top-10, "
              f"{args.threads} threads\n")
        print("| kind | parameters | build s | queries/s | speed-up vs flat | recall@10 (ids) | recall@10 (tie-aware) |")
        print("|---|---|---:|---:|---:|---:|---:|")
        for kind, params, build, qps, speedup, r_ids, r_ties in rows:
            print(f"| {kind} | {params} | {build:.1f} | {qps:,.0f} | {speedup:.1f}x | {r_ids:.3f} | {r_ties:.3f} |")
        return

    res = bench_overhead(args.n, args.bits, args.nq, args.k, args.repeat, args.seed)
    print(f"\n{args.n:,} random codes x {args.bits} bits, {args.nq:,} queries, top-{args.k}, {args.threads} threads, "
          f"best of {args.repeat}, {args.clock} clock\n")
    print("| search | queries/s |")
    print("|---|---:|")
    print(f"| FAISS IndexBinaryFlat.search (raw) | {res['raw_qps']:,.0f} |")
    print(f"| csdh HammingIndex.search (exact, ties by id) | {res['csdh_qps']:,.0f} |")
    print(f"| csdh / raw | {res['ratio']:.3f} |")


if __name__ == "__main__":
    main()
