"""Name-pattern groups on a model with nested modules: globs, regexes, hierarchical names."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from torch import nn

from trainables.lr import ConfigError, build_lr_plan


class Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.attn = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, width), nn.GELU(), nn.Linear(width, width))
        self.norm = nn.LayerNorm(width)


class Nested(nn.Module):
    """backbone.{stem, blocks.0..2 (attn, mlp.0, mlp.2, norm)}, head."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.stem = nn.Linear(3, width)
        self.backbone.blocks = nn.ModuleList(Block(width) for _ in range(3))
        self.head = nn.Sequential(OrderedDict(fc=nn.Linear(width, 2)))


def names_in(plan, model: nn.Module, group: str) -> set[str]:
    """The parameter names in the optimizer's param group `group`."""
    ids = {id(p) for g in plan.optimizer.param_groups if g["name"] == group for p in g["params"]}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def test_nested_patterns_make_hierarchical_groups() -> None:
    model = Nested()
    config = {
        "groups": {
            "backbone.stem": ["backbone.stem.*"],
            "backbone.attn": ["re:backbone\\.blocks\\.\\d+\\.attn\\..*"],
            "backbone.mlp": ["backbone.blocks.*.mlp.*", "backbone.blocks.*.norm.*"],
            "head": ["head.*"],
        },
        "learning_rate": {
            "backbone": {"stem": 1e-4, "attn": {"lr": 2e-4}, "mlp": {"lr": 3e-4}},
            "head": 1e-2,
        },
    }
    plan = build_lr_plan(model, config, n_epochs=2)
    assert plan.lrs() == {
        "backbone.stem": 1e-4,
        "backbone.attn": 2e-4,
        "backbone.mlp": 3e-4,
        "head": 1e-2,
    }
    assert names_in(plan, model, "backbone.attn") == {
        f"backbone.blocks.{i}.attn.{t}" for i in range(3) for t in ("weight", "bias")
    }
    assert names_in(plan, model, "backbone.mlp") == {
        f"backbone.blocks.{i}.{m}.{t}"
        for i in range(3)
        for m in ("mlp.0", "mlp.2", "norm")
        for t in ("weight", "bias")
    }
    assert names_in(plan, model, "head") == {"head.fc.weight", "head.fc.bias"}
    every = [p for g in plan.optimizer.param_groups for p in g["params"]]
    assert len(every) == len(list(model.parameters())) == len({id(p) for p in every})


def test_a_component_leaf_applies_to_every_nested_level() -> None:
    config = {
        "groups": {"backbone.stem": ["backbone.stem.*"], "backbone.blocks": ["backbone.blocks.*"]},
        "learning_rate": {"backbone": {"lr": 5e-4}},
    }
    model = Nested()
    for p in model.head.parameters():
        p.requires_grad_(False)  # left out of every group: stays outside the optimizer
    plan = build_lr_plan(model, config, n_epochs=1)
    assert plan.lrs() == {"backbone.stem": 5e-4, "backbone.blocks": 5e-4}


def test_a_pattern_matching_nothing_lists_the_parameter_names() -> None:
    config = {"groups": {"backbone": ["backbone.*"], "head": ["classifier.*"]}}
    with pytest.raises(ConfigError) as error:
        build_lr_plan(Nested(), config, n_epochs=1)
    message = str(error.value)
    assert "groups.head[0]: 'classifier.*' matches no parameter of Nested" in message
    assert "backbone.blocks.2.mlp.0.weight" in message and "head.fc.bias" in message


def test_stray_and_double_matches_are_named() -> None:
    config = {"groups": {"a": ["backbone.*"], "b": ["backbone.stem.*"]}}
    with pytest.raises(ConfigError) as error:
        build_lr_plan(Nested(), config, n_epochs=1)
    message = str(error.value)
    assert "parameter 'backbone.stem.weight' is in both 'a' and 'b'" in message
    assert "trainable parameters in no group: head.fc.weight, head.fc.bias" in message


def test_grouped_training_moves_every_group() -> None:
    torch.manual_seed(0)
    model = Nested()
    config = {"groups": {"backbone": ["backbone.*"], "head": ["head.*"]}, "learning_rate": 1e-2}
    plan = build_lr_plan(model, config, n_epochs=1)
    before = [p.detach().clone() for p in model.parameters()]
    x = torch.randn(5, 3)
    h = model.backbone.stem(x)
    for block in model.backbone.blocks:
        h = block.norm(h + block.mlp(block.attn(h)))
    model.head(h).sum().backward()
    plan.optimizer.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
