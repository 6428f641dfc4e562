"""The searcher's bookkeeping, driven through Ray's Searcher interface on a real Optuna study."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState

from trainables.lr.errors import ConfigError
from tuner.samplers import SAMPLERS, build_sampler
from tuner.searcher import (
    CONFIG,
    RAY_TRIAL_ID,
    BudgetAwareOptunaSearch,
    NonFiniteStopper,
    final_state,
)

MAX_T = 4


def define(trial: optuna.Trial) -> dict:
    """A seed-format config whose Optuna names contain `/` (as the search spaces name them)."""
    lr = trial.suggest_float("learning_rate/encoder/shared/lr", 1e-4, 1e-1, log=True)
    return {"n_epochs": MAX_T, "learning_rate": {"encoder": {"shared": {"lr": lr}}}}


def searcher() -> BudgetAwareOptunaSearch:
    search = BudgetAwareOptunaSearch(
        define,
        max_t=MAX_T,
        sampler=optuna.samplers.RandomSampler(seed=0),
        study_name="unit",
        storage="sqlite:///:memory:",
    )
    assert search.set_search_properties("score", "min", {"n_epochs": MAX_T})
    return search


def result(step: int, value: float) -> dict:
    return {"score": value, "training_iteration": step}


@pytest.mark.parametrize(
    ("last", "error", "state"),
    [
        (result(MAX_T, 0.5), False, TrialState.COMPLETE),
        (result(MAX_T + 1, 0.5), False, TrialState.COMPLETE),
        (result(MAX_T - 1, 0.5), False, TrialState.PRUNED),
        (result(1, 0.5), False, TrialState.PRUNED),
        (result(MAX_T, math.nan), False, TrialState.FAIL),
        (result(2, math.inf), False, TrialState.FAIL),
        (result(MAX_T, 0.5), True, TrialState.FAIL),
        (None, True, TrialState.FAIL),
        (None, False, TrialState.FAIL),
        ({"training_iteration": MAX_T}, False, TrialState.FAIL),
    ],
)
def test_final_state(last: dict | None, error: bool, state: TrialState) -> None:
    assert final_state(last, "score", MAX_T, error) == state


def test_config_is_exactly_what_define_returned() -> None:
    search = searcher()
    config = search.suggest("a")
    trial = search.study.trials[0]
    lr = trial.params["learning_rate/encoder/shared/lr"]
    assert config == {"n_epochs": MAX_T, "learning_rate": {"encoder": {"shared": {"lr": lr}}}}
    assert trial.user_attrs[CONFIG] == config
    assert trial.user_attrs[RAY_TRIAL_ID] == "a"


def test_stopped_trial_is_pruned_with_its_last_epoch_recorded() -> None:
    search = searcher()
    search.suggest("a")
    search.on_trial_result("a", result(1, 0.9))
    # Ray passes the result a trial was stopped on only to on_trial_complete
    search.on_trial_complete("a", result=result(2, 0.7))
    trial = search.study.trials[0]
    assert trial.state == TrialState.PRUNED
    assert trial.intermediate_values == {1: 0.9, 2: 0.7}
    assert trial.value == 0.7


def test_full_budget_is_complete_and_duplicates_are_recorded_once() -> None:
    search = searcher()
    search.suggest("a")
    for step, value in enumerate([0.9, 0.8, 0.6, 0.5], start=1):
        search.on_trial_result("a", result(step, value))
    search.on_trial_result("a", result(2, 123.0))  # a retry replaying epoch 2
    search.on_trial_complete("a", result=result(MAX_T, 0.5))  # the duplicate final result
    trial = search.study.trials[0]
    assert trial.state == TrialState.COMPLETE
    assert trial.value == 0.5
    assert trial.intermediate_values == {1: 0.9, 2: 0.8, 3: 0.6, 4: 0.5}


def test_nan_and_errors_fail_and_nothing_stays_running() -> None:
    search = searcher()
    for trial_id in "abc":
        search.suggest(trial_id)
    search.on_trial_result("a", result(1, 0.9))
    search.on_trial_complete("a", result=result(2, math.nan))
    search.on_trial_result("b", result(1, 0.9))
    search.on_trial_complete("b", error=True)
    search.on_trial_complete("c")  # removed before it reported anything
    search.on_trial_complete("c", result=result(MAX_T, 0.1))  # told twice: ignored
    states = [t.state for t in search.study.trials]
    assert states == [TrialState.FAIL] * 3
    assert search.study.trials[0].intermediate_values[1] == 0.9
    assert math.isnan(search.study.trials[0].intermediate_values[2])


def test_stopper_stops_only_non_finite_metric_values() -> None:
    stop = NonFiniteStopper("score")
    assert stop("t", {"score": math.nan}) and stop("t", {"score": -math.inf})
    assert not stop("t", {"score": 1.0}) and not stop("t", {"other": math.nan})
    assert not stop.stop_all()


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_every_sampler_builds_seeded(name: str) -> None:
    if SAMPLERS[name].requires:
        pytest.importorskip(SAMPLERS[name].requires)

    def first_draws(sampler: optuna.samplers.BaseSampler) -> list[float]:
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
        return [t.params["x"] for t in study.trials]

    startup = 2 if SAMPLERS[name].startup else None
    assert first_draws(build_sampler(name, 7, startup)) == first_draws(
        build_sampler(name, 7, startup)
    )


def test_unknown_sampler_names_the_nearest() -> None:
    with pytest.raises(ConfigError, match=r"searcher\.name: 'tpee' is not a known sampler.*'tpe'"):
        build_sampler("tpee")


def test_a_failing_define_leaves_no_running_trial() -> None:
    def broken(trial: optuna.Trial) -> dict:
        trial.suggest_float("x", 0, 1)
        raise ValueError("cannot build this config")

    search = BudgetAwareOptunaSearch(
        broken,
        max_t=MAX_T,
        sampler=optuna.samplers.RandomSampler(seed=0),
        study_name="broken",
        storage="sqlite:///:memory:",
    )
    search.set_search_properties("score", "min", {})
    with pytest.raises(ValueError, match="cannot build"):
        search.suggest("a")
    assert [t.state for t in search.study.trials] == [TrialState.FAIL]
