"""Sharpness-aware minimisation (SAM; Foret, Kleiner, Mobahi, Neyshabur, ICLR 2021) around any optimiser.

SAM looks for weights whose whole neighbourhood has a low loss, not just the point itself. Each step:

1. the gradient ``g`` of the loss at the weights ``w`` (the ordinary backward pass);
2. move to the worst nearby point to first order, ``w + e`` with ``e = rho g / ||g||`` (one norm over
   every parameter that has a gradient);
3. the gradient there, by a second forward and backward pass on the same batch;
4. back to ``w``, and the optimiser steps with that second gradient.

So a step costs two forward and two backward passes. The trainer wraps steps 2-4 in
:meth:`SharpnessAware.perturbed`.
"""
from __future__ import annotations

import contextlib
from typing import Iterable, Iterator, List, Optional

import torch


class SharpnessAware:
    """Applies and removes SAM's perturbation of a set of parameters.

    Args:
        params: the parameters the optimiser updates (those without a gradient at a step are left alone,
            e.g. a backbone while only the head trains).
        rho: radius of the neighbourhood, > 0 (0.05 in the paper).
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], rho: float) -> None:
        if not rho > 0:
            raise ValueError(f"SAM's radius must be > 0, got {rho}")
        self.params: List[torch.nn.Parameter] = list(params)
        self.rho = float(rho)

    @torch.no_grad()
    def _ascent(self) -> List[Optional[torch.Tensor]]:
        """``rho g / ||g||`` per parameter from the current gradients (None where there is none)."""
        grads = [p.grad for p in self.params]
        present = [g for g in grads if g is not None]
        if not present:
            return [None] * len(grads)
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in present]))
        scale = self.rho / (float(norm) + 1e-12)
        return [None if g is None else g * scale for g in grads]

    @contextlib.contextmanager
    def perturbed(self) -> Iterator[None]:
        """Inside, the parameters sit at ``w + rho g / ||g||`` (``g``: their current gradients); on leaving,
        exactly ``w`` again, whatever happened inside. Zero the gradients inside before the second pass."""
        steps = self._ascent()
        saved = []
        with torch.no_grad():
            for p, e in zip(self.params, steps):
                if e is not None:
                    saved.append((p, p.detach().clone()))
                    p.add_(e)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, w in saved:
                    p.copy_(w)
