"""A user's schedule named by import path: a declared pure function of progress."""

from __future__ import annotations

import sys

import pytest
import torch

from trainables.declare import schedule
from trainables.lr import ConfigError, TunerError, build_lr_plan, lr_config_problems

HERE = "tests.lr.test_user_schedule"


@schedule
def decay(progress: float, rate: float = 0.5) -> float:
    """rate ** (10 progress), as a lab's LambdaLR over 10 epochs would give."""
    return rate ** (10 * progress)


@schedule
def broken(progress: float) -> float:
    return float("nan") if progress >= 0.5 else 1.0


def undeclared(progress: float) -> float:
    return 1.0


def plan_for(name: str, **hyper: float):
    config = {
        "groups": {"a": ["0.*"], "b": ["1.*"]},
        "learning_rate": {"a": 1e-2, "b": 4e-2},
        "lr_scheduling": {"name": f"{HERE}:{name}", "hyperparameters": hyper},
    }
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    return build_lr_plan(model, config, n_epochs=10)


def test_every_group_follows_the_function_of_progress_with_its_hyperparameters() -> None:
    plan = plan_for("decay", rate=0.8)
    for epoch in range(10):
        assert plan.lrs() == pytest.approx(
            {"a": 1e-2 * 0.8**epoch, "b": 4e-2 * 0.8**epoch}, rel=1e-12
        )
        plan.step_epoch()
    preview = plan.preview()
    assert list(preview["b"]) == pytest.approx([4e-2 * 0.8**e for e in range(10)], rel=1e-12)


def test_an_undeclared_or_missing_function_is_refused_by_name() -> None:
    config = {"lr_scheduling": {"name": f"{HERE}:undeclared"}}
    (problem,) = lr_config_problems(config)
    assert str(problem) == (
        f"lr_scheduling.name: '{HERE}:undeclared' does not declare itself a schedule: decorate "
        "the function with @schedule (from trainables.declare import schedule), or name a "
        "registered one"
    )
    (problem,) = lr_config_problems({"lr_scheduling": {"name": f"{HERE}:nothing"}})
    assert f"{HERE} has no 'nothing'" in str(problem)
    with pytest.raises(ConfigError, match="does not declare itself a schedule"):
        plan_for("undeclared")


def test_a_non_finite_multiplier_stops_training_with_its_value() -> None:
    plan = plan_for("broken")
    for _ in range(4):
        plan.step_epoch()
    with pytest.raises(TunerError, match=r"returned nan at epoch 5: it must return a finite"):
        plan.step_epoch()


def test_a_standard_library_module_is_refused_before_it_is_imported() -> None:
    sys.modules.pop("antigravity", None)
    (problem,) = lr_config_problems({"lr_scheduling": {"name": "antigravity:geohash"}})
    assert "names the standard-library module 'antigravity'" in str(problem)
    assert "antigravity" not in sys.modules
