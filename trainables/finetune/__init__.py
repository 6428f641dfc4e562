"""Layer-wise fine-tuning benchmark: a pretrained MLP fine-tuned on new digits, layer by layer."""

from __future__ import annotations

from trainables.finetune.model import FINETUNE_GROUPS, FinetuneNet, build_finetune_model
from trainables.finetune.settings import FinetuneSettings, finetune_config_problems
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
