"""``csdh index build|add|remove|info``: index folders of binary codes for search."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from csdh.cli.common import add_data, add_device, add_precision, check_device_precision, progress
from csdh.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="build and change search indexes", description=(
        "Encode images with a trained run into an index folder (FAISS binary index + SQLite metadata + "
        "manifest.json). Every write is atomic: a new folder is built next to the target and swapped in."))
    isub = p.add_subparsers(dest="index_command", metavar="ACTION")
    isub.required = True

    b = isub.add_parser("build", help="encode images into a new index", description=(
        "Build INDEX_DIR from a data set's database split (--dataset), every image under a folder (--images; "
        "a first-level sub-folder name is the image's label) or a list file (--list: lines `path [0/1 ...]`). "
        "Unreadable images are skipped and listed in INDEX_DIR/skipped.txt."))
    b.add_argument("run_dir", metavar="RUN_DIR", help="the trained run whose model encodes the images")
    _add_source(b, dataset=True)
    b.add_argument("--out", required=True, metavar="INDEX_DIR", help="the index directory to write")
    b.add_argument("--kind", choices=["flat", "hnsw", "multihash"], default="flat",
                   help="flat: exact scan (default); hnsw: graph, approximate, for millions of images; "
                        "multihash: multi-index hashing, approximate, for small-radius search")
    b.add_argument("--hnsw-m", type=int, metavar="M", help="hnsw: neighbours per node (default 32)")
    b.add_argument("--ef-search", type=int, metavar="N", help="hnsw: search beam width (default 128)")
    b.add_argument("--multihash-tables", type=int, metavar="N", help="multihash: number of hash tables")
    b.add_argument("--multihash-bits", type=int, metavar="B", help="multihash: bits per table (<= 24)")
    b.add_argument("--nflip", type=int, metavar="N", help="multihash: bit flips probed per table (default 1)")
    b.add_argument("--overwrite", action="store_true", help="replace an existing index (swapped in at the end)")
    _add_encoding(b)
    b.set_defaults(func=run_build)

    a = isub.add_parser("add", help="append images to an index (new ids)")
    a.add_argument("index_dir", metavar="INDEX_DIR", help="the index to add to")
    a.add_argument("run_dir", metavar="RUN_DIR", help="the run the index was built with")
    _add_source(a, dataset=False)
    _add_encoding(a)
    a.set_defaults(func=run_add)

    r = isub.add_parser("remove", help="delete items by id")
    r.add_argument("index_dir", metavar="INDEX_DIR", help="the index to remove from")
    r.add_argument("ids", metavar="ID", nargs="+", type=int, help="ids of the items to remove")
    r.set_defaults(func=run_remove)

    i = isub.add_parser("info", help="summarise an index")
    i.add_argument("index_dir", metavar="INDEX_DIR", help="the index to describe")
    i.add_argument("--json", action="store_true", help="print the manifest and counts as JSON")
    i.set_defaults(func=run_info)


def quiet_faiss(args: argparse.Namespace) -> None:
    """Hide FAISS's INFO lines about which CPU build it loads (shown with -v)."""
    if not getattr(args, "verbose", False):
        logging.getLogger("faiss.loader").setLevel(logging.WARNING)


def _add_source(p: argparse.ArgumentParser, dataset: bool) -> None:
    if dataset:
        add_data(p, required=False)
    p.add_argument("--images", metavar="DIR", help="every image under DIR, recursively")
    p.add_argument("--list", metavar="FILE", help="a list file: one `path [0/1 labels...]` per line")


def _add_encoding(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch-size", type=int, default=64, help="images per encoding step (default 64)")
    p.add_argument("--workers", type=int, default=2, help="threads decoding images (default 2)")
    add_device(p)
    add_precision(p)


def _load_model(args: argparse.Namespace):
    """The run's model, encoding on ``--device`` in ``--precision`` (queries the service encodes stay float32)."""
    from csdh.engine.run_model import RunModel

    device, precision = check_device_precision(args)
    return RunModel.load(args.run_dir, device=device, precision=precision)


def _source(args: argparse.Namespace, model):
    from csdh.index.sources import dataset_source, folder_source, list_source

    chosen = [name for name in ("dataset", "images", "list") if getattr(args, name, None)]
    flags = "--dataset, --images or --list" if hasattr(args, "dataset") else "--images or --list"
    if len(chosen) != 1:
        raise UserError(f"give exactly one of {flags}")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
    if chosen[0] == "dataset":
        return dataset_source(model, args.dataset, data_dir=args.data_dir, image_root=args.image_root,
                              download=not args.no_download)
    if chosen[0] == "images":
        return folder_source(args.images)
    return list_source(args.list, class_names=model.class_names)


def _print_report(report, verb: str) -> None:
    print(f"{verb} {report.added} images in {report.seconds:.1f} s; the index holds {report.count} "
          f"({report.path})")
    if report.skipped:
        print(f"skipped {len(report.skipped)} unreadable images, listed in {Path(report.path) / 'skipped.txt'}; "
              f"first: {report.skipped[0][1]}")


def run_build(args: argparse.Namespace) -> int:
    from csdh.index.builder import build_index

    quiet_faiss(args)
    if args.kind != "hnsw" and (args.hnsw_m is not None or args.ef_search is not None):
        raise UserError("--hnsw-m and --ef-search apply to --kind hnsw")
    multihash_args = (args.multihash_tables, args.multihash_bits, args.nflip)
    if args.kind != "multihash" and any(v is not None for v in multihash_args):
        raise UserError("--multihash-tables, --multihash-bits and --nflip apply to --kind multihash")
    params = {"hnsw": {"m": args.hnsw_m, "ef_search": args.ef_search},
              "multihash": {"nhash": args.multihash_tables, "b": args.multihash_bits, "nflip": args.nflip}
              }.get(args.kind, {})
    out = Path(args.out)
    if out.exists() and not args.overwrite:
        raise UserError("index exists; pass --overwrite to replace it", out)
    model = _load_model(args)
    source = _source(args, model)
    report = build_index(model, source, out, kind=args.kind, params=params, overwrite=args.overwrite,
                         batch_size=args.batch_size, workers=args.workers, progress=progress)
    _print_report(report, "indexed")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from csdh.index.builder import add_to_index
    from csdh.index.manifest import Manifest

    quiet_faiss(args)
    Manifest.load(args.index_dir)  # a clear error before the model is loaded
    model = _load_model(args)
    report = add_to_index(args.index_dir, model, _source(args, model), batch_size=args.batch_size,
                          workers=args.workers, progress=progress)
    first = f" (ids {report.first_id}..{report.first_id + report.added - 1})" if report.added else ""
    _print_report(report, "added")
    if first:
        print(f"new ids{first}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from csdh.index.builder import remove_from_index

    quiet_faiss(args)
    n = remove_from_index(args.index_dir, args.ids)
    print(f"removed {n} items from {args.index_dir}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from csdh.index.image_index import ImageIndex

    quiet_faiss(args)
    with ImageIndex.open(args.index_dir) as index:
        m = index.manifest
        info = dict(m.to_dict(), thumbnails=index.metadata.count_thumbnails(), disk_bytes=index.disk_bytes(),
                    ids=[int(index.codes.ids[0]), int(index.codes.ids[-1])] if len(index) else [])
    if args.json:
        print(json.dumps(info, indent=2, sort_keys=True))
        return 0
    params = ", ".join(f"{k}={v}" for k, v in m.kind_params.items())
    lines = [
        f"index       {Path(args.index_dir)}",
        f"items       {m.count} (ids {info['ids'][0]}..{info['ids'][1]})" if m.count else "items       0",
        f"skipped     {m.n_skipped} unreadable images" + (" (see skipped.txt)" if m.n_skipped else ""),
        f"codes       {m.bits} bits, kind {m.kind}" + (f" ({params})" if params else ""),
        f"model       {m.method} {m.backbone} at {m.input_size} px, sha256 {m.model_checksum[:16]}…",
        f"run         {m.run_dir}",
        f"source      {m.source}",
        f"classes     {len(m.class_names)}" + (f": {', '.join(m.class_names[:10])}" if m.class_names else "")
        + (" …" if len(m.class_names) > 10 else ""),
        f"created     {m.created}, updated {m.updated}",
        f"disk        {info['disk_bytes'] / 1e6:.1f} MB, format version {m.format_version}",
    ]
    print("\n".join(lines))
    return 0
