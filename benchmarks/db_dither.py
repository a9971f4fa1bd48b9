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


def encode_protocol(run_dir: str, device: str = "cpu", workers: int = 0):
    """Load a run and encode the protocol's images once: ``(model, pool, positions, codes)``, both dicts with
    keys ``query``, ``database``, ``train`` and ``val`` (continuous codes; training and validation images
    are read from the database codes when they are database images)."""
    model = RunModel.load(run_dir, device=device, workers=workers)
    pool, split = load_run_data(model)
    pos = {name: np.asarray(getattr(split, attr), np.int64)
           for name, attr in (("query", "query"), ("database", "database"), ("train", "train"), ("val", "val_query"))}
    q, d = model.encode_pool(pool, pos["query"]), model.encode_pool(pool, pos["database"])
    codes = {"query": q, "database": d, "train": codes_at(pos["train"], d, pos["database"], model, pool),
             "val": codes_at(pos["val"], d, pos["database"], model, pool)}
    return model, pool, pos, codes


def add_encode_args(p: argparse.ArgumentParser) -> None:
    """The RUN_DIR, --device and --workers arguments of the scripts that call :func:`encode_protocol`."""
    p.add_argument("run_dir")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", type=int, default=0, help="image-loading processes (csdh --workers)")


def encode_single_label(args: argparse.Namespace, script: str):
    """:func:`encode_protocol` for the parsed :func:`add_encode_args` (allocator tuned as the csdh command
    does), refusing multi-label data, which has no single class per image."""
    tune_malloc()
    model, pool, pos, codes = encode_protocol(args.run_dir, args.device, args.workers)
    if pool.multi_label:
        raise SystemExit(f"{script}: multi-label data has no single class per image")
    return model, pool, pos, codes


def main() -> None:
    p = argparse.ArgumentParser()
    add_encode_args(p)
    p.add_argument("--spreads", default="0,0.5,0.8,0.9,0.95")
    p.add_argument("--shape", action="store_true", help="also the noise-shaped database codes (--db-shape)")
    args = p.parse_args()
    tune_malloc()  # as the csdh command does
    model, pool, pos, codes = encode_protocol(args.run_dir, args.device, args.workers)
    L = pool.labels
    q_pos, d_pos, t_pos, v_pos = pos["query"], pos["database"], pos["train"], pos["val"]
    q, d, t, v = codes["query"], codes["database"], codes["train"], codes["val"]
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
