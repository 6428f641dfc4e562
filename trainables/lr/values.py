"""Value schedules: the schedule registry driving a named scalar that is not a learning rate.

A value config is a plain number (constant) or `{initial: 0.3, name: ..., hyperparameters: ...}`:
the value is `initial` x the schedule's multiplier, e.g. the teacher-forcing alpha from 0.3 to
0.03 over the run:

    alpha = build_value_schedule(
        {"initial": 0.3, "name": "ExponentialLR",
         "hyperparameters": {"initial": 0.3, "final": 0.03}},
        n_epochs=100,
    )
    alpha.value(Clock(epoch=10, n_epochs=100))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from trainables.lr.errors import ConfigError, Problem, join_path
from trainables.lr.schedules.base import Clock, Schedule, ScheduleContext, Unit
from trainables.lr.schedules.registry import build_schedule, schedule_problems

_KEYS = ("initial", "name", "hyperparameters")


class ValueSchedule:
    """`initial` x a schedule's multiplier; forwards `observe` and the state of stateful rules."""

    def __init__(self, initial: float, schedule: Schedule) -> None:
        self.initial = initial
        self.schedule = schedule

    @property
    def unit(self) -> Unit:
        return self.schedule.unit

    def value(self, clock: Clock) -> float:
        return self.initial * self.schedule.factor(clock)

    def observe(self, metrics: Mapping[str, float]) -> None:
        self.schedule.observe(metrics)

    def state_dict(self) -> dict[str, Any]:
        return self.schedule.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.schedule.load_state_dict(state)


def _number(value: Any) -> float | None:
    """A finite real number (bools excluded; YAML's unparsed '1e-3' accepted), else None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def value_schedule_problems(config: Any, path: str = "value") -> list[Problem]:
    """Every problem of a value config (a number, or initial + schedule), with dotted paths."""
    if not isinstance(config, Mapping):
        if _number(config) is not None:
            return []
        return [
            Problem(
                path,
                f"is {config!r}, but must be a number or a mapping",
                "write e.g. 0.3, or {initial: 0.3, name: ExponentialLR, hyperparameters: {...}}",
            )
        ]
    problems = [
        Problem(join_path(path, key), "is not a known key", f"use only {', '.join(_KEYS)}")
        for key in config
        if key not in _KEYS
    ]
    if "initial" not in config:
        problems.append(Problem(join_path(path, "initial"), "is required but missing", "add it"))
    elif _number(config["initial"]) is None:
        problems.append(
            Problem(
                join_path(path, "initial"),
                f"is {config['initial']!r}, but must be a finite number",
                "e.g. initial: 0.3",
            )
        )
    schedule = {k: v for k, v in config.items() if k in ("name", "hyperparameters")}
    return problems + schedule_problems(schedule, path)


def build_value_schedule(
    config: Any, n_epochs: int, steps_per_epoch: int | None = None, *, path: str = "value"
) -> ValueSchedule:
    """A `ValueSchedule` from a number or a config; raises `ConfigError` with every problem."""
    problems = value_schedule_problems(config, path)
    if problems:
        raise ConfigError(problems)
    if not isinstance(config, Mapping):
        config = {"initial": config, "name": "Constant"}
    schedule_config = {k: v for k, v in config.items() if k in ("name", "hyperparameters")}
    context = ScheduleContext(n_epochs=n_epochs, steps_per_epoch=steps_per_epoch)
    try:
        schedule = build_schedule(schedule_config, context)
    except ConfigError as error:
        raise error.with_source(error.source, path) from None
    initial = _number(config["initial"])
    assert initial is not None  # checked above
    return ValueSchedule(initial, schedule)
