"""The Python API behind the command line: run a space file, resume a sweep, read the best.

from tuner.api import run_space, best_configs_of
outcome = run_space("examples/quickstart.yaml", num_samples=4)
print(outcome.exports.best_configs.read_text())
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainables.lr.errors import ConfigError
from tuner.experiment import (
    Experiment,
    create_experiment,
    experiment_dir,
    is_taken,
    load_experiment,
    storage_problems,
    taken_problem,
)
from tuner.local_ray import worker_modules
from tuner.ray_session import RaySession, ray_session

if TYPE_CHECKING:
    from tuner.sweep import SweepOutcome

#: command-line overrides of space-file fields (`seed` goes to `searcher.seed`)
OVERRIDES = ("name", "num_samples", "address", "storage_path", "seed", "budget")


def apply_overrides(space: Any, overrides: Mapping[str, Any]) -> Any:
    """`space` with the given (non-None) overrides applied and validated again."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if "seed" in given:
        given["searcher"] = {**(space.raw.get("searcher") or {}), "seed": given.pop("seed")}
    return space.with_overrides(**given) if given else space


def load_space_with(path: str | Path, overrides: Mapping[str, Any]) -> Any:
    """Read and validate the space file, then apply the overrides."""
    from tuner.space import load_space

    return apply_overrides(load_space(path), overrides)


Announce = Callable[[RaySession, Experiment], None]


def run_space(
    path: str | Path,
    *,
    k: int = 5,
    announce: Announce | None = None,
    resume_existing: bool = False,
    **overrides: Any,
) -> SweepOutcome:
    """Run the sweep a space file describes; `overrides` as on the command line.

    The file, the results root and the experiment name are fully checked before Ray starts; an
    experiment folder that already holds a sweep is refused (`ConfigError`), or continued with
    `resume_existing=True`. The folder is created only once Ray is up (a cluster that cannot be
    reached leaves no folder behind). `announce` is told which Ray and which folder the sweep
    uses, before the first trial.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    space = load_space_with(path, given)
    exp_dir = experiment_dir(space.storage_path, space.name)
    if is_taken(exp_dir):
        if resume_existing:
            address, num_samples = given.get("address"), given.get("num_samples")
            return resume(exp_dir, address, announce, k, num_samples=num_samples)
        raise ConfigError([taken_problem(exp_dir)], source=str(path))
    problems = storage_problems(space.storage_path)
    if problems:
        raise ConfigError(problems, source=str(path))
    with ray_session(space.address, preload=worker_preload(space)) as session:
        # Ray Tune, pandas and the rest are imported while the new workers import theirs
        from tuner.budget import budget_tracker
        from tuner.sweep import build_tuner, run_tuner

        experiment = create_experiment(
            Path(path),
            name=space.name,
            storage_path=space.storage_path,
            metric=space.metric,
            mode=space.mode,
            max_t=space.n_epochs,
            optuna_storage=space.optuna_storage,
            overrides=given,
        )
        if announce is not None:
            announce(session, experiment)
        tracker = budget_tracker(space)
        tuner = build_tuner(space, experiment, session.num_cpus, tracker=tracker)
        return run_tuner(tuner, experiment, space.num_samples, k, budget=tracker)


def resume(
    exp_dir: str | Path,
    address: str | None = None,
    announce: Announce | None = None,
    k: int = 5,
    num_samples: int | None = None,
) -> SweepOutcome:
    """Continue an interrupted sweep in `exp_dir` with its recorded space file and overrides:
    unfinished trials go on from their last checkpoint, missing ones are started, finished
    ones are kept as they are. With `num_samples`, the sweep then grows to that many trials in
    the same study (`tuner.growth`)."""
    from tuner.growth import growth_problems, resume_and_grow

    experiment = load_experiment(exp_dir)
    space = load_space_with(experiment.space_file, experiment.overrides)
    problems = growth_problems(space, num_samples)
    if problems:
        raise ConfigError(problems, source=str(experiment.dir))
    with ray_session(address or space.address, preload=worker_preload(space)) as session:
        if announce is not None:
            announce(session, experiment)
        return resume_and_grow(space, experiment, session.num_cpus, num_samples, k)


def worker_preload(space: Any) -> tuple[str, ...]:
    """The modules a new local Ray's workers import before their first trial of `space`."""
    entry = space.resolve_trainable()
    path = getattr(entry, "function_path", None) or f"{entry.function.__module__}:"
    if space.population > 1:  # the function the workers will call
        path = getattr(entry, "population_path", None) or path
    return worker_modules(path.split(":")[0])


def best_configs_of(exp_dir: str | Path, k: int = 5) -> str:
    """The top `k` COMPLETE configs of a finished sweep as YAML (needs no Ray)."""
    from tuner.export import best_configs_yaml

    experiment = load_experiment(exp_dir)
    return best_configs_yaml(experiment.load_study(), experiment.metric, experiment.mode, k)
