"""A choice among named things, each with its own conditional hyperparameters.

```yaml
choice:                             # one of several
  MultiStepLR: {gamma: {log_uniform: [0.05, 0.5]}, milestones: [0.5, 0.8]}
  ExponentialLR: {gamma: {uniform: [0.9, 0.99]}}
  ReduceLROnPlateau: null           # its defaults
name: ExponentialLR                 # or one, its hyperparameters searched
hyperparameters: {gamma: {uniform: [0.9, 0.99]}}
```

Define-by-run: `<key>/name` is sampled first (only when there is a choice), then only the chosen
one's hyperparameters, as `<key>/<name>/<hyperparameter>` (a list item by item:
`<key>/<name>/betas/0`). The output is `{name, hyperparameters}`. Names are checked against what
the caller passes in (a registry of schedules or of optimizers).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

import optuna
from pydantic import BaseModel, ConfigDict, model_validator

from search_spaces.distributions import HyperDef, suggest_hyper
from trainables.lr.errors import Problem, join_path, suggest


class NamedChoiceDef(BaseModel):
    """Either `choice: {name: {hyperparameter: value-or-distribution}}` or one `name`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    #: what a name names, for messages
    what: ClassVar[str] = "option"

    choice: dict[str, dict[str, HyperDef] | None] | None = None
    name: str | None = None
    hyperparameters: dict[str, HyperDef] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> NamedChoiceDef:
        if (self.choice is None) == (self.name is None):
            raise ValueError(f"must give either 'choice' (several {self.what}s) or 'name' (one)")
        if self.choice is not None and self.hyperparameters is not None:
            raise ValueError(f"'hyperparameters' goes under each {self.what} of 'choice'")
        if self.choice is not None and not self.choice:
            raise ValueError(f"'choice' must name at least one {self.what}")
        return self

    @property
    def options(self) -> dict[str, dict[str, Any]]:
        """Name -> its hyperparameter declarations, in the order written."""
        if self.choice is None:
            return {str(self.name): dict(self.hyperparameters or {})}
        return {name: dict(hyper or {}) for name, hyper in self.choice.items()}


def define_named(trial: optuna.Trial, spec: NamedChoiceDef, key: str) -> dict[str, Any]:
    """Sample `{name, hyperparameters}` under the Optuna names `key/...`; only the chosen
    one's hyperparameters are sampled.

    E.g. with `choice: {StepLR: {step_size: {int: [2, 8]}}, ExponentialLR: {gamma: 0.9}}` and
    trial parameters `lr_scheduling/name = "StepLR"`, `lr_scheduling/StepLR/step_size = 4`:
    `{"name": "StepLR", "hyperparameters": {"step_size": 4}}`.
    """
    options = spec.options
    names = list(options)
    name = names[0] if len(names) == 1 else trial.suggest_categorical(f"{key}/name", names)
    hyper = {hp: suggest_hyper(d, trial, f"{key}/{name}/{hp}") for hp, d in options[name].items()}
    return {"name": name, "hyperparameters": hyper}


def named_problems(
    spec: NamedChoiceDef,
    known: Mapping[str, Collection[str] | None],
    path: str,
    what: str,
    aliases: Collection[str] = (),
) -> list[Problem]:
    """Unknown names and hyperparameter names, each with the nearest valid one.

    `known` maps every name (aliases included) to its hyperparameter names, or to None when
    those are not to be checked here; names in `aliases` are accepted but not listed. `what`
    says what a name names ("schedule", "optimizer").
    """
    listed = [name for name in known if name not in set(aliases)]
    problems = []
    for name, hyper in spec.options.items():
        if spec.choice is None:
            name_path, base = join_path(path, "name"), join_path(path, "hyperparameters")
        else:
            name_path = base = join_path(path, "choice", name)
        if name not in known:
            message = f"{name!r} is not a known {what}"
            problems.append(Problem(name_path, message, suggest(name, listed)))
            continue
        allowed = known[name]
        for key in hyper:
            if allowed is not None and key not in allowed:
                message = f"is not a hyperparameter of {name}"
                problems.append(Problem(join_path(base, key), message, suggest(key, allowed)))
    return problems
