"""Ray's OptunaSearch, made to tell Optuna the truth about every trial (DESIGN.md §6).

Stock `OptunaSearch` tells every finished trial COMPLETE with its last value (so a trial ASHA
stopped after one epoch competes with full-budget trials) and leaves a NaN trial RUNNING. Here:

- every reported epoch value becomes an intermediate value `trial.report(value, step)` with
  `step = training_iteration` (the epoch count ASHA uses), including the result a trial was
  stopped on (Ray does not pass that one to `on_trial_result`);
- a trial whose last result reached `max_t` epochs is COMPLETE with that result's value;
- a trial that ended before `max_t` (ASHA stopped it) is PRUNED; Optuna then takes its last
  intermediate value as the trial's value;
- a non-finite metric, an error after Ray's retries, or a trial that never reported is FAIL,
  with the reason in the user attribute `fail_reason`; with `on_nonfinite: worst` a NaN or
  infinite metric is instead recorded as the mode's worst value (+inf for min, -inf for max) at
  its epoch, the trial PRUNED (COMPLETE at `max_t`) and flagged by `fail_reason`
  ("recorded as worst: ...").

The PRUNED/COMPLETE decision compares the epochs run with `max_t` rather than hooking ASHA:
ASHA itself answers STOP at `max_t`, the searcher and the scheduler are checkpointed separately
by Ray (a shared set would not survive `Tuner.restore`), and the epoch count is what the study
shows anyway. The trial's full config and Ray trial id are stored as Optuna user attributes, so
exports need only the study.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.air.constants import TRAINING_ITERATION
from ray.tune.search.optuna import OptunaSearch
from ray.tune.stopper import Stopper

from tuner.failures import take_reason
from tuner.storage import open_storage

logger = logging.getLogger(__name__)

Define = Callable[[optuna.Trial], dict[str, Any]]

#: Optuna user attributes written for every trial
RAY_TRIAL_ID = "ray_trial_id"
CONFIG = "config"
#: why a FAIL trial failed, for people (also a column of the exports' user attributes)
FAIL_REASON = "fail_reason"
#: result key holding a `TrainingDiverged` message (see `tuner.recovery.stop_on_divergence`)
DIVERGED = "diverged"
#: what `fail_reason` starts with on a trial recorded with the worst value (`on_nonfinite: worst`)
WORST = "recorded as worst: "


def finite(value: Any) -> float | None:
    """`value` as a finite float, or None when it is missing, not a number, NaN or infinite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def worst_value(mode: str) -> float:
    """The value `on_nonfinite: worst` records for a NaN or infinite metric."""
    return math.inf if mode == "min" else -math.inf


def nonfinite_number(value: Any) -> bool:
    """Whether `value` is a number that is NaN or infinite (not a missing or text value)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and finite(value) is None


def final_state(
    result: Mapping[str, Any] | None,
    metric: str,
    max_t: int,
    error: bool = False,
    worst: bool = False,
) -> TrialState:
    """How a trial that ended with last result `result` is recorded (module docstring);
    `worst`: `on_nonfinite: worst`."""
    if error or not result:
        return TrialState.FAIL
    value = result.get(metric)
    if finite(value) is None and not (worst and nonfinite_number(value)):
        return TrialState.FAIL
    if int(result.get(TRAINING_ITERATION, 0)) >= max_t:
        return TrialState.COMPLETE
    return TrialState.PRUNED


def furthest(
    result: Mapping[str, Any] | None, recorded: Mapping[int, float], metric: str
) -> Mapping[str, Any]:
    """The later of Ray's last `result` and the record's own last epoch (`recorded`: the
    record's intermediate values), as a result. The record can lead Ray's saved state (Optuna's
    journal is written live, Ray's state now and then): a verdict on Ray's result alone would
    judge a trial epochs behind what its record shows. A result that is not a finite number
    (a NaN, a missing metric) is kept: it decides FAIL however far the record went."""
    result = result or {}
    step = result.get(TRAINING_ITERATION)
    if not recorded or finite(result.get(metric)) is None and result:
        return result
    last = max(recorded)
    if isinstance(step, int) and step >= last:
        return result
    return {TRAINING_ITERATION: last, metric: recorded[last]}


def fail_reason(
    result: Mapping[str, Any] | None, metric: str, error: bool, exception: str | None = None
) -> str:
    """Why a trial with last result `result` is FAIL, in words; `exception` is the error it
    raised (`Type: message`, `tuner.failures`)."""
    if error and exception:
        return exception
    if error:
        return "the trainable raised an error (after its retries); see error.txt in its folder"
    if not result:
        return "reported no result"
    epoch = result.get(TRAINING_ITERATION, "?")
    if result.get(DIVERGED):
        return f"diverged at epoch {epoch}: {result[DIVERGED]}"
    return f"{metric} is {result.get(metric)!r} at epoch {epoch}, not a finite number"


class BudgetAwareOptunaSearch(OptunaSearch):
    """OptunaSearch with correct trial states: COMPLETE only at `max_t`, PRUNED, FAIL.

    `metric` and `mode` come from `TuneConfig` through `set_search_properties` (give the Tuner a
    non-empty `param_space` of constants so Ray calls it). The trial config is exactly what
    `define(trial)` returns: Optuna parameter names containing `/` are never unflattened into it.
    """

    def __init__(
        self,
        define: Define,
        *,
        max_t: int,
        sampler: optuna.samplers.BaseSampler,
        study_name: str,
        storage: optuna.storages.BaseStorage | str,
        on_nonfinite: str = "fail",
    ) -> None:
        if isinstance(storage, str):
            storage = open_storage(storage)
        super().__init__(space=None, sampler=sampler, study_name=study_name, storage=storage)
        self._define = define
        self._max_t = max_t
        self._worst = on_nonfinite == "worst"
        self._last_step: dict[str, int] = {}

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        if self._ot_study is not None:
            return False
        self._metric, self._mode = metric, mode
        self._space = self._define
        self._setup_study(mode)
        return True

    @property
    def study(self) -> optuna.Study | None:
        """The Optuna study (created once Ray has set metric and mode)."""
        return self._ot_study

    def suggest(self, trial_id: str) -> dict | None:
        if self._ot_study is None or not self._metric or not self._mode:
            return super().suggest(trial_id)  # raises Ray's own "metric/mode undefined" error
        if trial_id not in self._ot_trials:
            self._ot_trials[trial_id] = self._ot_study.ask()
        ot_trial = self._ot_trials[trial_id]
        try:
            config = self._define(ot_trial)
        except Exception as error:
            reason = f"its config could not be sampled: {type(error).__name__}: {error}"
            try:  # never left RUNNING (on a full disk: closed with the sweep, `tuner.disk_full`)
                ot_trial.set_user_attr(FAIL_REASON, reason[:500])
                self._ot_study.tell(ot_trial, state=TrialState.FAIL)
            except (OSError, ValueError, RuntimeError) as again:
                logger.warning("could not record trial %s in Optuna: %s", trial_id, again)
            self._completed_trials.add(trial_id)
            raise
        ot_trial.set_user_attr(RAY_TRIAL_ID, trial_id)
        ot_trial.set_user_attr(CONFIG, json.loads(json.dumps(config, default=str)))
        return copy.deepcopy(config)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        self._report(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        self._completed_trials.add(trial_id)
        record = self._ot_trials[trial_id]
        stored = self._ot_study.get_trials(deepcopy=False)[record.number]
        if stored.state.is_finished():  # a trial Ray ran again after a restart: keep its verdict
            logger.info("trial %s was recorded %s already", trial_id, stored.state.name)
            return
        if result:
            self._report(trial_id, result)
        values = {**stored.intermediate_values, **self._reported(trial_id, result)}
        last = furthest(result, values, self._metric)
        state = final_state(last, self._metric, self._max_t, error, self._worst)
        value = finite(last.get(self._metric)) if state == TrialState.COMPLETE else None
        nonfinite = state != TrialState.FAIL and nonfinite_number(last.get(self._metric))
        if nonfinite and state == TrialState.COMPLETE:
            value = worst_value(self._mode)
        try:
            if state == TrialState.FAIL:
                reason = fail_reason(result, self._metric, error, take_reason(trial_id))
                record.set_user_attr(FAIL_REASON, reason)
            elif nonfinite:
                record.set_user_attr(FAIL_REASON, WORST + fail_reason(last, self._metric, False))
            self._ot_study.tell(record, value, state=state)
        except (ValueError, RuntimeError) as exc:  # finished meanwhile by another process
            logger.warning("could not record trial %s in Optuna: %s", trial_id, exc)

    def _reported(self, trial_id: str, result: Mapping[str, Any] | None) -> dict[int, float]:
        """The epoch value `result` added to the record, if `_report` recorded it."""
        step = (result or {}).get(TRAINING_ITERATION)
        if isinstance(step, int) and self._last_step.get(trial_id) == step:
            return {step: float(result[self._metric])}
        return {}

    def _report(self, trial_id: str, result: Mapping[str, Any]) -> None:
        """Record `result`'s metric as the intermediate value of its epoch (each epoch once)."""
        step = result.get(TRAINING_ITERATION)
        if self._metric not in result or not isinstance(step, int):
            return
        if step <= self._last_step.get(trial_id, 0):
            return  # a duplicate final result, or a retry replaying epochs already recorded
        try:
            value = float(result[self._metric])
        except (TypeError, ValueError):
            return
        if self._worst and not math.isfinite(value):
            value = worst_value(self._mode)
        try:
            self._ot_trials[trial_id].report(value, step)
        except RuntimeError as exc:  # finished already (a trial rerun after a driver crash)
            logger.warning("trial %s is already recorded in Optuna: %s", trial_id, exc)
            self._completed_trials.add(trial_id)
            return
        self._last_step[trial_id] = step


class NonFiniteStopper(Stopper):
    """Stops a trial as soon as its metric is NaN or infinite (the searcher marks it FAIL).

    ASHA never stops such a trial itself: NaN compares false with every cutoff.
    """

    def __init__(self, metric: str) -> None:
        self._metric = metric

    def __call__(self, trial_id: str, result: dict) -> bool:
        return self._metric in result and finite(result[self._metric]) is None

    def stop_all(self) -> bool:
        return False
