"""A row of the benchmark tables: a method with fixed arguments."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Tuple

Args = Tuple[Tuple[str, Any], ...]


@dataclass(frozen=True)
class Row:
    """One row of the result tables: a method with fixed arguments.

    Attributes:
        key: unique name; cell files are ``<key>-<bits>-r<repeat>.json``.
        method: the registered method.
        label: the name printed in tables and plots.
        kind: ``"deep"`` or ``"shallow"``.
        args: loss arguments (deep) or constructor arguments (shallow), sorted pairs.
        bits: the code lengths of this row.
        table: ``"main"`` for a method of ``--methods``, ``"ablation"`` for a row only the ablation needs.
    """

    key: str
    method: str
    label: str
    kind: str
    args: Args
    bits: Tuple[int, ...]
    table: str = "main"
