"""SCHEDULES: every registered schedule by its YAML name; validation and building of configs.

A schedule config is `{"name": NAME, "hyperparameters": {...}}` (hyperparameters optional), the
form of the seed's `lr_scheduling`. Modules listed in `_MODULES` each export `ENTRIES`, a tuple of
`ScheduleEntry`; a new family is registered by adding its module here.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from trainables.import_path import is_import_path
from trainables.lr.errors import ConfigError, Problem, join_path, pydantic_problems, suggest
from trainables.lr.schedules.base import Schedule, ScheduleContext, ScheduleEntry
from trainables.lr.schedules.user import user_entry, user_problem

_MODULES = (
    "trainables.lr.schedules.seed",
    "trainables.lr.schedules.speechbrain.noam",
    "trainables.lr.schedules.speechbrain.cyclic",
    "trainables.lr.schedules.speechbrain.warm_decay",
    "trainables.lr.schedules.speechbrain.epochwise",
    "trainables.lr.schedules.speechbrain.stateful",
    "trainables.lr.schedules.curves",
    "trainables.lr.schedules.warmups",
    "trainables.lr.schedules.combinators",
)


def _collect() -> dict[str, ScheduleEntry]:
    entries: dict[str, ScheduleEntry] = {}
    for module in _MODULES:
        for entry in importlib.import_module(module).ENTRIES:
            if entry.name in entries:
                raise RuntimeError(f"schedule {entry.name!r} registered twice")
            entries[entry.name] = entry
    return dict(sorted(entries.items()))


SCHEDULES: dict[str, ScheduleEntry] = _collect()
_BY_ALIAS = {alias: e for e in SCHEDULES.values() for alias in (e.name, *e.aliases)}


def lookup(name: str) -> ScheduleEntry | None:
    """The entry registered under `name` or one of its aliases, or the user's schedule an
    import path `pkg.mod:fn` names (`trainables.lr.schedules.user`)."""
    return _BY_ALIAS.get(name) or user_entry(name)


def schedule_problems(config: Any, path: str = "lr_scheduling") -> list[Problem]:
    """Every problem of a schedule config (nested ones included), each with its dotted path."""
    if not isinstance(config, Mapping):
        return [
            Problem(
                path,
                f"is {config!r}, but must be a mapping",
                "write {name: ..., hyperparameters: {...}}",
            )
        ]
    problems = [
        Problem(join_path(path, key), "is not a known key", "use only 'name' and 'hyperparameters'")
        for key in config
        if key not in ("name", "hyperparameters")
    ]
    name = config.get("name")
    if isinstance(name, str) and is_import_path(name):
        problem = user_problem(name, join_path(path, "name"))
        if problem is not None:
            return [*problems, problem]
    entry = lookup(name) if isinstance(name, str) else None
    if entry is None:
        unknown = f"{name!r} is not a known schedule"
        problems.append(Problem(join_path(path, "name"), unknown, suggest(name, SCHEDULES)))
        return problems
    hyper = config.get("hyperparameters") or {}
    hp_path = join_path(path, "hyperparameters")
    if not isinstance(hyper, Mapping):
        return [*problems, Problem(hp_path, f"is {hyper!r}, but must be a mapping")]
    try:
        params = entry.params.model_validate(dict(hyper))
    except ValidationError as error:
        return [*problems, *_with_suggestions(pydantic_problems(error, hp_path), entry, hp_path)]
    if entry.nested is not None:
        for rel_path, child in entry.nested(params):
            problems.extend(schedule_problems(child, join_path(hp_path, rel_path)))
    return problems


def _with_suggestions(problems: list[Problem], entry: ScheduleEntry, hp_path: str) -> list[Problem]:
    """Unknown hyperparameters get the nearest known name of this schedule."""
    known = list(entry.params.model_fields)
    out = []
    for p in problems:
        key = p.path.removeprefix(f"{hp_path}.") if hp_path else p.path
        if p.message == "is not a known key" and "." not in key and "[" not in key:
            p = Problem(p.path, p.message, suggest(key, known))
        out.append(p)
    return out


def build_schedule(config: Mapping[str, Any], context: ScheduleContext) -> Schedule:
    """A fresh `Schedule` from a config; raises `ConfigError` listing every problem."""
    problems = schedule_problems(config, "")
    if problems:
        raise ConfigError(problems)
    entry = lookup(config["name"])
    assert entry is not None  # checked above
    params = entry.params.model_validate(dict(config.get("hyperparameters") or {}))
    child_context = ScheduleContext(
        n_epochs=context.n_epochs,
        steps_per_epoch=context.steps_per_epoch,
        build_child=build_schedule,
    )
    return entry.build(params, child_context)
