"""`groups: "pkg.mod:fn"`: a declared function makes the groups, its names declared once."""

from __future__ import annotations

import sys

import pytest
import torch

from trainables.declare import groups
from trainables.lr import ConfigError, LRSpec, build_lr_plan, lr_config_problems

HERE = "tests.lr.test_group_function"


@groups(names=("body", "head"))
def body_and_head(model: torch.nn.Module) -> dict[str, list[torch.nn.Parameter]]:
    return {"body": list(model[0].parameters()), "head": list(model[2].parameters())}


@groups
def unnamed(model: torch.nn.Module) -> dict[str, list[torch.nn.Parameter]]:
    return {"first": list(model[0].parameters()), "last": list(model[2].parameters())}


@groups(names=("body", "head"))
def misnamed(model: torch.nn.Module) -> dict[str, list[torch.nn.Parameter]]:
    return {"head": list(model[2].parameters()), "body": list(model[0].parameters())}


@groups
def broken(model: torch.nn.Module) -> dict[str, list[torch.nn.Parameter]]:
    return {"body": model.missing}


def undeclared(model: torch.nn.Module) -> dict[str, list[torch.nn.Parameter]]:
    return {}


def _model() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))


def test_the_function_makes_the_groups_with_their_own_rates() -> None:
    model = _model()
    config = {"groups": f"{HERE}:body_and_head", "learning_rate": {"body": 1e-3, "head": 1e-2}}
    plan = build_lr_plan(model, config, n_epochs=3)
    assert plan.group_names == ("body", "head")
    assert plan.lrs() == {"body": 1e-3, "head": 1e-2}
    body, head = plan.optimizer.param_groups
    assert [id(p) for p in body["params"]] == [id(p) for p in model[0].parameters()]
    assert [id(p) for p in head["params"]] == [id(p) for p in model[2].parameters()]


def test_declared_names_are_known_without_the_model() -> None:
    config = {"groups": f"{HERE}:body_and_head", "learning_rate": {"body": 1e-3, "hed": 1e-2}}
    (problem,) = lr_config_problems(config)
    assert str(problem) == (
        "learning_rate.hed is not a component of the model: did you mean 'head'? "
        "(known: body, head)"
    )
    spec = LRSpec.from_config({**config, "learning_rate": 1e-3})
    assert spec.group_names == ("body", "head")


def test_undeclared_names_come_from_calling_it_on_the_model() -> None:
    config = {"groups": f"{HERE}:unnamed", "learning_rate": {"first": 1e-3, "last": 2e-3}}
    assert lr_config_problems(config) == []  # nothing to check the names against yet
    assert build_lr_plan(_model(), config, n_epochs=2).lrs() == {"first": 1e-3, "last": 2e-3}
    with pytest.raises(ConfigError) as error:
        LRSpec.from_config(config)
    assert str(error.value) == (
        f"config: groups: '{HERE}:unnamed' declares no group names, so the groups depend on the "
        "model: "
        "declare them (@groups(names=(...))) or use build_lr_plan(model, config, ...)"
    )


def test_a_function_that_breaks_its_declaration_or_raises_is_named() -> None:
    with pytest.raises(ConfigError) as error:
        build_lr_plan(_model(), {"groups": f"{HERE}:misnamed"}, n_epochs=2)
    assert str(error.value) == (
        f"config: groups: groups: '{HERE}:misnamed' returned ['head', 'body'], but declares "
        "['body', 'head']: return the declared names, in order"
    )
    with pytest.raises(ConfigError) as error:
        build_lr_plan(_model(), {"groups": f"{HERE}:broken"}, n_epochs=2)
    assert str(error.value).startswith(f"config: groups: '{HERE}:broken' raised AttributeError:")
    assert "'missing'" in str(error.value)


def test_only_a_declared_function_of_an_own_module_is_imported() -> None:
    (problem,) = lr_config_problems({"groups": f"{HERE}:undeclared"})
    assert str(problem) == (
        f"groups: '{HERE}:undeclared' does not declare itself a groups function: decorate the "
        "function with @groups (from trainables.declare import groups)"
    )
    sys.modules.pop("antigravity", None)
    (problem,) = lr_config_problems({"groups": "antigravity:geohash"})
    assert "names the standard-library module 'antigravity'" in str(problem)
    assert "antigravity" not in sys.modules
    (problem,) = lr_config_problems({"groups": "not a path"})
    assert str(problem) == (
        "groups is 'not a path', but must be a mapping or an import path: write "
        "{encoder.shared: ['encoder.*'], ...} or 'package.module:function'"
    )


def test_groups_names_must_be_a_list_of_names() -> None:
    with pytest.raises(TypeError, match="at least one name"):
        groups(names=())
    with pytest.raises(TypeError, match="takes a list of names"):
        groups(names="body")
