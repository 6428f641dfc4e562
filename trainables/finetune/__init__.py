"""Layer-wise fine-tuning benchmark: a pretrained MLP fine-tuned on new digits, layer by layer.

Settings, groups and config checks import no torch; the model and the trainable are imported on
first use, so checking a config in a sweep's driver never imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainables._lazy import lazy_exports
from trainables.finetune.outline import FINETUNE_GROUPS
from trainables.finetune.settings import FinetuneSettings, finetune_config_problems

if TYPE_CHECKING:
    from trainables.finetune.model import FinetuneNet, build_finetune_model
    from trainables.finetune.trainable import finetune_trainable, train_finetune

__all__ = [
    "FINETUNE_GROUPS",
    "FinetuneNet",
    "FinetuneSettings",
    "build_finetune_model",
    "finetune_config_problems",
    "finetune_trainable",
    "train_finetune",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "FinetuneNet": "trainables.finetune.model",
        "build_finetune_model": "trainables.finetune.model",
        "finetune_trainable": "trainables.finetune.trainable",
        "train_finetune": "trainables.finetune.trainable",
    },
)
