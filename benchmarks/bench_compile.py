"""torch.compile of the backbone against eager mode, for encoding on the CPU (a probe; csdh does not compile).

    python benchmarks/bench_compile.py [--input-size 160] [--batch-size 32] [--rounds 6] [--precision fp32,bf16]

EfficientNet-Lite0 in inference mode on a pre-made channels-last batch, per precision (``bf16``: under the
bfloat16 autocast of ``csdh --precision bf16``): the time ``torch.compile`` (inductor) takes to compile and
run the first batch, then eager and compiled images/s in interleaved rounds (``bench_throughput.py``'s,
the order alternating), the median round ratio with its range, and the largest difference between the two
outputs on the batch. Inductor keeps a compilation cache under /tmp, so a second run compiles faster.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable

import torch
from bench_throughput import interleaved, summary

from csdh.engine.precision import check_precision, encoding_autocast
from csdh.malloc_tuning import tune_malloc
from csdh.models import BACKBONES


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--input-size", type=int, default=160)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--batches", type=int, default=6, help="batches per side and round")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", default="fp32,bf16")
    args = p.parse_args()
    cpu = torch.device("cpu")
    precisions = [check_precision(x.strip(), cpu) for x in args.precision.split(",")]
    tune_malloc()
    torch.set_num_threads(args.threads)
    s, b = args.input_size, args.batch_size
    net = BACKBONES.create("efficientnet-lite0", pretrained=True, input_size=s)
    net = net.to(memory_format=torch.channels_last).eval()
    x = torch.rand(b, 3, s, s).contiguous(memory_format=torch.channels_last)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; EfficientNet-Lite0 at {s} px, batch {b}, "
          f"{args.rounds} interleaved rounds of {args.batches} batches a side")
    print("| precision | compile + first batch, s | eager images/s | compiled images/s | "
          "compiled / eager: median round (range) | largest output difference |")
    print("|---|---:|---:|---:|---:|---:|")

    def run(model: Callable[[torch.Tensor], torch.Tensor]) -> None:
        for _ in range(args.batches):
            model(x)

    with torch.inference_mode():
        for prec in precisions:
            with encoding_autocast(prec, cpu):
                t0 = time.perf_counter()
                compiled = torch.compile(net)
                compiled(x)
                compile_s = time.perf_counter() - t0
                eager, comp = interleaved(lambda _r: run(net), lambda _r: run(compiled), args.batches * b,
                                          args.rounds, cpu)
                diff = (compiled(x).float() - net(x).float()).abs().max().item()
            eager_rate, comp_rate, ratio, _ = summary(eager, comp)
            print(f"| {prec} | {compile_s:.1f} | {eager_rate:.0f} | {comp_rate:.0f} | {ratio} | {diff:.1e} |")
            torch._dynamo.reset()


if __name__ == "__main__":
    main()
