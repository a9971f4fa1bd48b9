"""Training and encoding: the generic trainer, frozen-feature cache, run directories."""
from csdh.engine.config import TrainConfig
from csdh.engine.features import FeatureCache, default_cache_dir, forward_pool
from csdh.engine.run_dir import RunDir
from csdh.engine.run_model import RunModel
from csdh.engine.trainer import Trainer, build_loss, build_net

__all__ = ["TrainConfig", "FeatureCache", "default_cache_dir", "forward_pool", "RunDir", "RunModel", "Trainer",
           "build_loss", "build_net"]
