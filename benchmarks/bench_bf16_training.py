"""Fine-tuning steps in bfloat16 autocast against float32 on the CPU (a probe; csdh fine-tunes in float32).

    python benchmarks/bench_bf16_training.py [--input-size 160] [--batch-size 32] [--rounds 6] [--batches 6]

The bare backbone's training step as ``bench_throughput.py`` measures it (EfficientNet-Lite0 in training
mode with the batch-norm layers frozen, the trainer's default; a pre-made channels-last batch; zero the
gradients, forward, mean, backward), once in float32 and once with the forward under
``torch.autocast(dtype=torch.bfloat16)``, the mixed-precision recipe of GPU training. Images/s of both in
interleaved rounds (``bench_throughput.py``'s, the order alternating) and the median round ratio with its
range. ``--precision bf16`` of csdh covers encoding passes only; this is what training in bfloat16 would
gain or lose on the machine it runs on.
"""
from __future__ import annotations

import argparse
import platform

import torch
from bench_throughput import interleaved, summary

from csdh.engine.pipeline import make_config
from csdh.engine.precision import check_precision, encoding_autocast
from csdh.engine.trainer import build_net, freeze_batch_norm
from csdh.malloc_tuning import tune_malloc


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--input-size", type=int, default=160)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--batches", type=int, default=6, help="training steps per side and round")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    dev = torch.device("cpu")
    check_precision("bf16", dev)  # warns on a CPU without bfloat16 instructions
    tuned = tune_malloc()
    torch.set_num_threads(args.threads)
    s, b = args.input_size, args.batch_size
    cfg = make_config(finetune=True, dataset="fashion-mnist", input_size=s, batch_size=b)
    net = build_net(cfg).to(memory_format=torch.channels_last).train()
    freeze_batch_norm(net.backbone)  # the trainer's default: batch-norm layers keep their statistics
    x = torch.rand(b, 3, s, s).contiguous(memory_format=torch.channels_last)

    def steps(precision: str) -> None:
        for _ in range(args.batches):
            net.zero_grad(set_to_none=True)
            with encoding_autocast(precision, dev):
                y = net.backbone(x)
            y.float().mean().backward()

    fp32, bf16, ratio, rounds = summary(*interleaved(lambda _r: steps("fp32"), lambda _r: steps("bf16"),
                                                     args.batches * b, args.rounds, dev))
    print(f"device: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; input {s} px, batch {b}; malloc tuning {'on' if tuned else 'off'}; "
          f"{args.rounds} interleaved rounds of {args.batches} steps")
    print("| bare backbone forward+backward | images/s, all rounds | bf16 / fp32: median round (range) |")
    print("|---|---|---|")
    print(f"| float32 | {fp32:.0f} | |")
    print(f"| bfloat16 autocast forward | {bf16:.0f} | {ratio} |")
    print(f"\nimages/s of each round, fp32/bf16, in order: {rounds}")


if __name__ == "__main__":
    main()
