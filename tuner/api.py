"""The Python API behind the command line: run a space file, resume a sweep, read the best.

from tuner.api import run_space, best_configs_of
outcome = run_space("examples/quickstart.yaml", num_samples=4)
print(outcome.exports.best_configs.read_text())
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tuner.experiment import Experiment, create_experiment, load_experiment
from tuner.export import best_configs_yaml
from tuner.ray_session import RaySession, ray_session
from tuner.sweep import SweepOutcome, build_tuner, restore_tuner, run_tuner

#: command-line overrides of space-file fields (`seed` goes to `searcher.seed`)
OVERRIDES = ("name", "num_samples", "address", "storage_path", "seed")


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


def prepare(path: str | Path, **overrides: Any) -> tuple[Any, Experiment]:
    """Validate `path`, create its experiment folder (no Ray yet)."""
    space = load_space_with(path, overrides)
    experiment = create_experiment(
        Path(path),
        name=space.name,
        storage_path=space.storage_path,
        metric=space.metric,
        mode=space.mode,
        max_t=space.n_epochs,
        optuna_storage=space.optuna_storage,
        overrides={k: v for k, v in overrides.items() if v is not None},
    )
    return space, experiment


def run_prepared(
    space: Any,
    experiment: Experiment,
    k: int = 5,
    announce: Callable[[RaySession], None] | None = None,
) -> SweepOutcome:
    """Start (or reuse) Ray, run the sweep into `experiment`, export the results.

    `announce` is told which Ray the sweep runs on, before the first trial.
    """
    with ray_session(space.address) as session:
        if announce is not None:
            announce(session)
        tuner = build_tuner(space, experiment, session.num_cpus)
        return run_tuner(tuner, experiment, k)


def run_space(path: str | Path, **overrides: Any) -> SweepOutcome:
    """Run the sweep a space file describes; `overrides` as on the command line."""
    space, experiment = prepare(path, **overrides)
    return run_prepared(space, experiment)


def resume(
    exp_dir: str | Path,
    address: str | None = None,
    announce: Callable[[RaySession], None] | None = None,
) -> SweepOutcome:
    """Continue an interrupted sweep in `exp_dir` with its recorded space file and overrides."""
    experiment = load_experiment(exp_dir)
    space = load_space_with(experiment.space_file, experiment.overrides)
    with ray_session(address or space.address) as session:
        if announce is not None:
            announce(session)
        return run_tuner(restore_tuner(space, experiment), experiment)


def best_configs_of(exp_dir: str | Path, k: int = 5) -> str:
    """The top `k` COMPLETE configs of a finished sweep as YAML (needs no Ray)."""
    experiment = load_experiment(exp_dir)
    return best_configs_yaml(experiment.load_study(), experiment.metric, experiment.mode, k)
