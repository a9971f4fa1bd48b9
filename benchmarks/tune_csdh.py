"""Grid search of CSDH loss weights on the VALIDATION split (never the queries).

Usage: python benchmarks/tune_csdh.py --out benchmarks/out/tune [--finetune] [--bits 48] \
          --grid alpha=0.1,0.25,0.5 --grid lambda_ham=0,1 [--epochs N] [--input-size S]

A ``--grid`` (or ``--set``) name that is a field of :class:`csdh.engine.config.TrainConfig` (``mixup``,
``dropout``, ``ema_decay``, ...) sets that training option; any other name is a loss argument.

For every combination a frozen (or fine-tuned) run is trained on the fashion-mnist protocol; the table
printed (and written to OUT/tuning.md) ranks the combinations by best validation mAP and also gives the
selected model's validation precision within Hamming radius 2. Nothing is computed on the protocol's
queries, so tuning never looks at them.

With ``--heldout`` the selected model is also measured the way the test measures it: the 500 validation
queries (database images outside the training set) are searched against the protocol's whole database minus
themselves (68,500 images, 64,000 of them unseen in training), mAP@ALL and precision within radius 2. The
training-time validation database is the 5,000 training images, whose codes are fitted; this one shows how
codes of unseen images fall. The protocol's 1,000 queries are still never used.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import time
from pathlib import Path

import numpy as np

from csdh.cli.common import parse_kv
from csdh.codes import pack
from csdh.engine.config import TrainConfig
from csdh.engine.evaluate import load_run_data
from csdh.engine.pipeline import make_config, train_run
from csdh.engine.run_model import RunModel
from csdh.malloc_tuning import tune_malloc
from csdh.metrics import mean_average_precision, precision_at_radius


#: --grid / --set names that are training options rather than loss arguments
TRAIN_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)} - {"loss_args", "finetune", "dataset", "seed"}


def selected_model_metrics(run_dir: Path, heldout: bool) -> dict:
    """Metrics of the run's selected model: precision within radius 2 on its validation split and, with
    ``heldout``, mAP@ALL and precision within radius 2 of the validation queries against the protocol's
    database minus the validation queries themselves (see the module docstring)."""
    model = RunModel.load(run_dir)
    pool, split = load_run_data(model)
    q, ql = pack(model.encode_pool(pool, split.val_query)), pool.labels[split.val_query]
    d = pack(model.encode_pool(pool, split.val_database))
    out = {"val_p_r2": float(precision_at_radius(q, d, ql, pool.labels[split.val_database], 2))}
    if heldout:
        db = np.setdiff1d(split.database, split.val_query)
        d, dl = pack(model.encode_pool(pool, db)), pool.labels[db]
        out.update(heldout_map=float(mean_average_precision(q, d, ql, dl)),
                   heldout_p_r2=float(precision_at_radius(q, d, ql, dl, 2)))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--bits", type=int, default=48)
    p.add_argument("--finetune", action="store_true")
    p.add_argument("--epochs", type=int)
    p.add_argument("--input-size", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--method", default="csdh")
    p.add_argument("--grid", action="append", default=[], help="NAME=v1,v2,...")
    p.add_argument("--set", action="append", default=[], help="NAME=VALUE fixed loss argument")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--heldout", action="store_true",
                   help="also measure validation queries against the database minus themselves")
    args = p.parse_args()
    tune_malloc()  # as the csdh command does
    logging.basicConfig(level=logging.WARNING)
    names, values = [], []
    for g in args.grid:
        k, v = g.split("=", 1)
        names.append(k)
        values.append([parse_kv([f"x={x}"], "--grid")["x"] for x in v.split(",")])
    fixed = parse_kv(args.set, "--set")
    out = Path(args.out)
    rows = []
    for combo in itertools.product(*values) if values else [()]:
        chosen = dict(fixed)
        chosen.update(dict(zip(names, combo)))
        tag = "-".join(f"{k}{v}" for k, v in chosen.items()) or "default"
        options = {k: v for k, v in chosen.items() if k in TRAIN_FIELDS}
        loss_args = {k: v for k, v in chosen.items() if k not in TRAIN_FIELDS}
        settings = dict(dataset="fashion-mnist", method=args.method, bits=args.bits, epochs=args.epochs,
                        input_size=args.input_size, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
        settings.update(options)
        cfg = make_config(finetune=args.finetune, loss_args=tuple(loss_args.items()), **settings)
        t0 = time.perf_counter()
        s = train_run(cfg, out / tag, overwrite=True)
        seconds = time.perf_counter() - t0
        rows.append({"args": chosen, "val_map": s["best_val_map"], "best_epoch": s["best_epoch"],
                     "seconds": seconds, **selected_model_metrics(out / tag, args.heldout)})
        print(json.dumps(rows[-1]), flush=True)
    rows.sort(key=lambda r: -r["val_map"])
    held = ["held-out mAP", "held-out P@r<=2"] if args.heldout else []
    head = ["arguments", "best validation mAP", "its validation P@r<=2", *held, "best epoch", "seconds"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r["args"]), f"{r['val_map']:.4f}", f"{r['val_p_r2']:.4f}"]
        cells += [f"{r['heldout_map']:.4f}", f"{r['heldout_p_r2']:.4f}"] if args.heldout else []
        cells += [str(r["best_epoch"]), f"{r['seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    (out / "tuning.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
