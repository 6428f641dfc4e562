"""SAMPLERS: the Optuna samplers a space file can name under `searcher.name`, seeded.

`build_sampler("gp_budget", seed=0, n_startup_trials=5)` (the default) gives a seeded
`tuner.budget_sampler.BudgetSampler` with Optuna's GP fitted at the highest epoch it can trust
(BOHB-style), `"tpe"` the same with TPE; `"tpe_optuna"` is Optuna's own `TPESampler`, which
ranks PRUNED trials by their last epoch.
Each entry says whether the sampler takes `n_startup_trials` (random trials before modelling).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import optuna

from trainables.lr.errors import ConfigError, Problem, suggest
from tuner.budget_sampler import BudgetSampler


@dataclass(frozen=True)
class SamplerEntry:
    """One selectable sampler: its Optuna class and whether it warms up with random trials."""

    factory: Callable[..., optuna.samplers.BaseSampler]
    startup: bool
    description: str
    #: a package the sampler needs beyond Optuna, if any
    requires: str | None = None


SAMPLERS: dict[str, SamplerEntry] = {
    "tpe": SamplerEntry(BudgetSampler, True, "TPE fitted at the highest trusted epoch (BOHB)"),
    "tpe_optuna": SamplerEntry(
        optuna.samplers.TPESampler, True, "Optuna's TPE (PRUNED trials ranked by last epoch)"
    ),
    "random": SamplerEntry(optuna.samplers.RandomSampler, False, "independent uniform draws"),
    "cmaes": SamplerEntry(optuna.samplers.CmaEsSampler, True, "CMA-ES", requires="cmaes"),
    "gp": SamplerEntry(optuna.samplers.GPSampler, True, "Gaussian-process Bayesian optimization"),
    "gp_budget": SamplerEntry(
        partial(BudgetSampler, model="gp"),
        True,
        "Optuna's GP fitted at the highest trusted epoch (BOHB-style)",
    ),
    "qmc": SamplerEntry(optuna.samplers.QMCSampler, False, "quasi-Monte Carlo (Sobol) points"),
    "nsgaii": SamplerEntry(optuna.samplers.NSGAIISampler, False, "NSGA-II genetic algorithm"),
}


def build_sampler(
    name: str = "gp_budget", seed: int | None = None, n_startup_trials: int | None = None
) -> optuna.samplers.BaseSampler:
    """A seeded Optuna sampler by its space-file name, e.g. `build_sampler("tpe", seed=0)`."""
    entry = SAMPLERS.get(name)
    if entry is None:
        raise ConfigError(
            [Problem("searcher.name", f"{name!r} is not a known sampler", suggest(name, SAMPLERS))]
        )
    kwargs: dict[str, int] = {}
    if seed is not None:
        kwargs["seed"] = seed
    if entry.startup and n_startup_trials is not None:
        kwargs["n_startup_trials"] = n_startup_trials
    return entry.factory(**kwargs)
