"""Nothing left open: divergence without retries, interrupted sweeps, and orphaned Optuna records.

- `stop_on_divergence`: a trainable raising `TrainingDiverged` (a NaN/inf loss) is not retried
  under `max_failures` (it would diverge again from the same checkpoint): the wrapper reports the
  metric as NaN with the reason instead of raising, `NonFiniteStopper` stops the trial and the
  searcher records it FAIL with that reason. Any other exception is retried as configured.
- `was_interrupted`: whether `Tuner.fit` returned early (Ctrl-C): some Ray trial is unfinished.
  A Ray trial TERMINATED short of `max_t` without `done` in its last result ended for real when
  none of its Optuna records is still RUNNING: Ray marks the trials it stops on Ctrl-C
  TERMINATED without `done`, but so does a restored trial whose trainable returned early (Ray
  adds `done` to that last result in place, after it was cached for its saved state), and the
  searcher closed the records of that one as it ended.
- `close_orphans`: after a sweep, every Optuna trial still RUNNING whose Ray trial is finished,
  or that Ray never ran (a driver killed between Optuna's `ask` and Ray's next state snapshot), is
  closed: FAIL with the reason in its `fail_reason` user attribute, or its true state when Ray
  finished it, judged on the later of Ray's last result and the record's own last epoch (the
  journal can lead Ray's saved state by several epochs). Records of Ray trials still
  unfinished stay RUNNING for `resume` to continue.
  A population member is found by its population's Ray trial (`population_trial`); left open
  when that trial ended, it is COMPLETE when its values reach `max_t`, else FAIL.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Collection, Iterable
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.air.constants import TRAINING_ITERATION

from tuner.failures import reason_of
from tuner.population_search import POPULATION_TRIAL
from tuner.searcher import (
    DIVERGED,
    FAIL_REASON,
    RAY_TRIAL_ID,
    WORST,
    fail_reason,
    final_state,
    finite,
    furthest,
    nonfinite_number,
    worst_value,
)

#: Ray trial statuses of a trial that has not ended
UNFINISHED = frozenset({"PENDING", "RUNNING", "PAUSED"})


def stop_on_divergence(function: Callable[[dict], Any], metric: str) -> Callable[[dict], Any]:
    """`function` with `TrainingDiverged` turned into a final NaN report (not retried).

    `TrainingDiverged` is imported only when the trainable raises: importing it imports torch,
    which a trainable without torch should not pay for in every worker that unpickles it.
    """

    @functools.wraps(function)
    def trainable(config: dict) -> Any:
        try:
            return function(config)
        except Exception as error:
            from trainables.reporting import TrainingDiverged

            if not isinstance(error, TrainingDiverged):
                raise
            from ray import tune

            tune.report({metric: math.nan, DIVERGED: str(error) or type(error).__name__})
            return None

    return trainable


def ray_trials_of(result_grid: Any) -> list[Any]:
    """Ray's trial objects behind a `ResultGrid` (status, trial_id, last_result)."""
    analysis = getattr(result_grid, "_experiment_analysis", None)
    return list(getattr(analysis, "trials", None) or [])


def open_ray_trials(study: optuna.Study) -> set[str]:
    """The Ray trials (a population's for its members) with an Optuna record still RUNNING."""
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    ids = (r.user_attrs.get(POPULATION_TRIAL) or r.user_attrs.get(RAY_TRIAL_ID) for r in running)
    return {i for i in ids if i is not None}


def unfinished(trial: Any, max_t: int, open_ids: Collection[str]) -> bool:
    """Whether a Ray trial has not ended. Ray marks the trials it stops on Ctrl-C TERMINATED
    too; a trial that really ended ran `max_t` epochs, was stopped by a STOP decision (ASHA,
    the NaN stopper), which puts `done` in its last result, or has no record in `open_ids`
    (`open_ray_trials`; the module docstring says why). An errored trial is ERROR."""
    if trial.status in UNFINISHED:
        return True
    result = trial.last_result or {}
    epochs = result.get(TRAINING_ITERATION)
    ran_all = isinstance(epochs, int) and epochs >= max_t
    ended = result.get("done") or ran_all or trial.trial_id not in open_ids
    return trial.status == "TERMINATED" and not ended


def was_interrupted(
    trials: Iterable[Any], num_samples: int, max_t: int, study: optuna.Study
) -> bool:
    """True when the sweep stopped before every one of its `num_samples` trials ended."""
    trials = list(trials)
    open_ids = open_ray_trials(study)
    return len(trials) < num_samples or any(unfinished(t, max_t, open_ids) for t in trials)


def close_orphans(
    study: optuna.Study, trials: Iterable[Any], metric: str, max_t: int, worst: bool = False
) -> int:
    """Close every RUNNING Optuna record that no unfinished Ray trial will continue (`worst`:
    `on_nonfinite: worst`, a NaN/inf metric recorded as the mode's worst value).

    Returns how many records were closed.
    """
    by_id = {t.trial_id: t for t in trials}
    open_ids = open_ray_trials(study)
    minimize = study.direction == optuna.study.StudyDirection.MINIMIZE
    bad = worst_value("min" if minimize else "max") if worst else None
    storage = study._storage  # noqa: SLF001 (Optuna's public storage API, reached via the study)
    closed = 0
    for record in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        population = record.user_attrs.get(POPULATION_TRIAL)
        ray_trial = by_id.get(population or record.user_attrs.get(RAY_TRIAL_ID))
        if ray_trial is not None and unfinished(ray_trial, max_t, open_ids):
            continue  # `resume` continues it
        member = population and ray_trial is not None
        if member:
            state, value, reason = _member_verdict(record, max_t)
        else:
            state, value, reason = _verdict(ray_trial, record, metric, max_t, bad)
        if reason:
            storage.set_trial_user_attr(record._trial_id, FAIL_REASON, reason)  # noqa: SLF001
        for step, result_value in [] if member else _missing_steps(ray_trial, record, metric, bad):
            storage.set_trial_intermediate_value(record._trial_id, step, result_value)  # noqa: SLF001
        study.tell(record.number, value, state=state)
        closed += 1
    return closed


def _verdict(
    ray_trial: Any, record: Any, metric: str, max_t: int, bad: float | None
) -> tuple[TrialState, Any, str | None]:
    """`bad`: the worst value a NaN/inf metric is recorded as (`on_nonfinite: worst`), or None."""
    if ray_trial is None and record.intermediate_values:
        epoch = max(record.intermediate_values)
        reason = (
            f"lost with the driver after epoch {epoch}: its Ray trial started after Ray's last "
            "saved state, so resume could not continue it"
        )
        return TrialState.FAIL, None, reason
    if ray_trial is None:
        return TrialState.FAIL, None, "created but never run: the sweep stopped before it started"
    result = ray_trial.last_result or {}
    if ray_trial.status == "ERROR":
        exception = reason_of(ray_trial)
        return (
            TrialState.FAIL,
            None,
            exception or "the trainable raised an error (after its retries)",
        )
    last = furthest(result, record.intermediate_values, metric)  # the record may lead Ray
    state = final_state(last, metric, max_t, worst=bad is not None)
    if state == TrialState.FAIL:
        return state, None, f"{metric} is {result.get(metric)!r}, not a finite number"
    if nonfinite_number(last.get(metric)):
        reason = WORST + fail_reason(last, metric, False)
        return state, (bad if state == TrialState.COMPLETE else None), reason
    return state, (finite(last.get(metric)) if state == TrialState.COMPLETE else None), None


def _member_verdict(record: Any, max_t: int) -> tuple[TrialState, Any, str | None]:
    """A population member left open when its Ray trial ended, judged by its own values."""
    values = record.intermediate_values
    last = finite(values[max(values)]) if values else None
    if values and max(values) >= max_t and last is not None:
        return TrialState.COMPLETE, last, None
    return TrialState.FAIL, None, "its Ray trial ended without a final report for this member"


def _missing_steps(
    ray_trial: Any, record: Any, metric: str, bad: float | None = None
) -> list[tuple[int, float]]:
    """The last result's value, when Optuna did not record that epoch yet (`bad` for a NaN/inf
    one under `on_nonfinite: worst`)."""
    result = (ray_trial.last_result or {}) if ray_trial is not None else {}
    step, value = result.get("training_iteration"), finite(result.get(metric))
    if value is None and bad is not None and nonfinite_number(result.get(metric)):
        value = bad
    if not isinstance(step, int) or value is None or step in record.intermediate_values:
        return []
    return [(step, value)]


def close_running(study: optuna.Study, reason_of: Callable[[Any], str]) -> int:
    """Close every RUNNING record FAIL with `reason_of(record)` as its `fail_reason` (the sweep
    cannot go on: its Ray is gone, its disk is full); returns how many were closed."""
    storage = study._storage  # noqa: SLF001 (Optuna's public storage API, reached via the study)
    closed = 0
    for record in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        try:
            storage.set_trial_user_attr(record._trial_id, FAIL_REASON, reason_of(record))  # noqa: SLF001
            study.tell(record.number, state=TrialState.FAIL)
            closed += 1
        except (ValueError, RuntimeError):  # finished meanwhile: it keeps its verdict
            continue
    return closed
