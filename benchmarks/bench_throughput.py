"""Encoding and fine-tuning throughput against the bare backbone (issue 2 targets).

    python benchmarks/bench_throughput.py [--input-size 64] [--batch-size 32] [--n 2048] [--no-malloc-tuning]
                                          [--device cuda] [--workers 0,8] [--precision fp32,bf16]

Measures, at the same batch size and input size, on real Fashion-MNIST images:
  * bare forward: the backbone alone on a pre-made tensor batch (no data loading), images/s;
  * csdh encoding: ``RunModel.encode_pool`` of a fine-tuned-mode model (data loading, resizing,
    backbone, hash head), images/s;
  * bare forward+backward: backbone forward and backward of a mean of its features on a pre-made batch
    (no optimiser step, batch norm in the trainer's mode), images/s;
  * csdh fine-tuning: one epoch of ``Trainer`` (data loading, augmentation, loss, AdamW), images/s.
Prints a markdown table with the ratios; the two csdh rows are repeated for each ``--workers`` count
(processes loading and resizing images, the ``csdh --workers`` option), and the two encoding rows for each
``--precision`` (``bf16``: the backbone under bfloat16 autocast, bare and in csdh alike, the ``csdh
--precision`` option; fine-tuning is always float32). On a GPU the bare measurements
synchronise the device before reading the clock; the csdh ones already wait for it (codes copied back per
batch, the loss read back per step). Like the ``csdh`` command, it first applies
:func:`csdh.malloc_tuning.tune_malloc` (to bare and csdh measurements alike); ``--no-malloc-tuning``
measures with glibc's default allocator settings.
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time

import numpy as np
import torch

from csdh.data import load_fashion_mnist
from csdh.data.protocols import make_split
from csdh.engine.pipeline import make_config
from csdh.engine.precision import check_precision, encoding_autocast
from csdh.engine.run_dir import RunDir
from csdh.engine.trainer import Trainer, build_net
from csdh.malloc_tuning import tune_malloc


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def rate(fn, n_items: int, device: torch.device, min_seconds: float = 5.0) -> float:
    fn()  # warm-up
    synchronize(device)
    t0, done = time.perf_counter(), 0
    while time.perf_counter() - t0 < min_seconds:
        fn()
        done += n_items
    synchronize(device)
    return done / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--input-size", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--n", type=int, default=2048, help="images encoded / trained on")
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
    s, b = args.input_size, args.batch_size
    cfg = make_config(finetune=True, dataset="fashion-mnist", input_size=s, batch_size=b, epochs=1, eval_every=0,
                      warmup_epochs=0)  # measure an end-to-end epoch
    net = build_net(cfg).to(dev).to(memory_format=torch.channels_last)
    x = torch.rand(b, 3, s, s, device=dev).contiguous(memory_format=torch.channels_last)

    net.eval()
    bare_fwd = {}
    for prec in precisions:
        with torch.inference_mode(), encoding_autocast(prec, dev):
            bare_fwd[prec] = rate(lambda: net.backbone(x), b, dev)

    pool = load_fashion_mnist()
    split = make_split("fashion-mnist", pool, seed=0)
    positions = np.asarray(split.database[: args.n])
    from csdh.engine.features import forward_pool

    enc = {}
    for prec in precisions:
        for w in worker_counts:
            t0 = time.perf_counter()
            forward_pool(net, pool, positions, s, batch_size=b, device=str(dev), workers=w, precision=prec)
            enc[prec, w] = len(positions) / (time.perf_counter() - t0)

    bb = build_net(cfg).to(dev).to(memory_format=torch.channels_last).train()
    if cfg.freeze_bn:  # the trainer's mode: batch-norm layers keep their pretrained statistics
        for m in bb.backbone.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()

    def step() -> None:
        bb.zero_grad(set_to_none=True)
        bb.backbone(x).mean().backward()

    bare_train = rate(step, b, dev)

    small = split.__class__(protocol="bench", seed=0, query=split.query, train=np.asarray(split.train[: args.n]),
                            database=split.database, val_query=split.val_query, val_database=split.val_database)
    train_rate = {}
    for w in worker_counts:
        with tempfile.TemporaryDirectory() as tmp:
            trainer = Trainer(cfg, pool, small, RunDir(tmp), device=str(dev), workers=w)
            trainer._setup()
            train_rate[w] = trainer._train_epoch(0)["items_per_s"]

    where = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    print(f"device: {where}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}; input {s} px, batch {b}; malloc tuning {'on' if tuned else 'off'}")
    print("| measure | images/s | ratio |")
    print("|---|---|---|")
    for prec in precisions:
        print(f"| bare backbone forward, {prec} | {bare_fwd[prec]:.0f} | |")
        for w in worker_counts:
            print(f"| csdh encoding (load + resize + backbone + head), {w} workers, {prec} | {enc[prec, w]:.0f} | "
                  f"{enc[prec, w] / bare_fwd[prec]:.2f} |")
    print(f"| bare backbone forward+backward | {bare_train:.0f} | |")
    for w in worker_counts:
        print(f"| csdh fine-tuning epoch (load + augment + CSDH loss + AdamW), {w} workers | {train_rate[w]:.0f} | "
              f"{train_rate[w] / bare_train:.2f} |")


if __name__ == "__main__":
    main()
