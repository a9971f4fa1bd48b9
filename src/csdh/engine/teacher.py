"""A finished run guiding another run's end-to-end training: knowledge distillation of class posteriors."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Union

import torch
import torch.nn.functional as F

from csdh.data.protocols import Split
from csdh.errors import UserError

LOG = logging.getLogger(__name__)


class Teacher:
    """The selected model of a finished run with the classifier of its ``lambda_cls`` term, both frozen.

    :meth:`soften` turns a batch's labels ``y`` (one-hot, or class distributions after mixup) into
    ``(1 - weight) y + weight softmax(z / temperature)``, where ``z`` are the teacher's class logits for the
    same augmented and mixed images (Hinton et al., 2015, "Distilling the knowledge in a neural network";
    with a teacher of the student's own recipe, "born-again" networks, Furlanello et al., 2018). The
    teacher must have been trained on the student's split, so that it has seen no image that the student
    may not see.

    Use :meth:`load`. Attributes: ``net`` (the teacher's hashing network, eval mode), ``classifier``
    (``Linear(K, C)``), ``input_size`` (images are resized to it when the student's differs), ``weight``,
    ``temperature``.
    """

    def __init__(self, net: torch.nn.Module, classifier: torch.nn.Linear, input_size: int, weight: float,
                 temperature: float) -> None:
        self.net = net.eval().requires_grad_(False)
        self.classifier = classifier.eval().requires_grad_(False)
        self.input_size = int(input_size)
        self.weight = float(weight)
        self.temperature = float(temperature)

    @classmethod
    def load(cls, run_dir: Union[str, Path], split: Split, n_classes: int, weight: float, temperature: float,
             device: Union[str, torch.device] = "cpu") -> "Teacher":
        """The teacher of ``run_dir``: its model file, and its code classifier from the model file or, for
        runs written before model files kept it, from the checkpoint when that is of the same epoch.
        Refuses (as a user error naming the file) a run on another split or with another number of classes,
        and a run without a code classifier."""
        from csdh.engine.run_model import RunModel

        model = RunModel.load(run_dir, device=str(device))
        run = model.run
        if not run.split.exists() or Split.load(run.split) != split:
            raise UserError("the teacher was trained on another split than this run's (a teacher must share "
                            "the student's data set, protocol and seed, so that it has seen none of the "
                            "student's queries)", run.split)
        weights = model.code_classifier
        if weights is None and run.checkpoint.exists():
            ck = run.load_torch(run.checkpoint)
            if model.epoch is not None and int(ck.get("epoch", -2)) + 1 == int(model.epoch):
                loss_state = ck.get("loss") or {}
                if "classifier.weight" in loss_state:
                    weights = {"weight": loss_state["classifier.weight"], "bias": loss_state["classifier.bias"]}
        if weights is None:
            raise UserError("the teacher has no code classifier for its kept epoch: train the teacher with "
                            "--loss-arg lambda_cls=0.1 (or another weight > 0)", run.model)
        c, k = weights["weight"].shape
        if c != n_classes or k != model.bits:
            raise UserError(f"the teacher's code classifier maps {k} bits to {c} classes; this run has "
                            f"{n_classes} classes", run.model)
        classifier = torch.nn.Linear(k, c)
        classifier.load_state_dict(weights)
        LOG.info("teacher %s (epoch %s), weight %g, temperature %g", run.path, model.epoch, weight,
                 temperature)
        return cls(model.net, classifier.to(model.device), model.config.input_size, weight, temperature)

    @torch.no_grad()
    def posteriors(self, images: torch.Tensor) -> torch.Tensor:
        """``softmax(z / temperature)`` of the teacher's class logits for a float image batch ``(B, 3, S, S)``."""
        if images.shape[-1] != self.input_size:
            images = F.interpolate(images, size=(self.input_size, self.input_size), mode="bilinear",
                                   align_corners=False).contiguous(memory_format=torch.channels_last)
        logits = self.classifier(self.net(images))
        return torch.softmax(logits.float() / self.temperature, dim=1)

    def soften(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The labels the student's loss sees: ``(1 - weight) labels + weight posteriors(images)``."""
        p = self.posteriors(images)
        return (1.0 - self.weight) * labels.to(p.dtype) + self.weight * p
