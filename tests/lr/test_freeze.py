"""Freezing really freezes: frozen tensors stay bit-identical under every optimizer, then move."""

from __future__ import annotations

import pytest
import torch

from tests.lr.helpers import make_model, train_epoch
from trainables.lr import OPTIMIZERS, SEED_GROUPS, build_lr_plan
from trainables.lr.freeze import FreezeRule

# weight decay and momentum are what would move a frozen tensor if it stayed in the update
OPTIMIZER_CASES = {
    "Adam": {"weight_decay": 0.1},
    "AdamW": {"weight_decay": 0.5},
    "RAdam": {"weight_decay": 0.1, "decoupled_weight_decay": True},
    "SGD": {"momentum": 0.9, "weight_decay": 0.1, "nesterov": True},
}


def snapshot(model) -> dict[str, list[torch.Tensor]]:
    return {n: [p.detach().clone() for p in ps] for n, ps in model.lr_groups().items()}


def identical(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_every_registered_optimizer_has_a_freeze_case() -> None:
    assert sorted(OPTIMIZER_CASES) == sorted(OPTIMIZERS)


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CASES))
def test_frozen_after_k_epochs_is_bit_identical(name: str) -> None:
    """Train 3 epochs (momentum buffers filled), freeze, then 8 more epochs must not move it."""
    model = make_model()
    config = {
        "learning_rate": {
            "encoder": {"lr": 1e-2, "freeze_after": 3},
            "decoder": {"lr": 1e-2},
            "dsr": {"shared": {"lr": 1e-2}, "subjects": {"lr": 5e-2, "freeze_after": 3}},
        },
        "optimizer": {"name": name, "hyperparameters": OPTIMIZER_CASES[name]},
    }
    plan = build_lr_plan(model, config, n_epochs=11)
    frozen = ("encoder.shared", "encoder.subjects", "dsr.subjects")
    for epoch in range(3):
        train_epoch(model, plan, epoch)
        plan.step_epoch(train_loss=1.0)
    assert all(plan.optimizer.state[p] for p in model.lr_groups()["encoder.shared"])
    at_freeze = snapshot(model)
    for epoch in range(3, 11):
        train_epoch(model, plan, epoch)
        plan.step_epoch(train_loss=1.0)
        for group in frozen:
            params = model.lr_groups()[group]
            assert all(not p.requires_grad and p.grad is None for p in params), group
    after = snapshot(model)
    for group in SEED_GROUPS:
        assert identical(at_freeze[group], after[group]) == (group in frozen), group
    assert [g["name"] for g in plan.optimizer.param_groups] == list(SEED_GROUPS)
    assert {g: plan.lrs()[g] for g in frozen} == dict.fromkeys(frozen, 0.0)


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CASES))
def test_unfreeze_at_holds_then_trains(name: str) -> None:
    model = make_model()
    config = {
        "learning_rate": {"encoder": {"lr": 1e-2}, "decoder": {"lr": 1e-2, "unfreeze_at": 4}},
        "optimizer": {"name": name, "hyperparameters": OPTIMIZER_CASES[name]},
    }
    plan = build_lr_plan(model, config, n_epochs=6)
    start = snapshot(model)
    assert len(plan.optimizer.param_groups) == 5  # the frozen group exists from step 0
    for epoch in range(4):
        assert plan.frozen()["decoder.shared"] and plan.lrs()["decoder.shared"] == 0.0
        train_epoch(model, plan, epoch)
        plan.step_epoch(train_loss=1.0)
    held = snapshot(model)
    assert identical(start["decoder.shared"], held["decoder.shared"])
    assert not identical(start["encoder.shared"], held["encoder.shared"])
    assert plan.lrs()["decoder.shared"] == 1e-2
    assert all(p.requires_grad for p in model.lr_groups()["decoder.shared"])
    train_epoch(model, plan, 4)
    assert not identical(held["decoder.shared"], snapshot(model)["decoder.shared"])


def test_freeze_after_zero_never_trains() -> None:
    model = make_model()
    plan = build_lr_plan(model, {"learning_rate": {"decoder": {"lr": 1.0, "freeze_after": 0}}}, 3)
    start = snapshot(model)
    for epoch in range(3):
        train_epoch(model, plan, epoch)
        plan.step_epoch(train_loss=1.0)
    assert identical(start["decoder.shared"], snapshot(model)["decoder.shared"])


def test_rebuilding_a_plan_on_a_model_an_earlier_plan_froze_keeps_its_groups() -> None:
    model = make_model()
    config = {"learning_rate": {"encoder": {"lr": 1e-3, "unfreeze_at": 5}}}
    first = build_lr_plan(model, config, n_epochs=10)
    assert not any(p.requires_grad for p in model.lr_groups()["encoder.shared"])
    second = build_lr_plan(model, config, n_epochs=10)
    sizes = [len(g["params"]) for g in second.optimizer.param_groups]
    assert sizes == [len(g["params"]) for g in first.optimizer.param_groups] == [2, 1, 2, 2, 1]


@pytest.mark.parametrize(
    ("rule", "frozen_epochs"),
    [
        (FreezeRule(), []),
        (FreezeRule(freeze_after=3), [3, 4, 5]),
        (FreezeRule(unfreeze_at=2), [0, 1]),
        (FreezeRule(freeze_after=4, unfreeze_at=1), [0, 4, 5]),
        (FreezeRule(freeze_after=0), [0, 1, 2, 3, 4, 5]),
    ],
)
def test_freeze_rule_epochs(rule: FreezeRule, frozen_epochs: list[int]) -> None:
    assert [e for e in range(6) if rule.frozen(e)] == frozen_epochs
    assert [rule.gate(e) for e in range(6)] == [
        0.0 if e in frozen_epochs else 1.0 for e in range(6)
    ]
