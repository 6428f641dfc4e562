"""A checkpointing toy trainable for reliability tests: each epoch's value is a closed form.

Reports `score(x, epoch)` of `tests.tuner.toy` every epoch, saves a checkpoint (`{"epoch": e}`
through `trainables.reporting.RayReporter`, read back with `weights_only=True`) every
`checkpoint_every` epochs and resumes after the last one. Every attempt appends the epoch it
starts at to `<attempts_dir>/<x>.txt`, so a test sees how often and from where a trial ran.
Failure knobs (all from epoch 2): `raise_below` raises a RuntimeError, `diverge_above` raises
`TrainingDiverged`, `nan_above` reports NaN; `raise_if_exists` (a path) raises a RuntimeError at
any epoch while that file exists (a fault a test switches on between a crash and a resume).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import ray

from tests.tuner.toy import score
from trainables.declare import trainable as declare_trainable
from trainables.reporting import RayReporter, TrainingDiverged


@declare_trainable
def trainable(config: dict[str, Any]) -> None:
    """The toy sweep's trial: sleeps `sleep` s per epoch, checkpoints, fails on request."""
    x = float(config["x"])
    reporter = RayReporter()
    state = reporter.load_checkpoint()
    start = int(state["epoch"]) + 1 if state else 1
    if config.get("attempts_dir"):
        with open(Path(config["attempts_dir"]) / f"{x!r}.txt", "a") as log:
            log.write(f"{start}\n")
    node = ray.get_runtime_context().get_node_id()
    every = int(config.get("checkpoint_every") or 1)
    for epoch in range(start, int(config["n_epochs"]) + 1):
        time.sleep(float(config.get("sleep", 0.0)))
        if config.get("raise_if_exists") and os.path.exists(config["raise_if_exists"]):
            raise RuntimeError(f"toy trainable fails on purpose ({config['raise_if_exists']})")
        if epoch >= 2 and x < float(config.get("raise_below", -math.inf)):
            raise RuntimeError(f"toy trainable fails on purpose (x={x})")
        if epoch >= 2 and x > float(config.get("diverge_above", math.inf)):
            raise TrainingDiverged(f"loss is nan at epoch {epoch}")
        value = (
            math.nan if epoch >= 2 and x > config.get("nan_above", math.inf) else score(x, epoch)
        )
        metrics = {"score": value, "epoch": epoch, "start": start, "node_id": node}
        metrics["pid"] = os.getpid()
        checkpoint = {"epoch": epoch} if epoch % every == 0 else None
        reporter.report(metrics, checkpoint)
