"""Every group's lr for every epoch of a spec, without a model or training: a table to plot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainables.lr.schedules.base import Clock, ScheduleContext
from trainables.lr.spec import LRSpec

if TYPE_CHECKING:
    import pandas as pd


def preview_lrs(
    spec: LRSpec, n_epochs: int, steps_per_epoch: int | None = None, epochs: int | None = None
) -> pd.DataFrame:
    """One row per epoch (index `epoch`), one column per group: the lr at the epoch's start.

    The budget `n_epochs` drives the schedules; `epochs` rows are shown (default all of them).
    Frozen epochs show 0; stateful rules (plateau) see no metrics, so they show no reduction.

    >>> preview_lrs(LRSpec.from_config({"learning_rate": 1e-3}), n_epochs=10).loc[0, "dsr.subjects"]
    0.01
    """
    import pandas as pd

    schedules = spec.build_schedules(ScheduleContext(n_epochs, steps_per_epoch))
    rows = []
    for epoch in range(n_epochs if epochs is None else epochs):
        clock = Clock(epoch, epoch * (steps_per_epoch or 0), n_epochs, steps_per_epoch)
        rows.append(
            [g.lr * g.freeze.gate(epoch) * schedules[g.name].factor(clock) for g in spec.groups]
        )
    frame = pd.DataFrame(rows, columns=list(spec.group_names), index=pd.RangeIndex(len(rows)))
    frame.index.name = "epoch"
    return frame
