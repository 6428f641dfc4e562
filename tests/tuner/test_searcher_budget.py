"""`BudgetSampler`: which budget it models, what it proposes, and that the study keeps the
true states and values."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState, create_trial

from tuner.budget_sampler import (
    FINAL,
    BudgetSampler,
    choose_budget,
    observations,
    rank_correlation,
)
from tuner.samplers import build_sampler

X = {"x": FloatDistribution(0.0, 1.0)}


def curve_trial(x: float, values: dict[int, float], state: TrialState) -> optuna.trial.FrozenTrial:
    final = values[max(values)] if state == TrialState.COMPLETE else None
    return create_trial(
        state=state, params={"x": x}, distributions=X, intermediate_values=values, value=final
    )


def test_observations_per_budget_skip_fail_and_count_final_values() -> None:
    trials = [
        curve_trial(0.1, {1: 5.0, 2: 4.0, 3: 3.0}, TrialState.COMPLETE),
        curve_trial(0.2, {1: 6.0}, TrialState.PRUNED),
        curve_trial(0.3, {1: 7.0, 2: float("nan")}, TrialState.PRUNED),
        curve_trial(0.4, {1: 1.0}, TrialState.FAIL),
    ]
    study = optuna.create_study()
    study.add_trials(trials)
    seen = observations(study.get_trials())
    assert seen == {1.0: {0: 5.0, 1: 6.0, 2: 7.0}, 2.0: {0: 4.0}, 3.0: {0: 3.0}, FINAL: {0: 3.0}}
    assert observations(study.get_trials(), skip=0)[1.0] == {1: 6.0, 2: 7.0}


def test_rank_correlation_is_spearmans_rho() -> None:
    a = {i: float(i) for i in range(6)}
    assert rank_correlation(a, {i: 10.0 * i for i in range(6)}) == pytest.approx(1.0)
    assert rank_correlation(a, {i: -float(i) for i in range(6)}) == pytest.approx(-1.0)
    # ranks (0..5) against (1, 0, 2, 3, 5, 4): sum d^2 = 4, rho = 1 - 6*4/(6*35)
    b = dict(enumerate([1.0, 0.0, 2.0, 3.0, 5.0, 4.0]))
    assert rank_correlation(a, b) == pytest.approx(1 - 24 / 210, rel=1e-12)
    assert rank_correlation(a, {0: 1.0, 1: 2.0}) is None  # fewer than 3 shared
    assert rank_correlation(a, dict.fromkeys(range(6), 1.0)) is None  # constant


def test_choose_budget_takes_the_highest_with_enough_unless_it_mispredicts_the_top() -> None:
    low = {i: float(i) for i in range(12)}
    assert choose_budget({1.0: low}, n_min=13, min_pairs=5, min_correlation=0.5) is None
    assert choose_budget({1.0: low}, n_min=10, min_pairs=5, min_correlation=0.5) == 1.0
    agrees = {i: 2.0 * i for i in range(6)}
    disagrees = {i: -float(i) for i in range(6)}
    seen = {1.0: low, 4.0: agrees}
    assert choose_budget(seen, n_min=10, min_pairs=5, min_correlation=0.5) == 1.0
    seen = {1.0: low, 4.0: disagrees}
    assert choose_budget(seen, n_min=10, min_pairs=5, min_correlation=0.5) == 4.0
    few = {i: -float(i) for i in range(4)}  # below min_pairs: not measured, 1 is trusted
    assert choose_budget({1.0: low, 4.0: few}, n_min=10, min_pairs=5, min_correlation=0.5) == 1.0


def _study_with_curves(n: int, top: float, low_best: float) -> optuna.Study:
    """Trials whose epoch-1 value is lowest near `low_best`, their epoch-4 value near `top`:
    every other trial reached epoch 4, the rest were pruned at 1."""
    sampler = BudgetSampler(seed=0, random_fraction=0.0, below_budget=False)
    study = optuna.create_study(sampler=sampler)
    rng = np.random.default_rng(0)
    for i in range(n):
        x = float(rng.random())
        values = {1: (x - low_best) ** 2}
        if i % 2 == 0:
            values.update({2: (x - top) ** 2, 3: (x - top) ** 2, 4: (x - top) ** 2})
        state = TrialState.COMPLETE if 4 in values else TrialState.PRUNED
        study.add_trial(curve_trial(x, values, state))
    return study


def _proposals(study: optuna.Study, n: int) -> np.ndarray:
    """The x of `n` trials asked in turn, each told FAIL (which leaves the observations as
    they were)."""
    proposals = []
    for _ in range(n):
        trial = study.ask(X)
        proposals.append(trial.params["x"])
        study.tell(trial, state=TrialState.FAIL)
    return np.array(proposals)


def test_sampler_models_the_top_budget_when_epoch_one_mispredicts_it() -> None:
    study = _study_with_curves(40, top=0.8, low_best=0.1)
    before = [(t.state, t.value, dict(t.intermediate_values)) for t in study.trials]
    sampler = study.sampler
    proposals = []
    for _ in range(15):
        trial = study.ask(X)
        proposals.append(trial.params["x"])
        assert sampler.chosen_budget in (4.0, FINAL)
        study.tell(trial, state=TrialState.FAIL)  # leaves the observations as they were
    assert np.median(np.abs(np.array(proposals) - 0.8)) < 0.1
    # the study keeps its true states and values: the model read a copy
    after = [(t.state, t.value, dict(t.intermediate_values)) for t in study.trials[:40]]
    assert after == before


def test_sampler_models_epoch_one_when_it_predicts_the_top() -> None:
    study = _study_with_curves(40, top=0.3, low_best=0.3)
    proposals = []
    for _ in range(15):
        trial = study.ask(X)
        proposals.append(trial.params["x"])
        assert study.sampler.chosen_budget == FINAL  # FINAL has 20 trials, >= n_min
        study.tell(trial, state=TrialState.FAIL)
    assert np.median(np.abs(np.array(proposals) - 0.3)) < 0.1


def test_sampler_draws_at_random_until_a_budget_has_n_startup_trials() -> None:
    sampler = BudgetSampler(seed=3, n_startup_trials=10, random_fraction=0.0)
    study = optuna.create_study(sampler=sampler)
    for i in range(9):
        study.add_trial(curve_trial(i / 10, {1: float(i)}, TrialState.PRUNED))
    random = optuna.samplers.RandomSampler(seed=3)
    reference = optuna.create_study(sampler=random)
    trial = study.ask(X)
    assert sampler.chosen_budget is None
    assert trial.params["x"] == reference.ask(X).params["x"]
    study.tell(trial, state=TrialState.PRUNED)
    study.add_trial(curve_trial(0.05, {1: 0.5}, TrialState.PRUNED))
    study.ask(X)
    assert sampler.chosen_budget == 1.0


def test_random_fraction_draws_that_share_of_trials_at_random() -> None:
    sampler = BudgetSampler(seed=1, random_fraction=0.5)
    study = _study_with_curves(30, top=0.5, low_best=0.5)
    study.sampler = sampler
    chosen = []
    for _ in range(200):
        trial = study.ask(X)
        chosen.append(sampler.chosen_budget)
        study.tell(trial, state=TrialState.FAIL)
    share = sum(c is None for c in chosen) / len(chosen)
    assert 0.4 < share < 0.6


def test_parallel_trials_are_passed_on_as_running_for_the_constant_liar() -> None:
    study = _study_with_curves(40, top=0.8, low_best=0.8)
    first = study.ask(X)  # left RUNNING
    second = study.ask(X)
    assert not math.isclose(first.params["x"], second.params["x"], abs_tol=1e-3)


def test_build_sampler_names_the_budget_models_and_optunas_own_tpe() -> None:
    tpe = build_sampler("tpe", seed=0, n_startup_trials=4)
    gp = build_sampler(seed=0, n_startup_trials=4)  # the default
    assert isinstance(tpe, BudgetSampler) and isinstance(gp, BudgetSampler)
    assert isinstance(tpe._model_sampler, optuna.samplers.TPESampler)  # noqa: SLF001
    assert isinstance(gp._model_sampler, optuna.samplers.GPSampler)  # noqa: SLF001
    assert type(build_sampler("tpe_optuna", seed=0)) is optuna.samplers.TPESampler


def test_past_gp_max_observed_the_gp_model_gives_way_to_tpe(monkeypatch) -> None:
    import tuner.budget_sampler

    study = _study_with_curves(40, top=0.8, low_best=0.1)  # 20 trials seen at the top budget
    study.sampler = BudgetSampler(seed=0, random_fraction=0.0, model="gp")
    study.ask(X)
    assert study.sampler.model_name == "gp"
    monkeypatch.setattr(tuner.budget_sampler, "GP_MAX_OBSERVED", 19)
    study.ask(X)
    assert study.sampler.model_name == "tpe"


def test_trials_stopped_below_the_budget_are_kept_as_pruned_ranked_after_it() -> None:
    study = _study_with_curves(40, top=0.8, low_best=0.1)
    sampler = BudgetSampler(seed=0, random_fraction=0.0)
    trial = study.ask(X)
    view, _ = sampler._model_view(study, trial._cached_frozen_trial)  # noqa: SLF001
    states = [t.state for t in view.get_trials()]
    assert states.count(TrialState.COMPLETE) == 20  # the trials seen at epoch 4
    assert states.count(TrialState.PRUNED) == 20  # stopped at epoch 1, with their curves
    pruned = [t for t in view.get_trials() if t.state == TrialState.PRUNED]
    assert all(list(t.intermediate_values) == [1] for t in pruned)
    plain = BudgetSampler(seed=0, random_fraction=0.0, below_budget=False)
    view, _ = plain._model_view(study, trial._cached_frozen_trial)  # noqa: SLF001
    assert [t.state for t in view.get_trials()].count(TrialState.PRUNED) == 0


def test_with_asha_like_stops_the_model_finds_the_optimum_the_curves_agree_on() -> None:
    """Trials continue past epoch 1 only when their epoch-1 value beats the median so far."""
    study = optuna.create_study(sampler=BudgetSampler(seed=0, random_fraction=0.0))
    rng = np.random.default_rng(1)
    firsts: list[float] = []
    for _ in range(40):
        x = float(rng.random())
        first = (x - 0.3) ** 2 + 0.01
        firsts.append(first)
        values = {1: first}
        if first <= np.median(firsts):
            values.update({e: (x - 0.3) ** 2 for e in (2, 3, 4)})
        state = TrialState.COMPLETE if 4 in values else TrialState.PRUNED
        study.add_trial(curve_trial(x, values, state))
    assert np.median(np.abs(_proposals(study, 15) - 0.3)) < 0.1


def test_sampler_pickles_without_its_model_copy_and_goes_on_the_same() -> None:
    import pickle

    study = _study_with_curves(30, top=0.5, low_best=0.5)
    study.ask(X)
    copy = pickle.loads(pickle.dumps(study.sampler))
    assert copy._view == (-1, None, None)  # noqa: SLF001
    twin = optuna.create_study(sampler=copy)
    twin.add_trials(study.trials)
    assert twin.ask(X).params == study.ask(X).params


def test_the_gp_model_fits_the_trusted_budget_and_lies_for_running_trials() -> None:
    study = _study_with_curves(40, top=0.8, low_best=0.1)
    sampler = BudgetSampler(seed=0, random_fraction=0.0, model="gp")
    study.sampler = sampler
    running = study.ask(X)  # left RUNNING: in the model's view as the worst value seen
    assert sampler.chosen_budget in (4.0, FINAL)
    assert abs(running.params["x"] - 0.8) < 0.1
    second = study.ask(X)
    assert abs(second.params["x"] - running.params["x"]) > 0.05  # kept apart by the lie
    view, _ = sampler._model_view(study, second._cached_frozen_trial)  # noqa: SLF001
    lied = [t for t in view.get_trials() if t.params.get("x") == running.params["x"]]
    assert [t.state for t in lied] == [TrialState.COMPLETE]
    assert lied[0].value == max(t.intermediate_values[4] for t in study.trials[:40:2])
    for trial in (running, second):
        study.tell(trial, state=TrialState.FAIL)
    assert np.median(np.abs(_proposals(study, 8) - 0.8)) < 0.1
    model = build_sampler("gp_budget", seed=0)._model_sampler  # noqa: SLF001
    assert isinstance(model, optuna.samplers.GPSampler)


def _conditional_sweep(sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    study = optuna.create_study(sampler=sampler)
    for _ in range(14):
        trial = study.ask()
        kind = trial.suggest_categorical("kind", ["a", "b"])
        x = trial.suggest_float("x", 0.0, 1.0)
        extra = trial.suggest_float("b_only", 0.0, 1.0) if kind == "b" else 0.0
        for epoch in (1, 2):
            trial.report((x - 0.3) ** 2 + extra, epoch)
        study.tell(trial, (x - 0.3) ** 2 + extra)
    return study


def test_the_gp_model_draws_conditional_parameters_with_the_tpe_of_the_same_view() -> None:
    sampler = build_sampler("gp_budget", seed=0, n_startup_trials=4)
    study = _conditional_sweep(sampler)
    assert {t.params["kind"] for t in study.trials} == {"a", "b"}
    assert all(("b_only" in t.params) == (t.params["kind"] == "b") for t in study.trials)
    model = sampler._model_sampler  # noqa: SLF001
    assert isinstance(model._independent_sampler, optuna.samplers.TPESampler)  # noqa: SLF001
