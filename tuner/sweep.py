"""Building and running one sweep: a `ray.tune.Tuner` with Optuna, ASHA and correct states.

`metric` and `mode` are set once, in `TuneConfig`; Ray hands them to ASHA and to the searcher
(the Tuner gets `param_space={"n_epochs": ...}` so that Ray calls the searcher's
`set_search_properties`). `max_t` = `n_epochs`, `time_attr` = `training_iteration`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from ray import tune
from ray.tune.schedulers import TrialScheduler
from ray.tune.search import ConcurrencyLimiter
from ray.tune.stopper import CombinedStopper

from tuner._ray_loggers import result_loggers
from tuner.actor_reuse import actors_kept_while_starting
from tuner.asha import Passed, ResumableASHA, passed_rungs
from tuner.budget import BudgetLimiter, BudgetTracker, budget_stopper
from tuner.disk_full import closed_after_disk_full, is_disk_full, keep_reserve
from tuner.experiment import Experiment
from tuner.export import ExportPaths, write_exports
from tuner.failures import FailFast, NotingFIFO, close_stopped, stopped_reason
from tuner.population import (
    expected_ray_trials,
    population_ray_function,
    ray_trial_count,
    write_member_logs,
)
from tuner.population_asha import finish_member_asha, start_member_asha
from tuner.population_search import PopulationOptunaSearch
from tuner.progress import ProgressCallback
from tuner.recovery import (
    close_orphans,
    close_running,
    ray_trials_of,
    stop_on_divergence,
    was_interrupted,
)
from tuner.relocation import RelocatedSearch
from tuner.resumable import resumable_trainable
from tuner.run_ahead import RunAhead, asha_rungs
from tuner.samplers import build_sampler
from tuner.searcher import FAIL_REASON, RAY_TRIAL_ID, BudgetAwareOptunaSearch, NonFiniteStopper
from tuner.state_backup import StateBackup, repair_state
from tuner.trainable_lookup import remembered_trainables
from tuner.trust import sign_folder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepOutcome:
    """What a finished (or interrupted) sweep left behind."""

    experiment: Experiment
    counts: dict[str, int]
    exports: ExportPaths
    #: the sweep stopped before all its trials ended (Ctrl-C): `resume` continues it
    interrupted: bool = False
    #: why trials failed: each `fail_reason` with how many FAIL trials gave it
    fail_reasons: dict[str, int] = field(default_factory=dict)
    #: the local Ray's GCS died mid-sweep: the outcome is what the study had recorded
    gcs_lost: bool = False
    #: why `fail_fast` stopped the sweep (None when it did not)
    stopped: str | None = None
    #: the budget's use (`budget 60/60 epochs`), ending in "(spent)" when it ended the sweep
    budget: str = ""

    @property
    def unfinished(self) -> int:
        """Trials still RUNNING in Optuna: the sweep was interrupted (`resume` continues)."""
        return self.counts.get("RUNNING", 0)

    @property
    def ok(self) -> bool:
        """Ended, with a COMPLETE trial, or because its budget was spent."""
        ended = not self.interrupted and self.unfinished == 0 and self.stopped is None
        return ended and (self.counts.get("COMPLETE", 0) > 0 or self.budget.endswith("(spent)"))


def trial_dirname(trial: Any) -> str:
    """Short trial folder names (Ray's default packs the whole config into them)."""
    return str(trial.trial_id)


def ray_trainable(space: Any, closed: Collection[str] = ()) -> Any:
    """The space's Ray trainable, with the per-trial resources of the space file; a diverged
    trial ends FAIL without retries (`tuner.recovery.stop_on_divergence`); a trial whose
    checkpoint Ray names was rotated out or damaged resumes from its newest intact one, and the
    Ray trials in `closed` (their record is finished) end at once (`tuner.resumable`)."""
    entry = space.resolve_trainable()
    function = entry if callable(entry) else entry.worker_function
    if space.population > 1:
        function = population_ray_function(entry)
    resources = {"cpu": space.resources.cpu, "gpu": space.resources.gpu}
    replay = space.population <= 1  # a population replays its checkpoint's epoch itself
    wrapped = stop_on_divergence(function, space.metric)
    trainable = resumable_trainable(
        wrapped, closed=closed, replay=replay, run_ahead=run_ahead_of(space)
    )
    return tune.with_resources(trainable, resources)


def run_ahead_of(space: Any) -> RunAhead | None:
    """When a trial's epochs may overlap the driver's round trip (`tuner.run_ahead`): where its
    ASHA (`build_scheduler`) cannot judge it; never in a population (its members' ASHA)."""
    if space.population > 1:
        return None
    asha = space.asha
    if asha is None:
        return RunAhead(space.metric, (), space.n_epochs)
    rungs = asha_rungs(space.n_epochs, asha.grace_period, asha.reduction_factor, asha.brackets)
    return RunAhead(space.metric, tuple(rungs), space.n_epochs)


def build_scheduler(
    space: Any, earlier: Passed | None = None, fail_fast: FailFast | None = None
) -> TrialScheduler:
    """ASHA over `training_iteration` with `max_t = n_epochs` (`tuner.asha.ResumableASHA`, its
    rungs holding the `earlier` trials of a grown sweep), or FIFO when `asha: null` (and for
    populations: their members' ASHA is `tuner.population_asha`); either tells `fail_fast` how
    trials end (`tuner.failures`)."""
    if space.asha is None or space.population > 1:
        scheduler: Any = NotingFIFO()
        scheduler.fail_fast = fail_fast
        return scheduler
    scheduler = ResumableASHA(
        time_attr="training_iteration",
        max_t=space.n_epochs,
        grace_period=space.asha.grace_period,
        reduction_factor=space.asha.reduction_factor,
        brackets=space.asha.brackets,
        earlier=earlier,
    )
    scheduler.fail_fast = fail_fast
    return scheduler


class TrialConfig:
    """The define-by-run function of a sweep: the space's config plus `checkpoint_every`.

    A class rather than a closure so that Ray can pickle the searcher's state.
    `checkpoint_every: 0` (only at the end) becomes `n_epochs`.
    """

    def __init__(self, space: Any) -> None:
        self.space = space

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        config = self.space.define(trial)
        every = self.space.checkpoint_every or self.space.n_epochs
        config.setdefault("checkpoint_every", every)
        return config


def build_searcher(space: Any, experiment: Experiment) -> BudgetAwareOptunaSearch:
    """The Optuna searcher of the space file, on the experiment's study and storage."""
    settings = space.searcher
    sampler = build_sampler(settings.name, settings.seed, settings.n_startup_trials)
    options: dict[str, Any] = {
        "max_t": space.n_epochs,
        "sampler": sampler,
        "study_name": experiment.study_name,
        "storage": experiment.optuna_storage,
    }
    if space.population > 1:
        asha = start_member_asha(space, experiment.study_name)
        return PopulationOptunaSearch(
            TrialConfig(space),
            population=space.population,
            num_members=space.num_samples,
            asha_actor=asha,
            **options,
        )
    return BudgetAwareOptunaSearch(TrialConfig(space), on_nonfinite=space.on_nonfinite, **options)


def default_concurrency(space: Any, cluster_cpus: float) -> int:
    """`max_concurrent_trials` when the file leaves it out: cluster CPUs / CPUs per trial."""
    if space.max_concurrent_trials is not None:
        return int(space.max_concurrent_trials)
    per_trial = space.resources.cpu or 1
    return max(1, int(cluster_cpus // per_trial))


def build_tuner(
    space: Any,
    experiment: Experiment,
    cluster_cpus: float,
    earlier: Sequence[FrozenTrial] = (),
    tracker: BudgetTracker | None = None,
) -> tune.Tuner:
    """The `ray.tune.Tuner` for `space`, writing into `experiment.dir` (its `tuner.pkl`
    signed at once: `tuner.trust`; `earlier`: the records of a grown sweep's study, for ASHA's
    rungs and the progress counts, see `tuner.growth`; `tracker`: the space's budget, see
    `tuner.budget`). The searcher is wrapped as Ray would wrap it, in a `ConcurrencyLimiter`
    (the budget's `BudgetLimiter` when there is a budget) and a search generator, one that a
    moved folder's resume points at the folder in use (`tuner.relocation`)."""
    fail_fast = FailFast(space.fail_fast, experiment.study_name)
    searcher = build_searcher(space, experiment)
    concurrency = default_concurrency(space, cluster_cpus)
    stoppers: list[Any] = [NonFiniteStopper(space.metric), fail_fast]
    if tracker is None:
        limited: ConcurrencyLimiter = ConcurrencyLimiter(searcher, max_concurrent=concurrency)
    else:
        limited = BudgetLimiter(searcher, concurrency, tracker)
        stoppers.append(budget_stopper(space, tracker))
    tune_config = tune.TuneConfig(
        metric=space.metric,
        mode=space.mode,
        search_alg=RelocatedSearch(limited),
        scheduler=build_scheduler(space, passed_rungs(earlier), fail_fast),
        num_samples=ray_trial_count(space.num_samples, space.population),
        reuse_actors=True,
        trial_dirname_creator=trial_dirname,
    )
    run_config = tune.RunConfig(
        name=experiment.dir.name,
        storage_path=str(experiment.dir.parent),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=space.keep_checkpoints),
        failure_config=tune.FailureConfig(max_failures=space.max_failures),
        stop=CombinedStopper(*stoppers),
        callbacks=[
            ProgressCallback(
                space.metric,
                space.mode,
                space.n_epochs,
                budget=tracker,
                earlier=earlier,
                worst=space.on_nonfinite == "worst",
            ),
            StateBackup(experiment.dir),
            *result_loggers(space.loggers, experiment.dir),
        ],
        verbose=0,
    )
    tuner = tune.Tuner(
        ray_trainable(space),
        param_space={"n_epochs": space.n_epochs},
        tune_config=tune_config,
        run_config=run_config,
    )
    sign_folder(experiment.dir)  # Ray wrote tuner.pkl
    return tuner


def restore_tuner(space: Any, experiment: Experiment) -> tune.Tuner:
    """The interrupted Tuner of `experiment`, continuing unfinished trials (Ray's state files
    are first put back from their last intact copy if a crash damaged them)."""
    repair_state(experiment.dir)
    if space.population > 1:
        start_member_asha(space, experiment.study_name, experiment.dir)
    records = experiment.load_study().get_trials(deepcopy=False)
    closed = closed_ray_trials(records) if space.population <= 1 else set()
    tuner = tune.Tuner.restore(
        str(experiment.dir), trainable=ray_trainable(space, closed), resume_unfinished=True
    )
    # Ray restores its ASHA without rungs: give it the rungs its trials had passed (a Ray
    # client's tuner runs remotely, out of reach: it keeps Ray's behaviour)
    local = getattr(tuner, "_local_tuner", None)
    scheduler = getattr(getattr(local, "_tune_config", None), "scheduler", None)
    if isinstance(scheduler, ResumableASHA):
        scheduler.passed = passed_rungs(records)
    return tuner


def closed_ray_trials(records: Iterable[Any]) -> set[str]:
    """The Ray trial ids whose Optuna record is finished (COMPLETE, PRUNED or FAIL): `resume`
    does not run them again, whatever Ray's last saved state says of them."""
    return {
        str(record.user_attrs[RAY_TRIAL_ID])
        for record in records
        if record.state.is_finished() and RAY_TRIAL_ID in record.user_attrs
    }


def state_counts(study: optuna.Study) -> dict[str, int]:
    """How many trials of the study are in each Optuna state."""
    counts = {s.name: 0 for s in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts


def fail_reasons(study: optuna.Study) -> dict[str, int]:
    """Each FAIL trial's `fail_reason`, with how many trials gave it (most frequent first)."""
    reasons: dict[str, int] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        reason = str(trial.user_attrs.get(FAIL_REASON, "unknown"))
        reasons[reason] = reasons.get(reason, 0) + 1
    return dict(sorted(reasons.items(), key=lambda item: -item[1]))


def run_tuner(
    tuner: tune.Tuner,
    experiment: Experiment,
    num_samples: int,
    k: int = 5,
    budget: BudgetTracker | None = None,
    on_nonfinite: str = "fail",
) -> SweepOutcome:
    """Fit `tuner`, close Optuna records nothing will continue, export the study's trials.

    After Ctrl-C (Ray stops gracefully and saves its state) the outcome is `interrupted` and
    every record still open stays RUNNING for `resume`, which closes what nothing continues.
    A full disk closes every open record and raises (`tuner.disk_full`).
    """
    keep_reserve(experiment.dir)
    try:
        with remembered_trainables(), actors_kept_while_starting():
            trials = ray_trials_of(tuner.fit())
        sign_folder(experiment.dir)  # Ray's final save
        finish_member_asha(experiment.study_name, experiment.dir)
        study = experiment.load_study(writable=True)
        expected = expected_ray_trials(trials, num_samples)
        if budget is not None and budget.spent:  # fewer trials than asked: the budget's doing
            expected = min(expected, len(trials))
        interrupted = was_interrupted(trials, expected, experiment.max_t, study)
        stopped = stopped_reason(experiment.study_name)
        if stopped is not None:  # fail_fast: what it stopped is closed, nothing to resume
            interrupted = False
            close_stopped(study, stopped)
        if not interrupted:  # after Ctrl-C, `resume` continues and closes whatever is open
            worst = on_nonfinite == "worst"
            close_orphans(study, trials, experiment.metric, experiment.max_t, worst=worst)
        write_member_logs(experiment.dir, study)
        exports = write_exports(experiment.dir, study, experiment.metric, experiment.mode, k)
    except Exception as error:
        if is_disk_full(error):
            raise closed_after_disk_full(experiment, error, k) from error
        raise
    counts, reasons = state_counts(study), fail_reasons(study)
    used = "" if budget is None else budget.line() + (" (spent)" if budget.spent else "")
    return SweepOutcome(
        experiment, counts, exports, interrupted, reasons, stopped=stopped, budget=used
    )


def outcome_after_gcs_loss(experiment: Experiment, k: int = 5) -> SweepOutcome:
    """What is recorded when the local Ray's GCS died mid-sweep (`tuner.gcs_watch`): every
    record still RUNNING is closed FAIL (its Ray trial cannot go on, and `resume` does not run a
    closed record again), and the tables are written from the study (no Ray needed)."""
    study = experiment.load_study(writable=True)

    def reason(record: Any) -> str:
        epochs = max(record.intermediate_values, default=0)
        after = f"after epoch {epochs}" if epochs else "before its first result"
        return f"lost with Ray's GCS {after}: the local Ray's GCS process died mid-sweep"

    close_running(study, reason)
    exports = write_exports(experiment.dir, study, experiment.metric, experiment.mode, k)
    counts = state_counts(study)
    return SweepOutcome(experiment, counts, exports, True, fail_reasons(study), gcs_lost=True)
