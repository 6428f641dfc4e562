"""Curves and SpeechBrain cyclic/linear rules against torch's own schedulers; units and errors."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from trainables.lr.errors import ConfigError, TunerError
from trainables.lr.schedules.base import Clock, Schedule, ScheduleContext
from trainables.lr.schedules.registry import SCHEDULES, build_schedule, lookup, schedule_problems

BASE = 0.02  # torch runs at this max/base lr; ours must equal BASE x factor


def _build(name: str, hyper: dict[str, Any], n_epochs: int, spe: int | None = None) -> Schedule:
    return build_schedule({"name": name, "hyperparameters": hyper}, ScheduleContext(n_epochs, spe))


def _torch_lrs(make: Any, n: int, base: float = BASE) -> list[float]:
    """The lr torch's scheduler puts in force for positions 0..n-1."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    scheduler = make(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return out


def _ours_epochs(schedule: Schedule, n: int) -> list[float]:
    return [BASE * schedule.factor(Clock(epoch=e, n_epochs=n)) for e in range(n)]


def _ours_steps(schedule: Schedule, n_epochs: int, spe: int) -> list[float]:
    clocks = [Clock(s // spe, s, n_epochs, spe) for s in range(n_epochs * spe)]
    return [BASE * schedule.factor(c) for c in clocks]


def _close(ours: list[float], theirs: list[float], rel: float) -> None:
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert math.isclose(a, b, rel_tol=rel, abs_tol=1e-15), f"position {k}: {a!r} vs {b!r}"


@pytest.mark.parametrize("min_ratio", [0.0, 0.05])
def test_cosine_matches_torch_cosine_annealing(min_ratio: float) -> None:
    n = 25
    ours = _ours_epochs(_build("Cosine", {"min_lr_ratio": min_ratio}, n), n)
    sched = lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(  # noqa: E731
        o, T_max=n, eta_min=min_ratio * BASE
    )
    _close(ours, _torch_lrs(sched, n), rel=1e-9)  # torch recurses; ours is the closed form


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
def test_one_cycle_matches_torch_per_step(strategy: str, three_phase: bool) -> None:
    n_epochs, spe = 6, 7
    hyper = {
        "unit": "step",
        "pct_start": 0.25,
        "div_factor": 10.0,
        "final_div_factor": 100.0,
        "anneal_strategy": strategy,
        "three_phase": three_phase,
    }
    schedule = _build("OneCycle", hyper, n_epochs, spe)
    assert schedule.unit == "step"
    sched = lambda o: torch.optim.lr_scheduler.OneCycleLR(  # noqa: E731
        o,
        max_lr=BASE,
        total_steps=n_epochs * spe,
        pct_start=0.25,
        div_factor=10.0,
        final_div_factor=100.0,
        anneal_strategy=strategy,
        three_phase=three_phase,
        cycle_momentum=False,
    )
    _close(_ours_steps(schedule, n_epochs, spe), _torch_lrs(sched, n_epochs * spe), rel=1e-12)


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_polynomial_matches_torch(power: float) -> None:
    n = 12
    ours = _ours_epochs(_build("Polynomial", {"power": power, "end": 0.75}, n), n)
    sched = lambda o: torch.optim.lr_scheduler.PolynomialLR(  # noqa: E731
        o, total_iters=9, power=power
    )
    _close(ours, _torch_lrs(sched, n), rel=1e-9)


def test_warmup_matches_torch_linear_lr() -> None:
    n = 10
    ours = _ours_epochs(_build("Warmup", {"warmup": 0.4, "warmup_start_ratio": 0.25}, n), n)
    sched = lambda o: torch.optim.lr_scheduler.LinearLR(  # noqa: E731
        o, start_factor=0.25, end_factor=1.0, total_iters=4
    )
    _close(ours, _torch_lrs(sched, n), rel=1e-9)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_lr_matches_torch(mode: str) -> None:
    """With a base lr of 1.0, base_lr/max_lr are the absolute bounds torch takes."""
    n_epochs, spe = 5, 6
    hyper = {"base_lr": 0.1, "max_lr": 0.7, "step_size": 4, "mode": mode, "gamma": 0.97}
    schedule = _build("CyclicLR", hyper, n_epochs, spe)
    ours = [schedule.factor(Clock(s // spe, s, n_epochs, spe)) for s in range(n_epochs * spe)]
    sched = lambda o: torch.optim.lr_scheduler.CyclicLR(  # noqa: E731
        o, base_lr=0.1, max_lr=0.7, step_size_up=4, mode=mode, gamma=0.97, cycle_momentum=False
    )
    _close(ours, _torch_lrs(sched, n_epochs * spe, base=0.1), rel=1e-9)


def test_inverse_square_root_normalized_peaks_at_one() -> None:
    schedule = _build("InverseSquareRoot", {"warmup_steps": 16, "normalize": True}, 10, 10)
    at = [schedule.factor(Clock(s // 10, s, 10, 10)) for s in (0, 16, 64, 99)]
    assert at == [1.0, 1.0, 0.5, pytest.approx(4 / math.sqrt(99), rel=1e-12)]


def test_step_unit_curve_moves_within_an_epoch() -> None:
    schedule = _build("Cosine", {"unit": "step"}, 2, 5)
    values = [schedule.factor(Clock(s // 5, s, 2, 5)) for s in range(10)]
    want = [(1 + math.cos(math.pi * s / 10)) / 2 for s in range(10)]
    _close(values, want, rel=1e-12)


@pytest.mark.parametrize(
    ("name", "hyper"),
    [
        ("Cosine", {"unit": "step"}),
        ("LinearWarmup", {"num_warmup_steps": 3}),
        ("WarmCoolDecay", {"warmup": 2, "cooldown": 2}),
        (
            "Sequential",
            {
                "schedules": [{"name": "OneCycle", "hyperparameters": {"unit": "step"}}],
                "fractions": [1.0],
            },
        ),
    ],
)
def test_step_wise_without_steps_per_epoch_is_a_clear_config_error(name: str, hyper: dict) -> None:
    with pytest.raises(ConfigError, match="steps_per_epoch is not known"):
        _build(name, hyper, 10, None)


def test_explicit_step_totals_need_no_steps_per_epoch() -> None:
    schedule = _build("LinearWarmup", {"num_warmup_steps": 2, "num_training_steps": 4}, 10)
    assert schedule.factor(Clock(0, 1, 10)) == 0.5


@pytest.mark.parametrize(
    ("name", "hyper", "path", "needle"),
    [
        ("Step", {"half_life": 4, "decay_factor": 0.5}, "x.hyperparameters", "half_life cannot"),
        (
            "NoamInterval",
            {"n_warmup_steps": 3, "anneal_steps": [5]},
            "x.hyperparameters",
            "same length",
        ),
        (
            "Interval",
            {"intervals": [{"steps": 5, "lr": 0.1}, {"steps": 2, "lr": 0.2}]},
            "x.hyperparameters.intervals",
            "strictly increase",
        ),
        ("WarmupStableDecay", {"warmup": 0.5, "decay": 0.6}, "x.hyperparameters", "<= 1"),
        ("Noam", {"n_warmup_steps": 0}, "x.hyperparameters.n_warmup_steps", "greater than"),
        ("Cosine", {"min_lr_ratio": 2}, "x.hyperparameters.min_lr_ratio", "less than"),
        ("Cosine", {"eta_min": 0.1}, "x.hyperparameters.eta_min", "not a known key"),
        (
            "WarmAndExpDecay",
            {"n_warmup_steps": 5, "total_steps": 5},
            "x.hyperparameters",
            "must exceed n_warmup_steps",
        ),
    ],
)
def test_bad_hyperparameters_name_path_value_and_rule(
    name: str, hyper: dict, path: str, needle: str
) -> None:
    problems = schedule_problems({"name": name, "hyperparameters": hyper}, "x")
    assert [p.path for p in problems] == [path]
    assert needle in str(problems[0])


def test_speechbrain_names_are_aliases() -> None:
    assert lookup("NoamScheduler") is SCHEDULES["Noam"]
    assert lookup("WarmCoolDecayLRSchedule") is SCHEDULES["WarmCoolDecay"]
    assert (
        lookup("ReduceLROnPlateau") is SCHEDULES["ReduceLROnPlateau"]
    )  # the seed's keeps its name


def test_stateful_rule_names_the_missing_metric() -> None:
    schedule = _build("NewBob", {"metric": "val_loss"}, 10)
    with pytest.raises(TunerError, match="NewBob watches 'val_loss'.*\\['train_loss'\\]"):
        schedule.observe({"train_loss": 1.0})


def test_registry_lists_unit_and_description_for_every_entry() -> None:
    for name, entry in SCHEDULES.items():
        assert entry.unit in ("epoch", "step") and len(entry.description) > 20, name
    step_wise = {n for n, e in SCHEDULES.items() if e.unit == "step"}
    assert {"Noam", "CyclicLR", "LinearWarmup", "TriStage", "InverseSquareRoot"} <= step_wise
    assert not {"NewBob", "Linear", "Step", "AnchoredPlateau"} & step_wise


def test_one_cycle_with_a_one_step_warmup_starts_at_the_peak() -> None:
    """pct_start x total = 1 makes the first phase zero long; torch divides by zero there."""
    schedule = _build("OneCycle", {"pct_start": 0.1}, 10)
    assert schedule.factor(Clock(epoch=0, n_epochs=10)) == 1.0
    assert schedule.factor(Clock(epoch=9, n_epochs=10)) == pytest.approx(1 / 25 / 1e4, rel=1e-12)


fractions = st.floats(min_value=0.0, max_value=0.95)
CURVE_PARAMS = {
    "Cosine": st.fixed_dictionaries(
        {
            "warmup": fractions,
            "min_lr_ratio": st.floats(0, 1),
            "warmup_start_ratio": st.floats(0, 1),
        }
    ),
    "OneCycle": st.fixed_dictionaries(
        {
            "pct_start": st.floats(0.01, 0.99),
            "three_phase": st.booleans(),
            "anneal_strategy": st.sampled_from(["cos", "linear"]),
        }
    ),
    "WarmupStableDecay": st.fixed_dictionaries(
        {
            "warmup": st.floats(0, 0.5),
            "decay": st.floats(0.01, 0.5),
            "decay_shape": st.sampled_from(["linear", "cosine", "sqrt"]),
            "min_lr_ratio": st.floats(0, 1),
        }
    ),
    "WarmupLinearDecay": st.fixed_dictionaries({"warmup": fractions}),
    "Polynomial": st.fixed_dictionaries(
        {"power": st.floats(0.1, 5), "end": st.floats(0.01, 1), "min_lr_ratio": st.floats(0, 1)}
    ),
    "Warmup": st.fixed_dictionaries(
        {"warmup": st.floats(0.01, 1), "warmup_start_ratio": st.floats(0, 1)}
    ),
}


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    name=st.sampled_from(sorted(CURVE_PARAMS)),
    n_epochs=st.integers(1, 30),
    spe=st.integers(1, 5),
    unit=st.sampled_from(["epoch", "step"]),
)
def test_curves_stay_within_0_and_1_for_any_valid_setting(
    data: st.DataObject, name: str, n_epochs: int, spe: int, unit: str
) -> None:
    hyper = {**data.draw(CURVE_PARAMS[name]), "unit": unit}
    schedule = _build(name, hyper, n_epochs, spe)
    for step in range(n_epochs * spe + 1):
        value = schedule.factor(Clock(step // spe, step, n_epochs, spe))
        assert 0.0 <= value <= 1.0 + 1e-12, (hyper, step, value)
