"""The `optimizer` search: a choice of optimizers, each with its own conditional hyperparameters.

```yaml
optimizer:                          # one of several
  choice:
    Adam: {betas: [{uniform: [0.8, 0.95]}, 0.999], eps: {log_uniform: [1.0e-9, 1.0e-6]}}
    SGD: {momentum: {uniform: [0.0, 0.99]}, nesterov: {choice: [false, true]}}
optimizer:                          # or one optimizer, its hyperparameters searched
  name: AdamW
  hyperparameters: {weight_decay: {log_uniform: [1.0e-4, 1.0e-1]}}
```

Optuna parameters `optimizer/name` (only when there is a choice), then the chosen optimizer's
`optimizer/<name>/<hyperparameter>` (`optimizer/Adam/betas/0`). The output is the config's
`optimizer: {name, hyperparameters}`; names and hyperparameters are checked against the
optimizers the caller passes in.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

import optuna

from search_spaces.named_choice import NamedChoiceDef, define_named, named_problems
from trainables.lr.errors import Problem


class OptimizerDef(NamedChoiceDef):
    """Either `choice: {name: {hyperparameter: value-or-distribution}}` or one `name`."""

    what: ClassVar[str] = "optimizer"


def define_optimizer(trial: optuna.Trial, spec: OptimizerDef) -> dict[str, Any]:
    """Sample `optimizer` as `{name, hyperparameters}`; only the chosen one's are sampled."""
    return define_named(trial, spec, "optimizer")


def optimizer_problems(
    spec: OptimizerDef, known: Mapping[str, Collection[str]], path: str = "search.optimizer"
) -> list[Problem]:
    """Unknown optimizer names and hyperparameter names (`lr` among them: lrs come from
    `learning_rate`), each with the nearest valid one."""
    return named_problems(spec, known, path, "optimizer")
