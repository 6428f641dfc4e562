"""The whole `search:` block of a space file and the define-by-run function that samples it.

```yaml
search:
  learning_rate: {lr: {log_uniform: [1.0e-3, 3.0e-2]}, multipliers: {...}, freeze_after: {...}}
  dsr_subject_multiplier: {log_uniform: [1.0, 30.0]}
  lr_scheduling: {choice: {MultiStepLR: {...}, ExponentialLR: {...}}}
  optimizer: {choice: {Adam: {eps: {...}}, SGD: {momentum: {...}}}}
  settings:                         # any other trainable setting, passed through
    hidden_dim: {choice: [8, 16, 32]}
    alpha: {uniform: [0.05, 0.3]}
    batch_size: {int: [8, 64], log: true}
```

`define_search(trial, search, n_epochs=..., group_names=...)` returns the sampled part of a
trainable config: `learning_rate`, `lr_scheduling` and `optimizer` in the seed format,
`dsr_subject_multiplier` where the number form uses it, and every setting under its own key
(Optuna name = the key).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import optuna
from pydantic import BaseModel, ConfigDict

from search_spaces.distributions import PositiveDef, ValueDef
from search_spaces.learning_rate import (
    DSR_SUBJECTS,
    LearningRateDef,
    define_learning_rate,
    learning_rate_problems,
)
from search_spaces.optimizer import OptimizerDef, define_optimizer, optimizer_problems
from search_spaces.scheduling import SchedulingDef, define_lr_scheduling, scheduling_problems
from trainables.lr.errors import Problem, join_path

#: keys the LR part of a config owns; a setting may not use them
LR_KEYS = ("learning_rate", "dsr_subject_multiplier", "lr_scheduling", "optimizer")


class SearchDef(BaseModel):
    """Every declaration of the `search:` block; all parts optional."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: LearningRateDef | None = None
    dsr_subject_multiplier: PositiveDef | None = None
    lr_scheduling: SchedulingDef | None = None
    optimizer: OptimizerDef | None = None
    settings: dict[str, ValueDef] = {}

    def output_keys(self) -> set[str]:
        """The config keys a sample of this block sets."""
        keys = set(self.settings)
        keys |= {"learning_rate"} if self.learning_rate is not None else set()
        keys |= {"lr_scheduling"} if self.lr_scheduling is not None else set()
        keys |= {"optimizer"} if self.optimizer is not None else set()
        if self.dsr_subject_multiplier is not None and (
            self.learning_rate is None or self.learning_rate.is_number_form
        ):
            keys.add("dsr_subject_multiplier")
        return keys


def define_search(
    trial: optuna.Trial, spec: SearchDef, *, n_epochs: int, group_names: Sequence[str]
) -> dict[str, Any]:
    """Sample the `search:` block: the LR part in seed format, then the settings.

    `group_names` are the trainable's parameter groups (`component.level`); the mapping form
    of `learning_rate` gives each of them an explicit lr. `n_epochs` turns fractional
    `freeze_after` values into epochs.
    """
    out: dict[str, Any] = {}
    mult = None
    if spec.dsr_subject_multiplier is not None:
        mult = spec.dsr_subject_multiplier.suggest(trial, "dsr_subject_multiplier")
    if spec.learning_rate is not None:
        out.update(
            define_learning_rate(
                trial,
                spec.learning_rate,
                n_epochs=n_epochs,
                group_names=group_names,
                dsr_subject_multiplier=mult,
            )
        )
    elif mult is not None:
        out["dsr_subject_multiplier"] = mult
    if spec.lr_scheduling is not None:
        out["lr_scheduling"] = define_lr_scheduling(trial, spec.lr_scheduling)
    if spec.optimizer is not None:
        out["optimizer"] = define_optimizer(trial, spec.optimizer)
    for key, dist in spec.settings.items():
        out[key] = dist.suggest(trial, key)
    return out


def search_problems(
    spec: SearchDef,
    *,
    group_names: Sequence[str],
    schedules: Mapping[str, Collection[str] | None],
    schedule_aliases: Collection[str] = (),
    optimizers: Mapping[str, Collection[str]] | None = None,
    path: str = "search",
) -> list[Problem]:
    """What only the trainable and the registries can tell: names that match nothing.

    `schedules` maps schedule names (aliases included) to their hyperparameter names,
    `optimizers` optimizer names to theirs (None: not checked here).
    """
    problems = []
    if spec.learning_rate is not None:
        problems += learning_rate_problems(
            spec.learning_rate, group_names, join_path(path, "learning_rate")
        )
    if spec.dsr_subject_multiplier is not None and DSR_SUBJECTS not in group_names:
        problems.append(
            Problem(
                join_path(path, "dsr_subject_multiplier"),
                f"the trainable has no {DSR_SUBJECTS!r} group to scale",
                "remove it, or use learning_rate.multipliers for this trainable's groups",
            )
        )
    if spec.lr_scheduling is not None:
        problems += scheduling_problems(
            spec.lr_scheduling, schedules, join_path(path, "lr_scheduling"), schedule_aliases
        )
    if spec.optimizer is not None and optimizers is not None:
        problems += optimizer_problems(spec.optimizer, optimizers, join_path(path, "optimizer"))
    for key in spec.settings:
        if key in LR_KEYS:
            problems.append(
                Problem(
                    join_path(path, "settings", key),
                    f"{key!r} is part of the LR search, not a setting",
                    f"declare it as search.{key}",
                )
            )
    return problems
