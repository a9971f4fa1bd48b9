"""What a benchmark runs: methods, code lengths, repeats and the shared training set-up.

A benchmark is a grid of *cells*, one per (row, code length, repeat). A row (:class:`Row`) is a method
with fixed arguments: every method of ``--methods``, plus, with an ablation, CSDH with some of its loss
terms switched off. Every cell sees the same data set, the same split (protocol seed 0, whatever the
repeat), the same backbone and input size and, for the deep methods, the same training settings
(:func:`csdh.engine.pipeline.make_config` defaults, or ``epochs``); the repeat index seeds only the
method itself (initialisation, shuffling, dropout; a shallow method's random projections or anchors).
"""
from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from csdh.bench.row import Args, Row
from csdh.codes import check_bits
from csdh.errors import UserError

#: the order of rows in the tables: CSDH first, then the deep baselines, then the shallow methods
DEEP_ORDER = ("csdh", "dpsh", "hashnet", "dsh", "dhn", "dch", "csq")
SHALLOW_ORDER = ("lsh", "pcah", "itq", "sh", "sdh", "ksh")

#: how method names are printed in tables and plots
DISPLAY_NAMES = {
    "csdh": "CSDH", "dpsh": "DPSH", "hashnet": "HashNet", "dsh": "DSH", "dhn": "DHN", "dch": "DCH", "csq": "CSQ",
    "lsh": "LSH", "pcah": "PCAH", "itq": "ITQ", "sh": "SH", "sdh": "SDH", "ksh": "KSH",
}

#: CSDH loss-term ablation: (row key, label, loss arguments that override the CSDH arguments);
#: the full loss is the ordinary ``csdh`` row, so its cells are shared with the main table
ABLATION = (
    ("csdh-lsim", "CSDH (L_sim)", (("lambda_ham", 0.0), ("lambda_q", 0.0))),
    ("csdh-lsim-lham", "CSDH (L_sim+L_ham)", (("lambda_q", 0.0),)),
    ("csdh", "CSDH (full)", ()),
)

#: constructor arguments the benchmark sets itself
_RESERVED = frozenset({"n_bits", "n_classes", "n_train"})

def display_name(method: str) -> str:
    return DISPLAY_NAMES.get(method, method.upper())


def _registries():
    from csdh.losses import LOSSES
    from csdh.shallow import SHALLOW

    return LOSSES, SHALLOW


def method_kind(method: str) -> str:
    """``"deep"`` (a registered loss) or ``"shallow"`` (a registered shallow hasher); UserError otherwise."""
    losses, shallow = _registries()
    if method in losses:
        return "deep"
    if method in shallow:
        return "shallow"
    raise UserError(f"unknown method {method!r}; known: {', '.join(known_methods())}")


def known_methods() -> List[str]:
    """Every deep method, then every shallow method, in table order."""
    losses, shallow = _registries()
    return _ordered(losses.names(), DEEP_ORDER) + _ordered(shallow.names(), SHALLOW_ORDER)


def _ordered(names: Sequence[str], order: Sequence[str]) -> List[str]:
    rank = {n: i for i, n in enumerate(order)}
    return sorted(names, key=lambda n: (rank.get(n, len(order)), n))


def resolve_methods(text: str) -> Tuple[str, ...]:
    """``"all"``, ``"deep"``, ``"shallow"`` or a comma list (the words may be mixed in) -> method names
    in table order, each once. Raises UserError for an unknown name."""
    losses, shallow = _registries()
    groups = {"all": known_methods(), "deep": _ordered(losses.names(), DEEP_ORDER),
              "shallow": _ordered(shallow.names(), SHALLOW_ORDER)}
    chosen: List[str] = []
    for word in (w.strip().lower() for w in str(text).split(",")):
        if not word:
            continue
        chosen += groups.get(word) or [word]
    if not chosen:
        raise UserError("no methods given; use 'all', 'deep', 'shallow' or a comma list of "
                        + ", ".join(known_methods()))
    for name in chosen:
        method_kind(name)
    return tuple(n for n in known_methods() if n in set(chosen))


def _factory(method: str) -> Callable[..., Any]:
    losses, shallow = _registries()
    return losses.get(method) if method_kind(method) == "deep" else shallow.get(method)


def accepts(method: str, name: str) -> bool:
    """Whether the method's constructor has a parameter ``name``."""
    return name in inspect.signature(_factory(method)).parameters


def method_defaults(method: str) -> Dict[str, Any]:
    """The default values of the method's constructor arguments (those the benchmark does not set), so that
    a finished cell computed under other defaults (an older csdh) is recognised as stale."""
    params = inspect.signature(_factory(method)).parameters
    return {name: p.default for name, p in params.items()
            if name not in _RESERVED and name != "seed" and p.default is not inspect.Parameter.empty}


def check_method_args(method: str, args: Mapping[str, Any]) -> None:
    """Raise UserError unless ``args`` are keyword arguments of the method's constructor that the benchmark
    does not set itself (the code length, sizes and, for shallow methods, the seed: it is the repeat)."""
    reserved = _RESERVED | ({"seed"} if method_kind(method) == "shallow" else set())
    taken = sorted(reserved & set(args))
    if taken:
        raise UserError(f"method {method!r}: {', '.join(taken)} is set by the benchmark (a seed by the repeat), "
                        "not by --method-arg")
    params = inspect.signature(_factory(method)).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(args) - set(params))
    if unknown:
        allowed = [n for n in params if n not in reserved and n != "self"]
        raise UserError(f"method {method!r} has no argument {', '.join(unknown)}; its arguments: "
                        + ", ".join(allowed))


def _freeze_args(args: Any) -> Args:
    return tuple(sorted((str(k), v) for k, v in dict(args or {}).items()))


@dataclass(frozen=True)
class BenchmarkSpec:
    """A benchmark: every (method, code length, repeat) cell on one data set and split.

    Attributes:
        dataset: registered data set name.
        methods: method names (see :func:`resolve_methods`), deep and shallow.
        bits: code lengths, each a multiple of 8.
        repeats: runs per (method, code length); repeat ``r`` seeds the method with ``r``.
        protocol: split protocol; None means the data set's default. Its seed is always 0.
        data_dir: where the data set lives (None: its default search path).
        image_root: root of relative image paths of list files.
        finetune: deep methods train the backbone end to end (shallow methods always use the frozen
            pretrained features of the same backbone and input size).
        epochs: epochs of every deep method; None means the mode's default (``make_config``).
        input_size: input size in pixels; None means the TrainConfig default.
        backbone: registered backbone; None means the TrainConfig default.
        method_args: per-method arguments, ``{method: {name: value}}`` (stored as sorted pairs).
        ablation_bits: code lengths of the CSDH loss-term ablation; empty means no ablation.
    """

    dataset: str
    methods: Tuple[str, ...]
    bits: Tuple[int, ...] = (16, 32, 48, 64)
    repeats: int = 1
    protocol: Optional[str] = None
    data_dir: Optional[str] = None
    image_root: Optional[str] = None
    finetune: bool = False
    epochs: Optional[int] = None
    input_size: Optional[int] = None
    backbone: Optional[str] = None
    method_args: Tuple[Tuple[str, Args], ...] = field(default_factory=tuple)
    ablation_bits: Tuple[int, ...] = ()

    def __post_init__(self) -> None:
        methods = self.methods
        if isinstance(methods, str):
            methods = methods.split(",")
        set_ = object.__setattr__
        set_(self, "methods", resolve_methods(",".join(methods)))
        set_(self, "bits", tuple(sorted({check_bits(int(b)) for b in self.bits})))
        set_(self, "ablation_bits", tuple(sorted({check_bits(int(b)) for b in self.ablation_bits})))
        if not self.bits:
            raise UserError("no code lengths given")
        if int(self.repeats) < 1:
            raise UserError(f"repeats must be >= 1, got {self.repeats}")
        set_(self, "repeats", int(self.repeats))
        if self.epochs is not None and int(self.epochs) < 1:
            raise UserError(f"epochs must be >= 1, got {self.epochs}")
        for name in ("data_dir", "image_root"):
            value = getattr(self, name)
            set_(self, name, None if value is None else str(value))
        margs = dict(self.method_args or {})
        wanted = set(self.methods) | ({"csdh"} if self.ablation_bits else set())
        for method, args in margs.items():
            method_kind(method)
            if method not in wanted:
                raise UserError(f"--method-arg for {method!r}, which is not among the methods "
                                f"({', '.join(self.methods)})")
            check_method_args(method, dict(args))
        set_(self, "method_args", tuple(sorted((m, _freeze_args(a)) for m, a in margs.items())))

    # ------------------------------------------------------------------ derived
    def args_of(self, method: str) -> Dict[str, Any]:
        """The ``--method-arg`` arguments of ``method``."""
        return dict(dict(self.method_args).get(method, ()))

    def rows(self) -> List[Row]:
        """Every row: the methods in table order, then the ablation rows that are not main rows."""
        rows = [Row(m, m, display_name(m), method_kind(m), _freeze_args(self.args_of(m)), self.bits)
                for m in self.methods]
        for key, label, args in ABLATION:
            if not self.ablation_bits:
                break
            merged = {**self.args_of("csdh"), **dict(args)}
            main = next((r for r in rows if r.key == key), None)
            if main is not None:
                rows[rows.index(main)] = dataclasses.replace(
                    main, bits=tuple(sorted(set(main.bits) | set(self.ablation_bits))))
            else:
                rows.append(Row(key, "csdh", display_name("csdh") if key == "csdh" else label, "deep",
                                _freeze_args(merged), self.ablation_bits, table="ablation"))
        return rows

    def ablation_rows(self) -> List[Tuple[str, str]]:
        """``(row key, label)`` of the ablation table; empty without an ablation."""
        return [(key, label) for key, label, _ in ABLATION] if self.ablation_bits else []

    def to_dict(self) -> Dict[str, Any]:
        d = dataclasses.asdict(self)
        d["methods"] = list(self.methods)
        d["bits"] = list(self.bits)
        d["ablation_bits"] = list(self.ablation_bits)
        d["method_args"] = {m: dict(a) for m, a in self.method_args}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "BenchmarkSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        values["methods"] = tuple(values.get("methods") or ())
        values["bits"] = tuple(values.get("bits") or ())
        values["ablation_bits"] = tuple(values.get("ablation_bits") or ())
        values["method_args"] = dict(values.get("method_args") or {})
        return cls(**values)


def default_ablation_bits(bits: Sequence[int]) -> Tuple[int, ...]:
    """48 bits when 48 is among ``bits`` (the paper's ablation), else every listed length."""
    return (48,) if 48 in bits else tuple(bits)
