"""`loggers:` in a space file: the result loggers a sweep may add (`tuner._ray_loggers` builds
them), and the check, before Ray starts, that each one's package is installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Literal

from trainables.lr.errors import Problem

#: a name `loggers:` accepts
LoggerName = Literal["tensorboard", "mlflow", "wandb"]
#: logger name -> (the module it needs, the extra of lr-tuner that installs it)
LOGGERS: dict[str, tuple[str, str]] = {
    "tensorboard": ("tensorboardX", "tensorboard"),
    "mlflow": ("mlflow", "mlflow"),
    "wandb": ("wandb", "wandb"),
}


def logger_problems(names: Sequence[str]) -> list[Problem]:
    """Each named logger whose package is not installed."""
    problems = []
    for index, name in enumerate(names):
        module, extra = LOGGERS[name]
        if importlib.util.find_spec(module) is None:
            problems.append(
                Problem(
                    f"loggers[{index}]",
                    f"is {name!r}, but its package {module!r} is not installed",
                    f"pip install 'lr-tuner[{extra}]' (or remove {name!r} from loggers)",
                )
            )
    return problems
