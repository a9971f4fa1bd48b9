"""``csdh evaluate``: retrieval metrics of a trained run on its protocol."""
from __future__ import annotations

import argparse

from csdh.cli.common import (add_db_dither, add_device, add_precision, add_test_views, add_workers,
                             check_device_precision, progress)
from csdh.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a trained run", description=(
        "Encode the run's queries and database and compute mAP@K (ties by database position), the "
        "tie-aware mAP, precision within Hamming radius 2, precision-recall and precision@N curves. "
        "Writes RUN_DIR/metrics.json, CSV curves and PNG plots."))
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by csdh train")
    p.add_argument("--topk", default=None,
                   help="mAP cut-off: a number or 'all' (default: the protocol's K, all for list/folder data)")
    add_db_dither(p)
    add_test_views(p)
    add_device(p)
    add_workers(p)
    add_precision(p)
    p.set_defaults(func=run)


def parse_topk(text):
    if text is None:
        return -1
    if str(text).lower() == "all":
        return None
    try:
        k = int(text)
    except ValueError:
        raise UserError(f"--topk expects a positive integer or 'all', got {text!r}") from None
    if k <= 0:
        raise UserError(f"--topk must be positive, got {k}")
    return k


def run(args: argparse.Namespace) -> int:
    from csdh.engine.evaluate import evaluate_run

    device, precision = check_device_precision(args)
    m = evaluate_run(args.run_dir, topk=parse_topk(args.topk), device=device, progress=progress,
                     db_dither=args.db_dither, workers=args.workers, db_shape=args.db_shape,
                     flip_average=args.flip_average, shift_average=args.shift_average,
                     precision=precision)
    r = [k for k in m if k.startswith("precision_at_radius")]
    print(f"mAP@{m['map_topk']}: {m['map']:.4f}   tie-aware mAP: {m['map_tie_aware']:.4f}   "
          + "   ".join(f"{k}: {m[k]:.4f}" for k in r))
    if m.get("db_dither"):
        print(f"database codes dithered over (-{m['db_dither']:g}, {m['db_dither']:g})")
    if m.get("db_shape"):
        print("database codes noise-shaped against the training images' codes")
    if m.get("flip_average") or m.get("shift_average"):
        views = (["mirrored"] if m.get("flip_average") else []) + (
            [f"moved {m['shift_average']} px right, left, down and up"] if m.get("shift_average") else [])
        print(f"codes averaged with the images' codes {' and '.join(views)}")
    if m["precision"] != "fp32":
        print(f"backbone encoded in {m['precision']}")
    print(f"wrote {args.run_dir}/metrics.json")
    return 0
