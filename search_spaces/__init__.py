"""Define-by-run search spaces: `optuna.Trial` -> a plain config dict in the seed format.

Declarations (`*Def`) are read from a space file's `search:` block; `define_*` functions sample
them. Nothing here imports Ray or the LR library (only its error type): samples meet the trainables
only as plain dicts; the caller passes in group and schedule names.
"""

from __future__ import annotations

from search_spaces.distributions import (
    KINDS,
    DistDef,
    FreezeDef,
    PositiveDef,
    ValueDef,
    resolve_freeze_after,
)
from search_spaces.learning_rate import LearningRateDef, define_learning_rate
from search_spaces.scheduling import SchedulingDef, define_lr_scheduling, scheduling_problems
from search_spaces.search import LR_KEYS, SearchDef, define_search, search_problems

__all__ = [
    "KINDS",
    "LR_KEYS",
    "DistDef",
    "FreezeDef",
    "LearningRateDef",
    "PositiveDef",
    "SchedulingDef",
    "SearchDef",
    "ValueDef",
    "define_learning_rate",
    "define_lr_scheduling",
    "define_search",
    "resolve_freeze_after",
    "scheduling_problems",
    "search_problems",
]
