"""The benchmark functions of `benchmarks.mf_functions` as trainables whose epochs are fidelities.

A config names the function (`function`), its point (`x0`, `x1`, ... in [0, 1]) and
`n_epochs`; epoch e reports `loss = curve_value(function, x, e, n_epochs)`. `epoch_seconds`
(default 0) sleeps that long per epoch, to stand for training time. The same loop runs under Ray
(`mf_trainable`, named in a space file as `benchmarks.mf_trainable:mf_trainable`) and plainly
(`run_curve`, for Optuna alone), so every method sees the very same values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from benchmarks.mf_functions import FUNCTIONS, curve_value
from trainables.declare import trainable
from trainables.lr.errors import Problem, suggest


def point(config: Mapping[str, Any]) -> list[float]:
    """The point `x0`, `x1`, ... of a config, in order."""
    return [float(config[f"x{i}"]) for i in range(FUNCTIONS[config["function"]].dims)]


def mf_config_problems(config: Mapping[str, Any]) -> list[Problem]:
    """An unknown function, a missing coordinate or one outside [0, 1]."""
    name = config.get("function")
    if name not in FUNCTIONS:
        message = f"{name!r} is not a benchmark function"
        return [Problem("function", message, suggest(str(name), FUNCTIONS))]
    problems = []
    for i in range(FUNCTIONS[name].dims):
        value = config.get(f"x{i}")
        if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
            message = f"is {value!r}, but must be in [0, 1]"
            problems.append(Problem(f"x{i}", message, "search it in [0, 1]"))
    return problems


def run_curve(config: Mapping[str, Any], report: Callable[[int, float], bool]) -> float:
    """Report every epoch's value to `report(epoch, value)` until it answers True (stop)."""
    x, name, n_epochs = point(config), config["function"], int(config["n_epochs"])
    pause = float(config.get("epoch_seconds", 0.0))
    value = float("nan")
    for epoch in range(1, n_epochs + 1):
        if pause:
            time.sleep(pause)
        value = curve_value(name, x, epoch, n_epochs)
        if report(epoch, value):
            break
    return value


@trainable(groups=(), config_problems=mf_config_problems)
def mf_trainable(config: dict[str, Any]) -> None:
    """Ray Tune function trainable: one `loss` report per epoch."""
    from ray import tune

    def report(epoch: int, value: float) -> bool:
        tune.report({"loss": value, "epoch": epoch})
        return False

    run_curve(config, report)
