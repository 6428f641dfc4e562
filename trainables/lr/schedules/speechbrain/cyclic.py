"""Cycles and step tables of the SpeechBrain family: CyclicCosine, CyclicLR (triangular,
triangular2, exp_range) and Interval; all step-wise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from trainables.lr.schedules._curve import run_length
from trainables.lr.schedules.base import ScheduleParams
from trainables.lr.schedules.speechbrain._entries import step_entry


class CyclicCosineParams(ScheduleParams):
    n_warmup_steps: int = Field(ge=0)
    lr_initial: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    total_steps: int | None = Field(default=None, ge=1)


def cyclic_cosine(p: CyclicCosineParams) -> Callable[[int, int | None], float]:
    def fn(n: int, total: int | None) -> float:
        length = run_length(p.total_steps, total, "CyclicCosine")
        return p.lr_initial * (0.5 * (math.cos(math.pi * (n - p.n_warmup_steps) / length) + 1))

    return fn


class CyclicLRParams(ScheduleParams):
    base_lr: float = Field(default=0.1, ge=0, allow_inf_nan=False)
    max_lr: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    step_size: float = Field(default=2000.0, gt=0, allow_inf_nan=False)
    mode: Literal["triangular", "triangular2", "exp_range"] = "triangular"
    gamma: float = Field(default=1.0, gt=0, le=1)


def cyclic_lr(p: CyclicLRParams) -> Callable[[int, int | None], float]:
    def fn(n: int, _: int | None) -> float:
        it = float(n)
        cycle = math.floor(1 + it / (2 * p.step_size))
        x = abs(it / p.step_size - 2 * cycle + 1)
        if p.mode == "triangular":
            scale = 1.0
        elif p.mode == "triangular2":
            scale = 1 / (2.0 ** (cycle - 1))
        else:
            scale = p.gamma**it
        return p.base_lr + (p.max_lr - p.base_lr) * max(0, (1 - x)) * scale

    return fn


class Interval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    steps: int = Field(ge=1)
    lr: float = Field(gt=0, allow_inf_nan=False)


class IntervalParams(ScheduleParams):
    intervals: list[Interval] = Field(min_length=1)

    @field_validator("intervals")
    @classmethod
    def _increasing(cls, value: list[Interval]) -> list[Interval]:
        steps = [i.steps for i in value]
        if steps != sorted(set(steps)):
            raise ValueError(f"interval steps must strictly increase, got {steps}: sort them")
        return value


def interval(p: IntervalParams) -> Callable[[int, int | None], float]:
    def fn(n: int, _: int | None) -> float:
        current = 1.0
        for item in p.intervals:
            if n >= item.steps:
                current = item.lr
        return current

    return fn


ENTRIES = (
    step_entry(
        "CyclicCosine",
        "CyclicCosineScheduler",
        CyclicCosineParams,
        cyclic_cosine,
        "lr_initial x (cos(pi (n - n_warmup_steps) / total_steps) + 1) / 2, periodic; "
        "total_steps defaults to the run's steps",
        "total_steps",
    ),
    step_entry(
        "CyclicLR",
        "CyclicLRScheduler",
        CyclicLRParams,
        cyclic_lr,
        "Triangular cycles between base_lr and max_lr (multiples of each group's lr) with "
        "half-period step_size; modes triangular, triangular2 (halving), exp_range (gamma^n)",
    ),
    step_entry(
        "Interval",
        "IntervalScheduler",
        IntervalParams,
        interval,
        "1 until the first interval's steps, then each interval's lr (a multiple of each "
        "group's lr) from its steps on",
    ),
)
