"""Every registered schedule: closed form at start, middle and end; ratios between groups kept;
save/resume mid-schedule equal to the uninterrupted run. Parametrized over `sorted(SCHEDULES)`,
so a schedule registered without a case here fails the suite.

Runs use n_epochs = 10 and 4 steps per epoch (40 steps). Epoch-wise closed forms are functions of
the epoch, step-wise ones of the optimizer steps completed; stateful ones list the multiplier at
each epoch after observing `metrics` (one per finished epoch).
"""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch

from tests.lr.helpers import make_model
from trainables.lr.plan import build_lr_plan
from trainables.lr.schedules.base import Clock, ScheduleContext
from trainables.lr.schedules.catalog import describe_entry, schedule_catalog
from trainables.lr.schedules.registry import SCHEDULES, build_schedule

N, SPE = 10, 4
T = N * SPE
cos, pi, sqrt = math.cos, math.pi, math.sqrt


@dataclass(frozen=True)
class Case:
    hyper: dict[str, Any]
    #: closed form of the position (epoch, or step for step-wise), or one value per epoch
    expected: Callable[[int], float] | list[float]
    points: tuple[int, ...]
    unit: str = "epoch"
    metrics: tuple[float, ...] | None = None


def _torch_plateau(metrics: tuple[float, ...], **kwargs: Any) -> list[float]:
    """torch's own ReduceLROnPlateau at base lr 1.0: the lr in force at each epoch."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    out = [1.0]
    for m in metrics:
        sched.step(m)
        out.append(opt.param_groups[0]["lr"])
    return out


def noam(n: int, w: int) -> float:
    return 0.0 if n == 0 else sqrt(w) * min(n**-0.5, n * w**-1.5)


PLATEAU_METRICS = (5.0, 4.0, 4.5, 4.6, 3.0, 3.1, 3.2, 3.3, 3.4, 3.5)
NEWBOB_METRICS = (10.0, 9.0, 8.95, 8.0, 7.99, 7.98, 5.0, 4.0, 3.99, 3.0)
S, E = "step", "epoch"

CASES: dict[str, Case] = {
    # ---- seed schedules (their module), closed forms of torch's rules ----
    "Constant": Case({}, lambda e: 1.0, (0, 5, 9)),
    "MultiStepLR": Case(
        {"milestones": [0.3, 0.6], "gamma": 0.1},
        lambda e: 0.1 ** ((e >= 3) + (e >= 6)),
        (0, 2, 3, 5, 6, 9),
    ),
    "StepLR": Case({"step_size": 3, "gamma": 0.5}, lambda e: 0.5 ** (e // 3), (0, 4, 9)),
    "ExponentialLR": Case(
        {"initial": 0.3, "final": 0.03}, lambda e: (0.1 ** (1 / N)) ** e, (0, 5, 9, 10)
    ),
    "ReduceLROnPlateau": Case(
        {"factor": 0.5, "patience": 1},
        _torch_plateau(PLATEAU_METRICS, factor=0.5, patience=1),
        (0, 4, 9, 10),
        metrics=PLATEAU_METRICS,
    ),
    # ---- SpeechBrain family, step-wise ----
    "Noam": Case({"n_warmup_steps": 8}, lambda n: noam(n, 8), (0, 4, 8, 20, 39), S),
    "NoamInterval": Case(
        {"n_warmup_steps": 8, "anneal_steps": [10, 30], "anneal_rates": [0.5, 0.1]},
        lambda n: noam(n, 8) * (0.5 if n > 10 else 1) * (0.1 if n > 30 else 1),
        (0, 4, 10, 11, 20, 39),
        S,
    ),
    "LinearNoam": Case(
        {"n_warmup_steps": 5, "n_keep_steps": 10},
        lambda n: n / 5 if n < 5 else (1.0 if n < 15 else 5 / (n - 10)),
        (0, 3, 10, 20, 39),
        S,
    ),
    "CyclicCosine": Case(
        {"n_warmup_steps": 0}, lambda n: 0.5 * (1 + cos(pi * n / T)), (0, 20, 39), S
    ),
    "CyclicLR": Case(
        {"base_lr": 0.2, "max_lr": 1.0, "step_size": 5},
        lambda n: 0.2 + 0.8 * (1 - abs((n % 10) - 5) / 5),
        (0, 5, 20, 22, 39),
        S,
    ),
    "Interval": Case(
        {"intervals": [{"steps": 10, "lr": 0.5}, {"steps": 30, "lr": 0.1}]},
        lambda n: 1.0 if n < 10 else (0.5 if n < 30 else 0.1),
        (0, 9, 10, 20, 39),
        S,
    ),
    "InverseSquareRoot": Case(
        {"warmup_steps": 10}, lambda n: 1 / sqrt(max(n, 10)), (0, 5, 20, 39), S
    ),
    "WarmCoolDecay": Case(
        {"warmup": 5, "cooldown": 10, "decay_factor": 0.5, "decay_every": 10},
        lambda n: (
            n / 5 if n < 5 else (0.5 ** ((n - 5) / 10) if n <= 30 else 0.125 * (1 - (n - 30) / 10))
        ),
        (0, 3, 20, 30, 39),
        S,
    ),
    "WarmAndExpDecay": Case(
        {"n_warmup_steps": 5, "decay_factor": 0.1},
        # SpeechBrain's counter runs one behind the steps: the formula at max(n - 1, 0)
        lambda n: max(n - 1, 0) / 5 if n < 6 else 0.1 ** ((n - 6) / 35),
        (0, 3, 5, 20, 39),
        S,
    ),
    "TriStage": Case(
        {"warmup_steps": 5, "hold_steps": 10, "decay_steps": 20},
        lambda n: 0.01 + 0.99 * n / 5 if n < 5 else (1.0 if n < 15 else 0.05 ** ((n - 15) / 20)),
        (0, 2, 10, 20, 35, 39),
        S,
    ),
    "LinearWarmup": Case(
        {"num_warmup_steps": 10},
        lambda n: n / 10 if n < 10 else (T - n) / (T - 10),
        (0, 5, 10, 20, 39),
        S,
    ),
    # ---- SpeechBrain family, epoch-wise ----
    "Linear": Case({"final_value": 0.1}, lambda e: 1 - 0.9 * min(e, 9) / 9, (0, 5, 9, 10)),
    "Step": Case({"half_life": 4}, lambda e: 1.0 if e == 0 else 2 ** (-(1 + e) / 4), (0, 5, 9)),
    "NewBob": Case(
        {"improvement_threshold": 0.01},
        [1, 1, 1, 0.5, 0.5, 0.25, 0.125, 0.125, 0.125, 0.0625, 0.0625],
        (0, 3, 5, 9, 10),
        metrics=NEWBOB_METRICS,
    ),
    "AnchoredPlateau": Case(
        {"dont_halve_until_epoch": 2, "patience": 1, "factor": 0.5, "lr_min": 0.2},
        [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2],
        (0, 4, 7, 9, 10),
        metrics=PLATEAU_METRICS,
    ),
    # ---- curves ----
    "Cosine": Case(
        {"warmup": 0.2, "min_lr_ratio": 0.1},
        lambda e: e / 2 if e < 2 else 0.1 + 0.9 * (1 + cos(pi * (e - 2) / 8)) / 2,
        (0, 1, 2, 6, 9),
    ),
    "OneCycle": Case(
        {},
        lambda e: (
            0.04 + 0.96 * (1 - cos(pi * e / 2)) / 2
            if e <= 2
            else 4e-6 + (1 - 4e-6) * (1 + cos(pi * (e - 2) / 7)) / 2
        ),
        (0, 1, 2, 5, 9),
    ),
    "WarmupStableDecay": Case(
        {"warmup": 0.2, "decay": 0.3},
        lambda e: e / 2 if e < 2 else (1.0 if e < 7 else 1 - (e - 7) / 3),
        (0, 1, 5, 7, 8, 9),
    ),
    "WarmupLinearDecay": Case(
        {"warmup": 0.2}, lambda e: e / 2 if e < 2 else 1 - (e - 2) / 8, (0, 1, 2, 6, 9)
    ),
    "Polynomial": Case(
        {"power": 2.0, "min_lr_ratio": 0.1},
        lambda e: 0.1 + 0.9 * (1 - min(e, 10) / 10) ** 2,
        (0, 5, 9, 10),
    ),
    "Warmup": Case(
        {"warmup": 0.5, "warmup_start_ratio": 0.1},
        lambda e: 0.1 + 0.9 * min(e, 5) / 5,
        (0, 2, 5, 9),
    ),
    # ---- combinators ----
    "Sequential": Case(
        {
            "schedules": [
                {"name": "Warmup", "hyperparameters": {"warmup": 1.0}},
                {"name": "Cosine"},
            ],
            "fractions": [0.3, 0.7],
        },
        lambda e: e / 3 if e < 3 else (1 + cos(pi * (e - 3) / 7)) / 2,
        (0, 2, 3, 6, 9),
    ),
    "Product": Case(
        {
            "schedules": [
                {"name": "StepLR", "hyperparameters": {"step_size": 3, "gamma": 0.5}},
                {"name": "Linear", "hyperparameters": {"final_value": 0.1}},
            ]
        },
        lambda e: 0.5 ** (e // 3) * (1 - 0.9 * e / 9),
        (0, 4, 9),
    ),
    "Max": Case(
        {
            "schedules": [
                {"name": "ExponentialLR", "hyperparameters": {"gamma": 0.5}},
                {"name": "Linear", "hyperparameters": {"final_value": 0.2}},
            ]
        },
        lambda e: max(0.5**e, 1 - 0.8 * e / 9),
        (0, 1, 5, 9),
    ),
    "Min": Case(
        {
            "schedules": [
                {"name": "Cosine"},
                {"name": "Warmup", "hyperparameters": {"warmup": 0.3}},
            ]
        },
        lambda e: min((1 + cos(pi * e / 10)) / 2, min(e / 3, 1.0)),
        (0, 1, 5, 9),
    ),
}


def _expected(case: Case, position: int) -> float:
    if isinstance(case.expected, list):
        return case.expected[position]
    return case.expected(position)


def _clock(epoch: int, step: int) -> Clock:
    return Clock(epoch=epoch, step=step, n_epochs=N, steps_per_epoch=SPE)


def test_every_registered_schedule_has_a_case() -> None:
    assert sorted(CASES) == sorted(SCHEDULES)


def test_no_name_or_alias_is_claimed_twice() -> None:
    names = [n for e in SCHEDULES.values() for n in (e.name, *e.aliases)]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_closed_form_start_middle_end(name: str) -> None:
    assert name in CASES, f"{name} is registered but has no closed-form case here"
    case = CASES[name]
    schedule = build_schedule(
        {"name": name, "hyperparameters": case.hyper}, ScheduleContext(N, SPE)
    )
    assert schedule.unit == case.unit
    checked = []
    for epoch in range(N + 1):
        steps = range(epoch * SPE, (epoch + 1) * SPE) if case.unit == S else [epoch * SPE]
        for step in steps:
            position = step if case.unit == S else epoch
            if position in case.points and position not in checked:
                ours = schedule.factor(_clock(epoch, step))
                want = _expected(case, position)
                assert math.isclose(ours, want, rel_tol=1e-12, abs_tol=1e-15), (
                    f"{name} at {case.unit} {position}: ours {ours!r}, closed form {want!r}"
                )
                checked.append(position)
        if case.metrics is not None and epoch < N:
            schedule.observe({"train_loss": case.metrics[epoch]})
    assert sorted(checked) == sorted(case.points)
    last = T - 1 if case.unit == S else N - 1
    assert len(case.points) >= 3 and min(case.points) == 0 and max(case.points) >= last, (
        f"{name}: points must cover the start, the middle and the end ({last})"
    )


def _drive(plan: Any, case: Case, epochs: range, steps: int = SPE) -> list[dict[str, float]]:
    """Step the plan through `epochs` (no training needed), recording every group's lr."""
    seen = []
    for epoch in epochs:
        for _ in range(steps):
            plan.step_batch()
            seen.append(plan.lrs())
        loss = case.metrics[epoch] if case.metrics is not None else 1.0
        plan.step_epoch(train_loss=loss)
        seen.append(plan.lrs())
    return seen


def _plan(name: str, case: Case) -> Any:
    config = {
        "learning_rate": {
            "encoder": {"lr": 1e-3},
            "decoder": {"lr": 3e-3},
            "dsr": {"shared": {"lr": 2e-3}, "subjects": {"lr": 5e-2}},
        },
        "lr_scheduling": {"name": name, "hyperparameters": case.hyper},
    }
    return build_lr_plan(make_model(), config, n_epochs=N, steps_per_epoch=SPE)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_ratio_between_groups_is_kept(name: str) -> None:
    case = CASES[name]
    plan = _plan(name, case)
    base = {g: plan.spec.group(g).lr for g in plan.group_names}
    assert len(set(base.values())) >= 3
    for lrs in [plan.lrs(), *_drive(plan, case, range(N))]:
        factors = {g: lrs[g] / base[g] for g in base}
        first = next(iter(factors.values()))
        for g, f in factors.items():
            assert math.isclose(f, first, rel_tol=1e-12, abs_tol=1e-300), (name, g, factors)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_save_resume_mid_schedule_equals_uninterrupted(name: str) -> None:
    case = CASES[name]
    whole = _drive(_plan(name, case), case, range(N))

    first = _plan(name, case)
    head = _drive(first, case, range(5))
    for _ in range(2):  # stop mid-epoch, after two optimizer steps of epoch 5
        first.step_batch()
        head.append(first.lrs())
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    second = _plan(name, case)
    second.load_state_dict(state)
    tail = []
    for _ in range(SPE - 2):
        second.step_batch()
        tail.append(second.lrs())
    second.step_epoch(train_loss=case.metrics[5] if case.metrics else 1.0)
    tail.append(second.lrs())
    tail += _drive(second, case, range(6, N))
    assert head + tail == whole


def _fresh(name: str) -> Any:
    case = CASES[name]
    return build_schedule({"name": name, "hyperparameters": case.hyper}, ScheduleContext(N, SPE))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_factor_is_finite_and_non_negative_over_the_run(name: str) -> None:
    case, schedule = CASES[name], _fresh(name)
    for epoch in range(N + 1):
        for step in range(epoch * SPE, (epoch + 1) * SPE):
            value = schedule.factor(_clock(epoch, step))
            assert math.isfinite(value) and value >= 0, (name, epoch, step, value)
        if case.metrics is not None and epoch < N:
            schedule.observe({"train_loss": case.metrics[epoch]})


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_pickles_with_its_state(name: str) -> None:
    """Schedules travel to Ray workers and into checkpoints: a copy continues identically."""
    case, schedule = CASES[name], _fresh(name)
    for epoch in range(4):
        if case.metrics is not None:
            schedule.observe({"train_loss": case.metrics[epoch]})
    copy = pickle.loads(pickle.dumps(schedule))
    for epoch in range(4, N):
        clock = _clock(epoch, epoch * SPE + 1)
        assert copy.factor(clock) == schedule.factor(clock), (name, epoch)
        if case.metrics is not None:
            copy.observe({"train_loss": case.metrics[epoch]})
            schedule.observe({"train_loss": case.metrics[epoch]})


def test_per_group_schedules_each_follow_their_own_closed_form() -> None:
    """Leaves with their own `schedule:` (one step-wise, one epoch-wise, one stateful) and the
    global Sequential for the rest: every group's lr is its base lr x its own closed form."""

    def leaf(lr: float, name: str) -> dict[str, Any]:
        return {"lr": lr, "schedule": {"name": name, "hyperparameters": CASES[name].hyper}}

    config = {
        "learning_rate": {
            "encoder": leaf(1e-3, "Noam"),
            "decoder": leaf(3e-3, "Cosine"),
            "dsr": {"shared": {"lr": 2e-3}, "subjects": leaf(5e-2, "NewBob")},
        },
        "lr_scheduling": {"name": "Sequential", "hyperparameters": CASES["Sequential"].hyper},
    }
    plan = build_lr_plan(make_model(), config, n_epochs=N, steps_per_epoch=SPE)
    owner = {
        "encoder.shared": "Noam",
        "encoder.subjects": "Noam",
        "decoder.shared": "Cosine",
        "dsr.shared": "Sequential",
        "dsr.subjects": "NewBob",
    }
    for epoch in range(N):
        for step in range(epoch * SPE, (epoch + 1) * SPE):
            lrs = plan.lrs()
            for group, name in owner.items():
                position = step if CASES[name].unit == S else epoch
                want = plan.spec.group(group).lr * _expected(CASES[name], position)
                assert math.isclose(lrs[group], want, rel_tol=1e-12, abs_tol=1e-18), (
                    group,
                    step,
                )
            plan.step_batch()
        plan.step_epoch(train_loss=NEWBOB_METRICS[epoch])


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_catalog_lists_unit_hyperparameters_and_description(name: str) -> None:
    entry = SCHEDULES[name]
    text = describe_entry(entry)
    assert text.splitlines()[0].startswith(f"{name}  [{entry.unit}")
    flat = " ".join(text.split())
    for field, info in entry.params.model_fields.items():
        shown = f"{field} (required)" if info.is_required() else f"{field}="
        assert shown in flat, (name, field)
    assert " ".join(entry.description.split()) in flat
    assert all(alias in text.splitlines()[0] for alias in entry.aliases)
    assert text in schedule_catalog() and schedule_catalog([name]) == text
