"""``csdh train``: train a hashing model into a run directory."""
from __future__ import annotations

import argparse
import json

from csdh.cli.common import (add_data, add_device, add_precision, add_workers, check_device_precision, parse_kv,
                             progress)


def register(sub: argparse._SubParsersAction) -> None:
    from csdh.losses import LOSSES
    from csdh.models import BACKBONES

    p = sub.add_parser("train", help="train a hashing model", description=(
        "Train a deep hashing model (CSDH by default) on a data set's protocol split. Frozen-backbone "
        "mode (default) caches backbone features once and trains the hash head; --finetune trains end "
        "to end. Writes RUN_DIR/{config.json,split.json,checkpoint.pt,model.pt,log.jsonl}."))
    add_data(p)
    p.add_argument("--protocol", help="split protocol (default: the data set's own)")
    p.add_argument("--method", default="csdh", help=f"loss: {', '.join(LOSSES.names())} (default csdh)")
    p.add_argument("--bits", type=int, default=48, help="code length K, a multiple of 8 (default 48)")
    p.add_argument("--backbone", default="efficientnet-lite0", help=f"{', '.join(BACKBONES.names())}")
    p.add_argument("--input-size", type=int, default=None, help="square input size in pixels (default 96)")
    p.add_argument("--finetune", action="store_true", help="train the backbone end to end (the paper's mode)")
    p.add_argument("--epochs", type=int,
                   help="epochs (default 40; with --finetune: end-to-end epochs after the warm-up, default 12)")
    p.add_argument("--warmup-epochs", type=int,
                   help="with --finetune: train the head on frozen features first for this many epochs (default 40)")
    p.add_argument("--batch-size", type=int, help="images per step (default 128; with --finetune 32)")
    p.add_argument("--lr", type=float, help="hash head learning rate (default 1e-3)")
    p.add_argument("--backbone-lr", type=float, help="backbone learning rate with --finetune (default 1e-4)")
    p.add_argument("--lr-warmup", type=int, metavar="EPOCHS",
                   help="raise the learning rates linearly, step by step, over the first EPOCHS epochs of the "
                        "schedule (with --finetune: of end-to-end training) (default 0: none)")
    p.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 1e-4)")
    p.add_argument("--hidden", type=int, help="hidden layer width (default 1024)")
    p.add_argument("--dropout", type=float, help="dropout after the hidden layer (default 0.5)")
    p.add_argument("--no-augment", action="store_true",
                   help="no flips/translations (nor rotations, scalings, erasing) when fine-tuning")
    p.add_argument("--rotate", type=float, metavar="DEG",
                   help="rotate each training image by a random angle in [-DEG, DEG] degrees when fine-tuning "
                        "(default 0: off)")
    p.add_argument("--scale-jitter", type=float, metavar="F",
                   help="scale each training image about its centre by a random factor in [1 - F, 1 + F] when "
                        "fine-tuning (default 0: off)")
    p.add_argument("--erase-prob", type=float,
                   help="random erasing probability per image when fine-tuning (default: the mode's)")
    p.add_argument("--mixup", type=float,
                   help="mixup: mix each training image (features while only the head trains) and its label "
                        "with a random partner, weight from Beta(A, A), e.g. 0.4; single-label data (default 0: off)")
    p.add_argument("--cutmix", type=float, metavar="A",
                   help="CutMix with --finetune: paste a rectangle of a random partner into each training image "
                        "and mix the labels by area, the area from Beta(A, A), e.g. 1.0; with --mixup each batch "
                        "takes one of the two; single-label data (default 0: off)")
    p.add_argument("--db-dither", type=float, metavar="T",
                   help="binarise database codes with per-bit thresholds spread over (-T, T), so that images "
                        "the model is unsure of lie further away; queries keep sign(h) (default 0: plain sign)")
    p.add_argument("--db-shape", action="store_true",
                   help="then noise-shape the database codes against the training images' codes, so that their "
                        "Hamming distances to queries follow the continuous codes more closely (default: off)")
    p.add_argument("--flip-average", action="store_true",
                   help="encode every image (query or database) as the mean of its codes as it is and mirrored "
                        "left to right, for evaluation, the index and the service; twice the encoding time "
                        "(default: off)")
    p.add_argument("--shift-average", type=int, metavar="PX",
                   help="encode every image as the mean of its codes over its views (as it is, mirrored with "
                        "--flip-average) and the image moved PX pixels right, left, down and up, for evaluation, "
                        "the index and the service; five or six times the encoding time (default 0: off)")
    p.add_argument("--freeze-stages", type=int, metavar="N",
                   help="with --finetune, keep the backbone's first N stages (EfficientNet-Lite: the stem, then "
                        "each of its blocks) at their pretrained weights (default 0: fine-tune them all)")
    p.add_argument("--drop-path", type=float, metavar="RATE",
                   help="with --finetune, the backbone's stochastic-depth rate (EfficientNet-Lite: drop connect, "
                        "growing linearly with depth towards RATE) (default: the backbone's own, 0.2)")
    p.add_argument("--train-bn", action="store_true",
                   help="update the backbone's batch-norm statistics when fine-tuning (default: frozen)")
    p.add_argument("--ema-decay", type=float,
                   help="validate and save an exponential moving average of the weights with this decay per "
                        "step, e.g. 0.998 (default 0: off)")
    p.add_argument("--sam", type=float, metavar="RHO",
                   help="sharpness-aware minimisation: take each step's gradient at the weights moved RHO along "
                        "the normalised gradient, e.g. 0.05; twice the training time (default 0: off)")
    p.add_argument("--teacher", metavar="RUN_DIR",
                   help="with --finetune, learn from this finished run's class posteriors as well as the labels "
                        "(knowledge distillation); the teacher must share this run's split and have a code "
                        "classifier (--loss-arg lambda_cls=...) (default: none)")
    p.add_argument("--teacher-target", choices=["labels", "classifier"],
                   help="what the teacher's posteriors are mixed into: the labels of every term (labels, the "
                        "default), or only the targets of the code classifier's term (classifier)")
    p.add_argument("--teacher-weight", type=float, metavar="W",
                   help="the teacher's share of the labels, in (0, 1] (default 0.5)")
    p.add_argument("--teacher-temperature", type=float, metavar="T",
                   help="softmax temperature of the teacher's logits (default 2)")
    p.add_argument("--pseudo-labels", metavar="RUN_DIR",
                   help="with --finetune, self-training: this finished run (same split, with a code classifier) "
                        "labels unlabelled database images, and those it is most sure of train end to end beside "
                        "the training images (default: none)")
    p.add_argument("--pseudo-count", type=int, metavar="N",
                   help="unlabelled database images drawn for --pseudo-labels, never validation queries "
                        "(default 5000)")
    p.add_argument("--pseudo-keep", type=float, metavar="F",
                   help="the fraction of them kept, the labeller's most confident first (default 0.7)")
    p.add_argument("--eval-every", type=int, help="validation mAP every N epochs, the best kept (default 1; 0 = never)")
    p.add_argument("--n-val", type=int,
                   help="validation queries (default 500); 0: no validation split (where it would be carved "
                        "from the training images, they all train), the last epoch is kept")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, initialisation and batches (default 0)")
    p.add_argument("--loss-arg", action="append", default=[], metavar="NAME=VALUE",
                   help="extra loss argument, e.g. --loss-arg alpha=0.5 (repeatable)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="the run directory to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--resume", action="store_true", help="continue a killed run from its last checkpoint")
    add_device(p)
    add_workers(p)
    add_precision(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):
    from csdh.engine.pipeline import make_config

    return make_config(
        finetune=args.finetune, dataset=args.dataset, protocol=args.protocol, data_dir=args.data_dir,
        image_root=args.image_root, method=args.method, bits=args.bits, backbone=args.backbone,
        input_size=args.input_size, epochs=args.epochs, warmup_epochs=args.warmup_epochs, batch_size=args.batch_size,
        lr=args.lr, backbone_lr=args.backbone_lr, lr_warmup=args.lr_warmup, weight_decay=args.weight_decay,
        hidden=args.hidden, dropout=args.dropout,
        augment=False if args.no_augment else None, rotate=args.rotate,
        scale_jitter=args.scale_jitter, erase_prob=args.erase_prob, mixup=args.mixup, cutmix=args.cutmix,
        db_dither=args.db_dither, db_shape=args.db_shape or None, flip_average=args.flip_average or None,
        shift_average=args.shift_average,
        freeze_bn=False if args.train_bn else None, freeze_stages=args.freeze_stages, drop_path=args.drop_path,
        ema_decay=args.ema_decay, sam_rho=args.sam, teacher=args.teacher, teacher_target=args.teacher_target,
        teacher_weight=args.teacher_weight, pseudo_labels=args.pseudo_labels, pseudo_count=args.pseudo_count,
        pseudo_keep=args.pseudo_keep,
        teacher_temperature=args.teacher_temperature, eval_every=args.eval_every, n_val=args.n_val, seed=args.seed,
        loss_args=tuple(parse_kv(args.loss_arg, "--loss-arg").items()) or None)


def run(args: argparse.Namespace) -> int:
    from csdh.engine.pipeline import train_run

    device, precision = check_device_precision(args)
    config = config_from_args(args)
    summary = train_run(config, args.out, overwrite=args.overwrite, resume=args.resume, device=device,
                        progress=progress, download=not args.no_download, workers=args.workers,
                        precision=precision)
    print(json.dumps({"run_dir": str(args.out), **{k: v for k, v in summary.items() if k != "last"}}, indent=2))
    return 0
