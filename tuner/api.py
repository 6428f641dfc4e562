"""The Python API behind the command line: run a space file, resume a sweep, read the best.

from tuner.api import run_space, best_configs_of
outcome = run_space("examples/quickstart.yaml", num_samples=4)
print(outcome.exports.best_configs.read_text())
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainables.lr.errors import ConfigError
from tuner.experiment import (
    Experiment,
    create_experiment,
    discard_experiment,
    experiment_dir,
    is_taken,
    load_experiment,
    storage_problems,
    taken_problem,
)
from tuner.local_ray import _environment, worker_modules
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
#: told the outcome when the local Ray's GCS died mid-sweep; returns the process's exit code
OnGcsLoss = Callable[["SweepOutcome"], int]


@contextmanager
def _ended_on_gcs_loss(
    session: RaySession, experiment: Experiment, on_gcs_loss: OnGcsLoss | None, k: int
) -> Iterator[None]:
    """Within the block, a lost GCS of the local Ray this sweep started ends the process at
    once with the tables written from what was recorded (`tuner.gcs_watch`); `on_gcs_loss`
    reports it (default: exit 1)."""
    if session.kind != "local":
        yield
        return
    from tuner.gcs_watch import gcs_watch
    from tuner.sweep import outcome_after_gcs_loss

    def on_loss() -> int:
        outcome = outcome_after_gcs_loss(experiment, k)
        return on_gcs_loss(outcome) if on_gcs_loss is not None else 1

    with gcs_watch(on_loss):
        yield


def run_space(
    path: str | Path,
    *,
    k: int = 5,
    announce: Announce | None = None,
    resume_existing: bool = False,
    trust: bool = False,
    on_gcs_loss: OnGcsLoss | None = None,
    **overrides: Any,
) -> SweepOutcome:
    """Run the sweep a space file describes; `overrides` as on the command line.

    The file, the results root and the experiment name are fully checked before Ray starts; an
    experiment folder that already holds a sweep is refused (`ConfigError`), or continued with
    `resume_existing=True` (`trust` as in `resume`). The folder is claimed before Ray starts (a
    second `run` of the name is refused without starting Ray) and removed again if Ray cannot
    start (a cluster that cannot be reached leaves no folder behind). `announce` is told which
    Ray and which folder the sweep uses, before the first trial.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    space = load_space_with(path, given)
    exp_dir = experiment_dir(space.storage_path, space.name)
    if is_taken(exp_dir):
        if resume_existing:
            address, num_samples = given.get("address"), given.get("num_samples")
            return resume(
                exp_dir,
                address,
                announce,
                k,
                trust=trust,
                num_samples=num_samples,
                on_gcs_loss=on_gcs_loss,
            )
        raise ConfigError([taken_problem(exp_dir)], source=str(path))
    problems = storage_problems(space.storage_path)
    if problems:
        raise ConfigError(problems, source=str(path))
    # claimed before Ray starts: a second `run` of the name is refused without starting one
    experiment = create_experiment(
        Path(path),
        name=space.name,
        storage_path=space.storage_path,
        metric=space.metric,
        mode=space.mode,
        max_t=space.n_epochs,
        optuna_storage=space.optuna_storage,
        overrides=given,
        group_names=_groups_of(space),
    )
    started = False
    try:
        with ray_session(space.address, preload=worker_preload(space)) as session:
            if session.kind == "cluster":  # before any trial; the folder is discarded
                refuse_unshared(space.storage_path, path)
            started = True
            # Ray Tune, pandas and the rest are imported while the new workers import theirs
            from tuner.budget import budget_tracker
            from tuner.sweep import build_tuner, run_tuner

            if announce is not None:
                announce(session, experiment)
            from tuner.relocation import folder_in_use  # imports Ray Tune: after the checks

            with (
                folder_in_use(experiment.dir),
                _ended_on_gcs_loss(session, experiment, on_gcs_loss, k),
            ):
                tracker = budget_tracker(space)
                tuner = build_tuner(space, experiment, session.num_cpus, tracker=tracker)
                return run_tuner(
                    tuner, experiment, space.num_samples, k, budget=tracker,
                    on_nonfinite=space.on_nonfinite,
                )  # fmt: skip
    except BaseException:
        if not started:  # Ray could not start (a cluster out of reach): no folder left
            discard_experiment(experiment)
        raise


def resume(
    exp_dir: str | Path,
    address: str | None = None,
    announce: Announce | None = None,
    k: int = 5,
    trust: bool = False,
    num_samples: int | None = None,
    on_gcs_loss: OnGcsLoss | None = None,
) -> SweepOutcome:
    """Continue an interrupted sweep in `exp_dir` with its recorded space file and overrides:
    unfinished trials go on from their last checkpoint, missing ones are started, finished
    ones are kept as they are. Wherever the folder now is, the sweep writes into it alone.
    With `num_samples`, the sweep then grows to that many trials in the same study
    (`tuner.growth`).

    Before Ray starts, the folder's pickled state must be signed with this user's key
    (`tuner.trust`; `trust=True` signs it as it is instead) and its Optuna study must hold a
    record of every trial in Ray's saved state (`tuner.record_check`)."""
    from tuner.growth import growth_problems, resume_and_grow
    from tuner.record_check import check_records
    from tuner.state_backup import trusted_state

    experiment = load_experiment(exp_dir)
    study = experiment.load_study()  # read-only: a missing or damaged journal is named first
    trusted_state(experiment.dir, trust=trust)
    check_records(experiment.dir, study, experiment.optuna_storage)
    space = load_space_with(experiment.space_file, experiment.overrides)
    problems = growth_problems(space, num_samples)
    if problems:
        raise ConfigError(problems, source=str(experiment.dir))
    with ray_session(address or space.address, preload=worker_preload(space)) as session:
        if session.kind == "cluster":
            refuse_unshared(experiment.dir.parent, experiment.dir)
        if announce is not None:
            announce(session, experiment)
        from tuner.relocation import folder_in_use  # imports Ray Tune: after the checks

        # a trial whose record is finished ends without a result (`tuner.resumable`): Ray then
        # checks its last saved result, which has no metric when it had reported none yet
        lenient = {"TUNE_DISABLE_STRICT_METRIC_CHECKING": "1"}  # Ray's documented switch
        with folder_in_use(experiment.dir), _environment(lenient):
            with _ended_on_gcs_loss(session, experiment, on_gcs_loss, k):
                return resume_and_grow(space, experiment, session.num_cpus, num_samples, k)


def _groups_of(space: Any) -> tuple[str, ...] | None:
    """The trainable's parameter groups, recorded so that reading commands import nothing;
    None for a trainable without LR groups."""
    try:
        return tuple(space.group_names())
    except (AttributeError, TypeError, ValueError):
        return None


def refuse_unshared(storage_path: str | Path, source: str | Path) -> None:
    """`ConfigError` when some node of the connected cluster does not see `storage_path`
    (`tuner.shared_storage`), before any trial starts."""
    from tuner.shared_storage import unshared_nodes, unshared_problem

    nodes = unshared_nodes(storage_path)
    if nodes:
        raise ConfigError([unshared_problem(storage_path, nodes)], source=str(source))


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
