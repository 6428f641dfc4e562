"""FINETUNE_OUTLINE is FinetuneNet's module tree, so configs are checked without the model."""

from __future__ import annotations

from typing import Any

import pytest

from trainables.finetune import FINETUNE_GROUPS, FinetuneNet, finetune_config_problems
from trainables.finetune.outline import FINETUNE_OUTLINE
from trainables.lr import ConfigError, lr_config_problems
from trainables.lr.layers import model_groups
from trainables.lr.outline import outline_of


@pytest.mark.parametrize("hidden_dim", [2, 3, 8, 64, 257])
def test_the_outline_is_the_models_whatever_its_size(hidden_dim: int) -> None:
    assert outline_of(FinetuneNet(hidden_dim)) == FINETUNE_OUTLINE
    assert FINETUNE_OUTLINE.group_names == FINETUNE_GROUPS


CONFIGS: list[dict[str, Any]] = [
    {"learning_rate": 1e-3},
    {"learning_rate": {"body": 1e-3, "head": 1e-2}, "layer_decay": 0.5},
    {"unfreeze": {"last_n": 2, "every": 1}, "hidden_dim": 3},
    {"layers": "auto", "learning_rate": {"body": 1e-3, "head": 1e-2}},
    {"layers": ["body.*", "head"], "learning_rate": {"body": {"layer4": 1e-3}}},
    {"layers": ["body.layer1.*", "body.layer2", "head"]},
    {"layers": ["body.*", "classifier", "body.layer1.1"], "batch_sise": 8},
    {"groups": {"all": ["*"]}, "learning_rate": {"all": 1e-3}},
    {"learning_rate": {"body": {"layer4": 1e-3}}, "hidden_dim": 1},
]


def _model_problems(config: dict[str, Any]) -> list[str]:
    """The problems `finetune_config_problems` gave when it built the model to check against."""
    from trainables.finetune.settings import FinetuneSettings, finetune_settings_of

    problems = []
    try:
        settings = finetune_settings_of(config)
    except ConfigError as error:
        problems += error.problems
        settings = FinetuneSettings()
    try:
        names, _ = model_groups(FinetuneNet(settings.hidden_dim), config)
    except ConfigError as error:
        return [str(p) for p in [*problems, *error.problems]]
    return [str(p) for p in [*problems, *lr_config_problems(config, names)]]


@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_config_problems_are_those_found_against_the_model(config: dict[str, Any]) -> None:
    assert [str(p) for p in finetune_config_problems(config)] == _model_problems(config)
