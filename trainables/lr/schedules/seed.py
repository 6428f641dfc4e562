"""The seed's four schedules (MultiStepLR, StepLR, ExponentialLR, ReduceLROnPlateau) and Constant.

Each is a multiplier of every group's own base lr, so one schedule keeps the ratios between groups.
MultiStepLR's `milestones` are fractions of `n_epochs` in (0, 1); fraction `f` becomes the epoch
`round(f * n_epochs)` (Python's `round`, ties to even). ExponentialLR takes `gamma`, or `initial`
and `final`, from which only gamma = (final / initial) ** (1 / n_epochs) is derived.
ReduceLROnPlateau follows torch's rule on the training loss (or the named `metric`); its floor
`min_factor` is a ratio of each group's base lr, never an absolute lr.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from trainables.lr.errors import TunerError
from trainables.lr.schedules.base import (
    Clock,
    Schedule,
    ScheduleEntry,
    ScheduleParams,
)


class ConstantParams(ScheduleParams):
    """No hyperparameters: the base lr throughout."""


class Constant(Schedule):
    """Multiplier 1 at every epoch."""

    def factor(self, clock: Clock) -> float:
        return 1.0


class MultiStepParams(ScheduleParams):
    milestones: tuple[float, ...] = ()
    gamma: float = Field(default=0.1, gt=0, allow_inf_nan=False)

    @field_validator("milestones")
    @classmethod
    def _fractions(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        bad = [m for m in value if not 0 < m < 1]
        if bad:
            raise ValueError(
                f"milestones must be fractions of n_epochs strictly between 0 and 1; {bad} are "
                "not (e.g. write 0.5 for the middle of training)"
            )
        return value


class MultiStep(Schedule):
    """gamma ** (number of milestone epochs <= clock.epoch), as torch's MultiStepLR."""

    def __init__(self, epochs: tuple[int, ...], gamma: float) -> None:
        self.epochs = tuple(sorted(epochs))
        self.gamma = gamma

    def factor(self, clock: Clock) -> float:
        return self.gamma ** sum(1 for m in self.epochs if m <= clock.epoch)


def milestone_epochs(fractions: tuple[float, ...], n_epochs: int) -> tuple[int, ...]:
    """Epochs of fractional milestones: round(f * n_epochs), sorted (duplicates kept, as torch)."""
    return tuple(sorted(round(f * n_epochs) for f in fractions))


class StepParams(ScheduleParams):
    step_size: int = Field(ge=1, strict=True)
    gamma: float = Field(default=0.1, gt=0, allow_inf_nan=False)


class Step(Schedule):
    """gamma ** (clock.epoch // step_size), as torch's StepLR."""

    def __init__(self, step_size: int, gamma: float) -> None:
        self.step_size = step_size
        self.gamma = gamma

    def factor(self, clock: Clock) -> float:
        return self.gamma ** (clock.epoch // self.step_size)


class ExponentialParams(ScheduleParams):
    gamma: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    initial: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    final: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_form(self) -> ExponentialParams:
        pair = (self.initial is None, self.final is None)
        if self.gamma is not None and pair != (True, True):
            raise ValueError("give either gamma or initial and final, not both")
        if self.gamma is None and pair != (False, False):
            raise ValueError(
                "give gamma, or both initial and final (e.g. initial: 1e-3, final: 1e-5)"
            )
        return self


class Exponential(Schedule):
    """gamma ** clock.epoch, as torch's ExponentialLR."""

    def __init__(self, gamma: float) -> None:
        self.gamma = gamma

    def factor(self, clock: Clock) -> float:
        return self.gamma**clock.epoch


def exponential_gamma(params: ExponentialParams, n_epochs: int) -> float:
    """gamma itself, or (final / initial) ** (1 / n_epochs) from the initial/final form."""
    if params.gamma is not None:
        return params.gamma
    assert params.initial is not None and params.final is not None  # checked by the model
    return (params.final / params.initial) ** (1.0 / n_epochs)


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


ENTRIES = (
    ScheduleEntry(
        name="Constant",
        params=ConstantParams,
        build=lambda p, ctx: Constant(),
        unit="epoch",
        description="the base lr throughout",
    ),
    ScheduleEntry(
        name="MultiStepLR",
        params=MultiStepParams,
        build=lambda p, ctx: MultiStep(milestone_epochs(p.milestones, ctx.n_epochs), p.gamma),
        unit="epoch",
        description="x gamma at each milestone (fractions of n_epochs in (0, 1)); the default",
    ),
    ScheduleEntry(
        name="StepLR",
        params=StepParams,
        build=lambda p, ctx: Step(p.step_size, p.gamma),
        unit="epoch",
        description="x gamma every step_size epochs",
    ),
    ScheduleEntry(
        name="ExponentialLR",
        params=ExponentialParams,
        build=lambda p, ctx: Exponential(exponential_gamma(p, ctx.n_epochs)),
        unit="epoch",
        description="x gamma every epoch; gamma or (final / initial) ** (1 / n_epochs)",
    ),
    ScheduleEntry(
        name="ReduceLROnPlateau",
        params=PlateauParams,
        build=lambda p, ctx: Plateau(p),
        unit="epoch",
        description="x factor when the watched metric (train_loss) stops improving",
    ),
)
