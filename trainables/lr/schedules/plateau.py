"""ReduceLROnPlateau as a multiplier: torch's rule, with floors that are ratios of each base lr.

It watches the training loss (`train_loss`) unless a `metric` is named, and reduces every group by
the same `factor`; `min_factor` (the floor) and `eps` (the smallest reduction applied) act on the
multiplier, never on absolute lrs, so the ratios between groups stay fixed where torch's absolute
`min_lr`/`eps` would break them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field

from trainables.lr.errors import TunerError
from trainables.lr.schedules.base import Clock, Schedule, ScheduleParams


class PlateauParams(ScheduleParams):
    mode: Literal["min", "max"] = "min"
    factor: float = Field(default=0.1, gt=0, lt=1)
    patience: int = Field(default=10, ge=0, strict=True)
    threshold: float = Field(default=1e-4, ge=0, allow_inf_nan=False)
    threshold_mode: Literal["rel", "abs"] = "rel"
    cooldown: int = Field(default=0, ge=0, strict=True)
    min_factor: float = Field(default=0.0, ge=0, le=1)
    eps: float = Field(default=1e-8, ge=0, allow_inf_nan=False)
    metric: str = "train_loss"


class Plateau(Schedule):
    """torch's ReduceLROnPlateau as a multiplier: observe() one epoch's metrics, factor() reads it.

    The floor `min_factor` and the `eps` below which a reduction is skipped apply to the
    multiplier, so every group is reduced together and the ratios between groups stay fixed.
    """

    def __init__(self, params: PlateauParams) -> None:
        self.params = params
        self.scale = 1.0
        self.best = math.inf if params.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def factor(self, clock: Clock) -> float:
        return self.scale

    def _is_better(self, value: float) -> bool:
        p = self.params
        if p.mode == "min":
            bound = (
                self.best * (1 - p.threshold)
                if p.threshold_mode == "rel"
                else self.best - p.threshold
            )
            return value < bound
        bound = (
            self.best * (1 + p.threshold) if p.threshold_mode == "rel" else self.best + p.threshold
        )
        return value > bound

    def observe(self, metrics: Mapping[str, float]) -> None:
        p = self.params
        if metrics.get(p.metric) is None:
            raise TunerError(
                f"ReduceLROnPlateau watches '{p.metric}', but the epoch reported only "
                f"{sorted(k for k, v in metrics.items() if v is not None)}: pass it, "
                f"e.g. plan.step_epoch({p.metric}=...)"
            )
        value = float(metrics[p.metric])
        if self._is_better(value):
            self.best = value
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > p.patience:
            new = max(self.scale * p.factor, p.min_factor)
            if self.scale - new > p.eps:
                self.scale = new
            self.cooldown_counter = p.cooldown
            self.num_bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "scale": self.scale,
            "best": self.best,
            "num_bad_epochs": self.num_bad_epochs,
            "cooldown_counter": self.cooldown_counter,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.scale = float(state["scale"])
        self.best = float(state["best"])
        self.num_bad_epochs = int(state["num_bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])
