"""`ResumableASHA`: Ray's ASHA that does not judge a resumed trial again at rungs it had passed.

Ray saves neither ASHA's rungs nor the results that came after its last state snapshot. After
`python -m tuner resume`, a trial goes on from its checkpoint and, at its first result, Ray's
ASHA judges it at every rung at or below that epoch against the few trials recorded since the
restart: a trial the study shows past rung 4 could be stopped at epoch 3, leaving its Optuna
record with later epochs from a life that no longer counts. `passed` (set on restore from the
study: Ray trial id -> the epochs and values it recorded) puts such a trial into every rung
below its last recorded epoch with its recorded value there, as the first run had it, before
Ray's rule runs; rungs at or after that epoch are judged as usual.

A grown sweep (`tuner.growth`) is a new Ray run on the same study: `earlier` (the study's
finished trials, same form) puts every earlier trial into each rung it reached, with its value
there, before the first new trial is added, so new trials are judged against all of them.

The rungs are Ray's private state: with the patches off (`tuner.ray_patches`) neither applies
and this is exactly Ray's ASHA.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ray.tune.schedulers import ASHAScheduler

from tuner.failures import FailureNotes
from tuner.ray_patches import patches_enabled
from tuner.searcher import RAY_TRIAL_ID

#: Ray trial id -> {epoch: metric value} of what its Optuna record holds
Passed = dict[str, dict[int, float]]


class ResumableASHA(FailureNotes, ASHAScheduler):
    """`ASHAScheduler` plus `passed` (module docstring); without it, exactly Ray's ASHA (and
    `FailureNotes`: trials' exceptions, `fail_fast`)."""

    def __init__(self, earlier: Passed | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.passed: Passed = {}
        self.earlier: Passed = dict(earlier or {})

    def on_trial_add(self, tune_controller: Any, trial: Any) -> None:
        # metric and mode are known by now: the rungs store metric_op x value
        if self.earlier and patches_enabled():
            earlier, self.earlier = self.earlier, {}
            for bracket in getattr(self, "_brackets", []):
                for milestone, recorded in getattr(bracket, "_rungs", []):  # noqa: SLF001
                    for trial_id, values in earlier.items():
                        if milestone in values:
                            recorded.setdefault(trial_id, self._metric_op * values[milestone])
        super().on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        recorded_values = self.passed.pop(trial.trial_id, None)  # once, at its first result
        if recorded_values and patches_enabled():
            self._put_back(trial.trial_id, recorded_values)
        return super().on_trial_result(tune_controller, trial, result)

    def _put_back(self, trial_id: str, recorded_values: dict[int, float]) -> None:
        """Enter `trial_id` into its bracket's rungs below its last recorded epoch."""
        bracket = self._trial_info.get(trial_id)  # noqa: SLF001
        if bracket is not None:
            last = max(recorded_values)
            for milestone, recorded in bracket._rungs:  # noqa: SLF001 (Ray 2.60's rungs)
                value = recorded_values.get(milestone)
                if milestone < last and value is not None and trial_id not in recorded:
                    recorded[trial_id] = self._metric_op * value


def passed_rungs(records: Iterable[Any]) -> Passed:
    """`ResumableASHA.passed` from Optuna records (`FrozenTrial`s of the sweep's study)."""
    passed: Passed = {}
    for record in records:
        trial_id = record.user_attrs.get(RAY_TRIAL_ID)
        values: Mapping[int, float] = record.intermediate_values
        if trial_id and values:
            passed[str(trial_id)] = {int(step): float(v) for step, v in values.items()}
    return passed
