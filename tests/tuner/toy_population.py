"""A toy trainable with population support, for `population: K` sweeps.

Each member reports `tests.tuner.toy.score(x, epoch)` = `(x - 0.3) ** 2 + 1 / epoch` every
epoch. A member with `x > nan_above` diverges at epoch 2: the population function drops it and
reports it once as `{"epoch": 2, "failed": reason}` (the protocol of `trainables.population`);
the unfused `trainable` reports NaN instead, as the plain toy does.
"""

from __future__ import annotations

import math
from typing import Any

from ray import tune

from tests.tuner.toy import score
from trainables.declare import trainable as declare_trainable


def _diverges(config: dict[str, Any], epoch: int) -> bool:
    return epoch >= 2 and float(config["x"]) > float(config.get("nan_above", math.inf))


@declare_trainable
def trainable(config: dict[str, Any]) -> None:
    """One config alone: `score` every epoch, NaN once it diverges."""
    x = float(config["x"])
    for epoch in range(1, int(config["n_epochs"]) + 1):
        value = math.nan if _diverges(config, epoch) else score(x, epoch)
        tune.report({"score": value, "epoch": epoch})


def train_population(configs: list[dict[str, Any]], reporter: Any) -> None:
    """All `configs` at once: one `reporter.report` per epoch for the members still active."""
    active = set(range(len(configs)))
    n_epochs = int(configs[0]["n_epochs"])
    for epoch in range(1, n_epochs + 1):
        if not active:
            return
        reports: dict[int, dict[str, Any]] = {}
        for index in sorted(active):
            config = configs[index]
            if _diverges(config, epoch):
                reports[index] = {"epoch": epoch, "failed": f"loss is nan (x={config['x']:.3f})"}
            else:
                reports[index] = {"score": score(float(config["x"]), epoch), "epoch": epoch}
        active -= {i for i, r in reports.items() if "failed" in r}
        active -= set(reporter.report(reports) or ())


trainable.population = train_population
