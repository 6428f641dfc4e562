"""Warmup-then-decay rules of the SpeechBrain family: WarmCoolDecay, WarmAndExpDecay, TriStage
and LinearWarmup; all step-wise, their total length defaulting to the run's steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pydantic import Field, model_validator

from trainables.lr.schedules._curve import run_length
from trainables.lr.schedules.base import ScheduleParams
from trainables.lr.schedules.speechbrain._entries import Steps, step_entry


class WarmCoolDecayParams(ScheduleParams):
    lr: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    warmup: int = Steps
    cooldown: int = Steps
    total_steps: int | None = Field(default=None, ge=1)
    decay_factor: float = Field(default=0.75, gt=0, le=1)
    decay_every: int = Field(default=100000, ge=1)


def warm_cool_decay(p: WarmCoolDecayParams) -> Callable[[int, int | None], float]:
    power = math.log(p.decay_factor) / p.decay_every

    def fn(n: int, total: int | None) -> float:
        length = run_length(p.total_steps, total, "WarmCoolDecay")
        if n < p.warmup:
            return p.lr * n / p.warmup
        if n > length - p.cooldown:
            base = p.lr * math.exp(power * (length - p.cooldown))
            return max(base - base / p.cooldown * (n - (length - p.cooldown)), 0.0)
        return p.lr * math.exp(power * (n - p.warmup))

    return fn


class WarmAndExpDecayParams(ScheduleParams):
    lr: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    n_warmup_steps: int = Field(ge=0)
    total_steps: int | None = Field(default=None, ge=1)
    decay_factor: float = Field(default=0.1, gt=0, le=1)

    @model_validator(mode="after")
    def _decays(self) -> WarmAndExpDecayParams:
        if self.total_steps is not None and self.total_steps <= self.n_warmup_steps:
            raise ValueError(
                f"total_steps ({self.total_steps}) must exceed n_warmup_steps "
                f"({self.n_warmup_steps}): the decay needs at least one step"
            )
        return self


def warm_and_exp_decay(p: WarmAndExpDecayParams) -> Callable[[int, int | None], float]:
    def fn(n: int, total: int | None) -> float:
        length = run_length(p.total_steps, total, "WarmAndExpDecay")
        # SpeechBrain's counter is incremented after use: called after the n-th optimizer step,
        # it applies its formula at n - 1 (0.0 after the first step of a warmup); step 0 starts
        # the warmup at the formula's first value
        n = max(n - 1, 0)
        if n < p.n_warmup_steps:
            return p.lr * n / p.n_warmup_steps
        span = max(length - p.n_warmup_steps, 1)  # a run shorter than the warmup: no decay span
        decayed = p.lr * p.decay_factor ** ((n - p.n_warmup_steps) / span)
        return min(p.lr, decayed)

    return fn


class TriStageParams(ScheduleParams):
    lr: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    warmup_steps: int = Steps
    hold_steps: int = Field(ge=0)
    decay_steps: int = Steps
    total_steps: int | None = Field(default=None, ge=1)
    init_lr_scale: float = Field(default=0.01, ge=0, le=1)
    final_lr_scale: float = Field(default=0.05, gt=0, le=1)


def tri_stage(p: TriStageParams) -> Callable[[int, int | None], float]:
    init_lr = p.init_lr_scale * p.lr
    rate = (p.lr - init_lr) / p.warmup_steps
    decay = -math.log(p.final_lr_scale) / p.decay_steps

    def fn(n: int, _: int | None) -> float:
        if n < p.warmup_steps:
            return init_lr + rate * n
        if n < p.warmup_steps + p.hold_steps:
            return p.lr
        return p.lr * math.exp(-decay * (n - p.hold_steps - p.warmup_steps))

    return fn


class LinearWarmupParams(ScheduleParams):
    initial_value: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    num_warmup_steps: int = Field(ge=0)
    num_training_steps: int | None = Field(default=None, ge=1)


def linear_warmup(p: LinearWarmupParams) -> Callable[[int, int | None], float]:
    def fn(n: int, total: int | None) -> float:
        length = run_length(p.num_training_steps, total, "LinearWarmup")
        if n < p.num_warmup_steps:
            return float(n) / float(max(1, p.num_warmup_steps)) * p.initial_value
        return p.initial_value * max(
            0.0, float(length - n) / float(max(1, length - p.num_warmup_steps))
        )

    return fn


ENTRIES = (
    step_entry(
        "WarmCoolDecay",
        "WarmCoolDecayLRSchedule",
        WarmCoolDecayParams,
        warm_cool_decay,
        "Linear warmup to lr, slow exponential decay (decay_factor per decay_every steps), "
        "linear cooldown to 0 over the last cooldown steps (held at 0 after total_steps, where "
        "SpeechBrain goes negative); "
        "total_steps defaults to the run's",
        "total_steps",
    ),
    step_entry(
        "WarmAndExpDecay",
        "WarmAndExpDecayLRSchedule",
        WarmAndExpDecayParams,
        warm_and_exp_decay,
        "Linear warmup to lr, then exponential decay to lr x decay_factor at total_steps "
        "(default: the run's steps); as SpeechBrain's, the lr after step n is the formula at n - 1",
        "total_steps",
    ),
    step_entry(
        "TriStage",
        "TriStageLRSchedule",
        TriStageParams,
        tri_stage,
        "Warmup from init_lr_scale x lr to lr, hold, then exponential decay reaching "
        "final_lr_scale x lr after decay_steps",
    ),
    step_entry(
        "LinearWarmup",
        "LinearWarmupScheduler",
        LinearWarmupParams,
        linear_warmup,
        "From 0 up to initial_value over num_warmup_steps, then linearly to 0 at "
        "num_training_steps (default: the run's steps)",
        "num_training_steps",
    ),
)
