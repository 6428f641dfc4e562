"""Which DSR configs can train together as one population, checked without torch.

Members may differ in every LR key of the seed format (lrs, freezing, schedules, optimizer
hyperparameters) and in `MAY_DIFFER` (`alpha`, `grad_clip`). Every other setting shapes the
model, the data, the batch order or the evaluation, so it must be equal in every member.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from trainables.dsr.settings import DSRSettings, data_problems, settings_of
from trainables.lr import lr_config_problems
from trainables.lr.errors import ConfigError, Problem, nest

#: settings that may differ between the members of one population (plus every LR key)
MAY_DIFFER = ("alpha", "grad_clip")


def population_settings(configs: Sequence[Mapping[str, Any]]) -> list[DSRSettings]:
    """Each member's validated settings; raises `ConfigError` with every problem of every member.

    Problems are nested under `members[i]`; a shared setting that differs from member 0 names the
    member and the key.
    """
    if len(configs) == 0:
        raise ConfigError([Problem("members", "is empty", "give at least one config")])
    problems: list[Problem] = []
    settings: list[DSRSettings | None] = []
    for i, config in enumerate(configs):
        prefix = f"members[{i}]"
        if not isinstance(config, Mapping):
            problems.append(Problem(prefix, f"is {config!r}, but must be a mapping"))
            settings.append(None)
            continue
        problems += [nest(p, prefix) for p in lr_config_problems(config)]
        try:
            settings.append(settings_of(config))
        except ConfigError as error:
            problems += [nest(p, prefix) for p in error.problems]
            settings.append(None)
    first = next((s for s in settings if s is not None), None)
    if first is not None:
        reference = settings.index(first)
        for i, member in enumerate(settings):
            if member is None or i == reference:
                continue
            for key in DSRSettings.model_fields:
                mine, theirs = getattr(member, key), getattr(first, key)
                if key not in MAY_DIFFER and mine != theirs:
                    problems.append(
                        Problem(
                            f"members[{i}].{key}",
                            f"is {mine!r}, but member {reference} has {theirs!r}: members of one "
                            "population share every setting but the LR keys, alpha and grad_clip",
                            "train it in another population",
                        )
                    )
        problems += data_problems(first)
    if problems:
        raise ConfigError(problems)
    return [s for s in settings if s is not None]


def population_problems(configs: Sequence[Mapping[str, Any]]) -> list[Problem]:
    """Why `configs` could not train as one population ([] when they can); see
    `population_settings`."""
    try:
        population_settings(configs)
    except ConfigError as error:
        return list(error.problems)
    return []
