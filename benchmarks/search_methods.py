"""The search suite's methods: which searcher and scheduler each one uses, as a space file or
as the objects of a stock script (see `benchmarks.search_suite`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from benchmarks.mf_functions import FUNCTIONS

#: methods run by the tuner's machinery: the space-file settings that differ from the defaults
TUNER_METHODS: dict[str, dict[str, Any]] = {
    "default": {},
    "tpe": {"searcher": {"name": "tpe"}},
    "tpe_optuna": {"searcher": {"name": "tpe_optuna"}},
    "random": {"searcher": {"name": "random"}},
    "hyperband": {"asha": {"brackets": 3}},
    "gp": {"searcher": {"name": "gp"}},
}
OPTUNA_PRUNERS = ("hyperband", "sha", "median")
METHODS = (*TUNER_METHODS, "stock_ray", *(f"optuna_{p}" for p in OPTUNA_PRUNERS))
#: stock Ray's ASHA: the tuner's default rungs
STOCK_ASHA = {"grace_period": 1, "reduction_factor": 2}


def space_data(name: str, method: str, seed: int, epochs: int, folder: Path) -> dict[str, Any]:
    """The space file of one run of a Ray method."""
    function = FUNCTIONS[name]
    data: dict[str, Any] = {
        "name": f"{method}_{name}_{seed}",
        "trainable": "benchmarks.mf_trainable:mf_trainable",
        "n_epochs": epochs,
        "metric": "loss",
        "mode": "min",
        "num_samples": 1000,
        "max_concurrent_trials": 2,
        "fixed": {"function": name},
        "search": {"settings": {f"x{i}": {"uniform": [0.0, 1.0]} for i in range(function.dims)}},
        "checkpoint_every": 0,
        "storage_path": str(folder),
    }
    settings = TUNER_METHODS.get(method, {})
    for key, value in settings.items():
        data[key] = {**value, "seed": seed} if key == "searcher" else value
    data.setdefault("searcher", {"seed": seed})
    return data


def tuner_objects(method: str, name: str, seed: int, epochs: int, folder: Path) -> tuple:
    """The space, experiment (folder and Optuna journal), searcher and scheduler of a tuner
    method, built by `tuner.sweep` as `python -m tuner run` builds them."""
    from tuner.experiment import create_experiment
    from tuner.space import load_space
    from tuner.sweep import build_scheduler, build_searcher

    path = folder / f"{method}_{name}_{seed}.yaml"
    path.write_text(yaml.safe_dump(space_data(name, method, seed, epochs, folder)))
    space = load_space(path)
    experiment = create_experiment(
        path,
        name=space.name,
        storage_path=folder / "results",
        metric="loss",
        mode="min",
        max_t=epochs,
    )
    return space, experiment, build_searcher(space, experiment), build_scheduler(space)


class StockDefine:
    """The stock script's define-by-run space (a class: Ray pickles its searcher)."""

    def __init__(self, name: str, epochs: int) -> None:
        self.name, self.epochs = name, epochs

    def __call__(self, trial: Any) -> dict[str, Any]:
        for i in range(FUNCTIONS[self.name].dims):
            trial.suggest_float(f"x{i}", 0.0, 1.0)
        return {"function": self.name, "n_epochs": self.epochs}


def stock_objects(name: str, seed: int, epochs: int) -> tuple[Any, Any]:
    """Stock Ray Tune's searcher and scheduler: OptunaSearch(TPE), ASHAScheduler."""
    import optuna
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    sampler = optuna.samplers.TPESampler(seed=seed)
    searcher = OptunaSearch(StockDefine(name, epochs), metric="loss", mode="min", sampler=sampler)
    scheduler = ASHAScheduler(metric="loss", mode="min", max_t=epochs, **STOCK_ASHA)
    return searcher, scheduler


def build_pruner(pruner: str, epochs: int) -> Any:
    import optuna

    return {
        "hyperband": lambda: optuna.pruners.HyperbandPruner(max_resource=epochs),
        "sha": optuna.pruners.SuccessiveHalvingPruner,
        "median": optuna.pruners.MedianPruner,
    }[pruner]()


def optuna_study(pruner: str, seed: int, epochs: int) -> Any:
    """Optuna alone: a TPE (seeded) study with the pruner at its defaults."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed)
    return optuna.create_study(sampler=sampler, pruner=build_pruner(pruner, epochs))
