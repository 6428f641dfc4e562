"""Search suite: the tuner's default search against random search, stock Ray Tune and Optuna
alone, on the multi-fidelity functions of `benchmarks.mf_functions` (Branin, Hartmann-3/6,
Borehole with fidelity: published definitions, known optima), 2 trials at a time.

Every method gets the same budget, counted in epochs (fidelity steps) across all its trials:
`--full-trials` (20) times `--epochs` (27); a run stops once it has used it, and the epochs
reported after that do not count. Methods:

- `default`: `python -m tuner run`'s machinery with the space file's defaults (searcher,
  ASHA), on a real local Ray: `tuner.sweep.build_searcher`/`build_scheduler`/`ray_trainable`
  on an experiment folder with its Optuna journal;
- `tpe_optuna`, `random`, `hyperband`: the same with `searcher: {name: tpe_optuna}` (Optuna's
  TPE as it ranks PRUNED trials), `searcher: {name: random}`, `asha: {brackets: 3}`;
- `stock_ray`: a stock Ray Tune script: Ray's `OptunaSearch` (TPE, seeded) and Ray's
  `ASHAScheduler` with the same grace period and reduction factor;
- `optuna_hyperband`, `optuna_sha`, `optuna_median`: Optuna alone (`study.optimize`, 2 threads)
  with TPE and each pruner at its defaults (`max_resource` = the epochs).

Each run's reports are written, in the order they arrived, to `--json`; `benchmarks.search_report`
turns them into regret curves, paired comparisons and Wilcoxon tests.

    python -m benchmarks.search_suite --seeds 10 --json /tmp/suite.json
    python -m benchmarks.search_suite --quick      # 1 seed, 2 functions, 9 epochs, smoke test
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

from benchmarks._common import ray_environment
from benchmarks.mf_functions import FUNCTIONS
from benchmarks.mf_trainable import run_curve

#: Ray methods: the space-file settings that differ from the defaults
RAY_METHODS: dict[str, dict[str, Any]] = {
    "default": {},
    "tpe_optuna": {"searcher": {"name": "tpe_optuna"}},
    "random": {"searcher": {"name": "random"}},
    "hyperband": {"asha": {"brackets": 3}},
}
OPTUNA_PRUNERS = ("hyperband", "sha", "median")
METHODS = (*RAY_METHODS, "stock_ray", *(f"optuna_{p}" for p in OPTUNA_PRUNERS))
#: (trial, epoch, value) in arrival order
Arrivals = list[tuple[str, int, float]]


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
    settings = RAY_METHODS.get(method, {})
    for key, value in settings.items():
        data[key] = {**value, "seed": seed} if key == "searcher" else value
    data.setdefault("searcher", {"seed": seed})
    return data


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


def run_ray_method(method: str, name: str, seed: int, epochs: int, budget: int, folder: Path):
    """One sweep with the tuner's searcher, scheduler and trainable wrapper."""
    from ray import tune

    from tuner.experiment import create_experiment
    from tuner.space import load_space
    from tuner.sweep import build_scheduler, build_searcher, ray_trainable, trial_dirname

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
    arrivals: Arrivals = []
    tuner = tune.Tuner(
        ray_trainable(space),
        param_space={"n_epochs": epochs},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            search_alg=build_searcher(space, experiment),
            scheduler=build_scheduler(space),
            num_samples=space.num_samples,
            max_concurrent_trials=2,
            reuse_actors=True,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=_budget_run_config(space.name, folder, budget, arrivals),
    )
    tuner.fit()
    return arrivals


class StockDefine:
    """The stock script's define-by-run space (a class: Ray pickles its searcher)."""

    def __init__(self, name: str, epochs: int) -> None:
        self.name, self.epochs = name, epochs

    def __call__(self, trial: Any) -> dict[str, Any]:
        for i in range(FUNCTIONS[self.name].dims):
            trial.suggest_float(f"x{i}", 0.0, 1.0)
        return {"function": self.name, "n_epochs": self.epochs}


def run_stock_ray(name: str, seed: int, epochs: int, budget: int, folder: Path) -> Arrivals:
    """Stock Ray Tune: OptunaSearch(TPE) + ASHAScheduler, Ray's own state handling."""
    import optuna
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from benchmarks.mf_trainable import mf_trainable

    define = StockDefine(name, epochs)
    arrivals: Arrivals = []
    tuner = tune.Tuner(
        tune.with_resources(mf_trainable, {"cpu": 1}),
        tune_config=tune.TuneConfig(
            search_alg=OptunaSearch(
                define, metric="loss", mode="min", sampler=optuna.samplers.TPESampler(seed=seed)
            ),
            scheduler=ASHAScheduler(
                metric="loss", mode="min", max_t=epochs, grace_period=1, reduction_factor=2
            ),
            num_samples=1000,
            max_concurrent_trials=2,
            reuse_actors=True,  # wall time only: the search is Ray's stock search
        ),
        run_config=_budget_run_config(f"stock_{name}_{seed}", folder, budget, arrivals),
    )
    tuner.fit()
    return arrivals


def build_pruner(pruner: str, epochs: int) -> Any:
    import optuna

    return {
        "hyperband": lambda: optuna.pruners.HyperbandPruner(max_resource=epochs),
        "sha": optuna.pruners.SuccessiveHalvingPruner,
        "median": optuna.pruners.MedianPruner,
    }[pruner]()


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

    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(sampler=sampler, pruner=build_pruner(pruner, epochs))
    while len(arrivals) < budget:
        study.optimize(objective, n_trials=10, n_jobs=2)
    return arrivals


def run_method(method: str, name: str, seed: int, epochs: int, budget: int, folder: Path):
    if method in RAY_METHODS:
        return run_ray_method(method, name, seed, epochs, budget, folder)
    if method == "stock_ray":
        return run_stock_ray(name, seed, epochs, budget, folder)
    return run_optuna_alone(method.removeprefix("optuna_"), name, seed, epochs, budget)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 functions, 9 epochs")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=27)
    parser.add_argument("--full-trials", type=int, default=20)
    parser.add_argument("--functions", nargs="+", default=sorted(FUNCTIONS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--json", help="append one line per run to this file (JSON lines)")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs, args.full_trials = 1, 9, 4
        args.functions = ["branin", "hartmann3"]
    budget = args.full_trials * args.epochs
    ray_environment()
    import optuna

    from tuner.ray_session import ray_session

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp, ray_session():
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for name in args.functions:
                for method in args.methods:
                    folder = Path(tmp) / f"{method}_{name}_{seed}"
                    folder.mkdir()
                    arrivals = run_method(method, name, seed, args.epochs, budget, folder)
                    row = {
                        "method": method,
                        "function": name,
                        "seed": seed,
                        "epochs": args.epochs,
                        "budget": budget,
                        "arrivals": arrivals[:budget],
                    }
                    finals = [v for _, e, v in arrivals[:budget] if e == args.epochs]
                    best = min(finals, default=math.inf)
                    print(
                        json.dumps({k: row[k] for k in ("method", "function", "seed")})[:-1]
                        + f', "best_final": {best}, "trials": '
                        f"{len({t for t, _, _ in arrivals[:budget]})}}}",
                        flush=True,
                    )
                    if args.json:
                        with open(args.json, "a") as handle:
                            handle.write(json.dumps(row) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
