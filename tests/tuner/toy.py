"""Cheap deterministic trainables for tuner tests: each epoch's value is a closed form.

`score(x, epoch) = (x - 0.3) ** 2 + 1 / epoch`: lower for x near 0.3, improving every epoch, so
ASHA has something to rank and every reported value can be recomputed exactly by a test. With
`rising: true` the curve is `(x - 0.3) ** 2 + 0.1 * epoch` instead: a trial stopped early then
holds a *lower* truncated value than any full run, the case where telling Optuna "COMPLETE" for
stopped trials makes `study.best_trial` a killed trial.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

import ray
from ray import tune

from trainables.declare import trainable as declare_trainable


def score(x: float, epoch: int, rising: bool = False) -> float:
    """The value a toy trial reports at `epoch` (1-based)."""
    return (x - 0.3) ** 2 + (0.1 * epoch if rising else 1.0 / epoch)


@declare_trainable
def trainable(config: dict[str, Any]) -> None:
    """Reports `score` every epoch; NaN from epoch 2 when x > `nan_above`; raises when x <
    `raise_below` at epoch 2. Also reports the node id and pid that ran it. With `epoch_log` (a
    folder), appends each epoch's number to `<trial id>.txt` there as the epoch starts."""
    x = float(config["x"])
    rising = bool(config.get("rising", False))
    node = ray.get_runtime_context().get_node_id()
    log = config.get("epoch_log")
    for epoch in range(1, int(config["n_epochs"]) + 1):
        if log:
            with open(os.path.join(log, f"{tune.get_context().get_trial_id()}.txt"), "a") as f:
                f.write(f"{epoch}\n")
        time.sleep(float(config.get("sleep", 0.0)))
        if epoch >= 2 and x < float(config.get("raise_below", -math.inf)):
            raise RuntimeError(f"toy trainable fails on purpose (x={x})")
        value = (
            math.nan
            if epoch >= 2 and x > float(config.get("nan_above", math.inf))
            else score(x, epoch, rising)
        )
        tune.report({"score": value, "epoch": epoch, "node_id": node, "pid": os.getpid()})
