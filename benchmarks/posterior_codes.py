"""How far can the database side go? Class posteriors read from a run's codes (single-label data).

Usage: python benchmarks/posterior_codes.py RUN_DIR [--taus 2,4,8,16] [--mix 0,0.3,0.6] [--device cpu] [--workers N]

Every image gets a class posterior from its continuous code h (the tanh outputs before the sign):
``p_k = softmax_k(tau * <h, m_k> / K)``, with ``m_k`` the class centres of ``code_accuracy.py`` (the mean
sign code of class k's training images). For each temperature ``tau`` it reports

- ``map_posterior_relevance``: the database ranked by ``p(q) . p(x)``, the expected relevance that the
  classifier yardstick (``classifier_ceiling.py``) ranks by, here from CSDH's own codes: a real-valued
  ranking of the codes' class evidence, no hash;
- ``map_binary_query_posterior_database``: binary queries ``sign(h_q)`` against the continuous posterior
  codes ``p(x)^T M`` (M: the centres);
- for each ``--mix`` w, binary database codes shaped (``csdh.codes.pack_shaped``, dithered start T = 0.95,
  as ``--db-dither 0.95 --db-shape``) from the re-coded target ``(1 - w) h + w p(x)^T M``; w = 0 is csdh's
  shaped codes. Binary queries stay ``sign(h)``. Each such row carries the held-out validation measure of
  ``db_dither.py`` (validation images, never the protocol's queries, search the database minus themselves),
  which chooses, and the protocol's mAP@ALL, which reports.

With ``--mix 0`` only, it also gives the continuous rankings of ``code_accuracy.py --continuous`` for reference.
It measures an idea; csdh does not re-code databases this way.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from classifier_ceiling import mean_ap_by_score
from db_dither import add_encode_args, encode_single_label

from csdh.codes import code_moment, pack, pack_shaped, sign
from csdh.metrics import mean_average_precision


def class_centres(train_codes: np.ndarray, train_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``(C, K)``: the mean sign code of each class's training images (zeros for a class without any)."""
    s = sign(train_codes).astype(np.float64)
    return np.stack([s[train_labels == c].mean(0) if (train_labels == c).any() else np.zeros(s.shape[1])
                     for c in range(n_classes)])


def code_posterior(h: np.ndarray, centres: np.ndarray, tau: float) -> np.ndarray:
    """``(n, C)`` class posteriors ``softmax(tau * h @ centres.T / K)`` of continuous codes ``h``."""
    s = tau * (np.asarray(h, np.float64) @ centres.T) / h.shape[1]
    s -= s.max(1, keepdims=True)
    p = np.exp(s)
    return p / p.sum(1, keepdims=True)


def main() -> None:
    p = argparse.ArgumentParser()
    add_encode_args(p)
    p.add_argument("--taus", default="2,4,8,16")
    p.add_argument("--mix", default="0,0.3,0.6")
    p.add_argument("--spread", type=float, default=0.95, help="dither spread of the shaped codes' start")
    args = p.parse_args()
    model, pool, pos, codes = encode_single_label(args, "posterior_codes.py")
    y, L = pool.labels.argmax(1), pool.labels
    q_pos, d_pos, t_pos, v_pos = pos["query"], pos["database"], pos["train"], pos["val"]
    q, d, t, v = codes["query"], codes["database"], codes["train"], codes["val"]
    centres = class_centres(t, y[t_pos], pool.n_classes)
    moment, seed = code_moment(t), model.config.seed
    qb, vb, qs = pack(q), pack(v), sign(q).astype(np.float32)
    held = ~np.isin(d_pos, v_pos)
    result = {"run": args.run_dir, "spread": args.spread,
              "map_continuous": mean_ap_by_score(q, d, y[q_pos], y[d_pos]),
              "map_binary_query_continuous_database": mean_ap_by_score(qs, d, y[q_pos], y[d_pos]), "rows": []}
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}), flush=True)
    mixes = [float(w) for w in args.mix.split(",")]
    for tau in (float(x) for x in args.taus.split(",")):
        pq, pd = code_posterior(q, centres, tau), code_posterior(d, centres, tau)
        target = (pd @ centres).astype(np.float32)
        row = {"tau": tau,
               "map_posterior_relevance": mean_ap_by_score(pq.astype(np.float32), pd.astype(np.float32),
                                                           y[q_pos], y[d_pos]),
               "map_binary_query_posterior_database": mean_ap_by_score(qs, target, y[q_pos], y[d_pos])}
        for w in mixes:
            if w == 0 and result["rows"]:
                continue  # independent of tau: once
            db = pack_shaped((1 - w) * d + w * target, moment, args.spread, seed)
            row[f"mix_{w:g}"] = {"heldout_map": float(mean_average_precision(vb, db[held], L[v_pos], L[d_pos[held]])),
                                 "map": float(mean_average_precision(qb, db, L[q_pos], L[d_pos]))}
        result["rows"].append(row)
        print(json.dumps(row), flush=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
