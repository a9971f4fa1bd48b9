"""Deep hashing losses, one class per file, all used by the one generic trainer."""
from csdh.losses.base import BaseHashingLoss
from csdh.losses.registry import LOSSES
from csdh.losses.similarity import label_similarity
from csdh.losses.csdh_loss import CSDHLoss
from csdh.losses.memory_bank import MemoryBank
from csdh.losses.pairwise import PairwiseHashingLoss
from csdh.losses.dpsh import DPSHLoss
from csdh.losses.hashnet import HashNetLoss
from csdh.losses.dsh import DSHLoss
from csdh.losses.dhn import DHNLoss
from csdh.losses.dch import DCHLoss
from csdh.losses.csq import CSQLoss

__all__ = [
    "BaseHashingLoss",
    "LOSSES",
    "label_similarity",
    "CSDHLoss",
    "MemoryBank",
    "PairwiseHashingLoss",
    "DPSHLoss",
    "HashNetLoss",
    "DSHLoss",
    "DHNLoss",
    "DCHLoss",
    "CSQLoss",
]
