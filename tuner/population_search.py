"""The searcher of a `population: K` sweep: K Optuna trials per Ray trial, each told its own state.

`suggest` asks Optuna for K trials at once (fewer for the last population, so the study holds
exactly `num_samples` trials) and hands Ray one config carrying the K member configs with their
Optuna numbers (`trainables.population`). Each Ray result carries every active member's metrics
under `member/<number>/<metric>`: each becomes that member's intermediate value at the epoch
(`training_iteration`). A member that ended (`member_end/<number>`) is told at once: COMPLETE
with its last value, PRUNED, or FAIL with its `fail_reason`. Members still open when their Ray
trial ends (an error, a divergence of the whole population) are FAIL with the Ray trial's reason.

Each member's Optuna record carries its full config and, as `ray_trial_id`, its member id
`<ray trial id>-<number>` (`member_id`): the tables show one row per member, as for unfused trials.

Restarts: a Ray trial restarted from its checkpoint reports the epochs after it again, and its
first result carries the checkpoint's epoch again (`previous/...`, `previous_epoch`, see
`trainables.population`), in case that epoch's result never reached the driver; each member's
epoch is recorded once (the first report of it), and a member told already is never told
again. A resumed sweep restores this searcher from Ray's last saved state, which may be
older than the study (written as results arrive): `restore` brings it up to date with the study,
so members the study has finished stay as they are and recorded epochs are not recorded again.
"""

from __future__ import annotations

import copy
import json
import logging
import math
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import TrialState
from ray.air.constants import TRAINING_ITERATION

from trainables.population import PREVIOUS, PREVIOUS_EPOCH
from tuner.failures import take_reason
from tuner.searcher import (
    CONFIG,
    FAIL_REASON,
    RAY_TRIAL_ID,
    BudgetAwareOptunaSearch,
    fail_reason,
    finite,
)

logger = logging.getLogger(__name__)

#: Optuna user attribute: the Ray trial that trained a population member
POPULATION_TRIAL = "population_trial"


def member_id(ray_trial_id: str, number: int) -> str:
    """The id a population member has in the tables: its Ray trial's id and its Optuna number."""
    return f"{ray_trial_id}-{number}"


class PopulationOptunaSearch(BudgetAwareOptunaSearch):
    """`BudgetAwareOptunaSearch` asking `population` Optuna trials per Ray trial."""

    def __init__(
        self,
        *args: Any,
        population: int,
        num_members: int,
        asha_actor: str | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._population = population
        self._num_members = num_members
        self._asha_actor = asha_actor
        self._asked = 0
        #: Ray trial id -> [(Optuna number, trial)] of its members
        self._members: dict[str, list[tuple[int, optuna.Trial]]] = {}
        #: Optuna number -> (last epoch recorded, its value)
        self._member_last: dict[int, tuple[int, float]] = {}
        self._closed: set[int] = set()
        self._configs: dict[int, dict[str, Any]] = {}

    def suggest(self, trial_id: str) -> dict | None:
        if self._ot_study is None or not self._metric or not self._mode:
            return super().suggest(trial_id)
        if trial_id not in self._members:
            size = min(self._population, self._num_members - self._asked)
            if size <= 0:
                return None
            self._members[trial_id] = self._ask_members(trial_id, size)
        members = [
            {"number": number, "config": copy.deepcopy(self._configs[number])}
            for number, _ in self._members[trial_id]
        ]
        population = {
            "metric": self._metric,
            "mode": self._mode,
            "asha": self._asha_actor,
            "members": members,
        }
        return {"population": population}

    def _ask_members(self, trial_id: str, size: int) -> list[tuple[int, optuna.Trial]]:
        members = []
        for _ in range(size):
            ot_trial = self._ot_study.ask()
            self._asked += 1
            try:
                config = self._define(ot_trial)
            except Exception:
                self._ot_study.tell(ot_trial, state=TrialState.FAIL)  # never left RUNNING
                raise
            ot_trial.set_user_attr(RAY_TRIAL_ID, member_id(trial_id, ot_trial.number))
            ot_trial.set_user_attr(POPULATION_TRIAL, trial_id)
            ot_trial.set_user_attr(CONFIG, json.loads(json.dumps(config, default=str)))
            self._configs[ot_trial.number] = config
            members.append((ot_trial.number, ot_trial))
        return members

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if trial_id in self._members:
            self._record(trial_id, result)

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)
        self._catch_up()

    def _catch_up(self) -> None:
        """Take what the study recorded after Ray's saved state: finished members are closed,
        each open member's last recorded epoch is the study's."""
        if self._ot_study is None:
            return
        records = {t.number: t for t in self._ot_study.get_trials(deepcopy=False)}
        for members in self._members.values():
            for number, _ in members:
                record = records.get(number)
                if record is None:
                    continue
                if record.state.is_finished():
                    self._closed.add(number)
                    continue
                if record.intermediate_values:
                    step = max(record.intermediate_values)
                    if step > self._member_last.get(number, (0, math.nan))[0]:
                        self._member_last[number] = (step, record.intermediate_values[step])

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if trial_id not in self._members:
            return
        if result:
            self._record(trial_id, result)
        for number, ot_trial in self._members[trial_id]:
            if number not in self._closed:
                reason = fail_reason(result, self._metric, error, take_reason(trial_id))
                if not error and result and finite(result.get(self._metric)) is not None:
                    reason = "its Ray trial ended without a final report for this member"
                self._tell(number, ot_trial, TrialState.FAIL, reason=reason)

    def _record(self, trial_id: str, result: Mapping[str, Any]) -> None:
        previous = result.get(PREVIOUS_EPOCH)
        if isinstance(previous, int):  # a restarted trial's checkpoint epoch, sent again
            again = {k[len(PREVIOUS) :]: v for k, v in result.items() if k.startswith(PREVIOUS)}
            self._record_step(trial_id, previous, again)
        step = result.get(TRAINING_ITERATION)
        if isinstance(step, int):
            self._record_step(trial_id, step, result)

    def _record_step(self, trial_id: str, step: int, result: Mapping[str, Any]) -> None:
        for number, ot_trial in self._members[trial_id]:
            if number in self._closed:
                continue
            value = result.get(f"member/{number}/{self._metric}")
            last_step, _ = self._member_last.get(number, (0, math.nan))
            if isinstance(value, int | float) and step > last_step:
                try:
                    ot_trial.report(float(value), step)
                except RuntimeError as exc:  # finished already (told before a driver crash)
                    logger.warning("member %s is already recorded in Optuna: %s", number, exc)
                    self._closed.add(number)
                    continue
                self._member_last[number] = (step, float(value))
            end = result.get(f"member_end/{number}")
            if end is not None:
                reason = result.get(f"member_reason/{number}")
                self._tell(number, ot_trial, TrialState[str(end)], reason=reason)

    def _tell(
        self, number: int, ot_trial: optuna.Trial, state: TrialState, reason: Any = None
    ) -> None:
        value = None
        if state == TrialState.COMPLETE:
            value = finite(self._member_last.get(number, (0, math.nan))[1])
            if value is None:
                state, reason = TrialState.FAIL, "completed without a finite value"
        try:  # a record finished before a driver crash raises here; it keeps its verdict
            if state == TrialState.FAIL:
                ot_trial.set_user_attr(FAIL_REASON, str(reason or "unknown"))
            self._ot_study.tell(ot_trial, value, state=state)
        except (ValueError, RuntimeError) as exc:  # e.g. finished already in a resumed run
            logger.warning("could not record member %s in Optuna: %s", number, exc)
        self._closed.add(number)
