"""Test-time shift averaging: does averaging codes over translated copies of each image help retrieval?

Usage: python benchmarks/shift_average.py RUN_DIR [--shift 8] [--threads N] [--views FILE.npz]

Encodes the protocol's queries and database of a fine-tuned run six times: as they are (``id``), mirrored left
to right (``flip``, as ``--flip-average`` does) and translated by ``--shift`` pixels right, left, down and up
(``r``, ``l``, ``d``, ``u``; reflect-padded and cropped back, the translation ``csdh train`` augments with, so
the views stay within what the model was trained on; csdh's own views, ``csdh.engine.views.encoding_views``).
Each combination of views is averaged before the sign and evaluated the way csdh's reported setting evaluates
(queries ``sign(h)``, database dithered at T = 0.95 and shaped, ``--db-dither 0.95 --db-shape``), with the two
validation measures of flip_average.py beside the protocol's mAP: training images searching the validation
images, and the held-out measure (validation images searching the database minus themselves). The ``id+flip``
row is csdh's ``--flip-average``, the ``id+flip+shifts`` row ``--flip-average --shift-average SHIFT`` and the
``id+shifts`` row ``--shift-average SHIFT`` (the same views and mean, up to float rounding). ``--views`` keeps
the encoded views in an .npz file and reuses them on a later call.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch

from flip_average import load_finetuned, measure

from csdh.codes import pack_shaped
from csdh.engine.features import forward_pool
from csdh.engine.views import encoding_views

COMBINATIONS = {"id": ("id",), "id+flip": ("id", "flip"), "shifts": ("r", "l", "d", "u"),
                "id+shifts": ("id", "r", "l", "d", "u"), "id+flip+shifts": ("id", "flip", "r", "l", "d", "u")}


def view_functions(shift: int) -> dict:
    """csdh's test-time views (:func:`csdh.engine.views.encoding_views`) under this script's short names."""
    short = {"": "id", "hflip": "flip"}  # the shifted views keep their direction letter: r, l, d, u
    return {short.get(suffix, suffix[-1:]): view for suffix, view in encoding_views(True, shift)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--shift", type=int, default=8, help="translation in pixels at the run's input size")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--views", help="an .npz file to keep the encoded views in (reused when it exists)")
    p.add_argument("--spread", type=float, default=0.95, help="database dither spread T before shaping")
    args = p.parse_args()
    if args.shift <= 0:
        p.error("--shift must be a positive number of pixels")
    model, pool, split = load_finetuned(args.run_dir, args.threads, "shift_average.py")
    positions = np.concatenate([split.query, split.database])
    views = dict(np.load(args.views)) if args.views and os.path.exists(args.views) else {}
    fns = view_functions(args.shift)
    todo = [k for k in fns if k not in views]
    seconds = 0.0
    if todo:
        t0 = time.perf_counter()
        out = forward_pool(lambda x: torch.cat([model.net(fns[k](x)) for k in todo], 1), pool, positions,
                           model.config.input_size)
        seconds = time.perf_counter() - t0
        for i, k in enumerate(todo):
            views[k] = out[:, i * model.bits:(i + 1) * model.bits]
        if args.views:
            np.savez(args.views, **views)
    nq, seed = len(split.query), model.config.seed
    result = {"run": args.run_dir, "shift": args.shift, "encoded_views": todo, "encode_seconds": seconds}
    for name, keys in COMBINATIONS.items():
        h = np.mean([views[k] for k in keys], axis=0)
        result[name] = measure(h[:nq], h[nq:], lambda c, g: pack_shaped(c, g, args.spread, seed),
                               model.code_moment, model, pool, split)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
