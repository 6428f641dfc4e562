"""The SpeechBrain family against SpeechBrain's own numbers, with a base lr of 1.0.

Two sources: every case of `tests/data/speechbrain_schedules.json` (SpeechBrain 1.1.2 run with
torch 2.13.0; see tests/data/README.md), and every example with printed values in seed 002.
SpeechBrain's step-wise schedulers are called once after each optimizer step, so a reference
`values[k]` ("after the (k+1)-th call") is the lr for the step after k + 1 optimizer steps: our
factor at `clock.step` k + 1, for every class alike (no per-class offset). The seed's
`LinearWarmupScheduler.get_next_value()` counts from 0 (k-th value = step k). Epoch-wise ones get
the epoch that just ended, which is our `clock.epoch` for the epoch that follows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.lr.helpers import make_model
from trainables.lr.plan import build_lr_plan
from trainables.lr.schedules.base import Clock, Schedule, ScheduleContext
from trainables.lr.schedules.registry import SCHEDULES, build_schedule, lookup

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "speechbrain_schedules.json"
SPE = 1000  # steps per epoch for step-wise cases: every reference fits in one epoch
REL = 1e-9


CASES: list[dict[str, Any]] = json.loads(REFERENCE.read_text())["cases"]


def _build(name: str, hyper: dict[str, Any], n_epochs: int = 100) -> Schedule:
    config = {"name": name, "hyperparameters": hyper}
    return build_schedule(config, ScheduleContext(n_epochs=n_epochs, steps_per_epoch=SPE))


def _at_step(schedule: Schedule, step: int) -> float:
    return schedule.factor(Clock(epoch=step // SPE, step=step, n_epochs=100, steps_per_epoch=SPE))


def _at_epoch(schedule: Schedule, epoch: int, n_epochs: int = 100) -> float:
    return schedule.factor(Clock(epoch=epoch, n_epochs=n_epochs))


def _close(ours: list[float], reference: list[float], rel: float = REL) -> None:
    assert len(ours) == len(reference)
    for k, (a, b) in enumerate(zip(ours, reference, strict=True)):
        assert math.isclose(a, b, rel_tol=rel, abs_tol=0.0), f"value {k}: ours {a!r}, ref {b!r}"


def test_reference_file_has_all_27_cases() -> None:
    assert len(CASES) == 27
    classes = {case["class"] for case in CASES}
    assert len(classes) == 15
    # every class is registered with its SpeechBrain name as an alias; SpeechBrain's
    # ReduceLROnPlateau is prefixed, since the seed's torch-style rule owns that name
    for cls in classes:
        alias = "SpeechBrainReduceLROnPlateau" if cls == "ReduceLROnPlateau" else cls
        entry = lookup(alias)
        assert entry is not None and alias in entry.aliases, cls
    assert lookup("SpeechBrainReduceLROnPlateau") is SCHEDULES["AnchoredPlateau"]


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if "once per step" in c["drive"] or "t = 1..n" in c["drive"]],
    ids=lambda c: f"{c['class']}-{sorted(c['params'].items())}",
)
def test_step_wise_reference_case(case: dict[str, Any]) -> None:
    assert case["optimizer_lr"] in (1.0, 0.5)  # InverseSquareRoot ignores the optimizer's lr
    schedule = _build(case["class"], case["params"])
    assert schedule.unit == "step"
    ours = [_at_step(schedule, k + 1) for k in range(len(case["values"]))]
    _close(ours, case["values"])


def _case(cls: str) -> list[dict[str, Any]]:
    return [c for c in CASES if c["class"] == cls]


@pytest.mark.parametrize("case", _case("StepScheduler"), ids=lambda c: str(c["params"]))
def test_step_scheduler_reference(case: dict[str, Any]) -> None:
    schedule = _build("StepScheduler", case["params"])
    assert schedule.unit == "epoch"
    _close([_at_epoch(schedule, e) for e in case["inputs"]], case["values"])


@pytest.mark.parametrize("case", _case("LinearScheduler"), ids=lambda c: str(c["params"]))
def test_linear_scheduler_reference(case: dict[str, Any]) -> None:
    """SpeechBrain tabulates LinearScheduler with float32 `torch.linspace`; we compute in float64.

    So the reference is matched at float32 resolution, and the table it came from is checked to
    be exactly torch's float32 linspace of the same endpoints, i.e. the same closed form.
    """
    p = case["params"]
    schedule = _build("LinearScheduler", p)
    ours = [_at_epoch(schedule, e) for e in case["inputs"]]
    _close(ours, case["values"], rel=2.0**-23)
    table = torch.linspace(p["initial_value"], p["final_value"], steps=p["epoch_count"]).tolist()
    last = p["epoch_count"] - 1
    assert [table[min(e, last)] for e in case["inputs"]] == case["values"]
    exact = [
        p["initial_value"] + (p["final_value"] - p["initial_value"]) * min(e, last) / last
        for e in case["inputs"]
    ]
    _close(ours, exact, rel=1e-12)


@pytest.mark.parametrize("case", _case("NewBobScheduler"), ids=lambda c: str(c["params"]))
def test_new_bob_reference(case: dict[str, Any]) -> None:
    schedule = _build("NewBobScheduler", case["params"])
    ours = []
    for loss in case["inputs"]:
        schedule.observe({"train_loss": loss})
        ours.append(schedule.factor(Clock(epoch=len(ours) + 1, n_epochs=100)))
    _close(ours, case["values"])


@pytest.mark.parametrize("case", _case("ReduceLROnPlateau"), ids=lambda c: str(c["params"]))
def test_anchored_plateau_reference(case: dict[str, Any]) -> None:
    """The reference driver never writes SpeechBrain's new lr back into the optimizer, so each
    value is 1.0 x that epoch's decision; ours applies decisions cumulatively, so the reference
    equals the ratio of our multiplier after the epoch to the one before it."""
    schedule = _build("AnchoredPlateau", case["params"])
    ratios = []
    for loss in case["inputs"]:
        before = _at_epoch(schedule, len(ratios))
        schedule.observe({"train_loss": loss})
        ratios.append(_at_epoch(schedule, len(ratios) + 1) / before)
    _close(ratios, case["values"])


# ---- the seed's printed examples (seed 002), same inputs, rel 1e-9 ----


def test_seed_new_bob() -> None:
    schedule = _build("NewBob", {"initial_value": 1.0})
    pairs = []
    for loss in (10.0, 2.0, 2.5):
        old = schedule.factor(Clock(epoch=len(pairs), n_epochs=10))
        schedule.observe({"train_loss": loss})
        pairs.append((old, schedule.factor(Clock(epoch=len(pairs) + 1, n_epochs=10))))
    assert pairs == [(1.0, 1.0), (1.0, 1.0), (1.0, 0.5)]


def test_seed_linear_scheduler() -> None:
    """(old, new) = our factor before and after each epoch; the seed prints 0.666... and 0.333..."""
    schedule = _build(
        "LinearScheduler", {"initial_value": 1.0, "final_value": 0.0, "epoch_count": 4}
    )
    pairs = [(_at_epoch(schedule, e - 1), _at_epoch(schedule, e)) for e in (1, 2, 3, 4)]
    flat = [v for pair in pairs for v in pair]
    _close(flat, [1.0, 2 / 3, 2 / 3, 1 / 3, 1 / 3, 0.0, 0.0, 0.0])
    assert str(pairs[0][1]).startswith("0.666") and str(pairs[1][1]).startswith("0.333")


def test_seed_linear_warmup_get_next_value_counts_from_step_0() -> None:
    schedule = _build(
        "LinearWarmupScheduler",
        {"initial_value": 1.0, "num_warmup_steps": 2, "num_training_steps": 4},
    )
    _close([_at_step(schedule, k) for k in range(5)], [0.0, 0.5, 1.0, 0.5, 0.0])


def test_seed_step_scheduler() -> None:
    schedule = _build("StepScheduler", {"initial_value": 1.0})
    pairs = [(_at_epoch(schedule, e - 1), _at_epoch(schedule, e)) for e in (1, 2, 3)]
    assert pairs == [(1.0, 0.5), (0.5, 0.5), (0.5, 0.25)]


def test_seed_noam() -> None:
    schedule = _build("NoamScheduler", {"lr_initial": 1.0, "n_warmup_steps": 3})
    _close(
        [_at_step(schedule, n) for n in (1, 2, 3)],
        [0.3333333333333333, 0.6666666666666666, 0.9999999999999999],
    )


def test_seed_noam_interval() -> None:
    hyper = {
        "lr_initial": 1.0,
        "n_warmup_steps": 3,
        "anneal_steps": [6, 9],
        "anneal_rates": [0.5, 0.1],
    }
    schedule = _build("NoamIntervalScheduler", hyper)
    printed = [
        0.3333333333333333,
        0.6666666666666666,
        0.9999999999999999,
        0.8660254037844386,
        0.7745966692414833,
        0.7071067811865475,
        0.3273268353539886,
        0.3061862178478973,
        0.28867513459481287,
        0.027386127875258306,
    ]
    _close([_at_step(schedule, n) for n in range(1, 11)], printed)


def test_seed_cyclic_cosine() -> None:
    """The seed uses SpeechBrain's default total_steps=100000; ours defaults to the run's."""
    schedule = _build(
        "CyclicCosineScheduler", {"n_warmup_steps": 3, "lr_initial": 1.0, "total_steps": 100000}
    )
    _close(
        [_at_step(schedule, n) for n in (1, 2, 3)], [0.9999999990130395, 0.9999999997532598, 1.0]
    )


def test_seed_speechbrain_reduce_lr_on_plateau() -> None:
    schedule = _build(
        "AnchoredPlateau",
        {"lr_min": 0.25, "factor": 0.5, "patience": 2, "dont_halve_until_epoch": 1},
    )
    for loss in (10.0, 11.0, 13.0, 14.0):
        schedule.observe({"train_loss": loss})
    assert _at_epoch(schedule, 4) == 0.5


def test_seed_cyclic_lr() -> None:
    schedule = _build("CyclicLRScheduler", {"base_lr": 0.1, "max_lr": 0.3, "step_size": 2})
    _close([_at_step(schedule, n) for n in (1, 2, 3)], [0.2, 0.3, 0.2])


def test_seed_interval() -> None:
    intervals = [{"steps": 2, "lr": 0.01}, {"steps": 5, "lr": 0.005}, {"steps": 9, "lr": 0.001}]
    schedule = _build("IntervalScheduler", {"intervals": intervals})
    pairs = [(_at_step(schedule, n - 1), _at_step(schedule, n)) for n in range(1, 11)]
    printed = (
        "1 -> 1,1 -> 0.01,0.01 -> 0.01,0.01 -> 0.01,0.01 -> 0.005,0.005 -> 0.005,"
        "0.005 -> 0.005,0.005 -> 0.005,0.005 -> 0.001,0.001 -> 0.001"
    )
    expected = [tuple(float(v) for v in item.split(" -> ")) for item in printed.split(",")]
    assert pairs == expected


def test_seed_warm_cool_decay() -> None:
    hyper = {
        "lr": 1,
        "warmup": 2,
        "total_steps": 6,
        "decay_factor": 0.5,
        "decay_every": 1,
        "cooldown": 1,
    }
    schedule = _build("WarmCoolDecayLRSchedule", hyper)
    _close(
        [_at_step(schedule, t) for t in range(1, 7)],
        [0.5, 1.0, 0.5, 0.25, 0.12500000000000003, 0.0],
    )


def test_seed_scheduled_loss_through_a_value_schedule() -> None:
    """ScheduledLoss (MSE for 3 steps, L1 for 2, then SmoothL1) prints 0.25 x3, 0.5 x2, 0.125 x5.

    The same machinery drives the loss choice: a step-wise value schedule (Interval) gives the
    index of the loss in force after n calls (1, 2, then 3), and the loss it picks reproduces the
    printed values exactly.
    """
    from trainables.lr.values import build_value_schedule

    which = build_value_schedule(
        {
            "initial": 1.0,
            "name": "Interval",
            "hyperparameters": {"intervals": [{"steps": 3, "lr": 2.0}, {"steps": 5, "lr": 3.0}]},
        },
        n_epochs=1,
        steps_per_epoch=10,
    )
    losses = (torch.nn.MSELoss(), torch.nn.L1Loss(), torch.nn.SmoothL1Loss())
    x, y = torch.tensor([1.0, 2.0]), torch.tensor([1.5, 2.5])
    printed = []
    for n in range(10):
        index = which.value(Clock(epoch=0, step=n, n_epochs=1, steps_per_epoch=10))
        assert index in (1.0, 2.0, 3.0)
        printed.append(losses[int(index) - 1](x, y).item())
    assert printed == [0.25, 0.25, 0.25, 0.5, 0.5, 0.125, 0.125, 0.125, 0.125, 0.125]


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if "once per step" in c["drive"] or "t = 1..n" in c["drive"]],
    ids=lambda c: f"{c['class']}-{sorted(c['params'].items())}",
)
def test_step_wise_reference_through_the_optimizer(case: dict[str, Any]) -> None:
    """The LR plan with every group at base lr 1.0 puts SpeechBrain's exact lrs in the optimizer."""
    one = {"lr": 1.0}
    config = {
        "learning_rate": {"encoder": one, "decoder": one, "dsr": {"shared": one, "subjects": one}},
        "lr_scheduling": {"name": case["class"], "hyperparameters": case["params"]},
    }
    n = len(case["values"])
    plan = build_lr_plan(make_model(), config, n_epochs=2, steps_per_epoch=n)
    seen = []
    while len(seen) < n:
        plan.step_batch()
        seen.append(plan.lrs())
    for k, lrs in enumerate(seen):
        assert set(lrs.values()) == {lrs["decoder.shared"]}, k
        assert math.isclose(lrs["decoder.shared"], case["values"][k], rel_tol=REL), k
    assert [g["lr"] for g in plan.optimizer.param_groups] == [seen[-1]["decoder.shared"]] * 5
