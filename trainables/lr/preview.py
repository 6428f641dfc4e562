"""Every group's lr over a run, without a model or training: a table to print or plot.

`preview_lrs` gives one row per epoch (index `epoch`), or with `per_step` one row per optimizer
step (index `step`, an `epoch` column first): the lr in force for that epoch or step, which is
what `LRPlan.lrs()` reports at that point of a real run, since both use `group_factors`. Only
group names are needed (`preview_config`), never a model. Stateful rules (plateau, NewBob) see no
metrics here, so they show no reduction. `frame.attrs["frozen"]` lists each group's frozen
epochs (for the plot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from trainables.lr.errors import ConfigError, Problem
from trainables.lr.schedules.base import Clock, Schedule, ScheduleContext
from trainables.lr.spec import LRSpec

if TYPE_CHECKING:
    import pandas as pd


def group_factors(
    spec: LRSpec, schedules: Mapping[str, Schedule], clock: Clock
) -> dict[str, float]:
    """Each group's multiplier of its base lr at `clock`: its schedule's, 0 while frozen."""
    epoch = clock.epoch
    return {
        g.name: 0.0 if g.freeze.frozen(epoch) else schedules[g.name].factor(clock)
        for g in spec.groups
    }


def step_wise_groups(spec: LRSpec, schedules: Mapping[str, Schedule]) -> dict[str, str]:
    """The groups whose schedule moves per optimizer step, with that schedule's name."""
    return {
        g.name: str((g.schedule or spec.schedule)["name"])
        for g in spec.groups
        if schedules[g.name].unit == "step"
    }


def _check_steps(
    spec: LRSpec, schedules: Mapping[str, Schedule], steps_per_epoch: int | None, per_step: bool
) -> None:
    if steps_per_epoch is not None:
        return
    stepping = step_wise_groups(spec, schedules)
    if stepping:
        which = ", ".join(f"{group} ({name})" for group, name in stepping.items())
        raise ConfigError(
            [
                Problem(
                    "steps_per_epoch",
                    f"is not given, but the schedules of {which} move per optimizer step",
                    "give steps_per_epoch (the loop's batches per epoch)",
                )
            ]
        )
    if per_step:
        raise ConfigError(
            [Problem("steps_per_epoch", "is not given, but a per-step preview needs it")]
        )


def preview_lrs(
    spec: LRSpec,
    n_epochs: int,
    steps_per_epoch: int | None = None,
    epochs: int | None = None,
    *,
    per_step: bool | None = False,
) -> pd.DataFrame:
    """Every group's lr (one column each) at every epoch, or every step with `per_step`.

    The budget `n_epochs` drives the schedules; the first `epochs` epochs are shown (default
    all). `per_step=None` picks per-step rows when `steps_per_epoch` is given and a group's
    schedule moves per optimizer step. Frozen stretches show 0. A step-wise schedule without
    `steps_per_epoch` is a `ConfigError` (its preview would mean nothing).

    >>> frame = preview_lrs(LRSpec.from_config({"learning_rate": 1e-3}), n_epochs=10)
    >>> float(frame.loc[0, "dsr.subjects"])
    0.01
    """
    import pandas as pd

    schedules = spec.build_schedules(ScheduleContext(n_epochs, steps_per_epoch))
    if per_step is None:
        per_step = steps_per_epoch is not None and bool(step_wise_groups(spec, schedules))
    _check_steps(spec, schedules, steps_per_epoch, per_step)
    shown = n_epochs if epochs is None else epochs
    spe = steps_per_epoch or 0
    if per_step:
        clocks = [Clock(s // spe, s, n_epochs, spe) for s in range(shown * spe)]
    else:
        clocks = [Clock(e, e * spe, n_epochs, steps_per_epoch) for e in range(shown)]
    names = list(spec.group_names)
    rows = []
    for clock in clocks:
        factors = group_factors(spec, schedules, clock)
        rows.append([g.lr * factors[g.name] for g in spec.groups])
    frame = pd.DataFrame(rows, columns=names, index=pd.RangeIndex(len(rows)))
    if per_step:
        frame.insert(0, "epoch", [c.epoch for c in clocks])
    frame.index.name = "step" if per_step else "epoch"
    frozen = {g.name: [e for e in range(shown) if g.freeze.frozen(e)] for g in spec.groups}
    frame.attrs["frozen"] = {name: epochs for name, epochs in frozen.items() if epochs}
    return frame


def preview_config(
    config: Mapping[str, Any],
    n_epochs: int,
    steps_per_epoch: int | None = None,
    *,
    group_names: Sequence[str] | None = None,
    per_step: bool | None = None,
    epochs: int | None = None,
) -> pd.DataFrame:
    """`preview_lrs` of a config in the seed format, from group names alone (no model).

    Groups: `group_names`, else the config's `groups:` keys, else the seed's DSR groups. Per-step
    rows when `steps_per_epoch` is given and a schedule moves per step (`per_step=None`).

    >>> noam = {"name": "Noam", "hyperparameters": {"n_warmup_steps": 4}}
    >>> preview_config({"lr_scheduling": noam}, n_epochs=2, steps_per_epoch=4).shape
    (8, 6)
    """
    spec = LRSpec.from_config(config, group_names)
    return preview_lrs(spec, n_epochs, steps_per_epoch, epochs, per_step=per_step)
