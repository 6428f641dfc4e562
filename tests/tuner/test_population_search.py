"""The population searcher driven through Ray's Searcher interface on a real Optuna study."""

from __future__ import annotations

import math

import optuna
from optuna.trial import TrialState

from tuner.population_search import POPULATION_TRIAL, PopulationOptunaSearch, member_id
from tuner.searcher import CONFIG, FAIL_REASON, RAY_TRIAL_ID

MAX_T = 3


def define(trial: optuna.Trial) -> dict:
    return {"n_epochs": MAX_T, "x": trial.suggest_float("x", 0.0, 1.0)}


def searcher(population: int, num_members: int) -> PopulationOptunaSearch:
    search = PopulationOptunaSearch(
        define,
        population=population,
        num_members=num_members,
        asha_actor="member-asha-unit",
        max_t=MAX_T,
        sampler=optuna.samplers.RandomSampler(seed=0),
        study_name="unit",
        storage="sqlite:///:memory:",
    )
    assert search.set_search_properties("score", "min", {"n_epochs": MAX_T})
    return search


def test_suggest_packs_k_members_and_the_last_population_is_smaller() -> None:
    search = searcher(population=4, num_members=10)
    configs = [search.suggest(f"t{i}") for i in range(3)]
    assert search.suggest("t3") is None  # every member asked
    sizes = [len(c["population"]["members"]) for c in configs]
    assert sizes == [4, 4, 2]
    numbers = [m["number"] for c in configs for m in c["population"]["members"]]
    assert numbers == list(range(10))
    assert configs[0]["population"]["asha"] == "member-asha-unit"
    assert configs[0]["population"]["metric"] == "score"
    assert search.suggest("t0") == configs[0]  # asked again (a retry): the same members
    trials = search.study.get_trials(deepcopy=False)
    assert len(trials) == 10
    for trial in trials:
        owner = f"t{trial.number // 4}"
        assert trial.user_attrs[RAY_TRIAL_ID] == member_id(owner, trial.number)
        assert trial.user_attrs[POPULATION_TRIAL] == owner
        assert trial.user_attrs[CONFIG] == {"n_epochs": MAX_T, "x": trial.params["x"]}


def test_each_member_gets_its_values_and_its_own_state() -> None:
    search = searcher(population=4, num_members=4)
    search.suggest("t")
    search.on_trial_result(
        "t",
        {"training_iteration": 1, "score": 0.1, "member/0/score": 0.5, "member/1/score": 0.1,
         "member/2/score": 0.7, "member/3/score": math.nan, "member_end/3": "FAIL",
         "member_reason/3": "diverged at epoch 1: loss nan"},
    )  # fmt: skip
    search.on_trial_result(
        "t",
        {"training_iteration": 2, "member/0/score": 0.4, "member/1/score": 0.05,
         "member/2/score": 0.6, "member_end/2": "PRUNED"},
    )  # fmt: skip
    last = {"training_iteration": 3, "member/0/score": 0.3, "member_end/0": "COMPLETE"}
    search.on_trial_result("t", last)
    search.on_trial_complete("t", {**last, "score": 0.3})  # member 1: no final report
    trials = search.study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [
        TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED, TrialState.FAIL,
    ]  # fmt: skip
    assert trials[0].value == 0.3 and trials[0].intermediate_values == {1: 0.5, 2: 0.4, 3: 0.3}
    assert trials[1].intermediate_values == {1: 0.1, 2: 0.05}
    assert "without a final report" in trials[1].user_attrs[FAIL_REASON]
    assert trials[2].intermediate_values == {1: 0.7, 2: 0.6}
    assert math.isnan(trials[3].intermediate_values[1])
    assert trials[3].user_attrs[FAIL_REASON] == "diverged at epoch 1: loss nan"


def test_members_still_open_when_their_trial_errors_fail() -> None:
    search = searcher(population=2, num_members=2)
    search.suggest("t")
    search.on_trial_result("t", {"training_iteration": 1, "member/0/score": 0.5})
    search.on_trial_complete("t", None, error=True)
    trials = search.study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL]
    assert trials[0].intermediate_values == {1: 0.5}
    assert all("raised an error" in t.user_attrs[FAIL_REASON] for t in trials)
