"""Run a benchmark: train and evaluate every (row, code length, repeat) cell, resumably.

Every cell uses the same pool and split (protocol seed 0; stored in ``DIR/split.json``), the same
backbone and input size, and the same metrics (:func:`score_codes`). The repeat index ``r`` seeds only
the method: a deep cell trains with ``TrainConfig.seed = r`` (initialisation, shuffling, dropout; and the
loss's own ``seed`` argument, e.g. CSQ's hash centres) on the fixed split, a shallow cell is created with
``seed = r``.

Frozen backbone features are extracted once, in one pass over every position of the split, into the
:class:`~csdh.engine.features.FeatureCache`; frozen deep cells train on them and shallow cells fit on the
training part and encode the query and database parts. Fine-tuned deep cells run the whole network;
shallow cells still use the frozen pretrained features (they have no backbone to tune).

Resuming: a cell whose file ``DIR/cells/<key>.json`` exists is finished and kept (after checking that
it was computed with the same settings). A deep cell trains into ``DIR/runs/<key>/`` with the generic
:class:`~csdh.engine.trainer.Trainer` (the same run directory as ``csdh train`` writes); if it was
interrupted and has a checkpoint it resumes from it, otherwise it restarts.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

import numpy as np

from csdh.bench.bench_dir import CELL_FORMAT, BenchDir, cell_key, read_json, write_json
from csdh.bench.benchmark_spec import BenchmarkSpec, Row, accepts, method_defaults
from csdh.data.pool import ImagePool
from csdh.data.protocols import Split
from csdh.engine.config import TrainConfig
from csdh.engine.features import FeatureCache
from csdh.engine.pipeline import make_config, prepare_data
from csdh.engine.run_dir import RunDir
from csdh.engine.run_model import RunModel
from csdh.engine.trainer import Trainer
from csdh.errors import UserError
from csdh.metrics import default_ns, evaluate_all

LOG = logging.getLogger(__name__)

#: the N of the precision@N column (capped at the database size)
P_AT_N = 1000
#: the Hamming radius of the precision-within-radius column
RADIUS = 2

Progress = Callable[..., Iterable]


def score_codes(query_codes: np.ndarray, db_codes: np.ndarray, query_labels: np.ndarray, db_labels: np.ndarray,
                topk: Optional[int] = None) -> Dict[str, Any]:
    """The benchmark's metrics of packed codes (one :func:`csdh.metrics.evaluate_all` pass).

    Args:
        query_codes: uint8 ``(nq, B)``.
        db_codes: uint8 ``(nd, B)``.
        query_labels: ``(nq, C)`` multi-hot.
        db_labels: ``(nd, C)`` multi-hot.
        topk: the mAP cut-off (the protocol's K; None for the whole database).

    Returns:
        ``map``, ``map_topk``, ``map_tie_aware``, ``precision_at_radius_2``, ``precision_at_1000``
        (precision of the top ``precision_at_n = min(1000, nd)``), ``pr_curve`` (over Hamming radius),
        ``pn_curve``, ``n_queries``, ``n_database``.
    """
    n_db = int(len(db_codes))
    n_at = min(P_AT_N, n_db)
    ns = sorted(set(default_ns(n_db)) | {n_at})
    m = evaluate_all(query_codes, db_codes, query_labels, db_labels, topk=topk, ns=ns, radius=RADIUS)
    pn = m["pn_curve"]
    return {
        "map": m["map"],
        "map_topk": m["map_topk"],
        "map_tie_aware": m["map_tie_aware"],
        "precision_at_radius_2": m[f"precision_at_radius_{RADIUS}"],
        "precision_at_1000": pn["precision"][pn["n"].index(n_at)],
        "precision_at_n": n_at,
        "pr_curve": m["pr_curve"],
        "pn_curve": pn,
        "n_queries": m["n_queries"],
        "n_database": m["n_database"],
    }


@dataclass
class _Context:
    """What every cell of one benchmark shares."""

    spec: BenchmarkSpec
    dir: BenchDir
    base: TrainConfig
    pool: ImagePool
    split: Split
    cache: FeatureCache
    device: str
    progress: Optional[Progress]
    features: Dict[str, np.ndarray] = field(default_factory=dict)
    backbone: Any = None

    @property
    def query_labels(self) -> np.ndarray:
        return self.pool.labels[self.split.query]

    @property
    def db_labels(self) -> np.ndarray:
        return self.pool.labels[self.split.database]


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


# ----------------------------------------------------------------------------------------- settings
def deep_config(spec: BenchmarkSpec, row: Row, bits: int, repeat: int, protocol: Optional[str] = None) -> TrainConfig:
    """The TrainConfig of a deep cell: the mode's defaults (the same for every method), ``spec``'s
    overrides, the row's loss arguments and seed ``repeat`` (also the loss's own ``seed``, if it has one)."""
    args = dict(row.args)
    if accepts(row.method, "seed"):
        args.setdefault("seed", int(repeat))
    return make_config(finetune=spec.finetune, dataset=spec.dataset, protocol=protocol or spec.protocol,
                       data_dir=spec.data_dir, image_root=spec.image_root, method=row.method, bits=bits,
                       backbone=spec.backbone, input_size=spec.input_size, epochs=spec.epochs, seed=int(repeat),
                       loss_args=tuple(args.items()) or None)


def _settings(ctx: _Context, row: Row, bits: int, repeat: int) -> Dict[str, Any]:
    """Everything that defines a cell's result (paths excluded, the pool's fingerprint included)."""
    common = {"pool": ctx.pool.fingerprint(), "split_protocol": ctx.split.protocol,
              "method_defaults": method_defaults(row.method)}
    if row.kind == "deep":
        d = deep_config(ctx.spec, row, bits, repeat, ctx.split.protocol).to_dict()
        for key in ("data_dir", "image_root"):
            d.pop(key)
        return _jsonable({**d, **common})
    return _jsonable({"method": row.method, "bits": bits, "seed": repeat, "args": dict(row.args),
                      "dataset": ctx.base.dataset, "backbone": ctx.base.backbone,
                      "input_size": ctx.base.input_size, **common})


def _legacy_values(row: Row, expected: Dict[str, Any]) -> Dict[str, Any]:
    """Settings a cell written by an older csdh lacks, read as what that code did: TrainConfig fields added
    since then take their default (deep cells), and unrecorded method defaults count as unchanged."""
    legacy: Dict[str, Any] = {"method_defaults": expected.get("method_defaults")}
    if row.kind == "deep":
        legacy.update({k: v for k, v in _jsonable(TrainConfig().to_dict()).items() if k in expected})
    return legacy


def _check_settings(path: Path, cell: Dict[str, Any], expected: Dict[str, Any], row: Row) -> None:
    found = {**_legacy_values(row, expected), **(cell.get("settings") or {})}
    if found != expected:
        diff = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
        details = ", ".join(f"{k}: {found.get(k)!r} -> {expected.get(k)!r}" for k in diff)
        raise UserError(f"this finished cell was computed with other settings ({details}); use another --out, "
                        "or delete the cell file (and its run directory) to recompute it", path)


# ----------------------------------------------------------------------------------------- features
def _ensure_features(ctx: _Context) -> None:
    """Extract the frozen backbone features of every position of the split (one pass, cached on disk)."""
    if ctx.backbone is not None:
        return
    from csdh.models import BACKBONES

    b = ctx.base
    ctx.backbone = BACKBONES.create(b.backbone, pretrained=True, input_size=b.input_size).to(ctx.device)
    s = ctx.split
    everything = np.unique(np.concatenate([s.train, s.query, s.database, s.val_query, s.val_database]))
    t0 = time.perf_counter()
    ctx.cache.get(ctx.backbone, b.backbone, b.input_size, ctx.pool, everything, device=ctx.device,
                  progress=ctx.progress)
    seconds = time.perf_counter() - t0
    LOG.info("frozen %s features of %d images at %d px ready in %.1f s", b.backbone, len(everything),
             b.input_size, seconds)
    if not ctx.dir.features.exists():
        write_json(ctx.dir.features, {"backbone": b.backbone, "input_size": b.input_size,
                                      "n_images": int(len(everything)), "seconds": seconds, "date": _now()})


def _features(ctx: _Context, part: str) -> np.ndarray:
    """Cached frozen features of a part of the split ("train", "query", "database"), float32 ``(n, d)``."""
    if part not in ctx.features:
        _ensure_features(ctx)
        b = ctx.base
        ctx.features[part] = ctx.cache.get(ctx.backbone, b.backbone, b.input_size, ctx.pool,
                                           getattr(ctx.split, part), device=ctx.device)
    return ctx.features[part]


# ----------------------------------------------------------------------------------------- cells
def _logged_seconds(log: Path) -> float:
    """Training seconds (epochs and validation) already spent by a run, from its ``log.jsonl``."""
    total = 0.0
    if not log.exists():
        return total
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
            total += float(rec.get("seconds", 0.0)) + float(rec.get("val_seconds", 0.0))
        except (ValueError, TypeError, AttributeError):
            continue
    return total


def _run_deep(ctx: _Context, row: Row, bits: int, repeat: int, key: str) -> Dict[str, Any]:
    config = deep_config(ctx.spec, row, bits, repeat, ctx.split.protocol)
    run = RunDir(ctx.dir.run(key))
    resume = run.checkpoint.exists()
    prior = 0.0
    if resume:
        if not run.split.exists() or Split.load(run.split) != ctx.split:
            raise UserError("this interrupted run was trained on another split than the benchmark's; delete it "
                            "to restart the cell", run.path)
        prior = _logged_seconds(run.log)
        LOG.info("%s: resuming from its checkpoint", key)
    else:
        run.prepare_new(overwrite=True)
    t0 = time.perf_counter()
    trainer = Trainer(config, ctx.pool, ctx.split, run, device=ctx.device, progress=ctx.progress,
                      feature_cache=ctx.cache, pretrained=True)
    summary = trainer.fit(resume=resume)
    train_seconds = prior + time.perf_counter() - t0
    del trainer

    model = RunModel.load(run.path, device=ctx.device)
    t0 = time.perf_counter()
    q = model.encode_pool_packed(ctx.pool, ctx.split.query, progress=ctx.progress, desc="encode queries",
                                 feature_cache=ctx.cache)
    d = model.encode_pool_packed(ctx.pool, ctx.split.database, database=True, progress=ctx.progress,
                                 desc="encode database", feature_cache=ctx.cache)
    encode_seconds = time.perf_counter() - t0
    out = score_codes(q, d, ctx.query_labels, ctx.db_labels, topk=ctx.split.topk)
    out.update({"train_seconds": train_seconds, "encode_seconds": encode_seconds,
                "run_dir": str(run.path.relative_to(ctx.dir.path)), "epochs": config.epochs,
                "best_epoch": summary.get("best_epoch"), "best_val_map": summary.get("best_val_map")})
    return out


def _run_shallow(ctx: _Context, row: Row, bits: int, repeat: int, key: str) -> Dict[str, Any]:
    from csdh.shallow import SHALLOW

    try:
        hasher = SHALLOW.create(row.method, n_bits=bits, seed=int(repeat), **dict(row.args))
    except (TypeError, ValueError) as exc:
        raise UserError(f"bad argument for method {row.method!r}: {exc}") from None
    x_train = _features(ctx, "train")
    labels = ctx.pool.labels[ctx.split.train] if hasher.supervised else None
    t0 = time.perf_counter()
    hasher.fit(x_train, labels)
    train_seconds = time.perf_counter() - t0
    x_query, x_db = _features(ctx, "query"), _features(ctx, "database")
    t0 = time.perf_counter()
    q, d = hasher.encode(x_query), hasher.encode(x_db)
    encode_seconds = time.perf_counter() - t0
    out = score_codes(q, d, ctx.query_labels, ctx.db_labels, topk=ctx.split.topk)
    out.update({"train_seconds": train_seconds, "encode_seconds": encode_seconds, "run_dir": None,
                "epochs": None, "best_epoch": None, "best_val_map": None})
    return out


def _run_cell(ctx: _Context, row: Row, bits: int, repeat: int, key: str) -> Dict[str, Any]:
    if row.kind == "shallow" or not ctx.spec.finetune:
        _ensure_features(ctx)
    result = (_run_deep if row.kind == "deep" else _run_shallow)(ctx, row, bits, repeat, key)
    b = ctx.base
    cell = {"format": CELL_FORMAT, "key": key, "row": row.key, "method": row.method, "label": row.label,
            "kind": row.kind, "table": row.table, "bits": int(bits), "repeat": int(repeat), "seed": int(repeat),
            "args": dict(row.args), "dataset": b.dataset, "protocol": ctx.split.protocol, "backbone": b.backbone,
            "input_size": b.input_size, "finetune": bool(ctx.spec.finetune), "finished": _now(),
            "settings": _settings(ctx, row, bits, repeat)}
    cell.update(result)
    return _jsonable(cell)


# ----------------------------------------------------------------------------------------- driver
def benchmark_info(spec: BenchmarkSpec, base: TrainConfig, split: Split, command: Optional[str]) -> Dict[str, Any]:
    """The contents of ``benchmark.json``: the spec, the resolved set-up, the rows, command and date."""
    return _jsonable({
        "spec": spec.to_dict(),
        "dataset": spec.dataset, "protocol": split.protocol, "split_seed": split.seed, "topk": split.topk,
        "n_query": len(split.query), "n_train": len(split.train), "n_database": len(split.database),
        "n_val_query": len(split.val_query), "backbone": base.backbone, "input_size": base.input_size,
        "finetune": base.finetune, "epochs": base.epochs, "batch_size": base.batch_size, "lr": base.lr,
        "repeats": spec.repeats, "bits": list(spec.bits), "ablation_bits": list(spec.ablation_bits),
        "rows": [{"key": r.key, "method": r.method, "label": r.label, "kind": r.kind, "table": r.table,
                  "args": dict(r.args), "bits": list(r.bits)} for r in spec.rows()],
        "ablation_rows": [list(x) for x in spec.ablation_rows()],
        "command": command, "date": _now(),
    })


def _check_split(bench: BenchDir, split: Split) -> None:
    if bench.split.exists():
        if Split.load(bench.split) != split:
            raise UserError("this benchmark directory holds results on another split (other data, protocol or "
                            "validation size); use another --out", bench.path)
    else:
        bench.path.mkdir(parents=True, exist_ok=True)
        tmp = bench.split.with_name(".split.json.tmp")
        split.save(tmp)
        tmp.replace(bench.split)


def run_benchmark(spec: BenchmarkSpec, out_dir: Union[str, Path], progress: Optional[Progress] = None,
                  device: str = "cpu", feature_cache: Optional[FeatureCache] = None, download: bool = True,
                  command: Optional[str] = None) -> List[Dict[str, Any]]:
    """Compute every missing cell of ``spec`` in ``out_dir``, then write the report.

    Args:
        spec: what to run.
        out_dir: the benchmark directory (see :mod:`csdh.bench.bench_dir`); created if missing; an existing
            one is continued (finished cells are kept, interrupted deep cells resume).
        progress: optional ``progress(iterable, desc=, total=, unit=)`` wrapper (the CLI passes tqdm).
        device: torch device.
        feature_cache: where frozen features are cached (default ``$CSDH_CACHE/features``).
        download: whether a public data set may be downloaded.
        command: the command line, recorded in ``benchmark.json`` and the report.

    Returns:
        every cell of ``spec`` (the dicts stored in ``DIR/cells/``), in run order.

    Raises:
        UserError: bad data or arguments, or a directory holding results with other settings.
    """
    from csdh.bench.report import write_report

    bench = BenchDir(out_dir)
    base = make_config(finetune=spec.finetune, dataset=spec.dataset, protocol=spec.protocol, data_dir=spec.data_dir,
                       image_root=spec.image_root, backbone=spec.backbone, input_size=spec.input_size,
                       epochs=spec.epochs, seed=0)
    pool, split = prepare_data(base, download=download)
    _check_split(bench, split)
    ctx = _Context(spec, bench, base, pool, split, feature_cache or FeatureCache(), device, progress)

    rows = spec.rows()
    tasks = [(row, bits, r) for r in range(spec.repeats) for bits in sorted({b for row in rows for b in row.bits})
             for row in rows if bits in row.bits]
    done: Dict[str, Dict[str, Any]] = {}
    for row, bits, repeat in tasks:  # check every finished cell before anything is written
        key = cell_key(row.key, bits, repeat)
        if bench.cell(key).exists():
            done[key] = bench.read_cell(bench.cell(key))
            _check_settings(bench.cell(key), done[key], _settings(ctx, row, bits, repeat), row)
    write_json(bench.spec, benchmark_info(spec, base, split, command))
    LOG.info("%d cells, %d finished earlier", len(tasks), len(done))

    cells: List[Dict[str, Any]] = []
    for i, (row, bits, repeat) in enumerate(tasks, 1):
        key = cell_key(row.key, bits, repeat)
        if key in done:
            LOG.info("[%d/%d] %s: finished earlier, kept", i, len(tasks), key)
            cells.append(done[key])
            continue
        LOG.info("[%d/%d] %s: computing", i, len(tasks), key)
        cell = _run_cell(ctx, row, bits, repeat, key)
        bench.write_cell(cell)
        LOG.info("[%d/%d] %s: mAP %.4f, P@r<=2 %.4f, P@%d %.4f, train %.1f s, encode %.1f s", i, len(tasks), key,
                 cell["map"], cell["precision_at_radius_2"], cell["precision_at_n"], cell["precision_at_1000"],
                 cell["train_seconds"], cell["encode_seconds"])
        cells.append(cell)
    write_report(bench.path)
    return cells


def load_info(out_dir: Union[str, Path]) -> Optional[Dict[str, Any]]:
    """``benchmark.json`` of a benchmark directory, or None if it has none."""
    bench = BenchDir(out_dir)
    return read_json(bench.spec) if bench.spec.exists() else None
