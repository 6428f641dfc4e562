"""A user's own schedule, named by import path: `lr_scheduling: {name: "pkg.mod:fn"}`.

The function is a pure function of progress (completed epochs / n_epochs, in [0, 1)) returning
the multiplier of every group's base lr, declared with `@schedule` from `trainables.declare`
(an explicit opt-in, as for trainables); the config's `hyperparameters` are passed to it as
keyword arguments. A lab's `LambdaLR(optimizer, lambda epoch: ...)` becomes

    @schedule
    def decay(progress: float, rate: float = 0.5) -> float:
        return rate ** (10 * progress)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from pydantic import ConfigDict

from trainables.import_path import declared_object, is_import_path
from trainables.lr.errors import Problem, TunerError
from trainables.lr.schedules.base import Clock, Schedule, ScheduleContext, ScheduleEntry
from trainables.lr.schedules.base import ScheduleParams as _Params


class UserParams(_Params):
    """Any keyword arguments of the user's function."""

    model_config = ConfigDict(extra="allow", frozen=True)


class UserSchedule(Schedule):
    """`function(progress, **hyperparameters)` at every epoch's start."""

    def __init__(self, name: str, function: Callable[..., Any], hyper: dict[str, Any]) -> None:
        self.name, self.function, self.hyper = name, function, hyper

    def factor(self, clock: Clock) -> float:
        value = self.function(clock.epoch / clock.n_epochs, **self.hyper)
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number) or number < 0:
            raise TunerError(
                f"schedule {self.name!r} returned {value!r} at epoch {clock.epoch}: "
                "it must return a finite multiplier >= 0"
            )
        return number


def user_problem(name: str, path: str) -> Problem | None:
    """Why `name` (an import path) is no usable schedule, or None; a standard-library module is
    refused before anything is imported (`trainables.import_path`)."""
    problems = declared_object(name, "schedule", path)[1]
    return problems[0] if problems else None


def user_entry(name: str) -> ScheduleEntry | None:
    """A schedule entry for the declared function at `name` (None when it is not one)."""
    if not is_import_path(name):
        return None
    function, problems = declared_object(name, "schedule", "")
    if problems:
        return None

    def build(params: UserParams, context: ScheduleContext) -> Schedule:
        return UserSchedule(name, function, dict(params.model_extra or {}))

    return ScheduleEntry(name, UserParams, build, "epoch", f"the user's schedule {name}")
