"""``csdh encode``: binary codes of a split of the run's data set."""
from __future__ import annotations

import argparse
from pathlib import Path

from csdh.cli.common import (add_db_dither, add_device, add_precision, add_test_views, add_workers,
                             check_device_precision, progress)
from csdh.atomic_io import atomic_output
from csdh.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("encode", help="encode a split to packed binary codes", description=(
        "Write FILE.npz with arrays codes (uint8, n x K/8, bit j of a code in byte j//8 at bit j%%8, "
        "sign(0)=+1: FAISS's order), labels (uint8 n x C multi-hot), index (int64 pool positions) and "
        "db_dither and db_shape (the database binarisation used; query codes are always sign(h)) and "
        "flip_average and shift_average (the test-time views averaged: the mirror image, shifts by that many "
        "pixels)."))
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory written by csdh train")
    p.add_argument("--split", choices=["query", "database", "train"], required=True,
                   help="which images of the run's split to encode")
    p.add_argument("--out", required=True, metavar="FILE.npz", help="the .npz file to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing FILE.npz")
    add_db_dither(p)
    add_test_views(p)
    add_device(p)
    add_workers(p)
    add_precision(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from csdh.engine.evaluate import load_run_data
    from csdh.engine.run_model import RunModel

    out = Path(args.out)
    if out.suffix != ".npz":
        raise UserError("the output file must end in .npz", out)
    if out.exists() and not args.overwrite:
        raise UserError("exists; pass --overwrite to replace it", out)
    device, precision = check_device_precision(args)
    model = RunModel.load(args.run_dir, device=device, db_dither=args.db_dither,
                          workers=args.workers, db_shape=args.db_shape, flip_average=args.flip_average,
                          shift_average=args.shift_average, precision=precision)
    pool, split = load_run_data(model)
    positions = np.asarray(getattr(split, args.split), dtype=np.int64)
    database = args.split != "query"  # database and training images are stored items, not queries
    codes = model.encode_pool_packed(pool, positions, database=database, progress=progress,
                                     desc=f"encode {args.split}")
    with atomic_output(out) as tmp:
        np.savez(tmp, codes=codes, labels=pool.labels[positions].astype(np.uint8), index=positions,
                 db_dither=np.float32(model.db_dither if database else 0.0),
                 db_shape=np.bool_(model.db_shape and database), flip_average=np.bool_(model.flip_average),
                 shift_average=np.int64(model.shift_average))
    print(f"wrote {out}: {codes.shape[0]} codes of {codes.shape[1] * 8} bits")
    return 0
