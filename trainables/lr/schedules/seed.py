"""The seed's four schedules (MultiStepLR, StepLR, ExponentialLR, ReduceLROnPlateau) and Constant.

Each is a multiplier of every group's own base lr, so one schedule keeps the ratios between groups.
MultiStepLR's `milestones` are fractions of `n_epochs` in (0, 1); fraction `f` becomes the epoch
`round(f * n_epochs)` (Python's `round`, ties to even). ExponentialLR takes `gamma`, or `initial`
and `final`, from which only gamma = (final / initial) ** (1 / n_epochs) is derived.
ReduceLROnPlateau follows torch's rule on the training loss (or the named `metric`); its floor
`min_factor` is a ratio of each group's base lr, never an absolute lr.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from trainables.lr.schedules.base import (
    Clock,
    Schedule,
    ScheduleEntry,
    ScheduleParams,
)
from trainables.lr.schedules.plateau import Plateau, PlateauParams


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
