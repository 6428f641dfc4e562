"""The SpeechBrain family past the end of its ranges, against SpeechBrain's own rules.

Each `sb_*` function below transcribes one rule of `speechbrain/nnet/schedulers.py` (1.1.2) with
its own counter, driven the way SpeechBrain drives it (once after each optimizer step, or with the
epoch that just ended). Where ours follows SpeechBrain the values are equal; where it departs on
purpose (README, "Schedules"), the test shows both values and the departure.
"""

from __future__ import annotations

import math

import pytest
import torch

from trainables.lr.schedules.base import Clock, Schedule, ScheduleContext
from trainables.lr.schedules.registry import build_schedule

SPE = 1000


def _build(name: str, hyper: dict, n_epochs: int = 100) -> Schedule:
    config = {"name": name, "hyperparameters": hyper}
    return build_schedule(config, ScheduleContext(n_epochs=n_epochs, steps_per_epoch=SPE))


def _at_step(schedule: Schedule, step: int) -> float:
    return schedule.factor(Clock(epoch=step // SPE, step=step, n_epochs=100, steps_per_epoch=SPE))


def _at_epoch(schedule: Schedule, epoch: int) -> float:
    return schedule.factor(Clock(epoch=epoch, n_epochs=100))


def sb_warm_and_exp_decay(lr, n_warmup_steps, total_steps, decay_factor, calls):
    """WarmAndExpDecayLRSchedule: the lr after each of `calls` calls (counter used, then +1)."""
    out, current_step = [], 0
    for _ in range(calls):
        if current_step < n_warmup_steps:
            value = lr * current_step / n_warmup_steps
        else:
            decayed = lr * decay_factor ** (
                (current_step - n_warmup_steps) / (total_steps - n_warmup_steps)
            )
            value = min(lr, decayed)
        out.append(value)
        current_step += 1
    return out


def sb_warm_cool_decay(lr, warmup, cooldown, total_steps, decay_factor, decay_every, t):
    """WarmCoolDecayLRSchedule called as scheduler(opt, t) after t updates."""
    power = math.log(decay_factor) / decay_every
    if t < warmup:
        return lr * t / warmup
    if t > total_steps - cooldown:
        base = lr * math.exp(power * (total_steps - cooldown))
        return base - base / cooldown * (t - (total_steps - cooldown))
    return lr * math.exp(power * (t - warmup))


def sb_linear(initial_value, final_value, epoch_count, current_epoch):
    """LinearScheduler(current_epoch): the new value (a float32 torch.linspace table)."""
    table = torch.linspace(initial_value, final_value, steps=epoch_count).tolist()
    return table[min(current_epoch, len(table) - 1)]


def sb_cyclic_cosine(n_warmup_steps, optimizer_lr, total_steps, calls):
    """CyclicCosineScheduler without lr_initial: each call scales the optimizer's current lr."""
    out, lr = [], optimizer_lr
    for n_steps in range(1, calls + 1):
        lr = lr * 0.5 * (math.cos(math.pi * (n_steps - n_warmup_steps) / total_steps) + 1)
        out.append(lr)
    return out


def sb_step(initial_value, half_life, epoch):
    """StepScheduler(half_life=...)'s formula `_compute_value(epoch)`."""
    factor = math.exp(-math.log(2) / half_life)
    return initial_value * math.pow(factor, math.floor((1 + epoch) / 1.0))


def test_warm_and_exp_decay_follows_speechbrain_past_total_steps() -> None:
    hyper = {"lr": 1.0, "n_warmup_steps": 5, "total_steps": 40, "decay_factor": 0.1}
    schedule = _build("WarmAndExpDecayLRSchedule", hyper)
    reference = sb_warm_and_exp_decay(1.0, 5, 40, 0.1, calls=100)
    ours = [_at_step(schedule, k + 1) for k in range(100)]
    assert ours == pytest.approx(reference, rel=1e-12, abs=0)
    assert ours[0] == 0.0 and ours[1] == pytest.approx(0.2)  # the step 1: 0.0, not 0.105
    assert ours[60] < 0.1  # decays on past lr x decay_factor, as SpeechBrain's does


def test_warm_cool_decay_holds_zero_where_speechbrain_goes_negative() -> None:
    hyper = {"lr": 1.0, "warmup": 2, "cooldown": 3, "total_steps": 10, "decay_factor": 0.5}
    hyper["decay_every"] = 4
    schedule = _build("WarmCoolDecayLRSchedule", hyper)
    for t in range(1, 21):
        reference = sb_warm_cool_decay(1.0, 2, 3, 10, 0.5, 4, t)
        ours = _at_step(schedule, t)
        if t <= 10:
            assert ours == pytest.approx(reference, rel=1e-12, abs=1e-15), t
        else:  # past total_steps: SpeechBrain's cooldown line goes on below 0; ours holds 0
            assert reference < 0 and ours == 0.0, t


def test_linear_scheduler_follows_speechbrain_past_epoch_count() -> None:
    for initial, final, count in ((1.0, 0.0, 4), (0.01, 0.0001, 10), (2.0, 0.5, 1)):
        hyper = {"initial_value": initial, "final_value": final, "epoch_count": count}
        schedule = _build("LinearScheduler", hyper)
        for epoch in range(3 * count + 2):
            reference = sb_linear(initial, final, count, epoch)
            # SpeechBrain tabulates in float32; ours is the same line in float64
            assert _at_epoch(schedule, epoch) == pytest.approx(reference, rel=2.0**-23), epoch
        assert _at_epoch(schedule, 3 * count) == pytest.approx(final if count > 1 else initial)


def test_cyclic_cosine_without_lr_initial_does_not_compound() -> None:
    """SpeechBrain without lr_initial multiplies the optimizer's current lr by each step's
    cosine, compounding them; ours is each group's lr x that step's cosine (lr_initial = 1)."""
    schedule = _build("CyclicCosineScheduler", {"n_warmup_steps": 10, "total_steps": 50})
    compounding = sb_cyclic_cosine(10, 1.0, 50, calls=30)
    ours = [_at_step(schedule, n) for n in range(1, 31)]
    cosine = [0.5 * (math.cos(math.pi * (n - 10) / 50) + 1) for n in range(1, 31)]
    assert ours == pytest.approx(cosine, rel=1e-12)
    assert ours[0] == pytest.approx(compounding[0], rel=1e-12)  # one factor: equal
    assert compounding[29] < 0.1 * ours[29]  # 30 factors multiplied: 0.039 vs 0.65


def test_step_scheduler_half_life_runs_epoch_0_at_initial_value() -> None:
    """SpeechBrain's formula at epoch 0 gives initial_value x 2^(-1/half_life) (its first call
    reports it as the 'old' value) but its optimizer runs epoch 0 at the lr it was built with;
    ours runs epoch 0 at initial_value and follows the formula from epoch 1 on."""
    schedule = _build("StepScheduler", {"initial_value": 1.0, "half_life": 4})
    assert _at_epoch(schedule, 0) == 1.0
    assert sb_step(1.0, 4, 0) == pytest.approx(2 ** (-1 / 4))
    for epoch in range(1, 12):
        assert _at_epoch(schedule, epoch) == pytest.approx(sb_step(1.0, 4, epoch), rel=1e-12)
