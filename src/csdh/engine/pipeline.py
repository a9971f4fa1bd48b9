"""High-level jobs used by the CLI and the benchmarks: train a run from a config."""
from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Optional, Union

from csdh.data import load_dataset
from csdh.data.protocols import Split, make_split
from csdh.engine.config import TrainConfig
from csdh.engine.features import FeatureCache
from csdh.engine.run_dir import RunDir
from csdh.engine.trainer import Trainer, build_loss
from csdh.errors import UserError

LOG = logging.getLogger(__name__)

#: defaults that differ between the two training modes (chosen on the validation split; docs/method.md)
MODE_DEFAULTS: Dict[bool, Dict[str, Any]] = {
    False: {"epochs": 40, "batch_size": 128, "lr": 1e-3},
    True: {"epochs": 12, "warmup_epochs": 40, "batch_size": 32, "lr": 1e-3, "backbone_lr": 1e-4},
}


def make_config(finetune: bool = False, **overrides: Any) -> TrainConfig:
    """A TrainConfig with the mode's defaults, then ``overrides`` (None values are ignored).

    ``n_val=0`` (no validation split, e.g. once the settings have been chosen on one) turns validation off
    unless ``eval_every`` is given, and the last epoch is kept.
    """
    values = dict(MODE_DEFAULTS[bool(finetune)])
    values.update({k: v for k, v in overrides.items() if v is not None})
    if values.get("n_val") == 0:
        values.setdefault("eval_every", 0)
    return TrainConfig(finetune=bool(finetune), **values)


def prepare_data(config: TrainConfig, download: bool = True):
    """Load the data set and make the protocol split of ``config``; returns ``(pool, split)``."""
    pool, given, default_protocol = load_dataset(config.dataset, data_dir=config.data_dir,
                                                 image_root=config.image_root, download=download)
    protocol = config.protocol or default_protocol
    split = make_split(protocol, pool, seed=config.seed, n_val=config.n_val, given=given)
    return pool, split


def check_label_mixing(config: TrainConfig, pool) -> None:
    """Mixup and CutMix mix labels as class distributions, and a teacher's posteriors are one, which only
    single-label data have, and a pseudo-label is one class: refuse multi-label data."""
    mixing = (("--mixup", config.mixup > 0), ("--cutmix", config.cutmix > 0), ("--teacher", bool(config.teacher)),
              ("--pseudo-labels", bool(config.pseudo_labels)))
    for flag, used in mixing:
        if used and pool.multi_label:
            raise UserError(f"{flag} needs single-label data; {config.dataset!r} here is multi-label")


def train_run(config: TrainConfig, out: Union[str, Path], overwrite: bool = False, resume: bool = False,
              device: str = "cpu", progress: Optional[Callable[..., Iterable]] = None, download: bool = True,
              feature_cache: Optional[FeatureCache] = None, pretrained: bool = True,
              workers: int = 0, precision: str = "fp32") -> Dict[str, Any]:
    """Train ``config`` into the run directory ``out`` (see :class:`csdh.engine.trainer.Trainer`).

    With ``resume`` the split is read back from the run directory, so a resumed run sees exactly the
    same positions as the killed one. ``precision`` is the arithmetic of the passes that only encode images
    (:class:`csdh.engine.trainer.Trainer`).
    """
    run = RunDir(out)
    if resume:
        run.require("checkpoint")
        pool, _, _ = load_dataset(config.dataset, data_dir=config.data_dir, image_root=config.image_root,
                                  download=download)
        split = Split.load(run.split)
        starting = contextlib.nullcontext()
    else:
        pool, split = prepare_data(config, download=download)
        check_label_mixing(config, pool)
        build_loss(config, pool.n_classes, len(split.train))  # a bad loss argument fails before anything is written
        starting = run.starting(overwrite)  # a run replaced with --overwrite comes back if this one fails to start
    with starting:
        trainer = Trainer(config, pool, split, run, device=device, progress=progress, feature_cache=feature_cache,
                          pretrained=pretrained, workers=workers, precision=precision)
        return trainer.fit(resume=resume)
