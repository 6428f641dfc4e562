"""Gradual unfreezing: the timetable epoch by epoch, really frozen layers, schedules and resume."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from trainables.lr import UnfreezeSpec, build_lr_plan, lr_config_problems

N_EPOCHS = 9
LAYERS = ("layers.0", "layers.1", "layers.2", "layers.3", "layers.4")  # bottom to top


def tower() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(*(nn.Linear(3, 3) for _ in range(4)), nn.Linear(3, 1))


def start_epoch(name: str, last_n: int, every: int) -> int:
    depth = len(LAYERS) - 1 - LAYERS.index(name)
    return 0 if depth < last_n else (depth - last_n + 1) * every


@pytest.mark.parametrize(("last_n", "every"), [(1, 1), (1, 2), (2, 3), (5, 1), (9, 4)])
def test_the_timetable_is_top_k_then_one_more_every_e_epochs(last_n: int, every: int) -> None:
    spec = UnfreezeSpec(last_n, every)
    assert spec.epochs(LAYERS) == {n: start_epoch(n, last_n, every) for n in LAYERS}
    config = {"learning_rate": 1e-2, "unfreeze": {"last_n": last_n, "every": every}}
    plan = build_lr_plan(tower(), config, n_epochs=N_EPOCHS)
    for epoch in range(N_EPOCHS):
        expected = {n: epoch < start_epoch(n, last_n, every) for n in LAYERS}
        assert plan.frozen() == expected, f"epoch {epoch}"
        assert plan.lrs() == {n: 0.0 if expected[n] else 1e-2 for n in LAYERS}, f"epoch {epoch}"
        plan.step_epoch(train_loss=1.0)


def train_epoch(model: nn.Module, plan, steps: int = 3) -> None:
    for _ in range(steps):
        x = torch.randn(8, 3)
        loss = model(x).pow(2).mean()
        plan.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        plan.optimizer.step()
        plan.step_batch()


@pytest.mark.parametrize(
    "optimizer",
    [
        {"name": "AdamW", "hyperparameters": {"weight_decay": 0.1}},
        {"name": "SGD", "hyperparameters": {"momentum": 0.9, "weight_decay": 0.01}},
    ],
)
def test_frozen_layers_stay_bit_identical_until_their_epoch(optimizer: dict) -> None:
    model = tower()
    config = {
        "learning_rate": 1e-2,
        "layer_decay": 0.8,
        "unfreeze": {"last_n": 2, "every": 2},
        "optimizer": optimizer,
    }
    plan = build_lr_plan(model, config, n_epochs=N_EPOCHS, steps_per_epoch=3)
    layers = {name: model[i] for i, name in enumerate(LAYERS)}
    torch.manual_seed(1)
    for epoch in range(N_EPOCHS):
        before = {n: [p.detach().clone() for p in m.parameters()] for n, m in layers.items()}
        train_epoch(model, plan)
        for name, module in layers.items():
            same = all(
                torch.equal(b, p) for b, p in zip(before[name], module.parameters(), strict=True)
            )
            assert same == (epoch < start_epoch(name, 2, 2)), f"{name} at epoch {epoch}"
        plan.step_epoch(train_loss=1.0)


def test_unfreezing_composes_with_schedules_decay_and_freeze_after() -> None:
    levels = {
        "0": 1e-2,
        "1": 1e-2,
        "2": {"lr": 1e-2, "unfreeze_at": 5},  # later than the timetable's 4: it wins
        "3": 1e-2,
        "4": {"lr": 1e-1, "freeze_after": 6},
    }
    config = {
        "learning_rate": {"layers": levels},
        "layer_decay": 0.5,
        "unfreeze": {"last_n": 1, "every": 2},
        "lr_scheduling": {"name": "ExponentialLR", "hyperparameters": {"gamma": 0.8}},
    }
    plan = build_lr_plan(tower(), config, n_epochs=N_EPOCHS)
    starts = {"layers.0": 8, "layers.1": 6, "layers.2": 5, "layers.3": 2, "layers.4": 0}
    base = {n: (1e-1 if n == "layers.4" else 1e-2) * 0.5 ** (4 - i) for i, n in enumerate(LAYERS)}
    for epoch in range(N_EPOCHS):
        gate = {n: epoch >= starts[n] and not (n == "layers.4" and epoch >= 6) for n in LAYERS}
        expected = {n: base[n] * 0.8**epoch if gate[n] else 0.0 for n in LAYERS}
        assert plan.lrs() == pytest.approx(expected, rel=1e-12), f"epoch {epoch}"
        plan.step_epoch(train_loss=1.0)


def test_a_layer_that_would_unfreeze_after_its_freeze_is_refused() -> None:
    config = {
        "learning_rate": {"layers": {"0": {"lr": 1e-3, "freeze_after": 3}, "1": 1e-3}},
        "unfreeze": {"last_n": 1, "every": 4},
    }
    problems = [str(p) for p in lr_config_problems(config, ("layers.0", "layers.1"))]
    assert problems == [
        "unfreeze: unfreezes 'layers.0' at epoch 4, but it freezes after epoch 3: the group "
        "would never train: raise last_n, lower every, or raise its freeze_after"
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3, "unfreeze is 3, but must be a mapping"),
        ({"last_n": 0}, "unfreeze.last_n is 0, but must be a whole number of layers >= 1"),
        ({"every": 1.5}, "unfreeze.every is 1.5, but must be a whole number >= 1"),
        ({"last": 1}, "unfreeze.last is not a known key: did you mean 'last_n'?"),
    ],
)
def test_bad_unfreeze_values_are_named(value, expected: str) -> None:
    problems = [str(p) for p in lr_config_problems({"unfreeze": value}, ("a", "b"))]
    assert any(p.startswith(expected) for p in problems), problems


def run(model, plan, epochs: range, seed: int) -> list[dict[str, float]]:
    lrs = []
    for epoch in epochs:
        torch.manual_seed(seed + epoch)
        train_epoch(model, plan)
        plan.step_epoch(train_loss=1.0)
        lrs.append(plan.lrs())
    return lrs


def test_resume_in_the_middle_of_gradual_unfreezing_continues_exactly() -> None:
    config = {
        "learning_rate": 1e-2,
        "layer_decay": 0.7,
        "unfreeze": {"last_n": 1, "every": 2},
        "optimizer": {"name": "AdamW"},
        "lr_scheduling": {"name": "Cosine"},
    }
    whole_model = tower()
    whole = build_lr_plan(whole_model, config, n_epochs=N_EPOCHS, steps_per_epoch=3)
    whole_lrs = run(whole_model, whole, range(N_EPOCHS), seed=10)

    first_model = tower()
    first = build_lr_plan(first_model, config, n_epochs=N_EPOCHS, steps_per_epoch=3)
    run(first_model, first, range(5), seed=10)  # epoch 5: layers.4..2 train, 1 and 0 frozen
    assert first.frozen() == {n: n in ("layers.0", "layers.1") for n in LAYERS}
    saved = copy.deepcopy({"model": first_model.state_dict(), "plan": first.state_dict()})

    resumed_model = tower()  # a fresh process: nothing frozen yet
    resumed_model.load_state_dict(saved["model"])
    resumed = build_lr_plan(resumed_model, config, n_epochs=N_EPOCHS, steps_per_epoch=3)
    resumed.load_state_dict(saved["plan"])
    assert resumed.frozen() == first.frozen()
    assert [p.requires_grad for p in resumed_model.parameters()] == [
        p.requires_grad for p in first_model.parameters()
    ]
    resumed_lrs = run(resumed_model, resumed, range(5, N_EPOCHS), seed=10)
    assert resumed_lrs == whole_lrs[5:]
    for a, b in zip(whole_model.parameters(), resumed_model.parameters(), strict=True):
        assert torch.equal(a, b)
