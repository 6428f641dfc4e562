"""Parameters fixed by design (requires_grad False when the plan is built) stay fixed.

A lab's model keeps an identity observation matrix and a noise covariance at requires_grad
False; a group pattern covering them must neither train them nor turn their requires_grad on.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from trainables.lr import ConfigError, build_lr_plan

N_EPOCHS = 6


class Observed(nn.Module):
    """A latent model with a fixed identity observation matrix `B` and noise covariance `Gamma`."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.A = nn.Parameter(0.9 * torch.eye(3))
        self.W = nn.Parameter(0.1 * torch.randn(3, 3))
        self.B = nn.Parameter(torch.eye(3), requires_grad=False)
        self.Gamma = nn.Parameter(0.1 * torch.eye(3), requires_grad=False)

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        z = x @ self.A.T + torch.relu(x @ self.W.T)
        # the fixed parameters take part in the loss, so a gradient would reach them if trained
        return ((z @ self.B.T - x.roll(1, 0)) ** 2 / self.Gamma.diagonal()).mean()


def train(model: Observed, plan, n_epochs: int = N_EPOCHS) -> None:
    g = torch.Generator().manual_seed(1)
    for _ in range(n_epochs):
        for _ in range(3):
            plan.optimizer.zero_grad()
            model.loss(torch.randn(16, 3, generator=g)).backward()
            plan.optimizer.step()
        plan.step_epoch(train_loss=1.0)


CASES = {
    "one group over everything, AdamW with weight decay": {
        "groups": {"model": ["*"]},
        "optimizer": {"name": "AdamW", "hyperparameters": {"weight_decay": 0.5}},
    },
    "the whole model as one group": {"learning_rate": {"model": {"lr": 1e-2}}},
    "unfreeze_at over the fixed ones": {
        "groups": {"latent": ["A"], "rest": ["W", "B", "Gamma"]},
        "learning_rate": {"latent": 1e-2, "rest": {"lr": 1e-2, "unfreeze_at": 2}},
        "optimizer": {"name": "SGD", "hyperparameters": {"momentum": 0.9, "weight_decay": 0.1}},
    },
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_fixed_parameters_stay_bit_identical_and_untrainable(name: str) -> None:
    model = Observed()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    plan = build_lr_plan(model, CASES[name], n_epochs=N_EPOCHS)
    assert plan.fixed == ("B", "Gamma")
    in_optimizer = {id(p) for g in plan.optimizer.param_groups for p in g["params"]}
    assert id(model.B) not in in_optimizer and id(model.Gamma) not in in_optimizer
    train(model, plan)
    assert not model.B.requires_grad and not model.Gamma.requires_grad
    assert torch.equal(model.B, before["B"]) and torch.equal(model.Gamma, before["Gamma"])
    assert not torch.equal(model.A, before["A"]) and not torch.equal(model.W, before["W"])


def test_a_group_freezing_and_unfreezing_leaves_fixed_parameters_off() -> None:
    model = Observed()
    config = {
        "groups": {"latent": ["A"], "rest": ["W", "B", "Gamma"]},
        "learning_rate": {"latent": 1e-2, "rest": {"lr": 1e-2, "unfreeze_at": 2}},
    }
    plan = build_lr_plan(model, config, n_epochs=N_EPOCHS)
    assert not model.W.requires_grad  # frozen by the plan until epoch 2
    train(model, plan, n_epochs=3)
    assert plan.frozen() == {"latent": False, "rest": False}
    assert model.W.requires_grad
    assert not model.B.requires_grad and not model.Gamma.requires_grad


def test_a_plan_rebuilt_on_a_model_an_earlier_plan_froze_trains_the_frozen_groups() -> None:
    model = Observed()
    config = {
        "groups": {"latent": ["A"], "rest": ["W", "B", "Gamma"]},
        "learning_rate": {"latent": 1e-2, "rest": {"lr": 1e-2, "unfreeze_at": 2}},
    }
    first = build_lr_plan(model, config, n_epochs=N_EPOCHS)
    assert not model.W.requires_grad
    again = build_lr_plan(model, config, n_epochs=N_EPOCHS)  # W: frozen by a plan, not fixed
    assert again.fixed == ("B", "Gamma") and first.fixed == again.fixed
    assert [len(g["params"]) for g in again.optimizer.param_groups] == [1, 1]
    train(model, again, n_epochs=3)
    assert model.W.requires_grad and not model.B.requires_grad


def test_a_group_of_only_fixed_parameters_is_refused_naming_them() -> None:
    config = {"groups": {"latent": ["A", "W"], "observation": ["B", "Gamma"]}}
    with pytest.raises(ConfigError) as error:
        build_lr_plan(Observed(), config, n_epochs=2)
    assert str(error.value) == (
        "config: groups.observation: covers only parameters with requires_grad=False, which the "
        "plan keeps fixed: B, Gamma: remove the group, or set requires_grad=True on them before "
        "build_lr_plan"
    )


def test_lr_groups_holding_a_fixed_parameter_keep_it_out() -> None:
    class WithGroups(Observed):
        def lr_groups(self) -> dict[str, list[nn.Parameter]]:
            return {"dynamics": [self.A, self.W], "observation": [self.B, self.Gamma]}

    model = WithGroups()
    plan = build_lr_plan(model, {"learning_rate": 1e-2}, n_epochs=N_EPOCHS)
    assert plan.group_names == ("dynamics", "observation")
    assert [len(g["params"]) for g in plan.optimizer.param_groups] == [2, 0]
    before = model.B.detach().clone()
    train(model, plan)
    assert torch.equal(model.B, before) and not model.B.requires_grad
