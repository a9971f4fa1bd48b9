"""What a plain softmax classifier, fine-tuned exactly like CSDH, achieves on a protocol (single-label data).

Usage: python benchmarks/classifier_ceiling.py [--dataset fashion-mnist] [--input-size 96] [--seed 0]
                                              [--epochs 12] [--warmup-epochs 40] [--mixup A] [--out FILE.json]

The same backbone, head width, split, schedule (head warm-up on frozen features, then end-to-end with
a lower backbone learning rate and frozen batch-norm statistics), augmentation and optimiser as
``csdh train --finetune``; only the last layer has one output per class and the loss is cross-entropy.
With ``--mixup A`` images (features during the warm-up) and their one-hot labels are mixed exactly as
``csdh train --mixup A`` mixes them (same function, same random draws), and the cross-entropy takes the
mixed labels as target distributions.
No hashing is involved, so the figures are a reference for what the 5,000 training images support:

- ``query_accuracy`` / ``unseen_database_accuracy``: top-1 accuracy on images the model never saw;
- ``map_expected_relevance``: mAP@ALL (ties by database position) when the database is ranked by the
  expected relevance ``p(q) . p(x)`` of the two posteriors, the ranking a real-valued model would give;
- ``map_predicted_class``: mAP@ALL when every image is reduced to its predicted class (the ranking of
  codes that collapse each class onto one code).

The last epoch's model is used (no selection on the queries).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from torch import nn

from csdh.data.pool_dataset import check_batch
from csdh.data.transforms import augment_batch, mixup, mixup_rng, to_float
from csdh.engine.features import FeatureCache, forward_pool, pool_loader
from csdh.engine.pipeline import make_config, prepare_data
from csdh.engine.trainer import cosine_lr, freeze_batch_norm
from csdh.malloc_tuning import tune_malloc
from csdh.metrics import average_precisions_from_distances
from csdh.models import BACKBONES


def mean_ap_by_score(q: np.ndarray, d: np.ndarray, q_labels: np.ndarray, d_labels: np.ndarray,
                     chunk: int = 50) -> float:
    """mAP@ALL of queries ranked by ``q @ d.T`` (single-label integer labels)."""
    aps = [average_precisions_from_distances(-(q[i:i + chunk] @ d.T), q_labels[i:i + chunk, None] == d_labels[None, :])
           for i in range(0, len(q), chunk)]
    return float(np.concatenate(aps).mean())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="fashion-mnist")
    p.add_argument("--input-size", type=int, default=96)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, help="end-to-end epochs (default: csdh train --finetune's)")
    p.add_argument("--warmup-epochs", type=int, help="head-only epochs first (default: csdh's)")
    p.add_argument("--mixup", type=float, default=0.0, help="mixup's Beta(A, A) parameter, as csdh train --mixup")
    p.add_argument("--out", help="also write the result here (JSON)")
    args = p.parse_args()
    tune_malloc()  # as the csdh command does
    c = make_config(finetune=True, dataset=args.dataset, input_size=args.input_size, seed=args.seed,
                    epochs=args.epochs, warmup_epochs=args.warmup_epochs, mixup=args.mixup)
    pool, split = prepare_data(c)
    if pool.multi_label:
        raise SystemExit("classifier_ceiling.py: needs single-label data")
    labels = pool.labels.argmax(1)
    torch.manual_seed(c.seed)
    backbone = BACKBONES.create(c.backbone, pretrained=True, input_size=c.input_size).to(memory_format=torch.channels_last)
    head = nn.Sequential(nn.Linear(backbone.out_dim, c.hidden), nn.ReLU(), nn.Dropout(c.dropout),
                         nn.Linear(c.hidden, pool.n_classes))
    train = np.asarray(split.train, dtype=np.int64)
    onehot = np.eye(pool.n_classes, dtype=np.float32)
    y_train = torch.from_numpy(onehot[labels[train]])
    groups = [{"params": head.parameters(), "base_lr": c.lr}, {"params": backbone.parameters(), "base_lr": c.backbone_lr}]
    opt = torch.optim.AdamW(groups, lr=c.lr, weight_decay=c.weight_decay)

    def step(model, x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator) -> float:
        if c.mixup > 0:
            x, y = mixup(x, y, c.mixup, rng)
        loss = nn.functional.cross_entropy(model(x), y)  # y: class distributions (one-hot unless mixed)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    def net(x: torch.Tensor) -> torch.Tensor:
        return head(backbone(x))
    t0 = time.perf_counter()

    feats = torch.from_numpy(FeatureCache().get(backbone, c.backbone, c.input_size, pool, train))
    for epoch in range(c.warmup_epochs):  # head only, on the cached frozen features
        opt.param_groups[0]["lr"], opt.param_groups[1]["lr"] = cosine_lr(c.lr, epoch, c.warmup_epochs), 0.0
        torch.manual_seed(c.seed * 7919 + epoch)
        head.train()
        perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(c.seed * 100_003 + epoch))
        mix_rng = mixup_rng(c.seed, epoch)  # the trainer's mixup stream
        for i in range(0, len(perm), c.batch_size):
            idx = perm[i:i + c.batch_size]
            step(head, feats[idx], y_train[idx], mix_rng)

    for epoch in range(c.epochs):  # end to end, batch-norm statistics frozen as in csdh
        e = c.warmup_epochs + epoch
        for group in opt.param_groups:
            group["lr"] = cosine_lr(group["base_lr"], epoch, c.epochs)
        torch.manual_seed(c.seed * 7919 + e)
        g = torch.Generator().manual_seed(c.seed * 100_003 + e)
        perm = torch.randperm(len(train), generator=g)
        head.train()
        freeze_batch_norm(backbone.train())
        mix_rng = mixup_rng(c.seed, e)
        total, n = 0.0, 0
        for batch in pool_loader(pool, train[perm.numpy()], c.input_size, c.batch_size):
            images, _, pos = check_batch(batch)
            x = augment_batch(to_float(images), generator=g, erase_prob=c.erase_prob)
            y = torch.from_numpy(onehot[labels[pos.numpy()]])
            total, n = total + step(net, x, y, mix_rng) * len(x), n + len(x)
        print(f"epoch {epoch + 1}/{c.epochs} loss {total / n:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    train_seconds = time.perf_counter() - t0

    head.eval()
    backbone.eval()

    def posteriors(positions: np.ndarray) -> np.ndarray:
        return forward_pool(lambda x: torch.softmax(net(x), 1), pool, positions, c.input_size)

    q_pos, d_pos = np.asarray(split.query), np.asarray(split.database)
    pq, pd = posteriors(q_pos), posteriors(d_pos)
    unseen = ~np.isin(d_pos, train)
    ql, dl = labels[q_pos], labels[d_pos]
    result = {
        "dataset": args.dataset, "input_size": c.input_size, "seed": c.seed, "epochs": c.epochs,
        "warmup_epochs": c.warmup_epochs, "mixup": c.mixup, "n_train": int(len(train)), "n_query": int(len(q_pos)),
        "n_database": int(len(d_pos)),
        "query_accuracy": float(np.mean(pq.argmax(1) == ql)),
        "unseen_database_accuracy": float(np.mean(pd[unseen].argmax(1) == dl[unseen])),
        "map_expected_relevance": mean_ap_by_score(pq, pd, ql, dl),
        "map_predicted_class": mean_ap_by_score(onehot[pq.argmax(1)], onehot[pd.argmax(1)], ql, dl),
        "train_seconds": round(train_seconds, 1),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
