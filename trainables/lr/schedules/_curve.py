"""What every shaped curve shares: the `Curve` base, its entry helper, and the missing-steps error.

A curve is a pure function of the position (epoch or optimizer step) and the run's length in that
unit. `FunctionCurve` wraps a module-level `make(params)` so that curves written as plain
functions (the SpeechBrain family) pickle and travel to Ray workers.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, Generic, Literal, TypeVar

from pydantic import Field

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


P = TypeVar("P", bound="CurveParams")


class ParamCurve(Curve, Generic[P]):
    """A curve configured by one validated params model, kept as `self.p`."""

    def __init__(self, p: P) -> None:
        super().__init__(p.unit)
        self.p = p


class FunctionCurve(Curve):
    """A step- or epoch-wise curve `make(params)(position, run length)`.

    Holds the module-level `make` and the params rather than the closure, so it pickles.
    """

    needs_total = False

    def __init__(
        self,
        name: str,
        unit: Literal["epoch", "step"],
        make: Callable[[Any], Callable[[int, int | None], float]],
        params: ScheduleParams,
    ) -> None:
        super().__init__(unit)
        self.name, self.make, self.params = name, make, params
        self.fn = make(params)

    def at(self, position: int, total: int | None) -> float:
        return self.fn(position, total)

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "fn"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.fn = self.make(self.params)


def run_length(given: int | None, total: int | None, name: str) -> int:
    """An explicit length in steps/epochs, else the run's; the build-time check guards None."""
    if given is not None:
        return given
    if total is None:  # guarded at build time; kept for direct use
        raise missing_steps(name)
    return total


def check_steps_known(unit: Unit, context: ScheduleContext, name: str) -> None:
    """Fail at build time, not mid-run, when a step-wise curve cannot know its length."""
    if unit == "step" and context.steps_per_epoch is None:
        raise missing_steps(name)


def warmup_ramp(position: int, length: int, start: float) -> float:
    """Linear from `start` at position 0 to 1 at `length` (as torch's LinearLR)."""
    return start + (1.0 - start) * position / length


class CurveParams(ScheduleParams):
    unit: Literal["epoch", "step"] = "epoch"


def curve_entry(
    name: str,
    params: type[CurveParams],
    build: Callable[[Any], Schedule],
    description: str,
) -> ScheduleEntry:
    """The registry entry of a curve whose `unit` the config picks (epoch by default)."""

    def checked(p: CurveParams, ctx: ScheduleContext) -> Schedule:
        check_steps_known(p.unit, ctx, name)
        return build(p)

    note = " Per epoch by default; unit: step moves after every optimizer step."
    return ScheduleEntry(name, params, checked, "epoch", description + note)
