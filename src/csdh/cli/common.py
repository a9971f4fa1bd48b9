"""Pieces shared by sub-commands: progress bars, device and data options."""
from __future__ import annotations

import argparse
import json
from typing import Any, Dict, Iterable, List, Tuple

from csdh.errors import UserError


def progress(iterable: Iterable, **kwargs: Any) -> Iterable:
    """tqdm progress bar on stderr (hidden when stderr is not a terminal)."""
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", None)
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="cpu", help="torch device: cpu (default), cuda, cuda:1, mps")


def workers_count(text: str) -> int:
    """argparse type of ``--workers``: an integer >= 0."""
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"expects an integer >= 0, got {text!r}")
    return n


def add_workers(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=workers_count, default=0, metavar="N",
                   help="processes that load and resize images (default 0: the main one); a GPU usually needs "
                        "several to stay busy; results do not depend on it")


def add_precision(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help="arithmetic of the backbone when it only encodes images: fp32 (default) or bf16, "
                        "bfloat16 autocast, faster on CPUs with AMX (Intel Xeon since Sapphire Rapids; 1.7x "
                        "measured at 160 px), slower on CPUs without bfloat16 instructions; codes may differ in "
                        "some bits (docs/method.md, 'Encoding in bfloat16')")


def check_device_precision(args: argparse.Namespace) -> Tuple[str, str]:
    """``(device, precision)`` of a command with :func:`add_device` and :func:`add_precision`, both checked."""
    from csdh.engine.precision import check_precision

    device = check_device(args.device)
    return device, check_precision(args.precision, device)


def add_db_dither(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db-dither", type=float, metavar="T",
                   help="database codes binarised with per-bit thresholds spread over (-T, T) instead of the "
                        "run's own setting (0: plain sign; docs/method.md, 'Database codes')")
    p.add_argument("--db-shape", action=argparse.BooleanOptionalAction, default=None,
                   help="database codes noise-shaped against the training images' codes (or not), instead "
                        "of the run's own setting (docs/method.md, 'Database codes')")


def add_test_views(p: argparse.ArgumentParser) -> None:
    p.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=None,
                   help="encode each image as the mean of its codes as it is and mirrored (or not), instead of "
                        "the run's own setting; twice the encoding time (docs/method.md, 'Flip averaging')")
    p.add_argument("--shift-average", type=int, metavar="PX",
                   help="average the codes of the image moved PX pixels right, left, down and up as well (0: "
                        "no shifted views), instead of the run's own setting; five or six times the encoding "
                        "time (docs/method.md, 'Shift averaging')")


def check_device(device: str) -> str:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available on this machine (use --device cpu)")
    if device == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise UserError("--device mps: MPS is not available on this machine")
    try:
        torch.device(device)
    except RuntimeError as exc:
        raise UserError(f"--device {device}: {exc}") from None
    return device


def add_data(p: argparse.ArgumentParser, required: bool = True) -> None:
    from csdh.data import DATASETS

    p.add_argument("--dataset", required=required, metavar="NAME",
                   help=f"data set: {', '.join(DATASETS.names())}")
    p.add_argument("--data-dir", metavar="DIR", help="where the data set lives (default: its search path)")
    p.add_argument("--image-root", metavar="DIR",
                   help="root of relative image paths in list files (default: --data-dir)")
    p.add_argument("--no-download", action="store_true", help="never download; fail if the data is not on disk")


def parse_kv(items: List[str], flag: str) -> Dict[str, Any]:
    """``["alpha=0.5", "balance=false"]`` -> ``{"alpha": 0.5, "balance": False}`` (JSON values, else strings)."""
    out: Dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise UserError(f"{flag} expects NAME=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            out[key.strip().replace("-", "_")] = lowered == "true"
            continue
        try:
            out[key.strip().replace("-", "_")] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip().replace("-", "_")] = value
    return out


def bits_list(text: str) -> List[int]:
    from csdh.codes import check_bits

    try:
        return [check_bits(int(b)) for b in text.split(",") if b.strip()]
    except ValueError:
        raise UserError(f"--bits expects comma-separated integers, got {text!r}") from None
