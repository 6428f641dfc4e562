"""`FinetuneSettings`: the training knobs of the finetune trainable, and checking a config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trainables.finetune.outline import FINETUNE_OUTLINE
from trainables.lr import LR_KEYS, lr_config_problems
from trainables.lr.errors import ConfigError, Problem, pydantic_problems
from trainables.lr.layers import model_groups


class FinetuneSettings(BaseModel):
    """Settings of the digits fine-tuning run (every key optional; unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=32, ge=1)
    hidden_dim: int = Field(default=64, ge=2)
    pretrain_epochs: int = Field(default=20, ge=0, description="0: no pretraining")
    pretrain_seed: int = Field(
        default=0, ge=0, description="the pretrained body every trial shares"
    )
    train_fraction: float = Field(default=0.1, gt=0, lt=1, description="of the held-out half")
    data_seed: int = Field(default=0, ge=0)
    seed: int = Field(default=0, ge=0, description="the new head and the batch order")
    checkpoint_every: int = Field(default=1, ge=1)


def finetune_settings_of(config: Mapping[str, Any]) -> FinetuneSettings:
    """The validated settings part of a config; raises `ConfigError` listing problems."""
    try:
        return FinetuneSettings.model_validate(
            {k: v for k, v in config.items() if k not in LR_KEYS}
        )
    except ValidationError as error:
        raise ConfigError(pydantic_problems(error)) from None


def finetune_config_problems(config: Any) -> list[Problem]:
    """Every problem of a finetune config: its settings and its LR keys against the model.

    The model's layers come from its outline (`FINETUNE_OUTLINE`), which no setting changes.
    """
    if not isinstance(config, Mapping):
        return [Problem("", f"config is {config!r}, but must be a mapping")]
    problems: list[Problem] = []
    try:
        finetune_settings_of(config)
    except ConfigError as error:
        problems += error.problems
    try:
        names, _ = model_groups(FINETUNE_OUTLINE, config)
    except ConfigError as error:
        return [*problems, *error.problems]
    return [*problems, *lr_config_problems(config, names)]
