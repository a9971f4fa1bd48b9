"""The one generic trainer: any registered loss, frozen-backbone or end-to-end fine-tuning mode.

Frozen mode computes pooled backbone features once (cached on disk) and trains only the hash head;
fine-tuning trains backbone and head end to end with a lower backbone learning rate. Both modes are
seeded per epoch (so ``--resume`` continues exactly), save a checkpoint every epoch, measure validation
mAP every ``eval_every`` epochs on the protocol's validation split (never the queries) and keep the best
model. With ``ema_decay`` the model that is validated and kept is an exponential moving average of the
weights (:class:`csdh.engine.weight_ema.WeightEMA`); with ``sam_rho`` every step takes its gradient at
sharpness-aware perturbed weights (:class:`csdh.engine.sharpness.SharpnessAware`).
"""
from __future__ import annotations

import dataclasses
import logging
import math
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

import numpy as np
import torch

from csdh.codes import code_moment, pack, pack_dithered, pack_shaped
from csdh.data.pool import ImagePool
from csdh.data.pool_dataset import check_batch
from csdh.data.protocols import Split
from csdh.data.transforms import augment_batch, cutmix, mixup, mixup_rng, to_float
from csdh.engine.config import RESUMABLE_CHANGES, TrainConfig
from csdh.engine.features import FeatureCache, forward_pool, no_progress, pool_loader
from csdh.engine.run_dir import RunDir, atomic_torch_save, atomic_write_text
from csdh.engine.sharpness import SharpnessAware
from csdh.engine.pseudo_labels import PseudoLabels
from csdh.engine.teacher import Teacher
from csdh.engine.weight_ema import WeightEMA
from csdh.errors import UserError
from csdh.losses import LOSSES, BaseHashingLoss
from csdh.metrics import mean_average_precision
from csdh.models import BACKBONES, HashHead, HashingNet

LOG = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1


def build_net(config: TrainConfig, pretrained: bool = True) -> HashingNet:
    """The hashing network of ``config`` (backbone from the registry + hash head)."""
    extra = {}
    if config.drop_path is not None:
        if not BACKBONES.get(config.backbone).supports_drop_path:
            raise UserError(f"--drop-path: backbone {config.backbone} has no stochastic depth to set")
        extra["drop_path"] = config.drop_path
    backbone = BACKBONES.create(config.backbone, pretrained=pretrained, input_size=config.input_size, **extra)
    head = HashHead(backbone.out_dim, config.bits, hidden=config.hidden, dropout=config.dropout, beta=config.beta)
    return HashingNet(backbone, head)


def build_loss(config: TrainConfig, n_classes: int, n_train: int) -> BaseHashingLoss:
    """The loss of ``config.method`` with its extra arguments; a bad argument is a user error."""
    factory = LOSSES.get(config.method)
    try:
        return factory(n_bits=config.bits, n_classes=n_classes, n_train=n_train, **config.loss_kwargs)
    except (TypeError, ValueError) as exc:  # an unknown name, or a value the loss refuses
        raise UserError(f"bad argument for method {config.method!r}: {exc}") from None


def freeze_batch_norm(module: torch.nn.Module) -> torch.nn.Module:
    """Put every batch-norm layer of ``module`` in eval mode (its running statistics stay as they are)."""
    for m in module.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()
    return module


def cosine_lr(base: float, epoch: int, epochs: int) -> float:
    """Cosine decay from ``base`` at epoch 0 towards 0 at ``epochs`` (stateless, so resumable)."""
    return base * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs))


def warmup_factor(epoch: int, step: int, n_steps: int, warmup: int) -> float:
    """Linear learning-rate warm-up: the factor for ``step`` (0-based) of ``n_steps`` in ``epoch`` of a
    schedule whose first ``warmup`` epochs ramp up; ``(epoch * n_steps + step + 1) / (warmup * n_steps)``,
    capped at 1 (and 1 when ``warmup`` is 0)."""
    if warmup <= 0:
        return 1.0
    return min(1.0, (epoch * n_steps + step + 1) / (warmup * n_steps))


class Trainer:
    """Trains one run.

    Args:
        config: the run's configuration.
        pool: the data set's images.
        split: the protocol's positions.
        run_dir: where the run is written.
        device: torch device ("cpu" by default).
        progress: optional ``progress(iterable, desc=, total=, unit=)`` wrapper (the CLI passes tqdm).
        feature_cache: where frozen features are cached (default ``~/.cache/csdh/features``).
        pretrained: load the backbone's pretrained weights (tests may use False).
        workers: processes that load and resize images (0: this one); the result does not depend on it.
        precision: the arithmetic of the passes that only encode images — frozen features and validation
            codes — ``fp32`` or ``bf16`` (:mod:`csdh.engine.precision`); gradient steps are float32.
    """

    def __init__(self, config: TrainConfig, pool: ImagePool, split: Split, run_dir: RunDir, device: str = "cpu",
                 progress: Optional[Callable[..., Iterable]] = None, feature_cache: Optional[FeatureCache] = None,
                 pretrained: bool = True, workers: int = 0, precision: str = "fp32") -> None:
        self.config = config
        self.pool = pool
        self.split = split
        self.run = run_dir
        self.device = torch.device(device)
        self.progress = progress or no_progress
        self.cache = feature_cache or FeatureCache()
        self.pretrained = pretrained
        self.workers = int(workers)
        self.precision = precision
        self.train_pos = np.array(split.train, dtype=np.int64)  # a writable copy
        self.labels = torch.from_numpy(pool.labels.astype(np.float32))

    # ------------------------------------------------------------------ set-up
    def _setup(self) -> None:
        c = self.config
        self._setup_pseudo_labels()
        torch.manual_seed(c.seed)
        self.net = build_net(c, pretrained=self.pretrained).to(self.device)
        self.net = self.net.to(memory_format=torch.channels_last)
        # every end-to-end item has a place in a memory bank, the pseudo-labelled ones after the training images
        self.loss = build_loss(c, self.pool.n_classes, len(self.item_pos)).to(self.device)
        # a loss with parameters of its own (CSDH's optional code classifier) learns with the hash head
        head_params = list(self.net.head.parameters()) + list(self.loss.parameters())
        groups = [{"params": head_params, "lr": c.lr, "base_lr": c.lr}]
        self.frozen_stages: List[torch.nn.Module] = []
        if c.finetune:
            try:
                self.frozen_stages = self.net.backbone.freeze_stages(c.freeze_stages)
            except ValueError as exc:
                raise UserError(f"--freeze-stages: {exc}") from None
            trainable = [p for p in self.net.backbone.parameters() if p.requires_grad]
            groups.append({"params": trainable, "lr": c.backbone_lr, "base_lr": c.backbone_lr})
        else:
            for p in self.net.backbone.parameters():
                p.requires_grad_(False)
        # the fused kernel updates all parameters in one pass (much faster than the per-tensor loop on CPU)
        try:
            self.optimizer = torch.optim.AdamW(groups, weight_decay=c.weight_decay, fused=True)
        except (RuntimeError, TypeError):  # a device or torch version without the fused kernel
            self.optimizer = torch.optim.AdamW(groups, weight_decay=c.weight_decay)
        self.ema = WeightEMA(self.net, c.ema_decay) if c.ema_decay > 0 else None
        self.sam = (SharpnessAware([p for g in self.optimizer.param_groups for p in g["params"]], c.sam_rho)
                    if c.sam_rho > 0 else None)
        self.start_epoch = 0
        self.best: Dict[str, Any] = {"epoch": -1, "val_map": -1.0}
        if c.teacher and c.teacher_target == "classifier" and not self.loss.has_classifier():
            raise UserError("--teacher-target classifier steers the code classifier's term, which this run "
                            "does not have: add --loss-arg lambda_cls=0.1 (or another weight > 0)")
        self.teacher = (Teacher.load(c.teacher, self.split, self.pool.n_classes, c.teacher_weight,
                                     c.teacher_temperature, device=self.device) if c.teacher else None)
        self.features: Dict[str, torch.Tensor] = {}
        if not c.finetune:
            self._load_features(("train", "val_query", "val_database"))
        elif c.head_warmup:
            self._load_features(("train",))

    def _setup_pseudo_labels(self) -> None:
        """``item_pos`` and ``item_labels``: what end-to-end epochs train on, the training images and then,
        with ``pseudo_labels``, the unlabelled database images a finished run labels (the head warm-up on
        cached features keeps to the training images, the first ``len(train_pos)`` items)."""
        c = self.config
        self.item_pos = self.train_pos
        self.item_labels = self.labels[torch.from_numpy(self.train_pos)]
        self.n_pseudo = 0
        if not c.pseudo_labels:
            return
        labeller = Teacher.load(c.pseudo_labels, self.split, self.pool.n_classes, 1.0, 1.0, device=self.device)
        pseudo = PseudoLabels.from_teacher(labeller, self.pool, self.split, c.pseudo_count, c.pseudo_keep, c.seed,
                                           batch_size=c.batch_size, workers=self.workers, device=str(self.device),
                                           progress=self.progress)
        self.n_pseudo = len(pseudo)
        self.item_pos = np.concatenate([self.train_pos, pseudo.positions])
        self.item_labels = torch.cat([self.item_labels, torch.from_numpy(pseudo.labels)])

    def _load_features(self, names) -> None:
        parts = {name: getattr(self.split, name) for name in names}
        everything = np.concatenate([np.asarray(v, dtype=np.int64) for v in parts.values()])
        args = (self.net.backbone, self.config.backbone, self.config.input_size, self.pool)
        self.cache.get(*args, everything, device=str(self.device), progress=self.progress,  # one pass for all
                       workers=self.workers, precision=self.precision)
        for name, pos in parts.items():
            feats = self.cache.get(*args, np.asarray(pos, dtype=np.int64), device=str(self.device),
                                   precision=self.precision)
            self.features[name] = torch.from_numpy(feats).to(self.device)

    @property
    def eval_net(self) -> HashingNet:
        """The model that is validated and saved: the weight average when ``ema_decay`` is set."""
        if self.ema is None:
            return self.net
        self.ema.shadow.head.beta = self.net.head.beta
        return self.ema.shadow

    def _state(self, epoch: int) -> Dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "epoch": epoch,
            "head": self.net.head.state_dict(),
            "head_beta": self.net.head.beta,
            "backbone": self.net.backbone.state_dict() if self.config.finetune else None,
            "optimizer": self.optimizer.state_dict(),
            "loss": self.loss.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "best": dict(self.best),
            "pool": self.pool.fingerprint(),
        }

    def _resume(self) -> None:
        ck = self.run.load_torch(self.run.checkpoint)
        if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
            raise UserError("not a csdh checkpoint of this version", self.run.checkpoint)
        old = ck["config"]
        new = self.config.to_dict()
        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
        for key in sorted(set(old) | set(new)):
            if key in RESUMABLE_CHANGES:
                continue
            if old.get(key, defaults.get(key)) != new.get(key, defaults.get(key)):
                raise UserError(f"cannot resume: the checkpoint was trained with {key}={old.get(key)!r}, "
                                f"this run asks for {key}={new.get(key)!r}", self.run.checkpoint)
        if ck.get("pool") != self.pool.fingerprint():
            raise UserError("cannot resume: the checkpoint was trained on different data "
                            f"({ck.get('pool')} vs {self.pool.fingerprint()})", self.run.checkpoint)
        try:
            self.net.head.load_state_dict(ck["head"])
            self.net.head.beta = float(ck["head_beta"])
            if self.config.finetune:
                self.net.backbone.load_state_dict(ck["backbone"])
            self.optimizer.load_state_dict(ck["optimizer"])
            self.loss.load_state_dict(ck["loss"])
            if self.ema is not None:
                self.ema.load_state_dict(ck["ema"])
        except (RuntimeError, KeyError, ValueError, TypeError) as exc:
            raise UserError(f"cannot resume: incompatible checkpoint ({exc})", self.run.checkpoint) from None
        self.start_epoch = int(ck["epoch"]) + 1
        self.best = dict(ck["best"])
        LOG.info("resuming after epoch %d", self.start_epoch)

    # ------------------------------------------------------------------ training
    def end_to_end(self, epoch: int) -> bool:
        """Whether ``epoch`` trains the backbone (fine-tuning after the head warm-up)."""
        return self.config.finetune and epoch >= self.config.head_warmup

    def _batches(self, epoch: int):
        c = self.config
        g = torch.Generator().manual_seed(c.seed * 100_003 + epoch)
        end_to_end = self.end_to_end(epoch)
        perm = torch.randperm(len(self.item_pos) if end_to_end else len(self.train_pos), generator=g)
        n_batches = len(perm) // c.batch_size + (1 if len(perm) % c.batch_size >= 2 else 0)
        if end_to_end:
            loader = pool_loader(self.pool, self.item_pos[perm.numpy()], c.input_size, c.batch_size, self.workers,
                                 str(self.device))
            for i, batch in enumerate(loader):
                images, labels, _ = check_batch(batch)
                if len(images) < 2:
                    break
                idx = perm[i * c.batch_size:i * c.batch_size + len(images)]
                # uint8 to the device first: a quarter of the bytes, and scaling and augmentation run there
                # (the random draws still come from the CPU generator, so every device sees the same ones)
                x = to_float(images.to(self.device, non_blocking=True))
                if c.augment:
                    x = augment_batch(x, generator=g, rotate=c.rotate, scale=c.scale_jitter, erase_prob=c.erase_prob)
                if self.n_pseudo:  # the pool's labels of pseudo-labelled images are never read
                    labels = self.item_labels[idx]
                yield x, labels.to(self.device), idx.to(self.device)
        else:
            feats = self.features["train"]
            labels = self.labels[torch.from_numpy(self.train_pos)]
            for i in range(n_batches):
                idx = perm[i * c.batch_size:(i + 1) * c.batch_size]
                yield feats[idx.to(self.device)], labels[idx].to(self.device), idx.to(self.device)

    def _train_epoch(self, epoch: int) -> Dict[str, float]:
        c = self.config
        torch.manual_seed(c.seed * 7919 + epoch)  # dropout etc., reproducible after --resume
        warm = c.head_warmup
        for i, group in enumerate(self.optimizer.param_groups):
            if epoch < warm:  # head warm-up: its own cosine schedule, backbone untouched
                group["lr"] = cosine_lr(group["base_lr"], epoch, warm) if i == 0 else 0.0
            else:
                group["lr"] = cosine_lr(group["base_lr"], epoch - warm, c.epochs)
        epoch_lrs = [group["lr"] for group in self.optimizer.param_groups]
        ramping = epoch >= warm and epoch - warm < c.lr_warmup
        self.loss.on_epoch_start(epoch)
        scale = self.loss.head_scale()
        if scale is not None:
            self.net.head.beta = float(scale)
        end_to_end = self.end_to_end(epoch)
        if self.ema is not None and c.finetune and epoch == c.head_warmup:
            self.ema.reset(self.net)  # average the fine-tuned weights only, not the warm-up's
        self.net.train()
        if not end_to_end:
            self.net.backbone.eval()
        elif c.freeze_bn:
            freeze_batch_norm(self.net.backbone)
        for stage in self.frozen_stages:  # pretrained and fixed: batch norm and dropout as at inference
            stage.eval()
        n_batches = math.ceil((len(self.item_pos) if end_to_end else len(self.train_pos)) / c.batch_size)
        bar = self.progress(self._batches(epoch), desc=f"epoch {epoch + 1}/{c.total_epochs}", total=n_batches, unit="batch")
        total, n_items, t0 = 0.0, 0, time.perf_counter()
        terms: Dict[str, float] = {}
        mix_rng = mixup_rng(c.seed, epoch)
        for step, (x, y, idx) in enumerate(bar):
            if end_to_end and c.cutmix > 0 and (c.mixup <= 0 or mix_rng.random() < 0.5):
                x, y = cutmix(x, y, c.cutmix, mix_rng)
            elif c.mixup > 0:
                x, y = mixup(x, y, c.mixup, mix_rng)
            class_targets = None
            if end_to_end and self.teacher is not None:
                if c.teacher_target == "labels":
                    y = self.teacher.soften(x, y)
                else:
                    class_targets = self.teacher.soften(x, y)
            if ramping:
                factor = warmup_factor(epoch - warm, step, n_batches, c.lr_warmup)
                for group, lr in zip(self.optimizer.param_groups, epoch_lrs):
                    group["lr"] = lr * factor
            loss = self._batch_loss(x, y, idx, class_targets, end_to_end)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.sam is not None:
                self._sharpness_aware_gradient(x, y, idx, class_targets, end_to_end)
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update(self.net)
            total += float(loss.detach()) * len(x)
            n_items += len(x)
            for k, v in self.loss.last_terms.items():
                terms[k] = terms.get(k, 0.0) + v * len(x)
            if hasattr(bar, "set_postfix") and step % 5 == 0:
                rate = n_items / max(time.perf_counter() - t0, 1e-9)
                bar.set_postfix(loss=f"{total / n_items:.4f}", img_s=f"{rate:.0f}")
        seconds = time.perf_counter() - t0
        stats = {"epoch": epoch + 1, "phase": "end-to-end" if end_to_end else "head", "loss": total / max(n_items, 1), "seconds": seconds,
                 "items_per_s": n_items / max(seconds, 1e-9), "lr": self.optimizer.param_groups[0]["lr"]}
        stats.update({f"loss_{k}": v / max(n_items, 1) for k, v in terms.items()})
        return stats

    def _batch_loss(self, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor,
                    class_targets: Optional[torch.Tensor], end_to_end: bool) -> torch.Tensor:
        """The loss of one batch: images through the whole network, or pooled features through the head."""
        codes = self.net(x) if end_to_end else self.net.forward_head(x)
        return self.loss(codes, y, idx, class_targets=class_targets)

    def _sharpness_aware_gradient(self, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor,
                                  class_targets: Optional[torch.Tensor], end_to_end: bool) -> None:
        """Replace the gradients by SAM's: those of the same batch at the perturbed weights. The second
        pass leaves no trace on the loss (its memory bank and logged terms stay those of the first)."""
        state = {k: v.clone() for k, v in self.loss.named_buffers()}
        terms = dict(self.loss.last_terms)
        with self.sam.perturbed():
            self.optimizer.zero_grad(set_to_none=True)
            self._batch_loss(x, y, idx, class_targets, end_to_end).backward()
        with torch.no_grad():
            for k, v in self.loss.named_buffers():
                v.copy_(state[k])
        self.loss.last_terms = terms

    def encode_split(self, name: str) -> np.ndarray:
        """Continuous codes of a validation split with the model being validated (eval mode)."""
        net = self.eval_net
        net.eval()
        with torch.inference_mode():
            if not self.config.finetune:
                return net.forward_head(self.features[name]).cpu().numpy()
            positions = getattr(self.split, name)
            return forward_pool(net, self.pool, positions, self.config.input_size, batch_size=32,
                                device=str(self.device), progress=self.progress, desc=f"encode {name}",
                                workers=self.workers, precision=self.precision)

    def validate(self) -> float:
        """mAP@ALL of the validation queries against the validation database."""
        return self._validate()[0]

    def _validate(self):
        """``(validation mAP@ALL, code moment)``: the validation database is the training split, whose codes
        also give the code moment saved with the model (``db_shape``)."""
        q = pack(self.encode_split("val_query"))
        train_codes = self.encode_split("val_database")
        moment = code_moment(train_codes)
        if self.config.db_shape:
            d = pack_shaped(train_codes, moment, self.config.db_dither, self.config.seed)
        else:
            d = pack_dithered(train_codes, self.config.db_dither, self.config.seed)
        ql = self.pool.labels[self.split.val_query]
        dl = self.pool.labels[self.split.val_database]
        return float(mean_average_precision(q, d, ql, dl)), moment

    def _save_model(self, epoch: int, val_map: Optional[float], moment: Optional[np.ndarray] = None) -> None:
        """Write ``model.pt`` with the model being validated and ``moment``, the code moment of the training
        images' codes under it (computed here when None), which ``db_shape`` needs."""
        net = self.eval_net
        if moment is None:
            moment = code_moment(self.encode_split("val_database"))
        classifier = getattr(self.loss, "classifier", None)
        atomic_torch_save({
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "epoch": epoch,
            "val_map": val_map,
            "head": net.head.state_dict(),
            "head_beta": net.head.beta,
            "backbone": net.backbone.state_dict() if self.config.finetune else None,
            "n_classes": self.pool.n_classes,
            "class_names": list(self.pool.class_names),
            "code_moment": torch.from_numpy(moment),
            # the classifier of CSDH's optional L_cls term, which a run taught by this one reads (--teacher)
            "classifier": None if classifier is None else classifier.state_dict(),
        }, self.run.model)

    def fit(self, resume: bool = False) -> Dict[str, Any]:
        """Train (or continue) the run; returns a summary (best epoch, validation mAP, timings)."""
        c = self.config
        t_start = time.perf_counter()
        self._setup()
        if resume:
            self._resume()
        else:
            atomic_write_text(self.run.config, c.to_json())
            self.split.save(self.run.split)
        setup_seconds = time.perf_counter() - t_start
        validating = bool(c.eval_every) and len(self.split.val_query) > 0
        if c.eval_every and not validating:
            LOG.warning("the split has no validation queries: nothing to validate, the last epoch is kept")
        last_stats: Dict[str, Any] = {}
        for epoch in range(self.start_epoch, c.total_epochs):
            stats = self._train_epoch(epoch)
            is_last = epoch == c.total_epochs - 1
            in_warmup = epoch < c.head_warmup
            if validating and not in_warmup and ((epoch + 1 - c.head_warmup) % c.eval_every == 0 or is_last):
                t0 = time.perf_counter()
                stats["val_map"], moment = self._validate()
                stats["val_seconds"] = time.perf_counter() - t0
                if stats["val_map"] > self.best["val_map"]:
                    self.best = {"epoch": epoch + 1, "val_map": stats["val_map"]}
                    self._save_model(epoch + 1, stats["val_map"], moment)
            elif not validating and is_last:
                self.best = {"epoch": epoch + 1, "val_map": None}
                self._save_model(epoch + 1, None)
            atomic_torch_save(self._state(epoch), self.run.checkpoint)
            self.run.append_log(stats)
            LOG.info("epoch %d/%d (%s) loss %.4f %s", epoch + 1, c.total_epochs, stats["phase"], stats["loss"],
                     f"val mAP {stats['val_map']:.4f}" if "val_map" in stats else "")
            last_stats = stats
        return {"best_epoch": self.best["epoch"], "best_val_map": self.best["val_map"],
                "setup_seconds": setup_seconds, "train_seconds": time.perf_counter() - t_start - setup_seconds,
                "last": last_stats}
