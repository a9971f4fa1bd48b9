"""Pseudo-labels for unlabelled database images from a finished run (self-training)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import numpy as np

from csdh.data.protocols import Split
from csdh.engine.features import forward_pool
from csdh.engine.teacher import Teacher

LOG = logging.getLogger(__name__)


def unlabelled_candidates(split: Split) -> np.ndarray:
    """Database positions a run may pseudo-label: neither its training images nor its validation queries
    (so that validation still measures images the run has not trained on); sorted."""
    taken = np.union1d(np.asarray(split.train, dtype=np.int64), np.asarray(split.val_query, dtype=np.int64))
    return np.setdiff1d(np.asarray(split.database, dtype=np.int64), taken)


def most_confident(confidence: np.ndarray, keep: float) -> np.ndarray:
    """Indices of the ``keep`` fraction of ``confidence`` that is largest (at least one; equal confidences
    keep the earlier index), sorted."""
    n_keep = max(1, int(round(keep * len(confidence))))
    return np.sort(np.argsort(-confidence, kind="stable")[:n_keep])


@dataclass(frozen=True)
class PseudoLabels:
    """Unlabelled images with the class a teacher gives them.

    Attributes: ``positions`` (pool positions, int64 ``(n,)``, sorted), ``labels`` (one-hot float32
    ``(n, C)``, the teacher's most probable class) and ``confidence`` (that class's posterior, ``(n,)``).
    """

    positions: np.ndarray
    labels: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return len(self.positions)

    @classmethod
    def from_teacher(cls, teacher: Teacher, pool, split: Split, count: int, keep: float, seed: int,
                     batch_size: int = 32, workers: int = 0, device: str = "cpu",
                     progress: Optional[Callable[..., Iterable]] = None) -> "PseudoLabels":
        """Draw ``count`` of the split's :func:`unlabelled_candidates` at random (seeded; all of them when
        there are fewer), label each with the teacher's most probable class for the image as it is (no
        augmentation, the teacher's input size), and keep the ``keep`` fraction the teacher is most sure of
        (at least one image; ties keep the lower position)."""
        candidates = unlabelled_candidates(split)
        if len(candidates) == 0:
            return cls(np.zeros(0, np.int64), np.zeros((0, pool.n_classes), np.float32), np.zeros(0, np.float32))
        rng = np.random.default_rng([int(seed), 0x5E1F])
        drawn = np.sort(rng.choice(candidates, size=min(int(count), len(candidates)), replace=False))
        p = forward_pool(teacher.posteriors, pool, drawn, teacher.input_size, batch_size=batch_size, device=device,
                         progress=progress, desc="pseudo-labels", workers=workers)
        confidence, cls_index = p.max(1), p.argmax(1)
        chosen = most_confident(confidence, keep)
        n_keep = len(chosen)
        labels = np.zeros((n_keep, p.shape[1]), np.float32)
        labels[np.arange(n_keep), cls_index[chosen]] = 1.0
        LOG.info("pseudo-labels: %d of %d unlabelled database images drawn kept (teacher's confidence >= %.3f)",
                 n_keep, len(drawn), float(confidence[chosen].min()))
        return cls(drawn[chosen], labels, confidence[chosen].astype(np.float32))
