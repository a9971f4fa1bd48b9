"""The arithmetic of encoding passes: float32, or the backbone in bfloat16.

``bf16`` runs the backbone's forward passes under :func:`torch.autocast` with ``torch.bfloat16`` when
images are only encoded (frozen features, validation, evaluation, ``csdh encode``, index building); the hash
head keeps float32 (:class:`csdh.models.HashHead` leaves autocast), and gradient steps are never autocast.
On CPUs with AMX tiles (Intel Xeon since Sapphire Rapids) encoding runs faster (1.74 times for
EfficientNet-Lite0 at 160 px on the one measured); CPUs without bfloat16 instructions are expected to be
slower than float32. Codes can differ from float32's in some bits: BENCHMARKS.md, "Encoding in bfloat16".
"""
from __future__ import annotations

import contextlib
import logging
from typing import ContextManager, Union

import torch

from csdh.errors import UserError

LOG = logging.getLogger(__name__)

#: the accepted values of ``--precision``
PRECISIONS = ("fp32", "bf16")

#: device types whose autocast runs bfloat16
_BF16_DEVICES = ("cpu", "cuda")


def check_precision(precision: str, device: Union[str, torch.device] = "cpu") -> str:
    """``precision`` if it is one of :data:`PRECISIONS` and ``device`` can run it; else a UserError.

    Logs a warning when bfloat16 is asked of a CPU without bfloat16 instructions (it works, slowly)."""
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    kind = torch.device(device).type
    if precision == "bf16":
        if kind not in _BF16_DEVICES:
            raise UserError(f"--precision bf16 runs on cpu or cuda devices, not {kind}")
        if kind == "cuda" and torch.cuda.is_available() and not torch.cuda.is_bf16_supported():
            raise UserError("--precision bf16: this GPU has no bfloat16 support (use --precision fp32)")
        if kind == "cpu" and not cpu_has_fast_bf16():
            LOG.warning("this CPU has no AMX or AVX-512 bfloat16 instructions: --precision bf16 will be slower "
                        "than fp32 here")
    return precision


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU has AMX tiles or AVX-512 bfloat16 instructions (what oneDNN's fast bfloat16 needs)."""
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in probes)


def encoding_autocast(precision: str, device: Union[str, torch.device] = "cpu") -> ContextManager:
    """The context an encoding pass runs in: bfloat16 autocast for ``bf16``, nothing for ``fp32``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)
