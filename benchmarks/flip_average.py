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


def load_finetuned(run_dir: str, threads: int, script: str):
    """``(model, pool, split)`` of a fine-tuned run, with the allocator and threads as the csdh command sets."""
    tune_malloc()  # as the csdh command does
    torch.set_num_threads(threads)
    model = RunModel.load(run_dir)
    if not model.config.finetune:
        raise SystemExit(f"{script}: needs a fine-tuned run (frozen runs encode cached features)")
    pool, split = load_run_data(model)
    return model, pool, split


def measure(q: np.ndarray, d: np.ndarray, binarise, moment, model: RunModel, pool, split) -> dict:
    """The protocol's measures of continuous query codes ``q`` against database codes ``d`` binarised by
    ``binarise(codes, moment)``, with the two validation measures: training images searching the validation
    images, and held out (validation images searching the protocol's database minus themselves)."""
    L = pool.labels
    d_pos, t_pos, v_pos = (np.asarray(a, np.int64) for a in (split.database, split.train, split.val_query))
    held = ~np.isin(d_pos, v_pos)
    t, v = codes_at(t_pos, d, d_pos, model, pool), codes_at(v_pos, d, d_pos, model, pool)
    # the moment saved with the model (plain training codes), else the one of these training codes
    moment = moment if moment is not None else code_moment(t)
    db = binarise(d, moment)
    m = evaluate_all(pack(q), db, L[split.query], L[d_pos], topk=split.topk)
    val = mean_average_precision(pack(t), binarise(v, moment), L[t_pos], L[v_pos])
    heldout = mean_average_precision(pack(v), db[held], L[v_pos], L[d_pos[held]])
    return {"map": m["map"], "precision_radius_2": m["precision_at_radius_2"],
            "val_unseen_map": float(val), "heldout_map": float(heldout)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--spreads", default="0", help="database dither spreads, e.g. 0,0.95 (0: plain sign)")
    p.add_argument("--shape", action="store_true", help="also the noise-shaped database codes (--db-shape)")
    args = p.parse_args()
    model, pool, split = load_finetuned(args.run_dir, args.threads, "flip_average.py")
    positions = np.concatenate([split.query, split.database])
    t0 = time.perf_counter()
    both = forward_pool(lambda x: torch.cat([model.net(x), model.net(x.flip(3))], 1), pool, positions,
                        model.config.input_size)
    seconds = time.perf_counter() - t0
    k, nq, seed = model.bits, len(split.query), model.config.seed
    result = {"run": args.run_dir, "encode_seconds": seconds}
    for name, h in (("plain", both[:, :k]), ("flipped", both[:, k:]), ("average", (both[:, :k] + both[:, k:]) / 2)):
        for spread in (float(x) for x in args.spreads.split(",")):
            key = name if spread == 0 else f"{name}_dither_{spread:g}"
            result[key] = measure(h[:nq], h[nq:], lambda c, g, sp=spread: pack_dithered(c, sp, seed),
                                  model.code_moment, model, pool, split)
            if args.shape:
                result[f"{key}_shaped"] = measure(h[:nq], h[nq:], lambda c, g, sp=spread: pack_shaped(c, g, sp, seed),
                                                  model.code_moment, model, pool, split)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
