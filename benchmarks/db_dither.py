"""mAP@ALL of a run's codes with dithered database thresholds, for a range of spreads (one encoding).

Usage: python benchmarks/db_dither.py RUN_DIR [--spreads 0,0.5,0.8,0.9,0.95] [--shape] [--device cpu] [--workers N]

Queries are binarised with sign(h); database images with sign(h - tau), tau from
``csdh.codes.dither_thresholds(K, spread, seed of the run)`` (docs/method.md, "Database codes"). For each
spread it prints the protocol's mAP@ALL and precision within Hamming radius 2 and, to choose the spread
without the queries, two validation measures on unseen images: ``val_unseen_map``, where the 500 validation
images (database images outside the training split, never the protocol's queries) form the database and
are searched by the 5,000 training images as queries, and ``heldout_map``, the held-out measure of
``tune_csdh.py --heldout``, where the validation images, binarised as queries, search the protocol's
database minus themselves. ``map_queries_dithered_too`` applies the same thresholds to the queries as
well, which csdh does not do. With ``--shape`` every row also carries the same measures for the
database codes noise-shaped from those signs (``csdh.codes.pack_shaped``, ``--db-shape``; the code moment is
computed from the training images' codes, as the trainer does, so runs trained before it existed work too).
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from code_accuracy import codes_at

from csdh.codes import code_moment, dither_thresholds, pack, pack_dithered, pack_shaped
from csdh.engine.evaluate import load_run_data
from csdh.engine.run_model import RunModel
from csdh.malloc_tuning import tune_malloc
from csdh.metrics import mean_average_precision, precision_at_radius


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--spreads", default="0,0.5,0.8,0.9,0.95")
    p.add_argument("--shape", action="store_true", help="also the noise-shaped database codes (--db-shape)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=0, help="image-loading processes (csdh --workers)")
    args = p.parse_args()
    tune_malloc()  # as the csdh command does
    model = RunModel.load(args.run_dir, device=args.device, workers=args.workers)
    pool, split = load_run_data(model)
    L = pool.labels
    q_pos, d_pos = np.asarray(split.query, np.int64), np.asarray(split.database, np.int64)
    t_pos, v_pos = np.asarray(split.train, np.int64), np.asarray(split.val_query, np.int64)
    q, d = model.encode_pool(pool, q_pos), model.encode_pool(pool, d_pos)
    t, v = codes_at(t_pos, d, d_pos, model, pool), codes_at(v_pos, d, d_pos, model, pool)
    qb, tb = pack(q), pack(t)  # queries keep sign(h) at every spread
    held = ~np.isin(d_pos, v_pos)  # the held-out measure's database: the protocol's minus the validation images
    vb = pack(v)
    moment, seed = code_moment(t), model.config.seed  # as the trainer saves it (--shape)
    rows = []
    for spread in (float(x) for x in args.spreads.split(",")):
        db = pack_dithered(d, spread, model.config.seed)  # as csdh binarises database codes
        tau = dither_thresholds(model.bits, spread, model.config.seed)  # for the queries-dithered-too column
        rows.append({
            "spread": spread,
            "val_unseen_map": float(mean_average_precision(tb, pack_dithered(v, spread, model.config.seed),
                                                           L[t_pos], L[v_pos])),
            "heldout_map": float(mean_average_precision(vb, db[held], L[v_pos], L[d_pos[held]])),
            "map": float(mean_average_precision(qb, db, L[q_pos], L[d_pos])),
            "precision_at_radius_2": float(precision_at_radius(qb, db, L[q_pos], L[d_pos], 2)),
            "map_queries_dithered_too": float(mean_average_precision(pack(q - tau), db, L[q_pos], L[d_pos])),
        })
        if args.shape:
            db_s = pack_shaped(d, moment, spread, seed)
            rows[-1].update({
                "shaped_val_unseen_map": float(mean_average_precision(tb, pack_shaped(v, moment, spread, seed),
                                                                      L[t_pos], L[v_pos])),
                "shaped_heldout_map": float(mean_average_precision(vb, db_s[held], L[v_pos], L[d_pos[held]])),
                "shaped_map": float(mean_average_precision(qb, db_s, L[q_pos], L[d_pos])),
                "shaped_precision_at_radius_2": float(precision_at_radius(qb, db_s, L[q_pos], L[d_pos], 2)),
            })
        print(json.dumps(rows[-1]), flush=True)
    print(json.dumps({"run": args.run_dir, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
