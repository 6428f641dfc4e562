"""The search suite's methods on a real local Ray (`benchmarks.search_suite --engine ray`)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from benchmarks.mf_functions import FUNCTIONS
from benchmarks.mf_trainable import run_curve
from benchmarks.search_methods import optuna_study, stock_objects, tuner_objects

#: (trial, epoch, value) in arrival order
Arrivals = list[tuple[str, int, float]]


def _budget_run_config(name: str, folder: Path, budget: int, arrivals: Arrivals) -> Any:
    from ray import tune
    from ray.tune import Callback
    from ray.tune.stopper import Stopper

    class Record(Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):  # noqa: ANN001
            arrivals.append((trial.trial_id, int(result["training_iteration"]), result["loss"]))

    class Budget(Stopper):
        def __call__(self, trial_id: str, result: dict) -> bool:
            return False

        def stop_all(self) -> bool:
            return len(arrivals) >= budget

    return tune.RunConfig(
        name=name, storage_path=str(folder), stop=Budget(), callbacks=[Record()], verbose=0
    )


def run_tuner_method(method: str, name: str, seed: int, epochs: int, budget: int, folder: Path):
    """One sweep with the tuner's searcher, scheduler and trainable wrapper."""
    from ray import tune

    from tuner.sweep import ray_trainable, trial_dirname

    space, _, searcher, scheduler = tuner_objects(method, name, seed, epochs, folder)
    arrivals: Arrivals = []
    tuner = tune.Tuner(
        ray_trainable(space),
        param_space={"n_epochs": epochs},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=space.num_samples,
            max_concurrent_trials=2,
            reuse_actors=True,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=_budget_run_config(space.name, folder, budget, arrivals),
    )
    tuner.fit()
    return arrivals


def run_stock_ray(name: str, seed: int, epochs: int, budget: int, folder: Path) -> Arrivals:
    """Stock Ray Tune: OptunaSearch(TPE) + ASHAScheduler, Ray's own state handling."""
    from ray import tune

    from benchmarks.mf_trainable import mf_trainable

    searcher, scheduler = stock_objects(name, seed, epochs)
    arrivals: Arrivals = []
    tuner = tune.Tuner(
        tune.with_resources(mf_trainable, {"cpu": 1}),
        tune_config=tune.TuneConfig(
            search_alg=searcher,
            scheduler=scheduler,
            num_samples=1000,
            max_concurrent_trials=2,
            reuse_actors=True,  # wall time only: the search is Ray's stock search
        ),
        run_config=_budget_run_config(f"stock_{name}_{seed}", folder, budget, arrivals),
    )
    tuner.fit()
    return arrivals


def run_optuna_alone(pruner: str, name: str, seed: int, epochs: int, budget: int) -> Arrivals:
    """Optuna alone: TPE (seeded) and a pruner, `study.optimize` with 2 threads."""
    import optuna

    arrivals: Arrivals = []
    lock = threading.Lock()
    dims = FUNCTIONS[name].dims

    def objective(trial: optuna.Trial) -> float:
        config = {"function": name, "n_epochs": epochs}
        config.update({f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(dims)})

        def report(epoch: int, value: float) -> bool:
            with lock:
                if len(arrivals) >= budget:
                    raise optuna.TrialPruned()
                arrivals.append((str(trial.number), epoch, value))
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
            return False

        return run_curve(config, report)

    study = optuna_study(pruner, seed, epochs)
    while len(arrivals) < budget:
        study.optimize(objective, n_trials=10, n_jobs=2)
    return arrivals
