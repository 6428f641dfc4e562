"""The seed's schedules through an LRPlan against torch's own schedulers, at rel 1e-12."""

from __future__ import annotations

import math

import pytest
import torch

from tests.lr.helpers import BASE, HIER, make_model
from trainables.lr import SEED_GROUPS, build_lr_plan
from trainables.lr.schedules.seed import milestone_epochs

LOSSES = [5, 4, 4, 4, 4, 3.9999, 4, 4, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]
LOSSES += [1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5]


def torch_lrs(make_scheduler, n_epochs: int, losses=None) -> list[dict[str, float]]:
    """Each group's lr at the start of every epoch under torch's own scheduler."""
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in SEED_GROUPS]
    opt = torch.optim.SGD(
        [{"params": [p], "lr": BASE[n]} for p, n in zip(params, SEED_GROUPS, strict=True)]
    )
    scheduler = make_scheduler(opt)
    out = []
    for epoch in range(n_epochs):
        out.append({n: g["lr"] for n, g in zip(SEED_GROUPS, opt.param_groups, strict=True)})
        opt.step()
        scheduler.step(*([losses[epoch]] if losses else []))
    return out


def plan_lrs(schedule: dict, n_epochs: int, losses=None) -> list[dict[str, float]]:
    config = {"learning_rate": HIER, "lr_scheduling": schedule}
    plan = build_lr_plan(make_model(), config, n_epochs=n_epochs)
    out = []
    for epoch in range(n_epochs):
        out.append(plan.lrs())
        plan.step_epoch(train_loss=losses[epoch] if losses else 1.0)
    return out


def assert_same(ours: list[dict], theirs: list[dict]) -> None:
    for epoch, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == pytest.approx(b, rel=1e-12, abs=0), f"epoch {epoch}: {a} != {b}"


@pytest.mark.parametrize(
    ("fractions", "n_epochs", "gamma"),
    [([0.2, 0.8], 100, 0.1), ([0.5], 10, 0.5), ([0.25, 0.5, 0.75], 37, 0.3), ([0.3, 0.3], 20, 0.5)],
)
def test_multistep_fractions_match_torch(fractions, n_epochs, gamma) -> None:
    epochs = [round(f * n_epochs) for f in fractions]
    theirs = torch_lrs(
        lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=epochs, gamma=gamma), n_epochs
    )
    hyper = {"milestones": fractions, "gamma": gamma}
    assert_same(plan_lrs({"name": "MultiStepLR", "hyperparameters": hyper}, n_epochs), theirs)


def test_multistep_milestone_epochs_round_half_to_even() -> None:
    assert milestone_epochs((0.2, 0.8), 100) == (20, 80)
    assert milestone_epochs((0.25, 0.75), 10) == (2, 8)  # 2.5 -> 2, 7.5 -> 8
    assert milestone_epochs((0.9, 0.1), 7) == (1, 6)  # sorted; 0.7 -> 1, 6.3 -> 6


def test_multistep_default_gamma_is_a_tenth() -> None:
    ours = plan_lrs({"name": "MultiStepLR", "hyperparameters": {"milestones": [0.5]}}, 4)
    assert ours[2]["decoder.shared"] == pytest.approx(3e-4, rel=1e-12)


@pytest.mark.parametrize(("step_size", "gamma"), [(1, 0.9), (3, 0.5), (7, 0.1)])
def test_steplr_matches_torch(step_size: int, gamma: float) -> None:
    theirs = torch_lrs(
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=step_size, gamma=gamma), 25
    )
    hyper = {"step_size": step_size, "gamma": gamma}
    assert_same(plan_lrs({"name": "StepLR", "hyperparameters": hyper}, 25), theirs)


@pytest.mark.parametrize("gamma", [0.95, 0.5, 1.02])
def test_exponential_gamma_matches_torch(gamma: float) -> None:
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=gamma), 30)
    ours = plan_lrs({"name": "ExponentialLR", "hyperparameters": {"gamma": gamma}}, 30)
    assert_same(ours, theirs)


@pytest.mark.parametrize(("initial", "final", "n_epochs"), [(1e-3, 1e-5, 50), (1.0, 0.3, 7)])
def test_exponential_initial_final_derives_only_gamma(initial, final, n_epochs) -> None:
    """gamma = (final / initial) ** (1 / n_epochs); every group keeps its own base lr."""
    gamma = (final / initial) ** (1 / n_epochs)
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=gamma), n_epochs)
    hyper = {"initial": initial, "final": final}
    ours = plan_lrs({"name": "ExponentialLR", "hyperparameters": hyper}, n_epochs)
    assert_same(ours, theirs)
    assert ours[0] == pytest.approx(BASE, rel=1e-12)
    # after the full budget each group has fallen by exactly final / initial
    last = {n: lr * gamma for n, lr in ours[-1].items()}
    assert last == pytest.approx({n: b * final / initial for n, b in BASE.items()}, rel=1e-12)


PLATEAU_CASES = [
    {"mode": "min", "factor": 0.1, "patience": 10},  # the seed's example
    {"mode": "min", "factor": 0.5, "patience": 2},
    {"mode": "min", "factor": 0.5, "patience": 1, "cooldown": 3},
    # torch's eps skips a reduction smaller than eps in absolute lr, per group, which would break
    # the ratios once the smallest group gets below ~1e-8; ours applies eps to the multiplier
    {
        "mode": "min",
        "factor": 0.5,
        "patience": 0,
        "threshold": 0.1,
        "threshold_mode": "abs",
        "eps": 0,
    },
    {
        "mode": "min",
        "factor": 0.3,
        "patience": 2,
        "threshold": 0.01,
        "threshold_mode": "rel",
        "eps": 0,
    },
]


@pytest.mark.parametrize("hyper", PLATEAU_CASES)
def test_plateau_on_train_loss_matches_torch(hyper: dict) -> None:
    n = len(LOSSES)
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **hyper), n, LOSSES)
    ours = plan_lrs({"name": "ReduceLROnPlateau", "hyperparameters": hyper}, n, LOSSES)
    assert_same(ours, theirs)
    assert ours[-1] != ours[0], "the loss sequence must trigger at least one reduction"


def test_plateau_mode_max_on_a_named_metric_matches_torch() -> None:
    scores = [-x for x in LOSSES]
    hyper = {"mode": "max", "factor": 0.5, "patience": 2}
    n = len(scores)
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **hyper), n, scores)
    config = {
        "learning_rate": HIER,
        "lr_scheduling": {
            "name": "ReduceLROnPlateau",
            "hyperparameters": {**hyper, "metric": "r2"},
        },
    }
    plan = build_lr_plan(make_model(), config, n_epochs=n)
    ours = []
    for score in scores:
        ours.append(plan.lrs())
        plan.step_epoch(train_loss=123.0, r2=score)  # train_loss must not be what it watches
    assert_same(ours, theirs)


def test_plateau_floor_is_a_ratio_of_each_base_lr() -> None:
    """min_factor 0.05 stops every group at 5% of its own base lr (torch: min_lr per group)."""
    hyper = {"factor": 0.5, "patience": 0, "min_factor": 0.05}
    n = 12
    losses = [1.0] * n  # never improves after the first epoch: reduce every epoch
    theirs = torch_lrs(
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(
            o, factor=0.5, patience=0, min_lr=[0.05 * BASE[g] for g in SEED_GROUPS]
        ),
        n,
        losses,
    )
    ours = plan_lrs({"name": "ReduceLROnPlateau", "hyperparameters": hyper}, n, losses)
    assert_same(ours, theirs)
    assert ours[-1] == pytest.approx({g: 0.05 * b for g, b in BASE.items()}, rel=1e-12)


def test_plateau_needs_its_metric() -> None:
    from trainables.lr import TunerError

    plan = build_lr_plan(make_model(), {"lr_scheduling": {"name": "ReduceLROnPlateau"}}, n_epochs=5)
    with pytest.raises(TunerError, match="train_loss"):
        plan.step_epoch()


def test_plateau_eps_applies_to_the_multiplier_so_ratios_survive() -> None:
    hyper = {"factor": 0.5, "patience": 0, "eps": 1e-3}
    ours = plan_lrs({"name": "ReduceLROnPlateau", "hyperparameters": hyper}, 14, [1.0] * 14)
    # 0.5 ** 9 - 0.5 ** 10 = 9.8e-4 < eps: the multiplier stops at 0.5 ** 9 for every group,
    # although the smallest absolute lr (1e-4 * 0.5 ** 9) moved by far less than eps long before
    assert ours[-1] == pytest.approx({g: b * 0.5**9 for g, b in BASE.items()}, rel=1e-12)
    assert ours[10] == ours[-1] and ours[9] != ours[10]


def test_plateau_treats_nan_as_no_improvement_like_torch() -> None:
    losses = [1.0, math.nan, math.nan, 0.5, math.nan, math.nan, math.nan]
    hyper = {"factor": 0.5, "patience": 1}
    theirs = torch_lrs(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **hyper), 7, losses)
    ours = plan_lrs({"name": "ReduceLROnPlateau", "hyperparameters": hyper}, 7, losses)
    assert_same(ours, theirs)


def test_constant_keeps_every_base_lr() -> None:
    ours = plan_lrs({"name": "Constant"}, 5)
    assert all(row == BASE for row in ours)
