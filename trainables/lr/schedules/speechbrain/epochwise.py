"""Epoch-wise rules of the SpeechBrain family: Linear and Step (decay_factor/decay_drop or
half_life), functions of the epoch.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pydantic import Field, model_validator

from trainables.lr.schedules._curve import FunctionCurve, run_length
from trainables.lr.schedules.base import ScheduleParams
from trainables.lr.schedules.speechbrain._entries import epoch_entry


class LinearParams(ScheduleParams):
    initial_value: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    final_value: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    epoch_count: int | None = Field(default=None, ge=1)


def linear(p: LinearParams) -> Callable[[int, int | None], float]:
    def fn(epoch: int, n_epochs: int | None) -> float:
        count = run_length(p.epoch_count, n_epochs, "Linear")
        index = min(epoch, count - 1)
        if count == 1:
            return p.initial_value
        return p.initial_value + (p.final_value - p.initial_value) * index / (count - 1)

    return fn


class StepParams(ScheduleParams):
    initial_value: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    decay_factor: float | None = Field(default=None, gt=0, le=1)
    decay_drop: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    half_life: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_form(self) -> StepParams:
        if self.half_life is not None and (self.decay_factor or self.decay_drop):
            raise ValueError("half_life cannot be used together with decay_factor and decay_drop")
        return self


def step(p: StepParams) -> Callable[[int, int | None], float]:
    if p.half_life is not None:
        factor, drop = math.exp(-math.log(2) / p.half_life), 1.0
    else:
        factor, drop = p.decay_factor or 0.5, p.decay_drop or 2

    def fn(epoch: int, _: int | None) -> float:
        if epoch == 0:
            return p.initial_value
        return p.initial_value * math.pow(factor, math.floor((1 + epoch) / drop))

    return fn


ENTRIES = (
    epoch_entry(
        "Linear",
        LinearParams,
        lambda p: FunctionCurve("Linear", "epoch", linear, p),
        "LinearScheduler",
        "Linear from initial_value at epoch 0 to final_value at epoch epoch_count - 1 "
        "(default n_epochs), then held; values are multiples of each group's lr",
    ),
    epoch_entry(
        "Step",
        StepParams,
        lambda p: FunctionCurve("Step", "epoch", step, p),
        "StepScheduler",
        "initial_value at epoch 0, then initial_value x decay_factor ** floor((1 + epoch) / "
        "decay_drop) (defaults 0.5, 2); half_life h sets decay_factor = 2^(-1/h), decay_drop 1",
    ),
)
