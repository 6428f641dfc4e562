"""Layer discovery for any model and layer-wise lr decay in closed form."""

from __future__ import annotations

from collections import OrderedDict

import pytest
from torch import nn

from trainables.lr import ConfigError, LRSpec, build_lr_plan, lr_config_problems
from trainables.lr.layers import decay_multipliers, discover_layers


class Tower(nn.Module):
    """embed, blocks.0..3 (a ModuleList), an activation without parameters, head."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(3, 4)
        self.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(4))
        self.act = nn.ReLU()
        self.head = nn.Linear(4, 2)


def test_auto_layers_are_the_top_level_children_with_parameters() -> None:
    assert list(discover_layers(Tower(), "auto")) == ["embed", "blocks", "head"]
    seq = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    assert discover_layers(seq, "auto") == {"layers.0": ("0.*",), "layers.2": ("2.*",)}


def test_module_paths_expand_containers_in_order() -> None:
    layers = discover_layers(Tower(), ["embed", "blocks.*", "head"])
    assert list(layers) == ["embed", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "head"]
    assert layers["blocks.2"] == ("blocks.2.*",)


def test_bad_module_paths_are_named_with_the_model_modules() -> None:
    with pytest.raises(ConfigError) as error:
        discover_layers(Tower(), ["embedding", "act", "blocks", "blocks.1"])
    message = str(error.value)
    assert "layers[0]: 'embedding' is not a module of Tower (its modules: embed, blocks" in message
    assert "layers[1]: module 'act' holds no parameters" in message
    assert "'blocks.1' lies inside 'blocks'" in message


@pytest.mark.parametrize("decay", [1.0, 0.9, 0.5, 0.123])
def test_decay_multipliers_are_decay_to_the_depth_from_the_top(decay: float) -> None:
    names = ("embed", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "head")
    got = decay_multipliers(names, decay)
    for i, name in enumerate(names):
        assert got[name] == pytest.approx(decay ** (len(names) - 1 - i), rel=1e-15)
    assert got["head"] == 1.0


def test_layer_decay_in_the_plan_is_closed_form() -> None:
    config = {"learning_rate": 2e-3, "layer_decay": 0.6, "layers": ["embed", "blocks.*", "head"]}
    plan = build_lr_plan(Tower(), config, n_epochs=4)
    depth = {"embed": 5, "blocks.0": 4, "blocks.1": 3, "blocks.2": 2, "blocks.3": 1, "head": 0}
    assert plan.lrs() == pytest.approx({n: 2e-3 * 0.6**d for n, d in depth.items()}, rel=1e-15)


def test_decay_multiplies_explicit_per_layer_rates_and_keeps_schedule_ratios() -> None:
    config = {
        "layers": ["embed", "blocks.*", "head"],
        "learning_rate": {"blocks": {"lr": 1e-3, "0": {}}, "embed": 1e-4, "head": 1e-2},
        "layer_decay": 0.5,
    }
    assert "learning_rate.blocks.0" in str(lr_config_problems(config, _tower_names()))
    config["learning_rate"] = {"blocks": 1e-3, "embed": 1e-4, "head": 1e-2}
    config["lr_scheduling"] = {"name": "ExponentialLR", "hyperparameters": {"gamma": 0.9}}
    plan = build_lr_plan(Tower(), config, n_epochs=5)
    base = {"embed": 1e-4 * 0.5**5, "head": 1e-2}
    base |= {f"blocks.{i}": 1e-3 * 0.5 ** (4 - i) for i in range(4)}
    for epoch in range(5):
        assert plan.lrs() == pytest.approx({n: b * 0.9**epoch for n, b in base.items()}, rel=1e-12)
        plan.step_epoch(train_loss=1.0)


def _tower_names() -> tuple[str, ...]:
    return ("embed", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "head")


def test_decay_without_layers_uses_auto_layers_or_the_models_own_groups() -> None:
    plan = build_lr_plan(Tower(), {"learning_rate": 1.0, "layer_decay": 0.5}, n_epochs=1)
    assert plan.lrs() == {"embed": 0.25, "blocks": 0.5, "head": 1.0}
    plain = build_lr_plan(Tower(), {"learning_rate": 1.0}, n_epochs=1)
    assert plain.lrs() == {"model": 1.0}
    spec = LRSpec.from_config({"learning_rate": 1.0, "layer_decay": 0.5}, ("a.x", "a.y", "b"))
    assert [g.lr for g in spec.groups] == [0.25, 0.5, 1.0]


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"layer_decay": 0}, "layer_decay is 0, but must be a number in (0, 1]"),
        ({"layer_decay": 1.5}, "layer_decay is 1.5, but must be a number in (0, 1]"),
        ({"layers": 3}, "layers is 3, but must be 'auto' or a list"),
        ({"layers": ["a b"]}, "layers[0] is 'a b', but must be a module path"),
        ({"layers": ["a", "a"]}, "but lists a module twice"),
        ({"layers": "auto", "groups": {"a": ["x.*"]}}, "layers is given together with groups"),
    ],
)
def test_bad_layer_keys_are_named(config: dict, expected: str) -> None:
    problems = [str(p) for p in lr_config_problems(config, ("a",))]
    assert any(expected in p for p in problems), problems


def test_layers_need_the_model_to_build_a_spec() -> None:
    assert lr_config_problems({"layers": "auto", "learning_rate": {"anything": 1e-3}}) == []
    with pytest.raises(ConfigError, match="layers: names the model's modules"):
        LRSpec.from_config({"layers": "auto"})


def test_layers_beat_lr_groups_and_name_nested_sequential_children() -> None:
    model = nn.Sequential(
        OrderedDict(features=nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)), fc=nn.Linear(2, 1))
    )
    plan = build_lr_plan(model, {"layers": ["features.*", "fc"], "layer_decay": 0.1}, n_epochs=1)
    assert plan.lrs() == pytest.approx(
        {"features.0": 1e-5, "features.1": 1e-4, "fc": 1e-3}, rel=1e-12
    )
