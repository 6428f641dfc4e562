"""Shaped curves over the whole run: cosine, one-cycle, warmup-stable-decay, polynomial, warmups.

Every length is a *fraction of the run* (the full `n_epochs` budget, or its steps), every level a
*ratio* of each group's own base lr (`min_lr_ratio`, `warmup_start_ratio`), so one curve keeps the
ratios between groups. `unit: epoch` (default) moves once per epoch; `unit: step` re-evaluates
after every optimizer step and needs `steps_per_epoch`.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, model_validator

from trainables.lr.errors import ConfigError, Problem
from trainables.lr.schedules.base import (
    Clock,
    Schedule,
    ScheduleContext,
    ScheduleEntry,
    ScheduleParams,
    Unit,
)

Ratio = Field(default=0.0, ge=0, le=1, allow_inf_nan=False)


def missing_steps(name: str) -> ConfigError:
    """The error for a step-wise schedule that needs the run's length in steps but has none."""
    return ConfigError(
        [
            Problem(
                name,
                "runs per optimizer step and needs the run's total steps, but steps_per_epoch "
                "is not known",
                "pass steps_per_epoch when building the LR plan, give the length in steps "
                "explicitly, or use an epoch-wise schedule",
            )
        ]
    )


class Curve(Schedule):
    """A pure function of the position (epoch or step count) and the run's length in that unit."""

    #: whether `at` needs the run's total length (epoch-wise curves always have it)
    needs_total: bool = True
    name: str = "curve"

    def __init__(self, unit: Unit = "epoch") -> None:
        self.unit = unit

    def factor(self, clock: Clock) -> float:
        if self.unit == "step":
            position, total = clock.step, clock.total_steps
        else:
            position, total = clock.epoch, clock.n_epochs
        if total is None and self.needs_total:
            raise missing_steps(self.name)
        return self.at(position, total)

    @abstractmethod
    def at(self, position: int, total: int | None) -> float:
        """The multiplier at `position` of a run `total` long (None: unknown, step-wise)."""


def check_steps_known(unit: Unit, context: ScheduleContext, name: str) -> None:
    """Fail at build time, not mid-run, when a step-wise curve cannot know its length."""
    if unit == "step" and context.steps_per_epoch is None:
        raise missing_steps(name)


def warmup_ramp(position: int, length: int, start: float) -> float:
    """Linear from `start` at position 0 to 1 at `length` (as torch's LinearLR)."""
    return start + (1.0 - start) * position / length


class CurveParams(ScheduleParams):
    unit: Literal["epoch", "step"] = "epoch"


class CosineParams(CurveParams):
    warmup: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False)
    warmup_start_ratio: float = Ratio
    min_lr_ratio: float = Ratio


class Cosine(Curve):
    """Optional linear warmup, then half a cosine from 1 down to `min_lr_ratio` at the run's end."""

    name = "Cosine"

    def __init__(self, p: CosineParams) -> None:
        super().__init__(p.unit)
        self.p = p

    def at(self, position: int, total: int | None) -> float:
        assert total is not None
        p = self.p
        warm = round(p.warmup * total)
        if position < warm:
            return warmup_ramp(position, warm, p.warmup_start_ratio)
        progress = min((position - warm) / max(total - warm, 1), 1.0)
        return p.min_lr_ratio + (1 - p.min_lr_ratio) * (1 + math.cos(math.pi * progress)) / 2


class OneCycleParams(CurveParams):
    pct_start: float = Field(default=0.3, gt=0, lt=1)
    div_factor: float = Field(default=25.0, gt=0, allow_inf_nan=False)
    final_div_factor: float = Field(default=1e4, gt=0, allow_inf_nan=False)
    anneal_strategy: Literal["cos", "linear"] = "cos"
    three_phase: bool = False


class OneCycle(Curve):
    """torch's OneCycleLR with the base lr as `max_lr`: 1/div_factor -> 1 -> 1/(div*final_div)."""

    name = "OneCycle"

    def __init__(self, p: OneCycleParams) -> None:
        super().__init__(p.unit)
        self.p = p

    def at(self, position: int, total: int | None) -> float:
        assert total is not None
        p = self.p
        initial = 1.0 / p.div_factor
        final = initial / p.final_div_factor
        up = float(p.pct_start * total) - 1
        if p.three_phase:
            down = float(2 * p.pct_start * total) - 2
            phases = [(up, initial, 1.0), (down, 1.0, initial), (total - 1, initial, final)]
        else:
            phases = [(up, initial, 1.0), (total - 1, 1.0, final)]
        t = min(position, total - 1)
        start_step = 0.0
        for i, (end_step, start, end) in enumerate(phases):
            if t <= end_step or i == len(phases) - 1:
                # a phase of zero length (e.g. pct_start x total = 1) is already at its end
                span = end_step - start_step
                pct = (t - start_step) / span if span > 0 else 1.0
                if p.anneal_strategy == "cos":
                    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
                return (end - start) * pct + start
            start_step = end_step
        raise AssertionError("unreachable")


class WarmupStableDecayParams(CurveParams):
    warmup: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False)
    decay: float = Field(default=0.2, gt=0, le=1, allow_inf_nan=False)
    decay_shape: Literal["linear", "cosine", "sqrt"] = "linear"
    warmup_start_ratio: float = Ratio
    min_lr_ratio: float = Ratio

    @model_validator(mode="after")
    def _fits(self) -> WarmupStableDecayParams:
        if self.warmup + self.decay > 1 + 1e-12:
            raise ValueError(
                f"warmup + decay must be <= 1 (fractions of the run), got {self.warmup} + "
                f"{self.decay}: shorten one of them"
            )
        return self


_DECAY_SHAPES = {
    "linear": lambda p: 1.0 - p,
    "cosine": lambda p: (1 + math.cos(math.pi * p)) / 2,
    "sqrt": lambda p: 1.0 - math.sqrt(p),
}


class WarmupStableDecay(Curve):
    """Linear warmup, a stable stretch at 1, then a decay to `min_lr_ratio` over the last part."""

    name = "WarmupStableDecay"

    def __init__(self, p: WarmupStableDecayParams) -> None:
        super().__init__(p.unit)
        self.p = p

    def at(self, position: int, total: int | None) -> float:
        assert total is not None
        p = self.p
        warm = round(p.warmup * total)
        decay = max(round(p.decay * total), 1)
        if position < warm:
            return warmup_ramp(position, warm, p.warmup_start_ratio)
        if position < total - decay:
            return 1.0
        progress = min((position - (total - decay)) / decay, 1.0)
        return p.min_lr_ratio + (1 - p.min_lr_ratio) * _DECAY_SHAPES[p.decay_shape](progress)


class WarmupLinearDecayParams(CurveParams):
    warmup: float = Field(default=0.1, ge=0, lt=1, allow_inf_nan=False)
    warmup_start_ratio: float = Ratio
    min_lr_ratio: float = Ratio


def warmup_linear_decay(p: WarmupLinearDecayParams) -> WarmupStableDecay:
    """Linear warmup then linear decay over the rest: warmup-stable-decay with no stable part."""
    full = WarmupStableDecayParams(
        unit=p.unit,
        warmup=p.warmup,
        decay=1.0 - p.warmup,
        warmup_start_ratio=p.warmup_start_ratio,
        min_lr_ratio=p.min_lr_ratio,
    )
    return WarmupStableDecay(full)


class PolynomialParams(CurveParams):
    power: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    end: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)
    min_lr_ratio: float = Ratio


class Polynomial(Curve):
    """(1 - t / T_end) ** power down to `min_lr_ratio` at `end` (a fraction of the run), as torch's
    PolynomialLR with total_iters = end x run length; held there afterwards."""

    name = "Polynomial"

    def __init__(self, p: PolynomialParams) -> None:
        super().__init__(p.unit)
        self.p = p

    def at(self, position: int, total: int | None) -> float:
        assert total is not None
        p = self.p
        end = max(round(p.end * total), 1)
        return p.min_lr_ratio + (1 - p.min_lr_ratio) * (1 - min(position, end) / end) ** p.power


class WarmupParams(CurveParams):
    warmup: float = Field(gt=0, le=1, allow_inf_nan=False)
    warmup_start_ratio: float = Ratio


class Warmup(Curve):
    """Linear warmup from `warmup_start_ratio` to 1 over the first `warmup` of the run, then 1."""

    name = "Warmup"

    def __init__(self, p: WarmupParams) -> None:
        super().__init__(p.unit)
        self.p = p

    def at(self, position: int, total: int | None) -> float:
        assert total is not None
        warm = max(round(self.p.warmup * total), 1)
        return warmup_ramp(min(position, warm), warm, self.p.warmup_start_ratio)


def _entry(
    name: str,
    params: type[CurveParams],
    build: Callable[[Any], Schedule],
    description: str,
) -> ScheduleEntry:
    def checked(p: CurveParams, ctx: ScheduleContext) -> Schedule:
        check_steps_known(p.unit, ctx, name)
        return build(p)

    note = " Per epoch by default; unit: step moves after every optimizer step."
    return ScheduleEntry(name, params, checked, "epoch", description + note)


ENTRIES = (
    _entry(
        "Cosine",
        CosineParams,
        Cosine,
        "Linear warmup over the first `warmup` of the run (from warmup_start_ratio), then half a "
        "cosine from 1 to min_lr_ratio at the end; as torch's CosineAnnealingLR with "
        "eta_min = min_lr_ratio x each group's base lr.",
    ),
    _entry(
        "OneCycle",
        OneCycleParams,
        OneCycle,
        "torch's OneCycleLR over the run with each group's base lr as max_lr: from "
        "1/div_factor up to 1 over pct_start, down to 1/(div_factor x final_div_factor).",
    ),
    _entry(
        "WarmupStableDecay",
        WarmupStableDecayParams,
        WarmupStableDecay,
        "Linear warmup (fraction `warmup`), 1 for the stable part, then a linear/cosine/sqrt decay "
        "to min_lr_ratio over the last `decay` of the run.",
    ),
    _entry(
        "WarmupLinearDecay",
        WarmupLinearDecayParams,
        warmup_linear_decay,
        "Linear warmup over the first `warmup` of the run, then linear decay to min_lr_ratio at "
        "the end (the common 'linear schedule with warmup').",
    ),
    _entry(
        "Polynomial",
        PolynomialParams,
        Polynomial,
        "(1 - t/T) ** power from 1 to min_lr_ratio at `end` of the run, then held; as torch's "
        "PolynomialLR.",
    ),
    _entry(
        "Warmup",
        WarmupParams,
        Warmup,
        "Linear warmup from warmup_start_ratio to 1 over the first `warmup` of the run, then 1; "
        "combine it with anything (Product, Sequential).",
    ),
)
