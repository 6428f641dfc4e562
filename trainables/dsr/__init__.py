"""The hierarchical DSR benchmark: multi-subject Lorenz data, model, metrics and trainable."""

from __future__ import annotations

from trainables.dsr.data import DataKey, DSRData, load_data
from trainables.dsr.metrics import hellinger_distance, prediction_error, state_space_divergence
from trainables.dsr.model import HierarchicalDSR
from trainables.dsr.settings import DSRSettings, dsr_config_problems
from trainables.dsr.trainable import dsr_trainable, score_of, train_dsr
from trainables.reporting import TrainingDiverged

__all__ = [
    "DSRData",
    "DSRSettings",
    "DataKey",
    "HierarchicalDSR",
    "TrainingDiverged",
    "dsr_config_problems",
    "dsr_trainable",
    "hellinger_distance",
    "load_data",
    "prediction_error",
    "score_of",
    "state_space_divergence",
    "train_dsr",
]
