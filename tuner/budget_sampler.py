"""`BudgetSampler`: a GP or TPE that models the highest budget it can trust (BOHB-style).

Optuna's `TPESampler` splits a study's trials into good and bad by ranking every COMPLETE trial
first (by its value, however few there are) and every PRUNED trial after them by its last step,
then its last value: with ASHA, the handful of trials that reached `max_t` fill the good set
whatever their values, and the rest of it is filled by trials ranked on one noisy early epoch.
Here the model is fitted, as in BOHB (Falkner et al., 2018), to the values every trial reported
at one budget (epoch) `b`, each seen as a plain finished trial with that value:

- observations at budget `b`: the intermediate value at step `b` of every trial that is not
  FAIL (a trial that reached `max_t` counts at every step it reported; its final value counts
  at a budget above all steps);
- `b` is the highest budget with at least `n_startup_trials` observations; until one has, the
  trials are drawn at random;
- `b` is trusted only when its ranking predicts the ranking at the highest budget `h` with at
  least `min_pairs` observations: when the Spearman correlation of the values at `b` and at
  `h` over the trials seen at both is below `min_correlation`, the model is fitted at `h`
  instead (the lowest budgets are noisy early in training; measured as the sweep runs);
- trials ASHA stopped before `b` stay in the copy as PRUNED with their curves, so Optuna's TPE
  ranks them after every trial seen at `b` (deepest first): they mark where not to look
  (`below_budget`; without them the model sees only the few trials that reached `b`);
- a share `random_fraction` of the trials (BOHB's 1/3) is drawn at random whatever the model
  says, so a region the noisy early budgets misjudged is still sampled;
- trials still running are passed on as running, so TPE's `constant_liar` keeps parallel
  suggestions apart; the GP reads finished trials only, so for it a running trial is a
  finished one with the worst value seen at `b` (the constant liar of Ginsbourger et al.);
- the model (`model`) is Optuna's `GPSampler` (`searcher: gp_budget`, the default) up to
  `GP_MAX_OBSERVED` observations, its parameters outside the space every trial shares
  (conditional ones) drawn by TPE on the same copy, or Optuna's `TPESampler` (`searcher: tpe`).
  The GP fits with torch, on one thread, in the process that runs the searcher.

The study itself is never changed: its trials keep their true states and values (DESIGN.md §6);
the model reads a private in-memory copy. `chosen_budget` tells which budget the last trial
was drawn from (None: at random).
"""

from __future__ import annotations

import contextlib
import inspect
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler, TPESampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState, create_trial
from scipy.stats import rankdata

#: the budget at which a COMPLETE trial's final value is observed (above every step)
FINAL = math.inf
#: most observations the GP model fits (a suggestion took 0.29-0.43 s at 300 on 2 idle cores,
#: 1.1 s beside two busy processes); TPE models more
GP_MAX_OBSERVED = 300

Observations = dict[float, dict[int, float]]


def observations(trials: Sequence[FrozenTrial], skip: int | None = None) -> Observations:
    """Budget -> {trial number: value} of every finite value the trials reported."""
    seen: Observations = defaultdict(dict)
    for trial in trials:
        if trial.state == TrialState.FAIL or trial.number == skip:
            continue
        for step, value in trial.intermediate_values.items():
            if math.isfinite(value):
                seen[float(step)][trial.number] = value
        if trial.state == TrialState.COMPLETE and trial.value is not None:
            seen[FINAL][trial.number] = trial.value
    return seen


def rank_correlation(a: dict[int, float], b: dict[int, float]) -> float | None:
    """Spearman's rho of the values two budgets share (None for fewer than 3, or constant)."""
    common = sorted(a.keys() & b.keys())
    if len(common) < 3:
        return None
    ranks = [rankdata([v[n] for n in common]) for v in (a, b)]  # ties share their mean rank
    if ranks[0].std() == 0 or ranks[1].std() == 0:
        return None
    return float(np.corrcoef(ranks[0], ranks[1])[0, 1])


def choose_budget(
    seen: Observations, n_min: int, min_pairs: int, min_correlation: float
) -> float | None:
    """The budget to model (module docstring), or None to draw at random."""
    enough = [b for b, values in seen.items() if len(values) >= n_min]
    if not enough:
        return None
    budget = max(enough)
    top = max((b for b, values in seen.items() if len(values) >= min_pairs), default=budget)
    if top > budget:
        rho = rank_correlation(seen[budget], seen[top])
        if rho is None or rho < min_correlation:
            return top
    return budget


def _sampled(trial: FrozenTrial) -> dict[str, Any]:
    """The parameters `trial` has sampled, with their distributions (a running trial's may be
    read midway: only the names present in both count)."""
    params, distributions = dict(trial.params), dict(trial.distributions)
    names = params.keys() & distributions.keys()
    return {
        "params": {k: params[k] for k in names},
        "distributions": {k: distributions[k] for k in names},
    }


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """torch on one thread inside, as many as before after (the GP fits with torch)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _gp_sampler(seed: int | None, n_startup_trials: int, independent: BaseSampler) -> BaseSampler:
    """Optuna's `GPSampler` over the parameters every trial has; a parameter only some trials
    have (a conditional one) is drawn by `independent` (TPE on the same view), quietly where
    the installed Optuna lets it be told so."""
    options: dict[str, Any] = {"independent_sampler": independent}
    if "warn_independent_sampling" in inspect.signature(optuna.samplers.GPSampler).parameters:
        options["warn_independent_sampling"] = False
    return optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup_trials, **options)


class BudgetSampler(BaseSampler):
    """Optuna's GP (`model="gp"`) or TPE (`model="tpe"`) fitted at one budget of the study's
    learning curves (module docstring).

    `BudgetSampler(seed=0, model="gp")`; TPE options (`multivariate`, `group`, `constant_liar`, ...)
    pass through to Optuna's `TPESampler`.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        n_startup_trials: int = 10,
        min_pairs: int = 5,
        min_correlation: float = 0.5,
        random_fraction: float = 1 / 3,
        below_budget: bool = True,
        model: str = "tpe",
        **tpe_options: Any,
    ) -> None:
        self._n_min = max(n_startup_trials, 1)
        self._min_pairs = max(min(min_pairs, self._n_min), 3)
        self._min_correlation = min_correlation
        self._model = model
        self._seed = seed
        self._model_options = {"n_startup_trials": self._min_pairs, **tpe_options}
        self._tpe = TPESampler(seed=seed, **self._model_options)
        self._model_sampler: BaseSampler = self._fresh_model(0)
        self._random = optuna.samplers.RandomSampler(seed=seed)
        self._random_fraction = random_fraction
        self._below_budget = below_budget
        self._coin = np.random.default_rng(seed)
        self._view: tuple[int, optuna.Study | None, FrozenTrial | None] = (-1, None, None)
        self.chosen_budget: float | None = None

    def _fresh_model(self, number: int, observed: int = 0) -> BaseSampler:
        """The model sampler for trial `number`. The GP (up to `GP_MAX_OBSERVED` observations)
        is a new one per view, seeded from the sampler's seed and the trial's number: Optuna's
        GP caches the search space of the one study it has seen, and every view is a new study.
        TPE (beyond, or `model="tpe"`) is the same instance throughout, its random stream
        going on from trial to trial."""
        if self._model != "gp" or observed > GP_MAX_OBSERVED:
            return self._tpe
        seed = None
        if self._seed is not None:
            seed = int(np.random.SeedSequence([self._seed, number]).generate_state(1)[0])
        tpe = TPESampler(seed=seed, **self._model_options)  # conditional parameters
        return _gp_sampler(seed, self._model_options["n_startup_trials"], tpe)

    @property
    def model_name(self) -> str:
        """Which model drew the last trial: 'gp', 'tpe' or 'random'."""
        if self.chosen_budget is None:
            return "random"
        return "gp" if isinstance(self._model_sampler, optuna.samplers.GPSampler) else "tpe"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_view"] = (-1, None, None)  # rebuilt from the study when needed
        return state

    def reseed_rng(self) -> None:
        self._seed = int(np.random.SeedSequence().generate_state(1)[0])
        self._coin = np.random.default_rng(self._seed)
        self._tpe.reseed_rng()
        self._random.reseed_rng()

    def _model_view(self, study: optuna.Study, trial: FrozenTrial) -> tuple[Any, Any]:
        """The in-memory study the model reads for `trial`, and `trial` in it (cached)."""
        number, view, view_trial = self._view
        if number == trial.number:
            return view, view_trial
        trials = study.get_trials(deepcopy=False)
        seen = observations(trials, skip=trial.number)
        budget = choose_budget(seen, self._n_min, self._min_pairs, self._min_correlation)
        if self._coin.random() < self._random_fraction:
            budget = None  # BOHB's share of random draws: the model never shuts regions off
        self.chosen_budget = budget
        view = view_trial = None
        if budget is not None:
            view = optuna.create_study(
                storage=optuna.storages.InMemoryStorage(), direction=study.direction
            )
            at_budget = seen[budget]
            copies = [
                create_trial(value=at_budget[t.number], **_sampled(t))
                for t in trials
                if t.number in at_budget
            ]
            if self._below_budget:  # ranked after every trial seen at the budget
                copies += [
                    create_trial(
                        state=TrialState.PRUNED,
                        intermediate_values=dict(t.intermediate_values),
                        **_sampled(t),
                    )
                    for t in trials
                    if t.state == TrialState.PRUNED
                    and t.number not in at_budget
                    and t.intermediate_values
                ]
            running = [
                t for t in trials if t.state == TrialState.RUNNING and t.number not in at_budget
            ]
            if self._model == "gp":  # constant liar: a running trial as the worst seen so far
                worst = (max if study.direction == StudyDirection.MINIMIZE else min)(
                    at_budget.values()
                )
                copies += [create_trial(value=worst, **_sampled(t)) for t in running if t.params]
            else:
                copies += [create_trial(state=TrialState.RUNNING, **_sampled(t)) for t in running]
            copies.append(create_trial(state=TrialState.RUNNING))  # `trial` itself
            view.add_trials(copies)
            view_trial = view.get_trials(deepcopy=False)[-1]
            self._model_sampler = self._fresh_model(trial.number, len(at_budget))
        self._view = (trial.number, view, view_trial)
        return view, view_trial

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._model_view(study, trial)

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        view, view_trial = self._model_view(study, trial)
        if view is None:
            return {}
        return self._model_sampler.infer_relative_search_space(view, view_trial)

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        view, view_trial = self._model_view(study, trial)
        if view is None or not search_space:
            return {}
        if isinstance(self._model_sampler, optuna.samplers.GPSampler):
            with _one_torch_thread():  # the driver's cores belong to the trials
                return self._model_sampler.sample_relative(view, view_trial, search_space)
        return self._model_sampler.sample_relative(view, view_trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        view, view_trial = self._model_view(study, trial)
        if view is None:
            return self._random.sample_independent(study, trial, param_name, param_distribution)
        return self._model_sampler.sample_independent(
            view, view_trial, param_name, param_distribution
        )

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        if self._view[0] == trial.number:
            self._view = (-1, None, None)
