"""The ``csdh`` command line: a thin shell over the library.

Each sub-command lives in its own module with ``register(subparsers)``; user errors
(:class:`csdh.errors.UserError`) are printed as one line and exit with code 2, without a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

from csdh.errors import UserError
from csdh.malloc_tuning import tune_malloc

COMMANDS = ["train", "evaluate", "encode", "demo", "index", "search", "serve", "benchmark"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csdh",
        description="Deep hashing for image retrieval: train CSDH and baselines, encode images to binary "
                    "codes, evaluate, index and search by Hamming distance.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"csdh.cli.{name}_cmd")
        except ModuleNotFoundError as exc:
            if exc.name == f"csdh.cli.{name}_cmd":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    tune_malloc()  # encoding up to 3x faster on CPU; see csdh.malloc_tuning
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"csdh {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"csdh {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
