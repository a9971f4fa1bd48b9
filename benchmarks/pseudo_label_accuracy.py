"""How right the pseudo-labels of ``csdh train --pseudo-labels RUN_DIR`` are, against the data set's own labels.

Usage: python benchmarks/pseudo_label_accuracy.py RUN_DIR [--count 5000] [--keep 0.5,0.7,0.9,1] [--threads 2]

Draws the same ``--count`` unlabelled database images as a run of RUN_DIR's split and seed would
(``csdh.engine.pseudo_labels.PseudoLabels``, every kept fraction sharing one pass of the labeller), and prints,
for each kept fraction, how many images it keeps, the smallest kept posterior and the share of kept labels
that agree with the data set's labels (which training never reads). Single-label data only.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from csdh.data.protocols import Split
from csdh.engine.pipeline import prepare_data
from csdh.engine.pseudo_labels import PseudoLabels, most_confident
from csdh.engine.run_dir import RunDir
from csdh.engine.run_model import RunModel
from csdh.engine.teacher import Teacher
from csdh.malloc_tuning import tune_malloc


def kept_accuracy(confidence: np.ndarray, correct: np.ndarray, keep: float) -> dict:
    """The images a kept fraction ``keep`` retains (:func:`csdh.engine.pseudo_labels.most_confident`, as
    :meth:`PseudoLabels.from_teacher` chooses them): their number, smallest confidence and accuracy."""
    chosen = most_confident(confidence, keep)
    return {"keep": keep, "kept": len(chosen), "min_confidence": float(confidence[chosen].min()),
            "accuracy": float(correct[chosen].mean())}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir", help="the labelling run (a finished run with a code classifier)")
    p.add_argument("--count", type=int, default=5000, help="unlabelled database images drawn")
    p.add_argument("--keep", default="0.5,0.7,0.9,1", help="kept fractions, comma-separated")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tune_malloc()  # as the csdh command does
    config = RunModel.load(args.run_dir).config
    pool, _ = prepare_data(config, download=False)
    if pool.multi_label:
        raise SystemExit("pseudo_label_accuracy.py: multi-label data has no single class per image")
    split = Split.load(RunDir(args.run_dir).split)
    labeller = Teacher.load(args.run_dir, split, pool.n_classes, 1.0, 1.0)
    drawn = PseudoLabels.from_teacher(labeller, pool, split, args.count, 1.0, config.seed,
                                      batch_size=config.batch_size)
    correct = drawn.labels.argmax(1) == pool.labels[drawn.positions].argmax(1)
    rows = [kept_accuracy(drawn.confidence, correct, float(k)) for k in args.keep.split(",")]
    print(json.dumps({"run": args.run_dir, "seed": config.seed, "drawn": len(drawn), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
