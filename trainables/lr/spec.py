"""LRSpec: the LR library's keys of a config, validated and normalized into named groups.

The library reads only `LR_KEYS` from the trainable's flat config and ignores every other key.
Each group `component.level` gets a base lr, a freeze rule, an optional weight decay and a
schedule config. `layer_decay` and `unfreeze` act on the groups in order, bottom to top
(`trainables.lr.layers`, `trainables.lr.unfreeze`); `layers:` needs the model to name its groups.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trainables.lr.errors import ConfigError, Problem, join_path
from trainables.lr.freeze import FreezeRule
from trainables.lr.groups import GroupFunction, resolve_group_function, resolve_patterns
from trainables.lr.layers import decay_multipliers, resolve_layer_decay, resolve_layers
from trainables.lr.leaves import resolve_leaves
from trainables.lr.optimizers import (
    OptimizerSpec,
    resolve_group_hyperparameters,
    resolve_optimizer,
)
from trainables.lr.schedules.base import Schedule, ScheduleContext
from trainables.lr.schedules.registry import build_schedule, schedule_problems
from trainables.lr.unfreeze import combine, resolve_unfreeze

#: the seed's group structure: encoder and DSR have shared and subject levels, the decoder shared
SEED_GROUPS = ("encoder.shared", "encoder.subjects", "decoder.shared", "dsr.shared", "dsr.subjects")
#: the config keys this library reads; every other key belongs to the trainable
LR_KEYS = (
    "learning_rate",
    "lr_scheduling",
    "dsr_subject_multiplier",
    "optimizer",
    "groups",
    "layers",
    "layer_decay",
    "unfreeze",
)
DEFAULT_SCHEDULE = "MultiStepLR"


@dataclass(frozen=True)
class GroupSpec:
    """One named group's validated settings; `schedule` None means the global `lr_scheduling`."""

    name: str
    lr: float
    freeze: FreezeRule
    weight_decay: float | None
    schedule: Mapping[str, Any] | None
    source: str
    #: the group's own optimizer hyperparameters (a leaf's `optimizer`), over the optimizer's
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LRSpec:
    """Every group's settings, the global schedule, the optimizer, and the name patterns or
    function that make the groups (`groups:`), if any."""

    groups: tuple[GroupSpec, ...]
    schedule: Mapping[str, Any]
    optimizer: OptimizerSpec
    patterns: Mapping[str, tuple[str, ...]] | None = None
    group_function: GroupFunction | None = None

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.groups)

    def build_schedules(self, context: ScheduleContext) -> dict[str, Schedule]:
        """Fresh schedules by group: one global instance, one per leaf that names its own."""
        shared = build_schedule(self.schedule, context)
        by_source: dict[str, Schedule] = {}
        for group in self.groups:
            if group.schedule is not None and group.source not in by_source:
                by_source[group.source] = build_schedule(group.schedule, context)
        return {g.name: by_source.get(g.source, shared) for g in self.groups}

    def group(self, name: str) -> GroupSpec:
        """The settings of the group called `name`."""
        return next(g for g in self.groups if g.name == name)

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], group_names: Sequence[str] | None = None
    ) -> LRSpec:
        """Validate and normalize; raises ConfigError listing every problem.

        >>> LRSpec.from_config({"learning_rate": 1e-3}).group("dsr.subjects").lr
        0.01
        """
        spec, problems = _parse(config, group_names)
        if spec is None and not problems:
            if isinstance(config.get("groups"), str):
                message = "declares no group names, so the groups depend on the model"
                fix = "declare them (@groups(names=(...))) or use build_lr_plan(model, config, ...)"
                problems = [Problem("groups", f"{config['groups']!r} {message}", fix)]
            else:
                message = "names the model's modules, so the groups depend on the model"
                problems = [Problem("layers", message, "use build_lr_plan(model, config, ...)")]
        if problems or spec is None:
            raise ConfigError(problems)
        return spec


def lr_config_problems(
    config: Mapping[str, Any], group_names: Sequence[str] | None = None
) -> list[Problem]:
    """Every problem of the config's LR keys ([] when valid), each with its dotted path.

    `group_names` is the model's group structure; by default the `groups:` keys of the config,
    else SEED_GROUPS.
    """
    return _parse(config, group_names)[1]


def normalize_schedule(config: Any) -> Any:
    """Fill the default: None is MultiStepLR (no milestones), a bare string is a name."""
    if config is None:
        return {"name": DEFAULT_SCHEDULE, "hyperparameters": {}}
    if isinstance(config, str):
        return {"name": config}
    if isinstance(config, Mapping) and "name" not in config:
        return {"name": DEFAULT_SCHEDULE, **config}
    return config


def _parse(
    config: Mapping[str, Any], group_names: Sequence[str] | None
) -> tuple[LRSpec | None, list[Problem]]:
    if not isinstance(config, Mapping):
        return None, [Problem("", f"the config is {config!r}, but must be a mapping")]
    problems: list[Problem] = []
    raw_groups = config.get("groups")
    function = None
    if isinstance(raw_groups, str):
        function = resolve_group_function(raw_groups, problems)
    patterns = resolve_patterns(raw_groups, problems)
    layers = resolve_layers(config.get("layers"), problems)
    if layers is not None and raw_groups is not None:
        fix = "keep groups (patterns or a function) or layers (module paths)"
        problems.append(Problem("layers", "is given together with groups", fix))
    decay = resolve_layer_decay(config.get("layer_decay"), problems)
    unfreeze = resolve_unfreeze(config.get("unfreeze"), problems)
    by_model = layers is not None or (function is not None and function.names is None)
    if by_model and group_names is None:  # the model names the groups: check the rest
        schedule = normalize_schedule(copy.deepcopy(config.get("lr_scheduling")))
        problems.extend(schedule_problems(schedule, "lr_scheduling"))
        resolve_optimizer(config.get("optimizer"), problems)
        return None, problems
    declared = patterns if function is None else dict.fromkeys(function.names or ())
    names = _names(group_names, declared or None, raw_groups, problems)
    if names is None:
        return None, problems
    scale = decay_multipliers(names, decay) if decay is not None else dict.fromkeys(names, 1.0)
    timetable = unfreeze.epochs(names) if unfreeze is not None else dict.fromkeys(names, 0)
    leaves = resolve_leaves(
        config.get("learning_rate"), names, config.get("dsr_subject_multiplier"), problems
    )
    schedule = normalize_schedule(copy.deepcopy(config.get("lr_scheduling")))
    problems.extend(schedule_problems(schedule, "lr_scheduling"))
    optimizer = resolve_optimizer(config.get("optimizer"), problems)
    checked: set[str] = set()
    groups = []
    for name in names:
        leaf = leaves[name]
        own = None if leaf.schedule is None else normalize_schedule(copy.deepcopy(leaf.schedule))
        if own is not None and leaf.source not in checked:
            problems.extend(schedule_problems(own, join_path(leaf.source, "schedule")))
        hyper_path = join_path(leaf.source, "optimizer")
        hyper = resolve_group_hyperparameters(
            leaf.optimizer, optimizer, problems if leaf.source not in checked else [], hyper_path
        )
        checked.add(leaf.source)
        unfreeze_at = combine(leaf.unfreeze_at, timetable[name])
        if leaf.freeze_after is not None and (unfreeze_at or 0) >= leaf.freeze_after:
            if unfreeze_at != leaf.unfreeze_at:  # a leaf's own conflict is reported by the leaf
                problems.append(_never_trains(name, unfreeze_at, leaf.freeze_after))
        freeze = FreezeRule(leaf.freeze_after, unfreeze_at)
        lr = leaf.lr * scale[name]
        groups.append(GroupSpec(name, lr, freeze, leaf.weight_decay, own, leaf.source, hyper))
    return LRSpec(tuple(groups), schedule, optimizer, patterns, function), problems


def _never_trains(name: str, unfreeze_at: int, freeze_after: int) -> Problem:
    return Problem(
        "unfreeze",
        f"unfreezes '{name}' at epoch {unfreeze_at}, but it freezes after epoch {freeze_after}: "
        "the group would never train",
        "raise last_n, lower every, or raise its freeze_after",
    )


def _names(
    group_names: Sequence[str] | None,
    patterns: Mapping[str, Any] | None,
    raw_groups: Any,
    problems: list[Problem],
) -> tuple[str, ...] | None:
    if group_names is None:
        if raw_groups is not None and patterns is None:
            return None  # `groups` itself is broken: nothing to check the rest against
        return tuple(patterns) if patterns is not None else SEED_GROUPS
    names = tuple(group_names)
    bad = [n for n in names if not isinstance(n, str) or not n]
    if not names or bad or len(set(names)) != len(names):
        raise TypeError(f"group_names must be distinct non-empty strings, got {names!r}")
    if patterns is not None and set(patterns) != set(names):
        problems.append(
            Problem(
                "groups",
                f"names {sorted(patterns)} differ from the model's groups {sorted(names)}",
                "name the same groups",
            )
        )
    return names
