"""Named groups from `lr_groups()` or `groups:` patterns; stray, double and dead patterns named."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.lr.helpers import make_model
from trainables.lr import WHOLE_MODEL, ConfigError, build_lr_plan
from trainables.lr.groups import matches


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))
        self.head = nn.Linear(4, 2)
        self.scale = nn.Parameter(torch.ones(1))


def names_of(plan, model) -> dict[str, list[str]]:
    ids = {id(p): n for n, p in model.named_parameters()}
    return {g["name"]: [ids[id(p)] for p in g["params"]] for g in plan.optimizer.param_groups}


def test_globs_and_regular_expressions_group_any_module() -> None:
    model = Net()
    config = {
        "groups": {
            "backbone.early": ["backbone.0.*"],
            "backbone.late": [r"re:backbone\.2\.(weight|bias)"],
            "head": ["head.*", "scale"],
        },
        "learning_rate": {"backbone": {"early": 1e-4, "late": 1e-3}, "head": {"lr": 1e-2}},
    }
    plan = build_lr_plan(model, config, n_epochs=3)
    assert names_of(plan, model) == {
        "backbone.early": ["backbone.0.weight", "backbone.0.bias"],
        "backbone.late": ["backbone.2.weight", "backbone.2.bias"],
        "head": ["head.weight", "head.bias", "scale"],
    }
    assert plan.lrs() == {"backbone.early": 1e-4, "backbone.late": 1e-3, "head": 1e-2}


def test_config_groups_take_precedence_over_lr_groups() -> None:
    model = make_model()
    plan = build_lr_plan(model, {"groups": {"all": ["*"]}, "learning_rate": 2e-3}, n_epochs=2)
    assert plan.group_names == ("all",)
    assert len(plan.optimizer.param_groups[0]["params"]) == len(list(model.parameters()))


def test_a_plain_module_gets_one_group() -> None:
    plan = build_lr_plan(Net(), {"learning_rate": 3e-3}, n_epochs=2)
    assert plan.group_names == (WHOLE_MODEL,)
    assert plan.lrs() == {WHOLE_MODEL: 3e-3}


def test_a_pattern_that_matches_nothing_lists_the_parameters() -> None:
    with pytest.raises(ConfigError) as error:
        build_lr_plan(Net(), {"groups": {"body": ["backbone.*"], "head": ["heads.*", "scale"]}}, 2)
    message = str(error.value)
    assert "groups.head[0]: 'heads.*' matches no parameter of Net" in message
    assert "backbone.0.weight, backbone.0.bias, backbone.2.weight" in message
    # head.* stays unmatched: its parameters are named as strays too
    assert "trainable parameters in no group: head.weight, head.bias" in message


def test_a_parameter_matched_by_two_groups_is_named() -> None:
    with pytest.raises(ConfigError, match=r"'backbone.0.weight' is in both 'a' and 'b'"):
        build_lr_plan(Net(), {"groups": {"a": ["*"], "b": ["backbone.0.weight"]}}, n_epochs=2)


def test_unmatched_trainable_parameters_are_named() -> None:
    with pytest.raises(ConfigError, match="trainable parameters in no group: scale"):
        build_lr_plan(Net(), {"groups": {"a": ["backbone.*", "head.*"]}}, n_epochs=2)


def test_a_parameter_frozen_by_the_user_may_stay_outside_every_group() -> None:
    model = Net()
    model.scale.requires_grad_(False)
    plan = build_lr_plan(model, {"groups": {"a": ["backbone.*", "head.*"]}}, n_epochs=2)
    assert sum(len(g["params"]) for g in plan.optimizer.param_groups) == 6
    assert not model.scale.requires_grad


def test_lr_groups_missing_a_parameter_is_refused() -> None:
    model = make_model()
    model.extra = nn.Parameter(torch.zeros(2))
    with pytest.raises(
        ConfigError, match=r"SeedModel.lr_groups\(\): trainable parameters in no group: extra"
    ):
        build_lr_plan(model, {}, n_epochs=2)


def test_group_names_must_match_the_learning_rate_components() -> None:
    config = {
        "groups": {"body": ["backbone.*"], "head": ["head.*", "scale"]},
        "learning_rate": {"encoder": 1e-3},
    }
    with pytest.raises(ConfigError, match="learning_rate.encoder is not a component"):
        build_lr_plan(Net(), config, n_epochs=2)


@pytest.mark.parametrize(
    ("pattern", "name", "hit"),
    [
        ("encoder.*", "encoder.weight", True),
        ("encoder.*", "encoder.layers.0.weight", True),
        ("encoder.*", "decoder.encoder.weight", False),
        ("*.bias", "head.bias", True),
        ("Encoder.*", "encoder.weight", False),
        ("re:encoder", "encoder.weight", False),
        (r"re:encoder\..*", "encoder.weight", True),
        (r"re:layers\.[0-3]\..*", "layers.3.weight", True),
        (r"re:layers\.[0-3]\..*", "layers.4.weight", False),
    ],
)
def test_pattern_matching(pattern: str, name: str, hit: bool) -> None:
    assert matches(pattern, name) is hit
