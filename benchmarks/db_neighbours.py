"""Database-side augmentation: does averaging each database code with its nearest database neighbours help?

Usage: python benchmarks/db_neighbours.py RUN_DIR --views FILE.npz [--keys id,flip] [--ks 1,3,5,10,20]
       [--alphas 0,3] [--spread 0.95] [--threads N]

The field's database-side augmentation (DBA, as in instance retrieval): before binarising, every database
item's continuous code is replaced by the weighted mean of its own and its k - 1 most similar database codes
(cosine similarity s, weights max(s, 0) ** alpha; alpha 0 is the plain mean). Queries keep sign(h); the
database is then dithered at T = ``--spread`` and shaped as csdh's reported evaluation does (and also only
dithered). The codes are those kept by shift_average.py ``--views`` (averaged over ``--keys``), so nothing is
encoded again. Beside the protocol's mAP it prints the held-out validation measure (validation images search
the database minus themselves, the neighbours found in that database only, so that no validation image is
ever a neighbour, as no query is). k = 1 is the codes as they are. It measures an idea; csdh does not do it.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from code_accuracy import codes_at
from flip_average import load_finetuned

from csdh.codes import pack, pack_dithered, pack_shaped
from csdh.metrics import evaluate_all, mean_average_precision


def nearest(x: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine similarities ``(n, k)`` of each row's ``k`` most similar rows of ``x`` (the row
    itself first, unless an identical row comes before it), most similar first; ties within the k are
    ordered by position."""
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    idx = np.empty((len(x), k), np.int64)
    sim = np.empty((len(x), k), np.float32)
    for s in range(0, len(x), chunk):
        S = x[s:s + chunk] @ x.T
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]
        ps = np.take_along_axis(S, part, 1)
        order = np.lexsort((part, -ps), axis=1)  # most similar first, ties by position
        idx[s:s + chunk] = np.take_along_axis(part, order, 1)
        sim[s:s + chunk] = np.take_along_axis(ps, order, 1)
    return idx, sim


def augment(x: np.ndarray, idx: np.ndarray, sim: np.ndarray, k: int, alpha: float) -> np.ndarray:
    """Each row of ``x`` replaced by the mean of its ``k`` neighbours' rows (``idx``, ``sim`` of
    :func:`nearest`) weighted by ``max(sim, 0) ** alpha``."""
    w = np.clip(sim[:, :k], 0, None) ** alpha  # alpha 0: all ones (0 ** 0 is 1)
    return (w[:, :, None] * x[idx[:, :k]]).sum(1) / np.maximum(w.sum(1, keepdims=True), 1e-12)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--views", required=True, help="the .npz that shift_average.py --views kept")
    p.add_argument("--keys", default="id,flip", help="views to average, e.g. id,flip,r,l,d,u")
    p.add_argument("--ks", default="1,3,5,10,20")
    p.add_argument("--alphas", default="0,3")
    p.add_argument("--spread", type=float, default=0.95)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    model, pool, split = load_finetuned(args.run_dir, args.threads, "db_neighbours.py")  # sets the threads
    views = np.load(args.views)
    h = np.mean([views[k] for k in args.keys.split(",")], axis=0).astype(np.float32)
    nq, L, seed, moment = len(split.query), pool.labels, model.config.seed, model.code_moment
    q, d = h[:nq], h[nq:]
    d_pos, v_pos = (np.asarray(a, np.int64) for a in (split.database, split.val_query))
    held = ~np.isin(d_pos, v_pos)
    packed_q, packed_v = pack(q), pack(codes_at(v_pos, d, d_pos, model, pool))  # the queries stay sign(h)
    ks = [int(k) for k in args.ks.split(",")]
    graph, graph_held = nearest(d, max(ks)), nearest(d[held], max(ks))
    binarisers = {"dithered": lambda c: pack_dithered(c, args.spread, seed),
                  "shaped": lambda c: pack_shaped(c, moment, args.spread, seed)}
    result = {"run": args.run_dir, "keys": args.keys, "spread": args.spread}
    for k in ks:
        for alpha in [0.0] if k == 1 else [float(a) for a in args.alphas.split(",")]:
            dd, dh = augment(d, *graph, k, alpha), augment(d[held], *graph_held, k, alpha)
            for name, binarise in binarisers.items():
                m = evaluate_all(packed_q, binarise(dd), L[split.query], L[d_pos], topk=split.topk)
                ho = mean_average_precision(packed_v, binarise(dh), L[v_pos], L[d_pos[held]])
                result[f"k{k}_alpha{alpha:g}_{name}"] = {"map": m["map"], "heldout_map": float(ho)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
