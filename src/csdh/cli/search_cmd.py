"""``csdh search``: query an index with image files."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from csdh.cli.common import add_device, check_device
from csdh.cli.index_cmd import quiet_faiss
from csdh.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search an index with images", description=(
        "Encode each IMAGE with the index's model and print its nearest items by Hamming distance "
        "(ties ordered by id): rank, distance, id, path and labels."))
    p.add_argument("index_dir", metavar="INDEX_DIR", help="an index built with csdh index build")
    p.add_argument("images", metavar="IMAGE", nargs="+", help="query image files")
    p.add_argument("-k", type=int, default=None, help="results per image (default 10; with --radius: all)")
    p.add_argument("--radius", type=int, metavar="R", help="every item at Hamming distance <= R")
    p.add_argument("--json", action="store_true",
                   help='print {"results": [[{"id", "distance", "path", "labels"}, ...], ...]}')
    p.add_argument("--grid", metavar="OUT.png", help="write an image grid of each query and its results")
    p.add_argument("--run", metavar="RUN_DIR", help="the model (default: the run recorded in the index)")
    add_device(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from csdh.data.images import read_image
    from csdh.errors import DataError
    from csdh.index.manifest import Manifest
    from csdh.index.searcher import Searcher

    quiet_faiss(args)
    if args.k is not None and args.k < 1:
        raise UserError(f"-k must be >= 1, got {args.k}")
    if args.radius is not None and args.radius < 0:
        raise UserError(f"--radius must be >= 0, got {args.radius}")
    Manifest.load(args.index_dir)  # a missing or foreign index is reported before the model loads
    for path in args.images:
        if not Path(path).is_file():
            raise DataError("no such image file", path)
    queries = [read_image(p) for p in args.images]  # a bad query image fails before the model loads
    with Searcher.open(args.index_dir, run_dir=args.run, device=check_device(args.device)) as searcher:
        k = args.k if (args.k is not None or args.radius is not None) else 10
        results = searcher.search_images(queries, k=k, radius=args.radius)
        if args.json:
            print(json.dumps({"results": [[h.to_dict() for h in row] for row in results]}))
        else:
            for path, row in zip(args.images, results):
                print(f"query {path}: {len(row)} results")
                for rank, h in enumerate(row, 1):
                    labels = ",".join(str(x) for x in h.labels) or "-"
                    print(f"{rank:4d}  d={h.distance:<3d} id={h.id:<8d} {h.path or '(in-memory image)'}  [{labels}]")
        if args.grid:
            from csdh.viz import retrieval_grid

            tiles = [[searcher.item_image(h.id) for h in row] for row in results]
            captions = [[f"d={h.distance} #{h.id}" for h in row] for row in results]
            out = retrieval_grid(queries, tiles, args.grid, captions=captions)
            if not args.json:
                print(f"wrote {out}")
    return 0
