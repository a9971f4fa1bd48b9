"""Encoding and fine-tuning throughput against the bare backbone (issue 2 targets).

    python benchmarks/bench_throughput.py [--input-size 64] [--batch-size 32] [--n 2048] [--rounds 5]
                                          [--train-n 512] [--no-malloc-tuning] [--device cuda]
                                          [--workers 0,8] [--precision fp32,bf16]

Measures, at the same batch size and input size, on real Fashion-MNIST images:
  * bare forward: the backbone alone on a pre-made tensor batch (no data loading), images/s;
  * image loading alone: the pool's images loaded, resized and scaled to a float batch (what the csdh
    encoding adds to the bare forward on the CPU), images/s;
  * csdh encoding: ``forward_pool`` of a fine-tuned-mode model, as ``RunModel.encode_pool`` calls it (data
    loading, resizing, backbone, hash head), images/s;
  * bare forward+backward: backbone forward and backward of a mean of its features on a pre-made batch
    (no optimiser step, batch norm in the trainer's mode), images/s;
  * csdh fine-tuning: an epoch of ``Trainer`` (data loading, augmentation, loss, AdamW), images/s.

The two sides of each ratio are measured in **interleaved rounds**: ``--rounds`` times, the bare side
and the csdh side each process the same number of images (``--n`` / rounds to encode, ``--train-n`` to
train on), in alternating order. A round's ratio compares measurements taken seconds apart, so a machine
whose speed drifts (a shared host, a changing clock) moves both sides of it together; the table gives
each side's rate over all rounds and the median round ratio with its range, then every round's two rates.
(Measuring each side once, one after the other, gave ratios between 0.76 and 1.09 in three runs of the
same command on the shared 2-core Intel machine of BENCHMARKS.md.)

The csdh rows are repeated for each ``--workers`` count (processes loading and resizing images, the ``csdh
--workers`` option), and the encoding rows for each ``--precision`` (``bf16``: the backbone under bfloat16
autocast, bare and in csdh alike, the ``csdh --precision`` option; fine-tuning is always float32). On a GPU
the bare measurements synchronise the device before reading the clock; the csdh ones already wait for it
(codes copied back per batch, the loss read back per step). Like the ``csdh`` command, it first applies
:func:`csdh.malloc_tuning.tune_malloc` (to bare and csdh measurements alike); ``--no-malloc-tuning``
measures with glibc's default allocator settings.
"""
from __future__ import annotations

import argparse
import math
import platform
import tempfile
import time
from typing import Callable, List, Tuple

import numpy as np
import torch

from csdh.data import load_fashion_mnist
from csdh.data.protocols import make_split
from csdh.data.pool_dataset import check_batch
from csdh.data.transforms import to_float
from csdh.engine.features import forward_pool, pool_loader
from csdh.engine.pipeline import make_config
from csdh.engine.precision import check_precision, encoding_autocast
from csdh.engine.run_dir import RunDir
from csdh.engine.trainer import Trainer, build_net, freeze_batch_norm
from csdh.malloc_tuning import tune_malloc


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], None], n_items: int, device: torch.device) -> float:
    """Images/s of one call of ``fn`` that processes ``n_items`` images."""
    synchronize(device)
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    return n_items / (time.perf_counter() - t0)


def interleaved(bare: Callable[[int], None], csdh: Callable[[int], None], n_items: int, rounds: int,
                device: torch.device) -> Tuple[List[float], List[float]]:
    """Images/s of ``bare(r)`` and ``csdh(r)`` over ``rounds`` rounds, each side ``n_items`` images a round,
    the bare side first in even rounds and second in odd ones (both warmed up first)."""
    bare(-1)
    csdh(-1)
    b_rates, c_rates = [], []
    for r in range(rounds):
        order = [(bare, b_rates), (csdh, c_rates)]
        for fn, rates in (order if r % 2 == 0 else order[::-1]):
            rates.append(timed(lambda: fn(r), n_items, device))
    return b_rates, c_rates


def summary(b_rates: List[float], c_rates: List[float]) -> Tuple[float, float, str, str]:
    """Each side's rate over all rounds (images / seconds, the rounds being equal in images), the median
    round ratio with its range, and the rounds' rates as text."""
    ratios = [c / b for b, c in zip(b_rates, c_rates)]
    spread = f"{min(ratios):.2f}–{max(ratios):.2f}"
    overall = [len(rates) / sum(1.0 / r for r in rates) for rates in (b_rates, c_rates)]
    rounds = " ".join(f"{b:.0f}/{c:.0f}" for b, c in zip(b_rates, c_rates))
    return overall[0], overall[1], f"{np.median(ratios):.2f} ({spread})", rounds


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--input-size", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--n", type=int, default=2048, help="images encoded over all rounds (whole batches each round)")
    p.add_argument("--train-n", type=int, default=512, help="training images per round (one epoch each)")
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds of bare and csdh measurements")
    p.add_argument("--threads", type=int, default=2, help="torch threads (1 on a machine busy with other jobs)")
    p.add_argument("--no-malloc-tuning", action="store_true", help="keep glibc's default allocator settings")
    p.add_argument("--device", default="cpu")
    p.add_argument("--workers", default="0", help="comma-separated image-loading process counts, e.g. 0,8")
    p.add_argument("--precision", default="fp32", help="comma-separated encoding precisions: fp32, bf16")
    args = p.parse_args()
    dev = torch.device(args.device)
    worker_counts = [int(w) for w in args.workers.split(",")]
    precisions = [check_precision(x.strip(), dev) for x in args.precision.split(",")]
    tuned = False if args.no_malloc_tuning else tune_malloc()
    torch.set_num_threads(args.threads)
    s, b, rounds = args.input_size, args.batch_size, args.rounds
    cfg = make_config(finetune=True, dataset="fashion-mnist", input_size=s, batch_size=b, epochs=rounds + 1,
                      eval_every=0, warmup_epochs=0)  # measure end-to-end epochs
    net = build_net(cfg).to(dev).to(memory_format=torch.channels_last).eval()
    x = torch.rand(b, 3, s, s, device=dev).contiguous(memory_format=torch.channels_last)

    pool = load_fashion_mnist()
    split = make_split("fashion-mnist", pool, seed=0)
    per_round = max(b, args.n // rounds // b * b)  # whole batches, like the bare side
    chunks = [np.asarray(split.database[i * per_round:(i + 1) * per_round]) for i in range(rounds)]
    n_batches = per_round // b

    def load_only(r: int) -> None:  # what the csdh side adds on the CPU: the pool's images as a float batch
        for batch in pool_loader(pool, chunks[max(r, 0)], s, b):
            to_float(check_batch(batch)[0].to(dev))

    load_only(-1)
    load_seconds = sum(per_round / timed(lambda: load_only(r), per_round, dev) for r in range(rounds))
    load_rate = rounds * per_round / load_seconds

    rows = []  # (label, bare label, bare rate, csdh rate, ratio text, the rounds' rates)
    for prec in precisions:
        def bare_fwd(_r: int, prec: str = prec) -> None:
            with torch.inference_mode(), encoding_autocast(prec, dev):
                for _ in range(n_batches):
                    net.backbone(x)

        for w in worker_counts:
            def encode(r: int, prec: str = prec, w: int = w) -> None:
                forward_pool(net, pool, chunks[max(r, 0)], s, batch_size=b, device=str(dev), workers=w,
                             precision=prec)

            rows.append((f"csdh encoding (load + resize + backbone + head), {w} workers, {prec}",
                         f"bare backbone forward, {prec}",
                         *summary(*interleaved(bare_fwd, encode, per_round, rounds, dev))))

    bb = build_net(cfg).to(dev).to(memory_format=torch.channels_last).train()
    if cfg.freeze_bn:  # the trainer's mode: batch-norm layers keep their pretrained statistics
        freeze_batch_norm(bb.backbone)
    train_pos = np.asarray(split.train[: args.train_n])
    steps = math.ceil(len(train_pos) / b)

    def bare_step(_r: int) -> None:
        for _ in range(steps):
            bb.zero_grad(set_to_none=True)
            bb.backbone(x).mean().backward()

    small = split.__class__(protocol="bench", seed=0, query=split.query, train=train_pos,
                            database=split.database, val_query=split.val_query, val_database=split.val_database)
    for w in worker_counts:
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(cfg, pool, small, RunDir(tmp), device=str(dev), workers=w)
            trainer._setup()
            rows.append((f"csdh fine-tuning epoch (load + augment + CSDH loss + AdamW), {w} workers",
                         "bare backbone forward+backward",
                         *summary(*interleaved(bare_step, lambda r: trainer._train_epoch(r + 1), steps * b,
                                               rounds, dev))))

    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    print(f"device: {where}, {torch.get_num_threads()} threads, torch {torch.__version__}; input {s} px, "
          f"batch {b}; malloc tuning {'on' if tuned else 'off'}; {rounds} interleaved rounds of {per_round} "
          f"images to encode and {steps * b} to train on")
    print("| measure | images/s, all rounds | ratio to bare: median round (range) |")
    print("|---|---|---|")
    print(f"| image loading alone (load + resize + to float, in this process) | {load_rate:.0f} | |")
    for label, bare_label, bm, cm, ratio, _ in rows:  # each csdh row after the bare side measured beside it
        print(f"| {bare_label} | {bm:.0f} | |")
        print(f"| {label} | {cm:.0f} | {ratio} |")
    print("\nimages/s of each round, bare/csdh, in order:")
    for label, _, _, _, _, per_round_rates in rows:
        print(f"  {label}: {per_round_rates}")


if __name__ == "__main__":
    main()
