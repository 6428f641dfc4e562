"""OPTIMIZERS: every entry builds with its settings; per-group weight decay from the leaf."""

from __future__ import annotations

import pytest
import torch

from tests.lr.helpers import make_model
from trainables.lr import OPTIMIZERS, SEED_GROUPS, build_lr_plan, lr_config_problems

SETTINGS = {
    "Adam": ({"betas": [0.8, 0.99], "eps": 1e-6, "amsgrad": True}, torch.optim.Adam),
    "AdamW": ({"weight_decay": 0.02, "betas": [0.9, 0.95]}, torch.optim.AdamW),
    "RAdam": ({"decoupled_weight_decay": True, "weight_decay": 0.01}, torch.optim.RAdam),
    "SGD": ({"momentum": 0.9, "nesterov": True, "dampening": 0.0}, torch.optim.SGD),
}


def test_every_optimizer_has_a_case() -> None:
    assert sorted(SETTINGS) == sorted(OPTIMIZERS)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_optimizer_builds_with_its_settings(name: str) -> None:
    hyper, cls = SETTINGS[name]
    config = {"learning_rate": 1e-3, "optimizer": {"name": name, "hyperparameters": hyper}}
    plan = build_lr_plan(make_model(), config, n_epochs=2)
    assert type(plan.optimizer) is cls
    for group in plan.optimizer.param_groups:
        for key, value in hyper.items():
            assert group[key] == (tuple(value) if isinstance(value, list) else value), key


def test_adam_is_the_default() -> None:
    plan = build_lr_plan(make_model(), {}, n_epochs=2)
    assert type(plan.optimizer) is torch.optim.Adam
    assert {g["weight_decay"] for g in plan.optimizer.param_groups} == {0.0}


def test_leaf_weight_decay_overrides_the_optimizer_per_group() -> None:
    config = {
        "learning_rate": {
            "encoder": {"lr": 1e-3, "weight_decay": 0.0},
            "dsr": {"subjects": {"lr": 1e-2, "weight_decay": 0.3}},
        },
        "optimizer": {"name": "AdamW", "hyperparameters": {"weight_decay": 0.05}},
    }
    plan = build_lr_plan(make_model(), config, n_epochs=2)
    decay = {g["name"]: g["weight_decay"] for g in plan.optimizer.param_groups}
    assert decay == dict(zip(SEED_GROUPS, [0.0, 0.0, 0.05, 0.05, 0.3], strict=True))


def test_adamw_keeps_torchs_default_decay() -> None:
    plan = build_lr_plan(make_model(), {"optimizer": {"name": "AdamW"}}, n_epochs=2)
    assert {g["weight_decay"] for g in plan.optimizer.param_groups} == {0.01}


def test_settings_an_older_torch_lacks_are_dropped_at_their_default_and_refused_otherwise() -> None:
    """torch 2.2's RAdam has no `maximize`: left at its default it is not passed; a setting
    the installed torch lacks, set to something else, is an error naming torch's version."""
    from trainables.lr.optimizers import OptimizerEntry, SGDParams, _supported

    class Newer(SGDParams):
        not_in_this_torch: bool = False

    entry = OptimizerEntry("SGD", Newer)
    assert _supported(entry, {"momentum": 0.9, "not_in_this_torch": False}) == {"momentum": 0.9}
    with pytest.raises(ValueError, match=r"not_in_this_torch is True, but torch .*'s SGD"):
        _supported(entry, {"not_in_this_torch": True})


def _two_layers() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))


def _train(model: torch.nn.Module, optimizer: torch.optim.Optimizer, steps: int = 4) -> None:
    x = torch.linspace(-1, 1, 24).reshape(8, 3)
    for _ in range(steps):
        loss = model(x).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_a_leafs_optimizer_hyperparameters_train_as_torchs_own_param_groups() -> None:
    config = {
        "groups": {"body": ["0.*"], "head": ["2.*"]},
        "optimizer": {"name": "SGD", "hyperparameters": {"momentum": 0.9}},
        "learning_rate": {
            "body": {"lr": 0.05, "optimizer": {"momentum": 0.5, "nesterov": True}},
            "head": {"lr": 0.1, "optimizer": {"dampening": 0.2}},
        },
    }
    ours = _two_layers()
    plan = build_lr_plan(ours, config, n_epochs=2)
    theirs = _two_layers()
    reference = torch.optim.SGD(
        [
            {"params": theirs[0].parameters(), "lr": 0.05, "momentum": 0.5, "nesterov": True},
            {"params": theirs[2].parameters(), "lr": 0.1, "dampening": 0.2},
        ],
        lr=1.0,
        momentum=0.9,
    )
    _train(ours, plan.optimizer)
    _train(theirs, reference)
    for mine, own in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(mine, own)
    body, head = plan.optimizer.param_groups
    assert (body["momentum"], body["nesterov"], body["dampening"]) == (0.5, True, 0.0)
    assert (head["momentum"], head["nesterov"], head["dampening"]) == (0.9, False, 0.2)


def test_per_group_betas_over_the_optimizers_own() -> None:
    config = {
        "groups": {"body": ["0.*"], "head": ["2.*"]},
        "optimizer": {"name": "Adam", "hyperparameters": {"eps": 1e-6}},
        "learning_rate": {"body": {"lr": 1e-2, "optimizer": {"betas": [0.8, 0.9]}}, "head": 1e-3},
    }
    body, head = build_lr_plan(_two_layers(), config, n_epochs=2).optimizer.param_groups
    assert (body["betas"], body["eps"]) == ((0.8, 0.9), 1e-6)
    assert (head["betas"], head["eps"]) == ((0.9, 0.999), 1e-6)


def test_a_leafs_optimizer_names_only_its_optimizers_per_group_settings() -> None:
    config = {
        "optimizer": {"name": "SGD"},
        "learning_rate": {
            "body": {"lr": 1e-2, "optimizer": {"betas": [0.9, 0.99], "weight_decay": 0.1}},
            "head": {"lr": 1e-2, "optimizer": {"momentum": -0.5}},
        },
    }
    problems = [str(p) for p in lr_config_problems(config, ("body", "head"))]
    assert problems == [
        "learning_rate.body.optimizer.betas is not a per-group hyperparameter of SGD: (known: "
        "dampening, momentum, nesterov)",
        "learning_rate.body.optimizer.weight_decay is not set here: set it as the leaf's own "
        "weight_decay, beside optimizer",
        "learning_rate.head.optimizer.momentum is -0.5, but input should be greater than or "
        "equal to 0",
    ]
