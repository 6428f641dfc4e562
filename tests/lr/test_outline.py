"""ModuleOutline: finding layers on a model's outline gives exactly what the model gives."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
from torch import nn

from tests.lr.helpers import make_model
from tests.lr.test_layers import Tower
from trainables.lr import ConfigError
from trainables.lr.layers import model_groups
from trainables.lr.outline import ModuleOutline, outline_of


def _nested() -> nn.Module:
    inner = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    return nn.Sequential(OrderedDict(features=inner, act=nn.Tanh(), fc=nn.Linear(2, 1)))


MODELS = {"tower": Tower, "seed": make_model, "nested": _nested}
CONFIGS: list[dict[str, Any]] = [
    {},
    {"learning_rate": 1e-3},
    {"layer_decay": 0.5},
    {"unfreeze": {"last_n": 1, "every": 1}},
    {"layers": "auto"},
    {"layers": ["*"]},
    {"layers": ["embed", "blocks.*", "head"]},
    {"layers": ["features.*", "fc"]},
    {"layers": ["encoder", "decoder", "dsr"]},
    {"layers": ["embedding", "act", "blocks", "blocks.1", "features"]},
    {"layers": ["act.*", "features.1.*"]},
    {"layers": "not a path!"},
    {"groups": {"a": ["*"]}},
]


def _groups(model: Any, config: dict[str, Any]) -> Any:
    """`model_groups`, or the text of the problems it raises."""
    try:
        return model_groups(model, config)
    except ConfigError as error:
        return [str(p) for p in error.problems]


def test_an_outline_lists_modules_children_and_parameters_as_the_model_does() -> None:
    outline = outline_of(Tower())
    assert [n for n, _ in outline.named_modules()] == [n for n, _ in Tower().named_modules()]
    assert [n for n, _ in outline.named_children()] == ["embed", "blocks", "act", "head"]
    modules = dict(outline.named_modules())
    assert modules["blocks"].holds_parameters and not modules["blocks"].params
    assert modules["blocks.3"].params and not modules["act"].holds_parameters
    assert (outline.type_name, modules["blocks"].type_name) == ("Tower", "ModuleList")
    assert outline.group_names is None
    assert outline_of(make_model()).group_names == tuple(make_model().lr_groups())


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("config", CONFIGS, ids=repr)
def test_model_groups_of_the_outline_are_those_of_the_model(name: str, config: dict) -> None:
    model = MODELS[name]()
    assert _groups(outline_of(model), config) == _groups(model, config)


def test_a_written_outline_is_a_plain_value() -> None:
    linear = ModuleOutline("Linear", params=True)
    outline = ModuleOutline("Net", (("embed", linear), ("act", ModuleOutline("ReLU"))))
    net = nn.Module()
    net.embed, net.act = nn.Linear(2, 2), nn.ReLU()
    assert outline == ModuleOutline("Net", (("embed", linear), ("act", ModuleOutline("ReLU"))))
    assert outline_of(net) == ModuleOutline(
        "Module", (("embed", linear), ("act", ModuleOutline("ReLU")))
    )
    assert model_groups(outline, {"layers": "auto"}) == (("embed",), {"embed": ("embed.*",)})
