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
from typing import Any

import optuna
from pydantic import BaseModel, ConfigDict, model_validator

from search_spaces.distributions import ValueDef
from trainables.lr.errors import Problem, join_path, suggest


class SchedulingDef(BaseModel):
    """Either `choice: {name: {hyperparameter: value-or-distribution}}` or one `name`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    choice: dict[str, dict[str, ValueDef] | None] | None = None
    name: str | None = None
    hyperparameters: dict[str, ValueDef] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> SchedulingDef:
        if (self.choice is None) == (self.name is None):
            raise ValueError("must give either 'choice' (several schedules) or 'name' (one)")
        if self.choice is not None and self.hyperparameters is not None:
            raise ValueError("'hyperparameters' goes under each schedule of 'choice'")
        if self.choice is not None and not self.choice:
            raise ValueError("'choice' must name at least one schedule")
        return self

    @property
    def options(self) -> dict[str, dict[str, Any]]:
        """Schedule name -> its hyperparameter declarations, in the order written."""
        if self.choice is None:
            return {str(self.name): dict(self.hyperparameters or {})}
        return {name: dict(hyper or {}) for name, hyper in self.choice.items()}


def define_lr_scheduling(trial: optuna.Trial, spec: SchedulingDef) -> dict[str, Any]:
    """Sample `lr_scheduling` as `{name, hyperparameters}`; only the chosen one's are sampled.

    E.g. with `choice: {StepLR: {step_size: {int: [2, 8]}}, ExponentialLR: {gamma: 0.9}}` and
    trial parameters `lr_scheduling/name = "StepLR"`, `lr_scheduling/StepLR/step_size = 4`:
    `{"name": "StepLR", "hyperparameters": {"step_size": 4}}`.
    """
    options = spec.options
    names = list(options)
    name = names[0] if len(names) == 1 else trial.suggest_categorical("lr_scheduling/name", names)
    hyper = {
        key: dist.suggest(trial, f"lr_scheduling/{name}/{key}")
        for key, dist in options[name].items()
    }
    return {"name": name, "hyperparameters": hyper}


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
    listed = [name for name in known if name not in set(aliases)]
    problems = []
    for name, hyper in spec.options.items():
        if spec.choice is None:
            name_path, base = join_path(path, "name"), join_path(path, "hyperparameters")
        else:
            name_path = base = join_path(path, "choice", name)
        if name not in known:
            message = f"{name!r} is not a known schedule"
            problems.append(Problem(name_path, message, suggest(name, listed)))
            continue
        allowed = known[name]
        for key in hyper:
            if allowed is not None and key not in allowed:
                message = f"is not a hyperparameter of {name}"
                problems.append(Problem(join_path(base, key), message, suggest(key, allowed)))
    return problems
