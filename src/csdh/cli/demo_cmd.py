"""``csdh demo``: the main job on the embedded default, end to end."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from csdh.cli.common import add_device, add_precision, check_device_precision, progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train and evaluate CSDH (48 bits) on Fashion-MNIST", description=(
        "Train CSDH at 48 bits on the fashion-mnist protocol (1,000 queries, 5,000 training images, "
        "69,000 database images), evaluate mAP@ALL and precision within Hamming radius 2, print a "
        "summary and write a PNG grid of example queries with their top-10 results."))
    p.add_argument("--out", default="runs/demo", metavar="RUN_DIR", help="run directory (default runs/demo)")
    p.add_argument("--data-dir", metavar="DIR", help="Fashion-MNIST files (default: the search path)")
    p.add_argument("--finetune", action="store_true", help="fine-tune the backbone end to end (slower, better)")
    p.add_argument("--epochs", type=int, help="override the number of epochs")
    p.add_argument("--bits", type=int, default=48, help="code length K, a multiple of 8 (default 48)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    add_device(p)
    add_precision(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from csdh.engine.evaluate import evaluate_model, load_run_data
    from csdh.engine.pipeline import make_config, train_run
    from csdh.engine.run_model import RunModel
    from csdh.metrics import write_metrics_files
    from csdh.metrics.distances import hamming_distances
    from csdh.viz import load_images, retrieval_grid

    device, precision = check_device_precision(args)
    config = make_config(finetune=args.finetune, dataset="fashion-mnist", data_dir=args.data_dir, method="csdh",
                         bits=args.bits, epochs=args.epochs)
    t0 = time.perf_counter()
    summary = train_run(config, args.out, overwrite=args.overwrite, device=device, progress=progress,
                        precision=precision)
    t1 = time.perf_counter()
    model = RunModel.load(args.out, device=device, precision=precision)
    pool, split = load_run_data(model)
    metrics, q, d = evaluate_model(model, pool, split, progress=progress)
    write_metrics_files(metrics, Path(args.out))
    t2 = time.perf_counter()

    # a grid of 8 example queries (one per class where possible) and their top-10 results
    rng = np.random.default_rng(0)
    picks = rng.choice(len(split.query), size=min(8, len(split.query)), replace=False)
    dist = hamming_distances(q[picks], d)
    order = np.argsort(dist, axis=1, kind="stable")[:, :10]
    q_pos = np.asarray(split.query)[picks]
    d_pos = np.asarray(split.database)
    relevant = (pool.labels[q_pos][:, None, :] & pool.labels[d_pos[order]]).any(axis=2)
    grid = retrieval_grid(load_images(pool, q_pos), [load_images(pool, d_pos[o]) for o in order],
                          Path(args.out) / "examples.png", relevant=relevant.tolist(),
                          captions=[[f"d={dist[i, j]}" for j in o] for i, o in enumerate(order)], cell=72)

    mode = "fine-tuned" if config.finetune else "frozen backbone"
    radius_key = next(k for k in metrics if k.startswith("precision_at_radius"))
    lines = [
        f"CSDH, {config.bits} bits, {mode} ({config.backbone} at {config.input_size} px"
        f"{', encoding in ' + precision if precision != 'fp32' else ''}), fashion-mnist protocol",
        f"  queries {metrics['n_queries']}, database {metrics['n_database']}, train {len(split.train)}",
        f"  mAP@ALL                         {metrics['map']:.4f}",
        f"  tie-aware mAP@ALL               {metrics['map_tie_aware']:.4f}",
        f"  precision within radius 2       {metrics[radius_key]:.4f}",
        f"  best epoch (validation mAP)     {summary['best_epoch']} ({summary['best_val_map']:.4f})",
        f"  training time                   {t1 - t0:.1f} s",
        f"  encoding + evaluation time      {t2 - t1:.1f} s",
        f"  run directory                   {args.out}",
        f"  example queries (top-10 each)   {grid}",
    ]
    print("\n".join(lines))
    (Path(args.out) / "demo_summary.json").write_text(json.dumps(
        {"map": metrics["map"], "precision_at_radius_2": metrics[radius_key], "train_seconds": t1 - t0,
         "eval_seconds": t2 - t1, "config": config.to_dict()}, indent=2))
    return 0
