"""The query side: binary query codes shaped like the database's, and real-valued (asymmetric) queries.

Usage: python benchmarks/query_side.py RUN_DIR [--spread 0.95] [--device cpu] [--workers N]

csdh binarises a query with the plain sign and shapes only the database (``--db-shape``). This script asks
whether the query side has anything left to give, against two binary databases of the run: plain signs, and
csdh's reported setting (dithered at ``--spread``, then shaped, as ``--db-dither 0.95 --db-shape``). For each
it ranks with

- ``sign``: the plain binary queries, what csdh does (the Hamming ranking of ``csdh evaluate``);
- ``shaped_moment``: binary queries shaped by :func:`csdh.codes.shape_codes` with the code moment ``G`` of
  the training images, as database codes are shaped;
- ``shaped_covariance``: the same with the covariance ``G - mu mu^T`` instead, since adding one constant to
  a query's inner products with every database code does not change its ranking;
- ``real_valued``: the continuous query code ``h_q`` against the binary database, ranked by ``<h_q, b_x>``
  (asymmetric distances: the database stays 48-bit codes, the query is not binarised; no Hamming search).

Each entry carries the held-out validation measure of ``db_dither.py`` (the validation images, never the
protocol's queries, search the database minus themselves), which chooses, and the protocol's mAP@ALL,
which reports. Single-label data (the real-valued ranking compares class indices). It measures ideas;
csdh's queries stay ``sign(h)``.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from classifier_ceiling import mean_ap_by_score
from db_dither import add_encode_args, encode_single_label

from csdh.codes import code_moment, pack, pack_shaped, shape_codes, sign, unpack
from csdh.metrics import mean_average_precision


def code_covariance(h: np.ndarray) -> np.ndarray:
    """``(K, K)`` covariance of the sign codes of ``h``: :func:`csdh.codes.code_moment` minus ``mu mu^T``."""
    mu = sign(np.asarray(h)).astype(np.float64).mean(0)
    return code_moment(h) - np.outer(mu, mu)


def shaped_queries(h: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Packed binary query codes shaped from ``sign(h)`` under ``matrix`` (:func:`csdh.codes.shape_codes`)."""
    return pack(shape_codes(h, matrix, sign(h)))


def query_rankings(q: np.ndarray, db: np.ndarray, q_labels: np.ndarray, d_labels: np.ndarray,
                   moment: np.ndarray, covariance: np.ndarray) -> dict:
    """mAP@ALL of the four query encodings (module docstring) of continuous codes ``q`` against the packed
    binary database ``db``; ``q_labels`` / ``d_labels``: integer class labels."""
    onehot = np.eye(int(max(q_labels.max(), d_labels.max())) + 1, dtype=np.uint8)
    ql, dl = onehot[q_labels], onehot[d_labels]
    b = unpack(db, q.shape[1]).astype(np.float32)
    return {"sign": float(mean_average_precision(pack(q), db, ql, dl)),
            "shaped_moment": float(mean_average_precision(shaped_queries(q, moment), db, ql, dl)),
            "shaped_covariance": float(mean_average_precision(shaped_queries(q, covariance), db, ql, dl)),
            "real_valued": mean_ap_by_score(np.asarray(q, np.float32), b, q_labels, d_labels)}


def main() -> None:
    p = argparse.ArgumentParser()
    add_encode_args(p)
    p.add_argument("--spread", type=float, default=0.95, help="dither spread of the shaped database's start")
    args = p.parse_args()
    model, pool, pos, codes = encode_single_label(args, "query_side.py")
    y = pool.labels.argmax(1)
    q_pos, d_pos, v_pos = pos["query"], pos["database"], pos["val"]
    q, d, t, v = codes["query"], codes["database"], codes["train"], codes["val"]
    moment, covariance, seed = code_moment(t), code_covariance(t), model.config.seed
    held = ~np.isin(d_pos, v_pos)
    result = {"run": args.run_dir, "spread": args.spread, "databases": {}}
    for name, db in (("plain", pack(d)), (f"shaped_from_dither_{args.spread:g}", pack_shaped(d, moment, args.spread, seed))):
        heldout = query_rankings(v, db[held], y[v_pos], y[d_pos[held]], moment, covariance)
        protocol = query_rankings(q, db, y[q_pos], y[d_pos], moment, covariance)
        result["databases"][name] = {k: {"heldout_map": heldout[k], "map": protocol[k]} for k in protocol}
        print(json.dumps({"database": name, **result["databases"][name]}), flush=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
