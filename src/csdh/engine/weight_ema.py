"""An exponential moving average of a model's weights (Polyak averaging), as timm's ``ModelEmaV3``."""
from __future__ import annotations

import copy
from typing import Any, Dict

import torch
from torch import nn


class WeightEMA:
    """Keeps ``shadow = d * shadow + (1 - d) * weights`` after every optimiser step.

    The effective decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the
    first steps are not dominated by the starting weights. Floating-point buffers (batch-norm
    statistics) are averaged too; other buffers are copied.

    Args:
        model: the model being trained (not modified).
        decay: decay per update, in [0, 1).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.shadow = copy.deepcopy(model).eval()
        for p in self.shadow.parameters():
            p.requires_grad_(False)
        self.updates = 0
        # the shadow's tensors, split once: load_state_dict and the lerp below write into them in place
        state = self.shadow.state_dict()
        self._float_names = [k for k, v in state.items() if v.is_floating_point()]
        self._floats = [state[k] for k in self._float_names]
        self._others = [(k, v) for k, v in state.items() if not v.is_floating_point()]

    def reset(self, model: nn.Module) -> None:
        """Restart the average from ``model``'s current weights."""
        self.shadow.load_state_dict(model.state_dict())
        self.updates = 0

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One averaging step towards ``model``'s current weights."""
        self.updates += 1
        d = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        live = model.state_dict()
        for name, value in self._others:
            value.copy_(live[name])
        if self._floats:
            torch._foreach_lerp_(self._floats, [live[k] for k in self._float_names], 1.0 - d)

    def state_dict(self) -> Dict[str, Any]:
        return {"decay": self.decay, "updates": self.updates, "weights": self.shadow.state_dict()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self.shadow.load_state_dict(state["weights"])
        self.updates = int(state["updates"])
