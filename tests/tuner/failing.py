"""Trainables that fail the way user code does: the same exception in every trial."""

from __future__ import annotations

from typing import Any

from ray import tune

from trainables.declare import trainable
from trainables.lr.errors import ConfigError, Problem


@trainable
def fails_at_epoch_2(config: dict[str, Any]) -> None:
    """Reports epoch 1, then raises `config["error"]` (ValueError or ConfigError) in epoch 2."""
    tune.report({"score": float(config["x"]), "epoch": 1})
    if config["error"] == "ConfigError":
        problems = [
            Problem("learning_rate.body", "is not a component of the model", "(known: model)"),
            Problem("groups", "is 3, but must be a mapping"),
        ]
        raise ConfigError(problems)
    raise ValueError(f"the data file has {config['rows']} rows, but the model needs 64")
