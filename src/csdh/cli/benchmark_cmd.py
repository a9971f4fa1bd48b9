"""``csdh benchmark``: every method and code length on one data set; paper-style tables and plots."""
from __future__ import annotations

import argparse
import shlex
from typing import Any, Dict, List

from csdh.cli.common import add_data, add_device, bits_list, check_device, parse_kv, progress
from csdh.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("benchmark", help="compare methods and code lengths (tables + plots)", description=(
        "Train and evaluate every (method, code length, repeat) cell on the same data set, split (protocol "
        "seed 0, fixed for every repeat), backbone and metrics; repeat r seeds the method with r. Frozen "
        "backbone features are extracted once and shared by every frozen deep method and every shallow "
        "method. Writes DIR/cells/<method>-<bits>-r<repeat>.json per finished cell, DIR/runs/<cell>/ per deep "
        "cell (a normal run directory), DIR/results.md, DIR/results.csv and DIR/pr_<bits>.png, "
        "DIR/pn_<bits>.png. Rerunning the same command continues an interrupted benchmark: finished cells "
        "are kept, an interrupted deep cell resumes from its checkpoint."))
    add_data(p, required=False)
    p.add_argument("--protocol", help="split protocol (default: the data set's own)")
    p.add_argument("--methods", default="all", metavar="LIST",
                   help="comma list of methods, or all (default), deep, shallow")
    p.add_argument("--bits", default="16,32,48,64", metavar="LIST", help="code lengths (default 16,32,48,64)")
    p.add_argument("--finetune", action="store_true",
                   help="deep methods fine-tune the backbone (shallow methods keep its frozen features)")
    p.add_argument("--repeats", type=int, default=1, help="runs per cell with seeds 0..N-1 (default 1)")
    p.add_argument("--epochs", type=int, help="epochs of every deep method (default: the mode's default)")
    p.add_argument("--input-size", type=int, help="square input size in pixels (default 96)")
    p.add_argument("--backbone", help="registered backbone (default efficientnet-lite0)")
    p.add_argument("--method-arg", action="append", default=[], metavar="METHOD:NAME=VALUE",
                   help="a method's hyperparameter (loss argument or shallow constructor argument), e.g. "
                        "csdh:alpha=0.5 or sdh:n_anchors=500 (repeatable)")
    p.add_argument("--ablation", nargs="?", const="", default=None, metavar="BITS",
                   help="also run the CSDH loss-term ablation (L_sim; L_sim+L_ham; full) at these code lengths "
                        "(default: 48 if among --bits, else every --bits length)")
    p.add_argument("--out", required=True, metavar="DIR", help="the benchmark directory")
    p.add_argument("--report-only", action="store_true",
                   help="only rebuild results.md, results.csv and the plots from DIR's finished cells")
    add_device(p)
    p.set_defaults(func=run)


def parse_method_args(items: List[str]) -> Dict[str, Dict[str, Any]]:
    """``["csdh:alpha=0.5", "sdh:n_anchors=500"]`` -> ``{"csdh": {"alpha": 0.5}, "sdh": {"n_anchors": 500}}``."""
    out: Dict[str, Dict[str, Any]] = {}
    for item in items or []:
        method, sep, rest = item.partition(":")
        if not sep or not method.strip() or "=" not in rest:
            raise UserError(f"--method-arg expects METHOD:NAME=VALUE, got {item!r}")
        out.setdefault(method.strip().lower(), {}).update(parse_kv([rest], "--method-arg"))
    return out


def command_line(args: argparse.Namespace) -> str:
    """The equivalent command line (recorded in the report)."""
    parts = ["csdh", "benchmark", "--dataset", args.dataset]
    for flag, value in (("--data-dir", args.data_dir), ("--image-root", args.image_root),
                        ("--protocol", args.protocol), ("--methods", args.methods), ("--bits", args.bits),
                        ("--repeats", args.repeats), ("--epochs", args.epochs), ("--input-size", args.input_size),
                        ("--backbone", args.backbone)):
        if value is not None:
            parts += [flag, str(value)]
    if args.finetune:
        parts.append("--finetune")
    for item in args.method_arg:
        parts += ["--method-arg", item]
    if args.ablation is not None:
        parts += ["--ablation"] + ([args.ablation] if args.ablation else [])
    parts += ["--out", str(args.out)]
    if args.device != "cpu":
        parts += ["--device", args.device]
    return shlex.join(parts)


def spec_from_args(args: argparse.Namespace):
    from csdh.bench import BenchmarkSpec, default_ablation_bits

    if not args.dataset:
        raise UserError("--dataset is required (unless --report-only)")
    bits = bits_list(args.bits)
    ablation = ()
    if args.ablation is not None:
        ablation = tuple(bits_list(args.ablation)) if args.ablation.strip() else default_ablation_bits(bits)
    return BenchmarkSpec(dataset=args.dataset, methods=args.methods, bits=tuple(bits), repeats=args.repeats,
                         protocol=args.protocol, data_dir=args.data_dir, image_root=args.image_root,
                         finetune=args.finetune, epochs=args.epochs, input_size=args.input_size,
                         backbone=args.backbone, method_args=parse_method_args(args.method_arg),
                         ablation_bits=ablation)


def run(args: argparse.Namespace) -> int:
    from csdh.bench import BenchDir, run_benchmark, summary_table, write_report

    if args.report_only:
        write_report(args.out)
    else:
        run_benchmark(spec_from_args(args), args.out, progress=progress, device=check_device(args.device),
                      download=not args.no_download, command=command_line(args))
    print(summary_table(args.out))
    print(f"\nwrote {BenchDir(args.out).results_md}")
    return 0
