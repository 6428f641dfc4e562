"""OPTIMIZERS: every entry builds with its settings; per-group weight decay from the leaf."""

from __future__ import annotations

import pytest
import torch

from tests.lr.helpers import make_model
from trainables.lr import OPTIMIZERS, SEED_GROUPS, build_lr_plan

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
