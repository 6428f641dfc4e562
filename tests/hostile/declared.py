"""Callables for the hostile corpus: a declared trainable whose module imports no Ray (so a run
that imported Ray shows), and callables declared as other kinds, or not at all."""

from __future__ import annotations

from typing import Any

from trainables.declare import groups, schedule, trainable

CONSTANT = 3


@trainable
def train(config: dict[str, Any]) -> None:
    """Reports `(x - 0.3) ** 2 + 1 / epoch` every epoch (Ray Tune imported when it runs)."""
    from ray import tune

    for epoch in range(1, int(config["n_epochs"]) + 1):
        tune.report({"score": (float(config["x"]) - 0.3) ** 2 + 1.0 / epoch})


def plain(config: dict[str, Any]) -> None:
    """A function like a trainable, but not declared one."""


@schedule
def constant(progress: float) -> float:
    """A schedule: the same multiplier all along."""
    return 1.0


@groups
def layers(model: Any) -> dict[str, list[Any]]:
    """A parameter-group function: every parameter in one group."""
    return {"all": list(model.parameters())}


class Model:
    """A class, not a function."""
