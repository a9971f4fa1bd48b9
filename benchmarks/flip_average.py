"""Test-time flip averaging: does encoding ``h(x) + h(flip(x))`` before the sign help retrieval?

Usage: python benchmarks/flip_average.py RUN_DIR [--threads N]

Encodes the protocol's queries and database of a fine-tuned run twice (as they are, and mirrored left to
right), then prints mAP (the protocol's cut-off) and precision within radius 2 for the plain codes, the
mirrored codes and the sign of their sum. It measures an idea; csdh does not encode with flips.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from csdh.codes import pack
from csdh.engine.evaluate import load_run_data
from csdh.engine.features import forward_pool
from csdh.engine.run_model import RunModel
from csdh.malloc_tuning import tune_malloc
from csdh.metrics import evaluate_all


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--threads", type=int, default=2)
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
    result = {"run": args.run_dir, "encode_seconds": seconds}
    for name, h in (("plain", both[:, :k]), ("flipped", both[:, k:]), ("average", both[:, :k] + both[:, k:])):
        m = evaluate_all(pack(h[:nq]), pack(h[nq:]), pool.labels[split.query], pool.labels[split.database],
                         topk=split.topk)
        result[name] = {"map": m["map"], "precision_radius_2": m["precision_at_radius_2"]}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
