"""`space.yaml`: one validated, frozen `SpaceFile` describing a whole sweep.

```python
space = load_space("space.yaml")          # ConfigError(source="space.yaml") listing every problem
config = space.define(trial)              # define-by-run: the full flat config of one trial
configs = sample_configs(space, n=5)      # seeded samples, no Ray, no training
entry = space.resolve_trainable()         # the Ray trainable, its config checks and groups
```

Checks run in three stages, each reporting all of its problems at once: the schema (types,
ranges, unknown keys); then what needs several fields, the trainable or the schedule registry
(group and schedule names, ASHA's grace period against `n_epochs`, the sampler, duplicated keys);
then `CHECK_SAMPLES` seeded samples, each checked with the trainable's `config_problems`, so a
space that can produce an invalid config is rejected before Ray starts.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import optuna
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from search_spaces import SearchDef, define_search, search_problems
from trainables.lr.errors import ConfigError, Problem, join_path, pydantic_problems
from trainables.lr.groups import resolve_group_function
from tuner._budget_settings import BudgetSettings
from tuner._logger_settings import LoggerName, logger_problems
from tuner._space_samples import CHECK_SAMPLES, sample_configs, sample_problems
from tuner._space_settings import (
    AshaSettings,
    ResourcesSettings,
    SearcherSettings,
    address_problems,
    asha_problems,
    resources_problems,
    searcher_problems,
)
from tuner._space_trainable import (
    CustomTrainable,
    group_names,
    resolve_trainable,
    trainable_problems,
)
from tuner._space_yaml import numbers_as_floats, read_yaml
from tuner.population import nonfinite_problems, population_problems

__all__ = [
    "CHECK_SAMPLES",
    "AshaSettings",
    "ResourcesSettings",
    "SearcherSettings",
    "SpaceFile",
    "load_space",
    "parse_space",
    "sample_configs",
]


#: settings of the file that every trial config receives from the top level
_TOP_LEVEL = ("n_epochs", "checkpoint_every")


class SpaceFile(BaseModel):
    """A sweep: what to train, what to search, how to search and stop, where to run and save."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)
    trainable: str = "dsr"
    n_epochs: int = Field(ge=1)
    metric: str = Field(min_length=1)
    mode: Literal["min", "max"]
    num_samples: int = Field(default=10, ge=1)
    #: Optuna trials trained together in one Ray trial (needs a trainable with population support)
    population: int = Field(default=1, ge=1)
    max_concurrent_trials: int | None = Field(default=None, ge=1)
    fixed: dict[str, Any] = {}
    search: SearchDef = SearchDef()
    searcher: SearcherSettings = SearcherSettings()
    asha: AshaSettings | None = AshaSettings()
    resources: ResourcesSettings = ResourcesSettings()
    checkpoint_every: int = Field(default=5, ge=0)
    keep_checkpoints: int = Field(default=2, ge=2)
    max_failures: int = Field(default=0, ge=0)
    #: stop the sweep when its first `fail_fast` trials fail with the same exception (0: never)
    fail_fast: int = Field(default=3, ge=0)
    #: a NaN/inf metric: `fail` records the trial FAIL; `worst` records the mode's worst value
    on_nonfinite: Literal["fail", "worst"] = "fail"
    storage_path: str = Field(default="results", min_length=1)
    optuna_storage: str | None = None
    address: str | None = None
    #: result loggers beside Ray's JSON and CSV (`tuner._ray_loggers`)
    loggers: list[LoggerName] = []
    #: total epochs and/or wall time after which the sweep asks for no new trial (`tuner.budget`)
    budget: BudgetSettings | None = None

    _source: str = PrivateAttr(default="space.yaml")
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str:
        """The file this space was read from (as given), for messages."""
        return self._source

    @property
    def raw(self) -> dict[str, Any]:
        """The mapping as written in the file (a copy of it), e.g. to save beside the results."""
        return copy.deepcopy(self._raw)

    def resolve_trainable(self) -> Any:
        """The trainable's entry: `.worker_function` (for Ray), `.function`, `.config_problems`,
        `.groups`."""
        return resolve_trainable(self.trainable)

    def group_names(self) -> tuple[str, ...]:
        """The groups sampled LR configs cover: the `fixed.groups` keys or the names its function
        declares (`groups: "pkg.mod:fn"`), else the trainable's."""
        patterns = self.fixed.get("groups")
        if isinstance(patterns, Mapping) and patterns:
            return tuple(str(name) for name in patterns)
        if isinstance(patterns, str):
            function = resolve_group_function(patterns, [])
            if function is not None and function.names is not None:
                return function.names
        return group_names(self.resolve_trainable())

    def define(self, trial: optuna.Trial) -> dict[str, Any]:
        """The full flat config of one trial: fixed settings, `n_epochs`, sampled values."""
        groups = self.group_names()
        sampled = define_search(trial, self.search, n_epochs=self.n_epochs, group_names=groups)
        return {**self.fixed, "n_epochs": self.n_epochs, **sampled}

    def with_overrides(self, **changes: Any) -> SpaceFile:
        """This space with top-level keys replaced (e.g. from the command line), re-validated."""
        data = {**self._raw, **{k: v for k, v in changes.items() if v is not None}}
        return parse_space(data, self._source)


def parse_space(data: Mapping[str, Any], source: str = "space.yaml") -> SpaceFile:
    """A `SpaceFile` from an already-read mapping; `ConfigError(source=...)` with every problem."""
    data = numbers_as_floats(dict(data))
    try:
        space = SpaceFile.model_validate(data)
    except ValidationError as error:
        raise ConfigError(pydantic_problems(error), source) from None
    space._source = source
    space._raw = data
    problems = space_problems(space)
    if not problems:
        problems = sample_problems(space)
    if problems:
        raise ConfigError(problems, source)
    return space


def load_space(path: str | Path) -> SpaceFile:
    """Read and fully check a space file; `ConfigError(source=str(path))` lists every problem."""
    return parse_space(read_yaml(path), str(path))


def space_problems(space: SpaceFile) -> list[Problem]:
    """Checks across fields and against the trainable, samplers and schedule registry."""
    problems = [
        *asha_problems(space.asha, space.n_epochs),
        *resources_problems(space.resources),
        *searcher_problems(space.searcher),
        *address_problems(space.address, space.optuna_storage),
        *_fixed_problems(space),
        *logger_problems(space.loggers),
    ]
    trainable = trainable_problems(space.trainable)
    problems += trainable
    if not trainable:
        entry = space.resolve_trainable()
        problems += population_problems(space.population, entry, space.trainable)
        problems += nonfinite_problems(space.on_nonfinite, space.population)
        problems += _group_function_problems(space, entry)
        schedules, aliases = _schedules()
        problems += search_problems(
            space.search,
            group_names=space.group_names(),
            schedules=schedules,
            schedule_aliases=aliases,
            optimizers=_optimizers(),
        )
    return problems


def _fixed_problems(space: SpaceFile) -> list[Problem]:
    problems = []
    for key in _TOP_LEVEL:
        for where, keys in (("fixed", space.fixed), ("search.settings", space.search.settings)):
            if key in keys:
                fix = f"set {key} once, at the top level of the file"
                problems.append(Problem(f"{where}.{key}", "is a top-level setting", fix))
    for key in sorted(space.search.output_keys() & set(space.fixed)):
        problems.append(
            Problem(f"fixed.{key}", "is also set by the search block", "keep only one of them")
        )
    return problems


def _group_function_problems(space: SpaceFile, entry: Any) -> list[Problem]:
    """`fixed.groups: "pkg.mod:fn"`: a function that names nothing, or one whose names nobody
    declares although the search and the tables need them."""
    raw = space.fixed.get("groups")
    if not isinstance(raw, str):
        return []
    problems: list[Problem] = []
    function = resolve_group_function(raw, problems)
    if function is None:
        return [Problem(join_path("fixed", p.path), p.message, p.fix) for p in problems]
    undeclared = (
        isinstance(entry, CustomTrainable) and getattr(entry.function, "groups", None) is None
    )
    if function.names is None and undeclared:
        message = f"{raw!r} declares no group names, which the search and the tables need"
        fix = "declare them once: @groups(names=('body', 'head'))"
        return [Problem("fixed.groups", message, fix)]
    return []


def _optimizers() -> dict[str, tuple[str, ...]]:
    """Every optimizer a config may name, with the hyperparameters it takes (never `lr`)."""
    from trainables.lr.optimizers import OPTIMIZERS

    return {name: tuple(entry.params.model_fields) for name, entry in OPTIMIZERS.items()}


def _schedules() -> tuple[dict[str, tuple[str, ...]], set[str]]:
    """Every schedule name and alias in the registry with its hyperparameter names; the aliases."""
    from trainables.lr.schedules.registry import SCHEDULES, lookup

    aliases = {alias for entry in SCHEDULES.values() for alias in entry.aliases} - set(SCHEDULES)
    names = sorted({*SCHEDULES, *aliases})
    return {name: tuple(lookup(name).params.model_fields) for name in names}, aliases
