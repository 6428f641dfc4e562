"""The `lr_scheduling` search: a choice of schedules, each with its own conditional hyperparameters.

```yaml
lr_scheduling:                      # one of several schedules
  choice:
    MultiStepLR: {gamma: {log_uniform: [0.05, 0.5]}, milestones: [0.5, 0.8]}
    ExponentialLR: {gamma: {uniform: [0.9, 0.99]}}
    ReduceLROnPlateau: null         # its defaults
lr_scheduling:                      # or one schedule, its hyperparameters searched
  name: ExponentialLR
  hyperparameters: {gamma: {uniform: [0.9, 0.99]}}
```

Define-by-run: `lr_scheduling/name` is sampled first (only when there is a choice), then only the
chosen schedule's hyperparameters, as `lr_scheduling/<name>/<hyperparameter>`. The output is the
seed's `{name, hyperparameters}`. Names are checked against the schedule registry the caller
passes in, so schedules registered later are searchable with no change here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

import optuna

from search_spaces.named_choice import NamedChoiceDef, define_named, named_problems
from trainables.lr.errors import Problem


class SchedulingDef(NamedChoiceDef):
    """Either `choice: {name: {hyperparameter: value-or-distribution}}` or one `name`."""

    what: ClassVar[str] = "schedule"


def define_lr_scheduling(trial: optuna.Trial, spec: SchedulingDef) -> dict[str, Any]:
    """Sample `lr_scheduling` as `{name, hyperparameters}`; only the chosen one's are sampled.

    E.g. with `choice: {StepLR: {step_size: {int: [2, 8]}}, ExponentialLR: {gamma: 0.9}}` and
    trial parameters `lr_scheduling/name = "StepLR"`, `lr_scheduling/StepLR/step_size = 4`:
    `{"name": "StepLR", "hyperparameters": {"step_size": 4}}`.
    """
    return define_named(trial, spec, "lr_scheduling")


def scheduling_problems(
    spec: SchedulingDef,
    known: Mapping[str, Collection[str] | None],
    path: str = "search.lr_scheduling",
    aliases: Collection[str] = (),
) -> list[Problem]:
    """Unknown schedule names and hyperparameter names, each with the nearest valid one.

    `known` maps every schedule name (aliases included) to its hyperparameter names, or to None
    when those are not to be checked here; names in `aliases` are accepted but not listed.
    """
    return named_problems(spec, known, path, "schedule", aliases)
