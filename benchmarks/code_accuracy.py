"""How well a run's binary codes classify images they were not trained on (single-label data).

Usage: python benchmarks/code_accuracy.py RUN_DIR [--device cpu]

Each class gets a centre: the mean of the binary codes of its training images. Every query and every
database image outside the training split is then assigned the class of the nearest centre (largest
inner product with the +-1 code). The accuracy on those unseen images puts the retrieval mAP in context:
with codes that cluster by class, mAP@ALL cannot go far beyond the fraction of unseen database images
whose code lands in the right cluster.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from csdh.codes import sign
from csdh.engine.evaluate import load_run_data
from csdh.engine.run_model import RunModel


def centre_accuracy(train_codes: np.ndarray, train_labels: np.ndarray, codes: np.ndarray,
                    labels: np.ndarray) -> float:
    """Nearest-class-centre accuracy of +-1 ``codes`` (single-label integer ``labels``)."""
    classes = np.unique(train_labels)
    centres = np.stack([train_codes[train_labels == c].mean(0) for c in classes])
    pred = classes[np.argmax(codes @ centres.T, axis=1)]
    return float(np.mean(pred == labels))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run_dir")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    model = RunModel.load(args.run_dir, device=args.device)
    pool, split = load_run_data(model)
    if pool.multi_label:
        raise SystemExit("code_accuracy.py: multi-label data has no single class per image")
    labels = pool.labels.argmax(1)
    unseen_db = np.setdiff1d(split.database, split.train)
    train = sign(model.encode_pool(pool, split.train)).astype(np.float32)
    result = {"run": args.run_dir, "n_train": len(split.train)}
    for name, pos in (("query", split.query), ("unseen_database", unseen_db)):
        codes = sign(model.encode_pool(pool, pos)).astype(np.float32)
        result[f"{name}_accuracy"] = centre_accuracy(train, labels[split.train], codes, labels[pos])
        result[f"n_{name}"] = int(len(pos))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
