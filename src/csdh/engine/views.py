"""Test-time views of an image batch: what ``flip_average`` and ``shift_average`` average codes over.

:func:`encoding_views` lists them as ``(suffix, view)`` pairs; the plain view has the empty suffix, and the
suffix names a view's pooled features in the feature cache of a frozen-backbone run (``hflip`` for the mirror
image, ``shift8r`` for 8 pixels right, and so on). :class:`ViewInput` wraps a module so that it sees a view.
"""
from __future__ import annotations

from functools import partial
from typing import Callable, List, Tuple

import torch

from csdh.data.transforms import translate

View = Callable[[torch.Tensor], torch.Tensor]

#: the four translations of ``shift_average``: right, left, down, up, as (suffix letter, dx, dy) per pixel
SHIFTS = (("r", 1, 0), ("l", -1, 0), ("d", 0, 1), ("u", 0, -1))


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _mirror(x: torch.Tensor) -> torch.Tensor:
    return x.flip(3)


def encoding_views(flip: bool = False, shift: int = 0) -> List[Tuple[str, View]]:
    """The views an image is encoded in: as it is, then mirrored left to right with ``flip``, then moved
    ``shift`` pixels right, left, down and up (:func:`csdh.data.transforms.translate`) when ``shift`` > 0."""
    views: List[Tuple[str, View]] = [("", _identity)]
    if flip:
        views.append(("hflip", _mirror))
    if shift:
        views.extend((f"shift{shift}{name}", partial(translate, dx=dx * shift, dy=dy * shift))
                     for name, dx, dy in SHIFTS)
    return views


class ViewInput(torch.nn.Module):
    """``module`` applied to a view of its input batch (a test-time view of :func:`encoding_views`)."""

    def __init__(self, module: torch.nn.Module, view: View) -> None:
        super().__init__()
        self.module = module
        self.view = view
        self.out_dim = int(getattr(module, "out_dim"))  # what the feature cache reads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(self.view(x))
