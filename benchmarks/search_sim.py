"""The search suite's methods in simulated time: the very searcher and scheduler objects of a
sweep, called in the order Ray Tune's controller calls them, without starting Ray.

Ray Tune's `TuneController` asks the searcher for a config (`suggest`) when a slot is free,
adds the trial to the scheduler (`on_trial_add`), and for each result asks the scheduler
(`on_trial_result`); on CONTINUE it tells the searcher (`on_trial_result`), on STOP it tells the
scheduler and then the searcher that the trial completed with that result (`on_trial_complete`).
Here the same calls are made with `max_concurrent` slots and every epoch taking one unit of
time, so the trials interleave as on a Ray with that many equal workers, deterministically (and
a run takes a second rather than a minute of Ray's per-trial work on a shared 2-core machine).
Optuna alone runs the same way through its ask-and-tell interface with a pruner.
`benchmarks.search_suite --engine ray` runs the same methods on a real local Ray instead.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.mf_functions import curve_value
from benchmarks.mf_trainable import point

#: (trial, epoch, value) in arrival order
Arrivals = list[tuple[str, int, float]]


@dataclass
class SimTrial:
    """What Ray's schedulers read of a trial: its id, config and status."""

    trial_id: str
    config: dict[str, Any]
    status: str = "RUNNING"
    last_result: dict[str, Any] = field(default_factory=dict)


def run_ray_objects(searcher: Any, scheduler: Any, budget: int, max_concurrent: int = 2):
    """Drive `searcher` and `scheduler` as Ray Tune's controller does until `budget` epochs."""
    arrivals: Arrivals = []
    clock: list[tuple[int, int, SimTrial, int]] = []  # (time, slot, trial, epoch it reports)
    started = 0

    def start(now: int, slot: int) -> None:
        nonlocal started
        trial_id = f"t{started:05d}"
        started += 1
        config = searcher.suggest(trial_id)
        trial = SimTrial(trial_id, config)
        scheduler.on_trial_add(None, trial)
        heapq.heappush(clock, (now + 1, slot, trial, 1))

    for slot in range(max_concurrent):
        start(0, slot)
    while clock and len(arrivals) < budget:
        now, slot, trial, epoch = heapq.heappop(clock)
        value = curve_value(
            trial.config["function"], point(trial.config), epoch, int(trial.config["n_epochs"])
        )
        result = {"training_iteration": epoch, "loss": value}
        trial.last_result = result
        arrivals.append((trial.trial_id, epoch, value))
        decision = scheduler.on_trial_result(None, trial, result)
        if decision == "STOP" or epoch >= int(trial.config["n_epochs"]):
            scheduler.on_trial_complete(None, trial, result)
            searcher.on_trial_complete(trial.trial_id, result=result)
            trial.status = "TERMINATED"
            start(now, slot)
        else:
            searcher.on_trial_result(trial.trial_id, result)
            heapq.heappush(clock, (now + 1, slot, trial, epoch + 1))
    return arrivals


def run_optuna_objects(
    study: Any, define: Callable[[Any], dict[str, Any]], budget: int, max_concurrent: int = 2
) -> Arrivals:
    """Optuna alone, ask and tell with the study's pruner, `max_concurrent` trials at a time."""
    from optuna.trial import TrialState

    arrivals: Arrivals = []
    clock: list[tuple[int, int, int, Any, dict[str, Any], int]] = []

    def start(now: int, slot: int) -> None:
        trial = study.ask()
        heapq.heappush(clock, (now + 1, slot, trial.number, trial, define(trial), 1))

    for slot in range(max_concurrent):
        start(0, slot)
    while clock and len(arrivals) < budget:
        now, slot, number, trial, config, epoch = heapq.heappop(clock)
        n_epochs = int(config["n_epochs"])
        value = curve_value(config["function"], point(config), epoch, n_epochs)
        arrivals.append((str(number), epoch, value))
        trial.report(value, epoch)
        if epoch >= n_epochs:
            study.tell(trial, value)
        elif trial.should_prune():
            study.tell(trial, state=TrialState.PRUNED)
        else:
            heapq.heappush(clock, (now + 1, slot, number, trial, config, epoch + 1))
            continue
        start(now, slot)
    return arrivals


def optuna_define(name: str, epochs: int) -> Callable[[Any], dict[str, Any]]:
    """Optuna alone's search space: the function's point, sampled by name."""
    from benchmarks.mf_functions import FUNCTIONS

    def define(trial: Any) -> dict[str, Any]:
        dims = FUNCTIONS[name].dims
        x = {f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(dims)}
        return {"function": name, "n_epochs": epochs, **x}

    return define


def run_sim_method(method: str, name: str, seed: int, epochs: int, budget: int, folder: Any):
    """One run of a suite method in simulated time (module docstring)."""
    import numpy as np

    from benchmarks.search_methods import (
        TUNER_METHODS,
        optuna_study,
        stock_objects,
        tuner_objects,
    )

    np.random.seed(seed)  # Ray's ASHA puts trials into brackets with NumPy's global generator
    if method in TUNER_METHODS:
        _, _, searcher, scheduler = tuner_objects(method, name, seed, epochs, folder)
        searcher.set_search_properties("loss", "min", {"n_epochs": epochs})
        scheduler.set_search_properties("loss", "min")
        return run_ray_objects(searcher, scheduler, budget)
    if method == "stock_ray":
        return run_ray_objects(*stock_objects(name, seed, epochs), budget)
    study = optuna_study(method.removeprefix("optuna_"), seed, epochs)
    return run_optuna_objects(study, optuna_define(name, epochs), budget)
