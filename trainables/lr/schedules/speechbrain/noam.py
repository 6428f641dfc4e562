"""Transformer-style warmups of the SpeechBrain family: Noam, NoamInterval, LinearNoam and the
T5 inverse square root; all step-wise, functions of n = optimizer steps completed.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pydantic import Field, model_validator

from trainables.lr.schedules.base import ScheduleParams
from trainables.lr.schedules.speechbrain._entries import Steps, step_entry


class NoamParams(ScheduleParams):
    lr_initial: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    n_warmup_steps: int = Steps
    model_size: int | None = Field(default=None, ge=1)


def noam_scale(n: int, n_warmup_steps: int, model_size: int | None) -> float:
    """SpeechBrain's Noam scale; 0 at n = 0 (the limit of its warmup branch)."""
    normalize = n_warmup_steps**0.5 if model_size is None else model_size ** (-0.5)
    if n == 0:
        return 0.0
    return normalize * min(n ** (-0.5), n * n_warmup_steps ** (-1.5))


def noam(p: NoamParams) -> Callable[[int, int | None], float]:
    return lambda n, _: p.lr_initial * noam_scale(n, p.n_warmup_steps, p.model_size)


class NoamIntervalParams(NoamParams):
    anneal_steps: list[int] = Field(default_factory=list)
    anneal_rates: list[float] = Field(default_factory=list)

    @model_validator(mode="after")
    def _pairs(self) -> NoamIntervalParams:
        if len(self.anneal_steps) != len(self.anneal_rates):
            raise ValueError(
                f"anneal_steps ({len(self.anneal_steps)}) and anneal_rates "
                f"({len(self.anneal_rates)}) must have the same length: one rate per step"
            )
        return self


def noam_interval(p: NoamIntervalParams) -> Callable[[int, int | None], float]:
    def fn(n: int, _: int | None) -> float:
        scale = noam_scale(n, p.n_warmup_steps, p.model_size)
        for step, rate in zip(p.anneal_steps, p.anneal_rates, strict=True):
            if n > step:
                scale = scale * rate
        return p.lr_initial * scale

    return fn


class LinearNoamParams(ScheduleParams):
    lr_initial: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    n_warmup_steps: int = Steps
    n_keep_steps: int = Field(default=0, ge=0)


def linear_noam(p: LinearNoamParams) -> Callable[[int, int | None], float]:
    def fn(n: int, _: int | None) -> float:
        w = p.n_warmup_steps
        if n < w:
            scale = (n + 0.0) / w
        elif n < p.n_keep_steps + w:
            scale = 1.0
        else:
            scale = w / (n - p.n_keep_steps)
        return p.lr_initial * scale

    return fn


class InverseSquareRootParams(ScheduleParams):
    warmup_steps: int = Steps
    normalize: bool = False


def inverse_square_root(p: InverseSquareRootParams) -> Callable[[int, int | None], float]:
    peak = math.sqrt(p.warmup_steps) if p.normalize else 1.0
    return lambda n, _: peak * (1 / math.sqrt(max(p.warmup_steps, n)))


ENTRIES = (
    step_entry(
        "Noam",
        "NoamScheduler",
        NoamParams,
        noam,
        "Transformer warmup then 1/sqrt(n): lr_initial x normalize x min(n^-0.5, n w^-1.5), "
        "normalize = sqrt(w) or model_size^-0.5; lr_initial is a multiple of each group's lr",
    ),
    step_entry(
        "NoamInterval",
        "NoamIntervalScheduler",
        NoamIntervalParams,
        noam_interval,
        "Noam, further x anneal_rates[i] once n > anneal_steps[i]",
    ),
    step_entry(
        "LinearNoam",
        "LinearNoamScheduler",
        LinearNoamParams,
        linear_noam,
        "Linear warmup over n_warmup_steps, held n_keep_steps, then w / (n - n_keep_steps)",
    ),
    step_entry(
        "InverseSquareRoot",
        "InverseSquareRootScheduler",
        InverseSquareRootParams,
        inverse_square_root,
        "T5: 1/sqrt(max(warmup_steps, n)); normalize: true scales it to 1 during the warmup",
    ),
)
