"""Seeded samples of a space without training, and the trainable's verdict on them."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import optuna

from trainables.lr.errors import Problem

if TYPE_CHECKING:
    from tuner.space import SpaceFile

#: seeded samples `load_space` checks with the trainable's `config_problems`
CHECK_SAMPLES = 20


def sample_problems(space: SpaceFile, n: int = CHECK_SAMPLES) -> list[Problem]:
    """The trainable's complaints about `n` seeded samples, one per path, located in the file.

    Each is told once, for the first sample that shows it, with how many samples share it.
    """
    entry = space.resolve_trainable()
    configs = sample_configs(space, n=n, seed=0)
    first: dict[str, tuple[int, Problem, Mapping[str, Any]]] = {}
    count: dict[str, int] = {}
    for index, config in enumerate(configs):
        for problem in entry.config_problems(config):
            first.setdefault(problem.path, (index, problem, config))
            count[problem.path] = count.get(problem.path, 0) + 1
    problems = []
    for path, (index, problem, config) in first.items():
        share = f"{count[path]} of {n} sampled configs, e.g. #{index}"
        message = f"{problem.message} (in {share})"
        problems.append(Problem(_file_path(space, path, config), message, problem.fix))
    if not problems and space.population > 1:
        problems = population_sample_problems(space, entry, configs)
    return problems


def population_sample_problems(
    space: SpaceFile, entry: Any, configs: list[dict[str, Any]]
) -> list[Problem]:
    """Why the sampled configs could not share one population (a searched setting every member
    of a population must share, say), once per path, located in the file."""
    check = getattr(entry, "population_problems", None)
    problems: dict[str, Problem] = {}
    for problem in check(configs) if check is not None else ():
        member, _, config_path = problem.path.partition(".")
        index = int(member.removeprefix("members[").removesuffix("]") or 0)
        path = _file_path(space, config_path, configs[index])
        message = f"{problem.message} (sampled configs #{index} and others; population: "
        message += f"{space.population})"
        fix = "search it with population: 1, or give it one value in `fixed`"
        problems.setdefault(path, Problem(path, message, fix))
    return list(problems.values())


def _file_path(space: SpaceFile, config_path: str, config: Mapping[str, Any]) -> str:
    """Where in the file a trial config's key comes from: `search.settings.x`, `fixed.x`, ..."""
    key = config_path.split(".")[0].split("[")[0]
    if key in space.search.settings:
        return f"search.settings.{config_path}"
    if key in space.fixed:
        return f"fixed.{config_path}"
    prefix = "lr_scheduling.hyperparameters."
    scheduling = space.search.lr_scheduling
    if scheduling is not None and config_path.startswith(prefix):
        rest = config_path.removeprefix(prefix)
        if scheduling.choice is None:
            return f"search.lr_scheduling.hyperparameters.{rest}"
        return f"search.lr_scheduling.choice.{config['lr_scheduling']['name']}.{rest}"
    return config_path


def sample_configs(space: SpaceFile, n: int = 5, seed: int = 0) -> list[dict[str, Any]]:
    """`n` configs drawn with a seeded random sampler, exactly as trials would receive them."""
    with _quiet_optuna():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
        configs = []
        for _ in range(n):
            trial = study.ask()
            configs.append(space.define(trial))
    return configs


@contextmanager
def _quiet_optuna() -> Iterator[None]:
    logger = logging.getLogger("optuna")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
