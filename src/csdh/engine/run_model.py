"""A trained run loaded back for encoding images into codes."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from csdh.codes import pack, pack_dithered, pack_shaped
from csdh.data.pool import ImagePool
from csdh.data.transforms import square_chw, to_float
from csdh.engine.config import TrainConfig
from csdh.engine.features import FeatureCache, forward_pool
from csdh.engine.precision import encoding_autocast
from csdh.engine.run_dir import RunDir
from csdh.engine.views import View, ViewInput, encoding_views
from csdh.errors import UserError

LOG = logging.getLogger(__name__)


class RunModel:
    """The selected model of a run directory (``model.pt``), ready to encode.

    Use :meth:`load`. Attributes: ``config`` (TrainConfig), ``net`` (HashingNet in eval mode),
    ``checksum`` (sha256 of model.pt), ``class_names``, ``device``, ``workers`` (processes that load
    images when encoding a pool; 0: this one), ``precision`` (``fp32``, or ``bf16``: the backbone encodes in
    bfloat16, :mod:`csdh.engine.precision`), ``db_dither`` (the spread of the
    database codes' thresholds, :attr:`TrainConfig.db_dither` unless overridden), ``db_shape``
    (:attr:`TrainConfig.db_shape` unless overridden), ``flip_average`` (:attr:`TrainConfig.flip_average`
    unless overridden: every image encoded as the mean of its codes as it is and mirrored),
    ``shift_average`` (:attr:`TrainConfig.shift_average` unless overridden: shifted views averaged as well) and
    ``code_moment`` (the second moment of the training images' codes saved with the model; None in model
    files written before it existed), ``epoch`` (the kept epoch, 1-based) and ``code_classifier`` (the state
    of CSDH's L_cls classifier when the run had one; None otherwise and in model files written before it).

    Queries are binarised with ``sign(h)`` (:meth:`pack_query`), database items with
    ``sign(h - tau)`` (:meth:`pack_database`; plain sign when ``db_dither`` is 0), then, with ``db_shape``,
    noise-shaped against ``code_moment`` (:func:`csdh.codes.shape_codes`).
    """

    def __init__(self, run: RunDir, config: TrainConfig, net: torch.nn.Module, checksum: str,
                 class_names: List[str], device: torch.device, workers: int = 0,
                 code_moment: Optional[np.ndarray] = None, epoch: Optional[int] = None,
                 code_classifier: Optional[Dict[str, torch.Tensor]] = None, precision: str = "fp32") -> None:
        self.run = run
        self.config = config
        self.net = net
        self.checksum = checksum
        self.class_names = class_names
        self.device = device
        self.workers = int(workers)
        self.precision = precision
        self.code_moment = code_moment
        self.epoch = epoch
        self.code_classifier = code_classifier

    @classmethod
    def load(cls, run_dir: Union[str, Path], device: str = "cpu", pretrained: bool = True,
             db_dither: Optional[float] = None, workers: int = 0, db_shape: Optional[bool] = None,
             flip_average: Optional[bool] = None, shift_average: Optional[int] = None,
             precision: str = "fp32") -> "RunModel":
        """Load ``run_dir/model.pt``; ``db_dither`` and ``db_shape`` override the run's database binarisation,
        ``flip_average`` and ``shift_average`` its encoding (None keeps them); ``precision`` is the encoding
        passes' arithmetic. Shaping with a model file that lacks the code moment is a user error."""
        from csdh.engine.trainer import build_net

        run = RunDir(run_dir)
        run.require("model")
        state = run.load_torch(run.model)
        try:
            config = TrainConfig.from_dict(state["config"])
            net = build_net(config, pretrained=pretrained and state.get("backbone") is None)
            net.head.load_state_dict(state["head"])
            net.head.beta = float(state["head_beta"])
            if state.get("backbone") is not None:
                net.backbone.load_state_dict(state["backbone"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise UserError(f"incompatible model file ({type(exc).__name__}: {exc})", run.model) from None
        overrides = {"db_dither": None if db_dither is None else float(db_dither),
                     "db_shape": None if db_shape is None else bool(db_shape),
                     "flip_average": None if flip_average is None else bool(flip_average),
                     "shift_average": None if shift_average is None else int(shift_average)}
        config = config.replace(**{k: v for k, v in overrides.items() if v is not None})
        moment = state.get("code_moment")
        if moment is not None:
            if not isinstance(moment, torch.Tensor) or tuple(moment.shape) != (config.bits, config.bits):
                raise UserError(f"incompatible model file (its code moment is not a {config.bits} x "
                                f"{config.bits} tensor)", run.model)
            moment = moment.double().numpy()
        if config.db_shape and moment is None:
            raise UserError("this model file predates shaped database codes (it has no code moment); "
                            "retrain the run, or leave --db-shape off", run.model)
        dev = torch.device(device)
        net = net.to(dev).to(memory_format=torch.channels_last).eval()
        return cls(run, config, net, run.model_checksum() or "", list(state.get("class_names") or []), dev,
                   workers=workers, code_moment=moment, epoch=state.get("epoch"),
                   code_classifier=state.get("classifier"), precision=precision)

    @property
    def bits(self) -> int:
        return self.config.bits

    @property
    def db_dither(self) -> float:
        return float(self.config.db_dither)

    @property
    def db_shape(self) -> bool:
        return bool(self.config.db_shape)

    @property
    def flip_average(self) -> bool:
        return bool(self.config.flip_average)

    @property
    def shift_average(self) -> int:
        return int(self.config.shift_average)

    @property
    def views(self) -> List[Tuple[str, View]]:
        """The test-time views every image is encoded in (:func:`csdh.engine.views.encoding_views`)."""
        return encoding_views(self.flip_average, self.shift_average)

    def _codes(self, x: torch.Tensor) -> torch.Tensor:
        """Continuous codes of a float image batch: the network's, or with ``flip_average`` or
        ``shift_average`` the mean of the codes of the batch's views."""
        views = self.views
        if len(views) == 1:
            return self.net(x)
        return sum(self.net(view(x)) for _, view in views) / len(views)

    @torch.inference_mode()
    def encode_images(self, images: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray:
        """Continuous codes float32 ``(n, K)`` of uint8 RGB images ``(H, W, 3)`` (or grey ``(H, W)``) of any
        size."""
        out = []
        for start in range(0, len(images), batch_size):
            x = torch.from_numpy(np.stack([square_chw(im, self.config.input_size)
                                           for im in images[start:start + batch_size]]))
            with encoding_autocast(self.precision, self.device):
                codes = self._codes(to_float(x.to(self.device)))
            out.append(codes.float().cpu().numpy())
        if not out:
            return np.zeros((0, self.bits), dtype=np.float32)
        return np.concatenate(out)

    def encode_pool(self, pool: ImagePool, positions: np.ndarray, batch_size: int = 32,
                    progress: Optional[Callable[..., Iterable]] = None, desc: str = "encode",
                    feature_cache: Optional[FeatureCache] = None) -> np.ndarray:
        """Continuous codes float32 ``(len(positions), K)`` of pool images.

        A frozen-backbone run computes backbone features through the feature cache (so the features
        computed for training are reused; the features of the mirrored or shifted views of ``flip_average``
        and ``shift_average`` are cached under keys of their own); a fine-tuned run runs the whole network.
        """
        positions = np.asarray(positions, dtype=np.int64)
        if not self.config.finetune:
            cache = feature_cache or FeatureCache()
            views = self.views
            codes = 0
            for suffix, view in views:
                module = ViewInput(self.net.backbone, view) if suffix else self.net.backbone
                name = f"{self.config.backbone}+{suffix}" if suffix else self.config.backbone
                codes = codes + self._head_codes(cache.get(
                    module, name, self.config.input_size, pool, positions, batch_size=batch_size,
                    device=str(self.device), progress=progress, workers=self.workers, precision=self.precision))
            return codes / len(views)
        return forward_pool(self._codes, pool, positions, self.config.input_size, batch_size=batch_size,
                            device=str(self.device), progress=progress, desc=desc, workers=self.workers,
                            precision=self.precision)

    @torch.inference_mode()
    def _head_codes(self, feats: np.ndarray) -> np.ndarray:
        """Continuous codes float32 ``(n, K)`` of pooled backbone features ``(n, D)``, in chunks."""
        codes = []
        for start in range(0, len(feats), 4096):
            f = torch.from_numpy(np.ascontiguousarray(feats[start:start + 4096])).to(self.device)
            codes.append(self.net.forward_head(f).float().cpu().numpy())
        return np.concatenate(codes) if codes else np.zeros((0, self.bits), np.float32)

    def pack_query(self, codes: np.ndarray) -> np.ndarray:
        """Continuous query codes ``(n, K)`` -> packed uint8 ``(n, K / 8)``: sign(h)."""
        return pack(codes)

    def pack_database(self, codes: np.ndarray) -> np.ndarray:
        """Continuous database codes ``(n, K)`` -> packed uint8 ``(n, K / 8)``: sign(h - tau), shaped with
        ``db_shape``."""
        if self.db_shape:
            return pack_shaped(codes, self.code_moment, self.db_dither, self.config.seed)
        return pack_dithered(codes, self.db_dither, self.config.seed)

    def encode_pool_packed(self, *args, database: bool = False, **kwargs) -> np.ndarray:
        """Like :meth:`encode_pool`, then packed to uint8 ``(n, K / 8)``: as database items with
        ``database=True`` (:meth:`pack_database`), else as queries."""
        codes = self.encode_pool(*args, **kwargs)
        return self.pack_database(codes) if database else self.pack_query(codes)
