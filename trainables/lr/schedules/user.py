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

import importlib
import math
import re
from collections.abc import Callable
from typing import Any

from pydantic import ConfigDict

from trainables.declare import declared_kind
from trainables.lr.errors import Problem, TunerError
from trainables.lr.schedules.base import Clock, Schedule, ScheduleContext, ScheduleEntry
from trainables.lr.schedules.base import ScheduleParams as _Params

IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


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
    """Why `name` (an import path) is no usable schedule, or None."""
    module_name, function_name = name.split(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name, None)
    except ImportError as error:
        return Problem(path, f"{name!r}: module {module_name!r} cannot be imported ({error})")
    if not callable(function):
        return Problem(path, f"{name!r}: {module_name} has no function {function_name!r}")
    if declared_kind(function) != "schedule":
        fix = "decorate it with @schedule from trainables.declare"
        return Problem(path, f"{name!r} is not declared as a schedule", fix)
    return None


def user_entry(name: str) -> ScheduleEntry | None:
    """A schedule entry for the declared function at `name` (None when it is not one)."""
    if not IMPORT_PATH.match(name) or user_problem(name, "") is not None:
        return None
    module_name, function_name = name.split(":")
    function = getattr(importlib.import_module(module_name), function_name)

    def build(params: UserParams, context: ScheduleContext) -> Schedule:
        return UserSchedule(name, function, dict(params.model_extra or {}))

    return ScheduleEntry(name, UserParams, build, "epoch", f"the user's schedule {name}")
