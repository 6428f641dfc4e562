"""Sequential, Product, Max, Min: values, units, metrics forwarding, nested validation, state."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.lr.helpers import make_model, train_epoch
from trainables.lr.errors import ConfigError
from trainables.lr.plan import build_lr_plan
from trainables.lr.schedules.base import Clock, Schedule, ScheduleContext
from trainables.lr.schedules.combinators import segment_bounds
from trainables.lr.schedules.registry import build_schedule, schedule_problems


def _build(config: dict[str, Any], n_epochs: int = 10, spe: int | None = 4) -> Schedule:
    return build_schedule(config, ScheduleContext(n_epochs, spe))


def _seq(children: list[dict[str, Any]], fractions: list[float]) -> dict[str, Any]:
    return {
        "name": "Sequential",
        "hyperparameters": {"schedules": children, "fractions": fractions},
    }


def test_sequential_shifts_a_step_wise_child_to_its_segment() -> None:
    config = _seq(
        [
            {"name": "LinearWarmup", "hyperparameters": {"num_warmup_steps": 8}},
            {"name": "Cosine", "hyperparameters": {"unit": "step"}},
        ],
        [0.2, 0.8],
    )
    schedule = _build(config)
    assert schedule.unit == "step"
    for step in range(40):
        clock = Clock(epoch=step // 4, step=step, n_epochs=10, steps_per_epoch=4)
        want = step / 8 if step < 8 else (1 + math.cos(math.pi * (step - 8) / 32)) / 2
        assert math.isclose(schedule.factor(clock), want, rel_tol=1e-12, abs_tol=1e-15), step


def test_sequential_builds_children_for_their_segment_length() -> None:
    """MultiStepLR's fraction 0.5 inside the second half of 20 epochs is epoch 10 + 5."""
    config = _seq(
        [
            {"name": "Constant"},
            {"name": "MultiStepLR", "hyperparameters": {"milestones": [0.5], "gamma": 0.1}},
        ],
        [0.5, 0.5],
    )
    schedule = _build(config, n_epochs=20, spe=None)
    got = [schedule.factor(Clock(epoch=e, n_epochs=20)) for e in range(20)]
    assert got == [1.0] * 15 + [0.1] * 5


def test_segment_bounds_round_cumulative_fractions() -> None:
    assert segment_bounds([0.25, 0.25, 0.5], 10) == [0, 2, 5, 10]
    assert segment_bounds([1 / 3, 1 / 3, 1 / 3], 10) == [0, 3, 7, 10]


def test_product_multiplies_and_is_step_wise_with_a_step_wise_child() -> None:
    config = {
        "name": "Product",
        "hyperparameters": {
            "schedules": [
                {"name": "Warmup", "hyperparameters": {"warmup": 0.25, "unit": "step"}},
                {"name": "ExponentialLR", "hyperparameters": {"gamma": 0.9}},
            ]
        },
    }
    schedule = _build(config)
    assert schedule.unit == "step"
    for step in (0, 3, 9, 10, 25, 39):
        clock = Clock(epoch=step // 4, step=step, n_epochs=10, steps_per_epoch=4)
        want = min(step / 10, 1.0) * 0.9 ** (step // 4)
        assert math.isclose(schedule.factor(clock), want, rel_tol=1e-12), step


def test_max_is_a_floor_made_of_a_schedule() -> None:
    """Max(cosine, constant-ish 0.2 via Interval) never drops below the second schedule."""
    config = {
        "name": "Max",
        "hyperparameters": {
            "schedules": [
                {"name": "Cosine"},
                {"name": "Polynomial", "hyperparameters": {"power": 1.0, "min_lr_ratio": 0.3}},
            ]
        },
    }
    schedule = _build(config)
    assert schedule.unit == "epoch"
    for e in range(10):
        cosine = (1 + math.cos(math.pi * e / 10)) / 2
        poly = 0.3 + 0.7 * (1 - e / 10)
        assert schedule.factor(Clock(epoch=e, n_epochs=10)) == max(cosine, poly)
    assert schedule.factor(Clock(epoch=9, n_epochs=10)) == 0.3 + 0.7 * 0.1  # poly wins at the end


def test_min_caps_a_schedule() -> None:
    config = {
        "name": "Min",
        "hyperparameters": {
            "schedules": [
                {"name": "Constant"},
                {"name": "StepLR", "hyperparameters": {"step_size": 2, "gamma": 0.5}},
                {"name": "Linear", "hyperparameters": {"final_value": 0.0}},
            ]
        },
    }
    schedule = _build(config)
    for e in range(10):
        want = min(1.0, 0.5 ** (e // 2), 1 - e / 9)
        assert math.isclose(schedule.factor(Clock(epoch=e, n_epochs=10)), want, rel_tol=1e-12)


def test_plateau_after_warmup_learns_only_after_the_warmup() -> None:
    """Losses rise during the warmup (as they often do); the plateau rule must not see them.

    After the warmup, the multiplier follows torch's own ReduceLROnPlateau fed only the
    post-warmup losses (torch itself refuses ReduceLROnPlateau inside SequentialLR).
    """
    plateau = {"name": "ReduceLROnPlateau", "hyperparameters": {"factor": 0.5, "patience": 1}}
    config = _seq([{"name": "Warmup", "hyperparameters": {"warmup": 1.0}}, plateau], [0.3, 0.7])
    schedule = _build(config, spe=None)
    losses = [1.0, 2.0, 3.0, 4.0, 3.9, 3.95, 3.97, 3.2, 3.3, 3.4]

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=1)
    want = [0.0, 1 / 3, 2 / 3]  # the warmup: epoch / 3 over 3 epochs
    got = []
    for epoch, loss in enumerate(losses):
        got.append(schedule.factor(Clock(epoch=epoch, n_epochs=10)))
        schedule.observe({"train_loss": loss})
        if epoch >= 3:
            want.append(opt.param_groups[0]["lr"])
            reference.step(loss)
    assert got[:3] == pytest.approx(want[:3], rel=1e-12)
    assert got[3:] == want[3:]
    assert min(got[3:]) < 1.0  # the rule did reduce


def test_plateau_after_warmup_in_a_real_training_loop() -> None:
    """Product(Warmup, ReduceLROnPlateau) through the LR plan: warmup ramps, plateau reduces."""
    config = {
        "learning_rate": 1e-2,
        "lr_scheduling": {
            "name": "Product",
            "hyperparameters": {
                "schedules": [
                    {"name": "Warmup", "hyperparameters": {"warmup": 0.25, "unit": "step"}},
                    {"name": "ReduceLROnPlateau", "hyperparameters": {"patience": 0}},
                ]
            },
        },
    }
    model = make_model()
    plan = build_lr_plan(model, config, n_epochs=8, steps_per_epoch=3)
    base = {g: plan.spec.group(g).lr for g in plan.group_names}
    assert plan.lrs()["encoder.shared"] == 0.0  # warmup starts at 0
    for epoch in range(8):
        train_epoch(model, plan, epoch)
        plan.step_epoch(train_loss=1.0)  # a flat loss: a plateau from the first epoch on
    factors = {g: plan.lrs()[g] / base[g] for g in base}
    # warmup over 6 steps is done; flat loss: 1 improvement (from inf) then 7 bad epochs
    assert all(math.isclose(f, 0.1**7, rel_tol=1e-12) for f in factors.values()), factors


def test_nested_problems_have_full_paths() -> None:
    config = _seq(
        [
            {"name": "Constant"},
            {"name": "ExponentialLR", "hyperparameters": {"gamma": -1}},
            {"name": "Product", "hyperparameters": {"schedules": [{"name": "Cosin"}]}},
        ],
        [0.3, 0.3, 0.4],
    )
    text = [str(p) for p in schedule_problems(config, "lr_scheduling")]
    assert any(
        t.startswith("lr_scheduling.hyperparameters.schedules[1].hyperparameters.gamma is -1")
        for t in text
    ), text
    assert any(
        t.startswith("lr_scheduling.hyperparameters.schedules[2].hyperparameters.schedules[0].name")
        and "did you mean 'Cosine'" in t
        for t in text
    ), text
    assert len(text) == 2


@pytest.mark.parametrize(
    ("fractions", "needle"),
    [([0.5, 0.4], "must sum to 1"), ([1.0], "same length"), ([0.5, 0.6], "must sum to 1")],
)
def test_sequential_fraction_rules(fractions: list[float], needle: str) -> None:
    config = _seq([{"name": "Constant"}, {"name": "Cosine"}], fractions)
    problems = schedule_problems(config, "lr_scheduling")
    assert len(problems) == 1 and needle in str(problems[0])
    assert problems[0].path == "lr_scheduling.hyperparameters"


def test_sequential_segment_of_zero_epochs_is_refused() -> None:
    config = _seq(
        [{"name": "Warmup", "hyperparameters": {"warmup": 1.0}}, {"name": "Cosine"}], [0.01, 0.99]
    )
    with pytest.raises(ConfigError, match=r"fractions\[0\] is 0.01, which gives 0 of the 10"):
        _build(config)


def test_sequential_state_resumes_plateau_and_segment() -> None:
    plateau = {"name": "ReduceLROnPlateau", "hyperparameters": {"factor": 0.5, "patience": 0}}
    config = _seq([{"name": "Constant"}, plateau], [0.2, 0.8])
    losses = [5.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.0]

    def factors(schedule: Schedule, epochs: range) -> list[float]:
        out = []
        for e in epochs:
            out.append(schedule.factor(Clock(epoch=e, n_epochs=10)))
            schedule.observe({"train_loss": losses[e]})
        return out

    whole = factors(_build(config, spe=None), range(10))
    first = _build(config, spe=None)
    head = factors(first, range(6))
    second = _build(config, spe=None)
    second.load_state_dict(first.state_dict())
    assert head + factors(second, range(6, 10)) == whole
    assert whole[-1] < 1.0


@settings(max_examples=60, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=5),
    n_epochs=st.integers(min_value=5, max_value=60),
)
def test_sequential_segments_partition_the_run(weights: list[int], n_epochs: int) -> None:
    """Any fractions summing to 1: segments cover every epoch once, in order, and each child
    (a constant of its own) is in force exactly on its segment."""
    fractions = [w / sum(weights) for w in weights]
    bounds = segment_bounds(fractions, n_epochs)
    assert bounds[0] == 0 and bounds[-1] == n_epochs
    assert all(a <= b for a, b in zip(bounds, bounds[1:], strict=False))
    if any(b <= a for a, b in zip(bounds, bounds[1:], strict=False)):
        with pytest.raises(ConfigError, match="gives 0 of the"):
            _build(_seq([{"name": "Constant"}] * len(weights), fractions), n_epochs, None)
        return
    children = [
        {"name": "Linear", "hyperparameters": {"initial_value": i + 1.0, "final_value": i + 1.0}}
        for i in range(len(weights))
    ]
    schedule = _build(_seq(children, fractions), n_epochs, None)
    for i in range(len(weights)):
        for epoch in range(bounds[i], bounds[i + 1]):
            assert schedule.factor(Clock(epoch=epoch, n_epochs=n_epochs)) == i + 1.0, fractions
