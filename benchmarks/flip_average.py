"""Test-time flip averaging: does encoding ``h(x) + h(flip(x))`` before the sign help retrieval?

Usage: python benchmarks/flip_average.py RUN_DIR [--threads N] [--spreads 0,0.95] [--shape]

Encodes the protocol's queries and database of a fine-tuned run twice (as they are, and mirrored left to
right), then prints mAP (the protocol's cut-off) and precision within radius 2 for the plain codes, the
mirrored codes and their mean, binarised with plain signs and, for each further spread T of
``--spreads``, with the database dithered as ``csdh --db-dither T`` does (queries keep sign(h)). Each row
also carries db_dither.py's validation measure on unseen images (the 5,000 training images search the 500
validation images), which chooses without the queries, and the held-out measure of ``tune_csdh.py --heldout``
(the validation images search the protocol's database minus themselves). With ``--shape`` each spread also
gets the database codes noise-shaped from those signs, as ``--db-shape`` does (with the code moment saved
with the model, from the training images' plain codes, for every kind). It measures an idea; csdh does not
encode with flips.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from code_accuracy import codes_at

from csdh.codes import code_moment, pack, pack_dithered, pack_shaped
from csdh.engine.evaluate import load_run_data
from csdh.engine.features import forward_pool
from csdh.engine.run_model import RunModel
from csdh.malloc_tuning import tune_malloc
from csdh.metrics import evaluate_all, mean_average_precision


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--spreads", default="0", help="database dither spreads, e.g. 0,0.95 (0: plain sign)")
    p.add_argument("--shape", action="store_true", help="also the noise-shaped database codes (--db-shape)")
    args = p.parse_args()
    tune_malloc()  # as the csdh command does
    torch.set_num_threads(args.threads)
    model = RunModel.load(args.run_dir)
    if not model.config.finetune:
        raise SystemExit("flip_average.py: needs a fine-tuned run (frozen runs encode cached features)")
    pool, split = load_run_data(model)
    positions = np.concatenate([split.query, split.database])
    t0 = time.perf_counter()
    both = forward_pool(lambda x: torch.cat([model.net(x), model.net(x.flip(3))], 1), pool, positions,
                        model.config.input_size)
    seconds = time.perf_counter() - t0
    k, nq = model.bits, len(split.query)
    d_pos, L = np.asarray(split.database, np.int64), pool.labels
    t_pos, v_pos = np.asarray(split.train, np.int64), np.asarray(split.val_query, np.int64)
    held = ~np.isin(d_pos, v_pos)  # the held-out measure's database: the protocol's minus the validation images
    result = {"run": args.run_dir, "encode_seconds": seconds}
    for name, h in (("plain", both[:, :k]), ("flipped", both[:, k:]), ("average", (both[:, :k] + both[:, k:]) / 2)):
        d = h[nq:]
        t, v = codes_at(t_pos, d, d_pos, model, pool), codes_at(v_pos, d, d_pos, model, pool)
        # the moment saved with the model (plain training codes), as csdh --db-shape uses it for every kind
        moment = model.code_moment if model.code_moment is not None else code_moment(t)
        for spread in (float(x) for x in args.spreads.split(",")):
            key = name if spread == 0 else f"{name}_dither_{spread:g}"
            kinds = [(key, pack_dithered)] + ([(f"{key}_shaped", lambda c, sp, sd: pack_shaped(c, moment, sp, sd))]
                                               if args.shape else [])
            for out_key, binarise in kinds:
                db = binarise(d, spread, model.config.seed)
                m = evaluate_all(pack(h[:nq]), db, L[split.query], L[d_pos], topk=split.topk)
                val = mean_average_precision(pack(t), binarise(v, spread, model.config.seed), L[t_pos], L[v_pos])
                heldout = mean_average_precision(pack(v), db[held], L[v_pos], L[d_pos[held]])
                result[out_key] = {"map": m["map"], "precision_radius_2": m["precision_at_radius_2"],
                                   "val_unseen_map": float(val), "heldout_map": float(heldout)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
