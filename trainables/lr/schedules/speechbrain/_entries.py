"""Registry entries of the SpeechBrain family: descriptions, aliases and the watched metric."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import Field

from trainables.lr.errors import TunerError
from trainables.lr.schedules._curve import FunctionCurve, check_steps_known
from trainables.lr.schedules.base import Schedule, ScheduleContext, ScheduleEntry, ScheduleParams

Steps = Field(ge=1)
_AS_RATIOS = ", values as multiples of each group's lr"


def watched(metrics: Mapping[str, float], name: str, schedule: str) -> float:
    """The metric a stateful rule watches, or an error naming the metrics the epoch reported."""
    value = metrics.get(name)
    if value is None:
        known = sorted(k for k, v in metrics.items() if v is not None)
        raise TunerError(
            f"{schedule} watches '{name}', but the epoch reported only {known}: report it, "
            "or set the schedule's `metric` to one of those"
        )
    return float(value)


def epoch_entry(
    name: str,
    params: type[ScheduleParams],
    build: Callable[[Any], Schedule],
    sb_name: str,
    description: str,
) -> ScheduleEntry:
    """An epoch-wise entry, aliased by SpeechBrain's class name."""
    text = f"{description} (SpeechBrain's {sb_name}{_AS_RATIOS}; per epoch)"
    # the seed's torch-style ReduceLROnPlateau owns that name; SpeechBrain's gets a prefixed alias
    alias = f"SpeechBrain{sb_name}" if sb_name == "ReduceLROnPlateau" else sb_name
    return ScheduleEntry(name, params, lambda p, ctx: build(p), "epoch", text, aliases=(alias,))


def step_entry(
    name: str,
    sb_name: str,
    params: type[ScheduleParams],
    make: Callable[[Any], Callable[[int, int | None], float]],
    description: str,
    total_field: str | None = None,
) -> ScheduleEntry:
    """A step-wise entry of `make(params)(n, total steps)`, aliased by SpeechBrain's class name.

    `total_field` names the hyperparameter giving the length in steps; left out, the run's steps
    are used, so `steps_per_epoch` must be known when the schedule is built.
    """

    def build(p: Any, ctx: ScheduleContext) -> Schedule:
        if total_field is not None and getattr(p, total_field) is None:
            check_steps_known("step", ctx, name)
        return FunctionCurve(name, "step", make, p)

    text = f"{description} (SpeechBrain's {sb_name}{_AS_RATIOS}; per step)"
    return ScheduleEntry(name, params, build, "step", text, aliases=(sb_name,))
