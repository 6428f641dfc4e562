"""The LR library: seed-format learning rates, named param groups, real freezing, schedules.

Imports only torch and pydantic (pandas lazily, for `LRPlan.preview`), so any training loop can use
it. Checking a config needs no torch: `LRPlan` and `build_lr_plan` (which do) are imported on first
use, so a process that only validates configs never imports torch::

    plan = build_lr_plan(model, {"learning_rate": 1e-3}, n_epochs=100)
    for epoch in range(100):
        ...  # loss.backward(); plan.optimizer.step(); plan.step_batch()
        plan.step_epoch(train_loss=loss)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from trainables.lr.errors import ConfigError, Problem, TunerError
from trainables.lr.freeze import FreezeRule
from trainables.lr.groups import WHOLE_MODEL
from trainables.lr.layers import decay_multipliers, discover_layers
from trainables.lr.leaves import DEFAULT_DSR_SUBJECT_MULTIPLIER, DEFAULT_LR
from trainables.lr.optimizers import OPTIMIZERS, OptimizerSpec
from trainables.lr.preview import preview_lrs
from trainables.lr.schedules.base import Clock, Schedule
from trainables.lr.schedules.registry import SCHEDULES, build_schedule, schedule_problems
from trainables.lr.spec import LR_KEYS, SEED_GROUPS, GroupSpec, LRSpec, lr_config_problems
from trainables.lr.unfreeze import UnfreezeSpec

if TYPE_CHECKING:
    from trainables.lr.plan import LRPlan, build_lr_plan

#: names imported on first access (PEP 562), by module: they import torch
_LAZY = {"LRPlan": "trainables.lr.plan", "build_lr_plan": "trainables.lr.plan"}

__all__ = [
    "DEFAULT_DSR_SUBJECT_MULTIPLIER",
    "DEFAULT_LR",
    "LR_KEYS",
    "OPTIMIZERS",
    "SCHEDULES",
    "SEED_GROUPS",
    "WHOLE_MODEL",
    "Clock",
    "ConfigError",
    "FreezeRule",
    "GroupSpec",
    "LRPlan",
    "LRSpec",
    "OptimizerSpec",
    "Problem",
    "Schedule",
    "TunerError",
    "UnfreezeSpec",
    "build_lr_plan",
    "build_schedule",
    "decay_multipliers",
    "discover_layers",
    "lr_config_problems",
    "preview_lrs",
    "schedule_problems",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
