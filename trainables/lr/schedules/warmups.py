"""Warmup-shaped curves: a plain warmup, warmup-stable-decay, and warmup then linear decay.

As every curve, lengths are fractions of the run and levels ratios of each group's base lr;
`unit: step` moves them after every optimizer step (it needs `steps_per_epoch`).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from trainables.lr.schedules._curve import (
    CurveParams,
    ParamCurve,
    Ratio,
    curve_entry,
    warmup_ramp,
)


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


class WarmupStableDecay(ParamCurve[WarmupStableDecayParams]):
    """Linear warmup, a stable stretch at 1, then a decay to `min_lr_ratio` over the last part."""

    name = "WarmupStableDecay"

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


class WarmupParams(CurveParams):
    warmup: float = Field(gt=0, le=1, allow_inf_nan=False)
    warmup_start_ratio: float = Ratio


class Warmup(ParamCurve[WarmupParams]):
    """Linear warmup from `warmup_start_ratio` to 1 over the first `warmup` of the run, then 1."""

    name = "Warmup"

    def at(self, position: int, total: int | None) -> float:
        assert total is not None
        warm = max(round(self.p.warmup * total), 1)
        return warmup_ramp(min(position, warm), warm, self.p.warmup_start_ratio)


ENTRIES = (
    curve_entry(
        "WarmupStableDecay",
        WarmupStableDecayParams,
        WarmupStableDecay,
        "Linear warmup (fraction `warmup`), 1 for the stable part, then a linear/cosine/sqrt decay "
        "to min_lr_ratio over the last `decay` of the run.",
    ),
    curve_entry(
        "WarmupLinearDecay",
        WarmupLinearDecayParams,
        warmup_linear_decay,
        "Linear warmup over the first `warmup` of the run, then linear decay to min_lr_ratio at "
        "the end (the common 'linear schedule with warmup').",
    ),
    curve_entry(
        "Warmup",
        WarmupParams,
        Warmup,
        "Linear warmup from warmup_start_ratio to 1 over the first `warmup` of the run, then 1; "
        "combine it with anything (Product, Sequential).",
    ),
)
