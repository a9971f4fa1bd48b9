"""How well a run's binary codes classify images they were not trained on (single-label data).

Usage: python benchmarks/code_accuracy.py RUN_DIR [--device cpu] [--continuous]

Each class gets a centre: the mean of the binary codes of its training images. Every query and every
database image outside the training split is then assigned the class of the nearest centre (largest
inner product with the +-1 code). The accuracy on those unseen images puts the retrieval mAP in context:
with codes that cluster by class, mAP@ALL cannot go far beyond the fraction of unseen database images
whose code lands in the right cluster.

With ``--continuous`` it also ranks the protocol's database by the inner product of the continuous codes
(the tanh outputs before the sign) and reports that mAP@ALL beside the binary codes' one: the difference is
what binarisation costs the ranking. It also ranks with binary queries against continuous database codes:
when that recovers the continuous mAP, the loss comes from the database side, from the confidence that
the magnitudes of an image's uncertain bits carry and that its signs drop.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from classifier_ceiling import mean_ap_by_score

from csdh.codes import pack, sign
from csdh.engine.evaluate import load_run_data
from csdh.engine.run_model import RunModel
from csdh.malloc_tuning import tune_malloc
from csdh.metrics import mean_average_precision


def codes_at(positions: np.ndarray, d: np.ndarray, d_pos: np.ndarray, model: RunModel, pool) -> np.ndarray:
    """Continuous codes of pool ``positions``: rows of the database codes ``d`` (of ``d_pos``) when every
    position is in the database, else a new encoding."""
    row = np.full(len(pool), -1, dtype=np.int64)
    row[d_pos] = np.arange(len(d_pos))
    return d[row[positions]] if (row[positions] >= 0).all() else model.encode_pool(pool, positions)


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
    p.add_argument("--continuous", action="store_true",
                   help="also compare mAP@ALL of continuous and binary codes over the whole database")
    args = p.parse_args()
    tune_malloc()  # as the csdh command does
    model = RunModel.load(args.run_dir, device=args.device)
    pool, split = load_run_data(model)
    if pool.multi_label:
        raise SystemExit("code_accuracy.py: multi-label data has no single class per image")
    labels = pool.labels.argmax(1)
    q_pos, d_pos, t_pos = (np.asarray(p, dtype=np.int64) for p in (split.query, split.database, split.train))
    q, d = model.encode_pool(pool, q_pos), model.encode_pool(pool, d_pos)  # continuous codes
    train = codes_at(t_pos, d, d_pos, model, pool)  # no second pass
    unseen = ~np.isin(d_pos, t_pos)
    train_codes = sign(train).astype(np.float32)
    result = {"run": args.run_dir, "n_train": len(t_pos)}
    for name, codes, pos in (("query", q, q_pos), ("unseen_database", d[unseen], d_pos[unseen])):
        result[f"{name}_accuracy"] = centre_accuracy(train_codes, labels[t_pos], sign(codes).astype(np.float32),
                                                     labels[pos])
        result[f"n_{name}"] = int(len(pos))
    if args.continuous:
        result["map_binary"] = float(mean_average_precision(pack(q), pack(d), pool.labels[q_pos], pool.labels[d_pos]))
        result["map_continuous"] = mean_ap_by_score(q, d, labels[q_pos], labels[d_pos])
        result["map_binary_query_continuous_database"] = mean_ap_by_score(sign(q).astype(np.float32), d,
                                                                          labels[q_pos], labels[d_pos])
        unsure = np.abs(d) < 0.5
        result["database_bits_below_0.5"] = float(unsure.mean())
        result["database_images_with_a_bit_below_0.5"] = float(unsure.any(1).mean())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
