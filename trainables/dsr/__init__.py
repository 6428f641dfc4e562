"""The hierarchical DSR benchmark: multi-subject Lorenz data, model, metrics and trainable.

Settings and config checks import no torch; the names that do (data, model, metrics, trainable)
are imported on first use, so checking a config in a sweep's driver never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainables._lazy import lazy_exports
from trainables.dsr.data_source import DataKey
from trainables.dsr.settings import DSRSettings, dsr_config_problems

if TYPE_CHECKING:
    from trainables.dsr.data import DSRData, load_data
    from trainables.dsr.metrics import (
        hellinger_distance,
        prediction_error,
        state_space_divergence,
    )
    from trainables.dsr.model import HierarchicalDSR
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

__getattr__ = lazy_exports(
    __name__,
    {
        "DSRData": "trainables.dsr.data",
        "load_data": "trainables.dsr.data",
        "hellinger_distance": "trainables.dsr.metrics",
        "prediction_error": "trainables.dsr.metrics",
        "state_space_divergence": "trainables.dsr.metrics",
        "HierarchicalDSR": "trainables.dsr.model",
        "dsr_trainable": "trainables.dsr.trainable",
        "score_of": "trainables.dsr.trainable",
        "train_dsr": "trainables.dsr.trainable",
        "TrainingDiverged": "trainables.reporting",
    },
)
