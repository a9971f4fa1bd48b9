"""Grid search of CSDH loss weights on the VALIDATION split (never the queries).

Usage: python benchmarks/tune_csdh.py --out benchmarks/out/tune [--finetune] [--bits 48] \
          --grid alpha=0.1,0.25,0.5 --grid lambda_ham=0,1 [--epochs N] [--input-size S]

For every combination a frozen (or fine-tuned) run is trained on the fashion-mnist protocol; the table
printed (and written to OUT/tuning.md) ranks the combinations by best validation mAP. Query mAP is
not computed here, so tuning never looks at the queries.
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import time
from pathlib import Path


from csdh.cli.common import parse_kv
from csdh.engine.pipeline import make_config, train_run


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
    args = p.parse_args()
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
        loss_args = dict(fixed)
        loss_args.update(dict(zip(names, combo)))
        tag = "-".join(f"{k}{v}" for k, v in loss_args.items()) or "default"
        cfg = make_config(finetune=args.finetune, dataset="fashion-mnist", method=args.method, bits=args.bits,
                          epochs=args.epochs, input_size=args.input_size, batch_size=args.batch_size, lr=args.lr,
                          loss_args=tuple(loss_args.items()))
        t0 = time.perf_counter()
        s = train_run(cfg, out / tag, overwrite=True)
        rows.append({"args": loss_args, "val_map": s["best_val_map"], "best_epoch": s["best_epoch"],
                     "seconds": time.perf_counter() - t0})
        print(json.dumps(rows[-1]), flush=True)
    rows.sort(key=lambda r: -r["val_map"])
    lines = ["| loss arguments | best validation mAP | best epoch | seconds |", "|---|---|---|---|"]
    lines += [f"| {r['args']} | {r['val_map']:.4f} | {r['best_epoch']} | {r['seconds']:.0f} |" for r in rows]
    (out / "tuning.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
