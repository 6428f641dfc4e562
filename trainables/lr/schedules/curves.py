"""Annealing curves over the whole run: cosine, one-cycle, polynomial.

Every length is a *fraction of the run* (the full `n_epochs` budget, or its steps), every level a
*ratio* of each group's own base lr (`min_lr_ratio`, `warmup_start_ratio`), so one curve keeps the
ratios between groups. `unit: epoch` (default) moves once per epoch; `unit: step` re-evaluates
after every optimizer step and needs `steps_per_epoch`. Warmup-shaped curves are in `warmups`.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from trainables.lr.schedules._curve import (
    CurveParams,
    ParamCurve,
    Ratio,
    curve_entry,
    warmup_ramp,
)


class CosineParams(CurveParams):
    warmup: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False)
    warmup_start_ratio: float = Ratio
    min_lr_ratio: float = Ratio


class Cosine(ParamCurve[CosineParams]):
    """Optional linear warmup, then half a cosine from 1 down to `min_lr_ratio` at the run's end."""

    name = "Cosine"

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


class OneCycle(ParamCurve[OneCycleParams]):
    """torch's OneCycleLR with the base lr as `max_lr`: 1/div_factor -> 1 -> 1/(div*final_div)."""

    name = "OneCycle"

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


class PolynomialParams(CurveParams):
    power: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    end: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)
    min_lr_ratio: float = Ratio


class Polynomial(ParamCurve[PolynomialParams]):
    """(1 - t / T_end) ** power down to `min_lr_ratio` at `end` (a fraction of the run), as torch's
    PolynomialLR with total_iters = end x run length; held there afterwards."""

    name = "Polynomial"

    def at(self, position: int, total: int | None) -> float:
        assert total is not None
        p = self.p
        end = max(round(p.end * total), 1)
        return p.min_lr_ratio + (1 - p.min_lr_ratio) * (1 - min(position, end) / end) ** p.power


ENTRIES = (
    curve_entry(
        "Cosine",
        CosineParams,
        Cosine,
        "Linear warmup over the first `warmup` of the run (from warmup_start_ratio), then half a "
        "cosine from 1 to min_lr_ratio at the end; as torch's CosineAnnealingLR with "
        "eta_min = min_lr_ratio x each group's base lr.",
    ),
    curve_entry(
        "OneCycle",
        OneCycleParams,
        OneCycle,
        "torch's OneCycleLR over the run with each group's base lr as max_lr: from "
        "1/div_factor up to 1 over pct_start, down to 1/(div_factor x final_div_factor).",
    ),
    curve_entry(
        "Polynomial",
        PolynomialParams,
        Polynomial,
        "(1 - t/T) ** power from 1 to min_lr_ratio at `end` of the run, then held; as torch's "
        "PolynomialLR.",
    ),
)
