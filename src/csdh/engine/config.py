"""The typed, frozen configuration of a training run."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

from csdh.codes import check_bits
from csdh.errors import UserError


#: what a teacher's posteriors may replace (TrainConfig.teacher_target)
TEACHER_TARGETS = ("labels", "classifier")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (and nothing that depends on the machine).

    Attributes:
        dataset: registered data set name.
        protocol: named split protocol; None means the data set's default.
        data_dir: where the data set lives (None: its default search path).
        image_root: root of image paths for list files (None: ``data_dir``).
        method: registered loss name.
        bits: K, a multiple of 8.
        backbone: registered backbone name.
        input_size: square input size in pixels (a multiple of 32 for EfficientNet).
        finetune: train the backbone end to end; False trains the head on cached frozen features.
        epochs: number of epochs (with ``finetune``: end-to-end epochs, after the warm-up).
        warmup_epochs: with ``finetune``, first train the hash head alone on cached frozen features for
            this many epochs (linear-probe-then-fine-tune), so that end-to-end training starts from a
            good head instead of a random one; ignored without ``finetune``.
        batch_size: images (or feature vectors) per step.
        lr: learning rate of the hash head (Adam).
        backbone_lr: learning rate of the backbone when fine-tuning.
        lr_warmup: epochs over which every learning rate rises linearly, step by step, from near 0 to its
            cosine schedule at the start of training (with ``finetune``: at the start of end-to-end
            training, where the pretrained backbone meets fresh optimiser moments); 0 (default): none.
        weight_decay: L2 weight decay (AdamW).
        hidden: hidden layer width of the hash head.
        dropout: dropout after the hidden layer.
        beta: tanh scale of the hash layer.
        augment: random flips and translations while fine-tuning.
        rotate: with ``augment``, rotate each training image by a random angle in [-rotate, rotate] degrees
            while fine-tuning (0: off).
        scale_jitter: with ``augment``, scale each training image about its centre by a random factor in
            [1 - scale_jitter, 1 + scale_jitter] while fine-tuning (0: off).
        erase_prob: with ``augment``, probability of random erasing per image while fine-tuning (0: off).
        mixup: mix each training item with a random partner of its batch, and their labels alike, with a
            weight drawn from Beta(mixup, mixup) (0: off). The images are mixed while fine-tuning end to end,
            the pooled features while only the head trains. Single-label data only: a mixed label is a
            class distribution and the label similarity of two items the probability that they share
            their class (``csdh.losses.similarity``).
        cutmix: paste a rectangle of a random partner of the batch into each training image, covering
            ``1 - l`` of it with ``l`` from Beta(cutmix, cutmix), and mix the labels by area (0: off;
            :func:`csdh.data.transforms.cutmix`). Images only, so end-to-end epochs only (needs
            ``finetune``); with ``mixup`` as well, each batch takes one of the two with probability 1/2.
            Single-label data only, as ``mixup``.
        db_dither: spread of the per-bit thresholds that binarise database codes, ``sign(h - tau)`` with
            tau evenly spaced over (-db_dither, db_dither) in a seeded order
            (:func:`csdh.codes.dither_thresholds`); queries keep ``sign(h)``. 0 (default): plain sign. It
            changes no training step: ``csdh evaluate`` and ``csdh encode`` can override it.
        db_shape: binarise database codes by noise shaping (:func:`csdh.codes.shape_codes`): starting from
            the (dithered) signs, flip bits so that the codes' inner products with query-like codes (the
            second moment of the training images' codes, stored in ``model.pt``) follow the continuous
            ones. False (default): the signs as they are. Like ``db_dither`` it changes no training step.
        flip_average: encode every image, query or database, as the mean of its continuous codes as it is
            and mirrored left to right, before binarising (test-time augmentation; twice the encoding
            time). False (default): one pass. It changes no training step (validation while training
            encodes without it); ``csdh evaluate`` and ``csdh encode`` can override it.
        shift_average: also encode every image translated by this many pixels (at ``input_size``) right,
            left, down and up (reflect-filled, the translation the training augmentation draws at random)
            and average the codes of all the views before binarising: with ``flip_average`` six views (as
            it is, mirrored and the four shifts), without it five. 0 (default): no shifted views. Like
            ``flip_average`` it changes no training step, and ``csdh evaluate`` and ``csdh encode`` can
            override it.
        freeze_stages: while fine-tuning, keep the first this many stages of the backbone (its
            :meth:`~csdh.models.backbone.Backbone.stages`: for EfficientNet-Lite the stem, then each block)
            at their pretrained weights, in eval mode; gradients stop there (0: fine-tune all).
        drop_path: while fine-tuning, the backbone's stochastic-depth rate (EfficientNet-Lite: the "drop
            connect" of its MBConv blocks, growing linearly with depth towards this rate); None (default):
            the backbone's own (0.2 for EfficientNet-Lite).
        freeze_bn: keep the backbone's batch-norm layers in eval mode (pretrained statistics) while
            fine-tuning; small CPU batches give noisy batch statistics.
        ema_decay: keep an exponential moving average of the weights with this decay per step and
            validate, keep and save the averaged model (0: off). With ``finetune`` the average restarts
            when end-to-end training begins, so it averages the fine-tuned weights only.
        sam_rho: sharpness-aware minimisation with this neighbourhood radius (0: off;
            :class:`csdh.engine.sharpness.SharpnessAware`): every step takes the gradient of the same batch
            at the weights moved ``sam_rho`` along the normalised gradient, so each step costs two forward and
            two backward passes.
        teacher: a finished run directory whose model guides end-to-end training (knowledge distillation
            from a model trained on the same split, e.g. an earlier run of the same recipe; None: off).
            Each end-to-end batch, as augmented and mixed, goes through the teacher too, and the labels
            the loss sees become ``(1 - teacher_weight) y + teacher_weight softmax(z / teacher_temperature)``
            with ``z`` the logits of the teacher's code classifier (its ``lambda_cls`` term), so L_sim and
            L_cls learn from the teacher's class posteriors as well as the labels
            (:class:`csdh.engine.teacher.Teacher`). Needs ``finetune`` and single-label data.
        teacher_target: what the teacher's mixture replaces: ``"labels"`` (default), the labels of every
            term; ``"classifier"``, only the targets of the code classifier's L_cls (the student needs
            ``lambda_cls > 0``), while the pairwise terms keep the plain labels.
        teacher_weight: the teacher's share of the labels, in (0, 1].
        teacher_temperature: softmax temperature of the teacher's logits, > 0.
        pseudo_labels: a finished run directory (same split, with a code classifier, like ``teacher``) that
            labels unlabelled database images for end-to-end training (self-training; None: off). Before
            training, ``pseudo_count`` database images that are neither training images nor validation
            queries are drawn at random (seeded), given the run's most probable class, and the
            ``pseudo_keep`` fraction it is most sure of joins the training images in every end-to-end epoch
            (:class:`csdh.engine.pseudo_labels.PseudoLabels`); the head warm-up keeps to the labelled images.
            Needs ``finetune`` and single-label data.
        pseudo_count: unlabelled database images drawn for pseudo-labelling, >= 1.
        pseudo_keep: the fraction of them kept, the most confident first, in (0, 1].
        eval_every: validation mAP every this many epochs (0: never; then the last epoch is kept).
        n_val: validation queries (never the protocol's queries).
        seed: seeds the split, initialisation, shuffling and augmentation.
        loss_args: extra keyword arguments of the loss, as sorted (name, value) pairs.
    """

    dataset: str = "fashion-mnist"
    protocol: Optional[str] = None
    data_dir: Optional[str] = None
    image_root: Optional[str] = None
    method: str = "csdh"
    bits: int = 48
    backbone: str = "efficientnet-lite0"
    input_size: int = 96
    finetune: bool = False
    epochs: int = 30
    warmup_epochs: int = 0
    batch_size: int = 64
    lr: float = 1e-3
    backbone_lr: float = 1e-4
    lr_warmup: int = 0
    weight_decay: float = 1e-4
    hidden: int = 1024
    dropout: float = 0.5
    beta: float = 1.0
    augment: bool = True
    rotate: float = 0.0
    scale_jitter: float = 0.0
    erase_prob: float = 0.0
    mixup: float = 0.0
    cutmix: float = 0.0
    db_dither: float = 0.0
    db_shape: bool = False
    flip_average: bool = False
    shift_average: int = 0
    freeze_stages: int = 0
    drop_path: Optional[float] = None
    freeze_bn: bool = True
    ema_decay: float = 0.0
    sam_rho: float = 0.0
    teacher: Optional[str] = None
    teacher_target: str = "labels"
    teacher_weight: float = 0.5
    teacher_temperature: float = 2.0
    pseudo_labels: Optional[str] = None
    pseudo_count: int = 5000
    pseudo_keep: float = 0.7
    eval_every: int = 1
    n_val: int = 500
    seed: int = 0
    loss_args: Tuple[Tuple[str, Any], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        check_bits(self.bits)
        if self.epochs < 1:
            raise UserError(f"epochs must be >= 1, got {self.epochs}")
        if self.warmup_epochs < 0:
            raise UserError(f"warm-up epochs must be >= 0, got {self.warmup_epochs}")
        if not 0 <= self.lr_warmup <= self.epochs:
            raise UserError(f"learning-rate warm-up must be between 0 and the {self.epochs} epochs, "
                            f"got {self.lr_warmup}")
        if self.batch_size < 2:
            raise UserError(f"batch size must be >= 2, got {self.batch_size}")
        if not 0.0 <= self.rotate <= 180.0:
            raise UserError(f"rotation must be between 0 and 180 degrees, got {self.rotate}")
        if not 0.0 <= self.scale_jitter < 1.0:
            raise UserError(f"scale jitter must be in [0, 1), got {self.scale_jitter}")
        if (self.rotate or self.scale_jitter) and not self.finetune:
            raise UserError("--rotate and --scale-jitter transform the images while the backbone trains, so they "
                            "need --finetune (a frozen backbone trains the head on cached features)")
        if not 0.0 <= self.erase_prob <= 1.0:
            raise UserError(f"erase probability must be in [0, 1], got {self.erase_prob}")
        if self.mixup < 0:
            raise UserError(f"mixup must be >= 0, got {self.mixup}")
        if self.cutmix < 0:
            raise UserError(f"cutmix must be >= 0, got {self.cutmix}")
        if self.cutmix > 0 and not self.finetune:
            raise UserError("--cutmix mixes image regions, so it needs --finetune (a frozen backbone trains the "
                            "head on pooled features; use --mixup there)")
        if not 0.0 <= self.db_dither < 1.0:
            raise UserError(f"the database dither must be in [0, 1), got {self.db_dither}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise UserError(f"EMA decay must be in [0, 1), got {self.ema_decay}")
        if self.sam_rho < 0:
            raise UserError(f"SAM's radius must be >= 0, got {self.sam_rho}")
        if self.input_size < 32:
            raise UserError(f"input size must be >= 32, got {self.input_size}")
        if not 0 <= self.shift_average < self.input_size // 2:
            raise UserError(f"the averaged shift must be between 0 and {self.input_size // 2 - 1} pixels at input "
                            f"size {self.input_size}, got {self.shift_average}")
        if self.freeze_stages < 0:
            raise UserError(f"frozen stages must be >= 0, got {self.freeze_stages}")
        if self.freeze_stages and not self.finetune:
            raise UserError("--freeze-stages keeps part of the backbone at its pretrained weights while fine-tuning, "
                            "so it needs --finetune (without it the whole backbone is frozen)")
        if self.drop_path is not None:
            if not 0.0 <= self.drop_path < 1.0:
                raise UserError(f"the drop-path rate must be in [0, 1), got {self.drop_path}")
            if not self.finetune:
                raise UserError("--drop-path acts while the backbone trains, so it needs --finetune")
        if self.teacher is not None and not self.finetune:
            raise UserError("--teacher guides end-to-end training, so it needs --finetune")
        if self.teacher_target not in TEACHER_TARGETS:
            raise UserError(f"the teacher's target must be one of {', '.join(TEACHER_TARGETS)}, "
                            f"got {self.teacher_target!r}")
        if not 0.0 < self.teacher_weight <= 1.0:
            raise UserError(f"the teacher's weight must be in (0, 1], got {self.teacher_weight}")
        if not self.teacher_temperature > 0:
            raise UserError(f"the teacher's temperature must be > 0, got {self.teacher_temperature}")
        if self.pseudo_labels is not None and not self.finetune:
            raise UserError("--pseudo-labels adds images to end-to-end training, so it needs --finetune")
        if self.pseudo_count < 1:
            raise UserError(f"pseudo-labelled images drawn must be >= 1, got {self.pseudo_count}")
        if not 0.0 < self.pseudo_keep <= 1.0:
            raise UserError(f"the kept fraction of pseudo-labels must be in (0, 1], got {self.pseudo_keep}")
        if self.n_val < 0:
            raise UserError(f"validation queries must be >= 0, got {self.n_val}")
        if self.n_val == 0 and self.eval_every:
            raise UserError("--n-val 0 leaves no validation split to evaluate every epoch: pass --eval-every 0 "
                            "as well (the last epoch is kept)")
        object.__setattr__(self, "loss_args", tuple(sorted((str(k), v) for k, v in dict(self.loss_args).items())))

    @property
    def loss_kwargs(self) -> Dict[str, Any]:
        return dict(self.loss_args)

    @property
    def head_warmup(self) -> int:
        """Epochs of head-only training on frozen features before fine-tuning (0 without ``finetune``)."""
        return self.warmup_epochs if self.finetune else 0

    @property
    def total_epochs(self) -> int:
        return self.head_warmup + self.epochs

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["loss_args"] = {k: v for k, v in self.loss_args}
        return d

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["loss_args"] = tuple(dict(d.get("loss_args") or {}).items())
        return cls(**d)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


#: fields that may differ between a checkpoint and a resumed run
RESUMABLE_CHANGES = ("epochs", "eval_every", "db_dither", "db_shape", "flip_average", "shift_average")
