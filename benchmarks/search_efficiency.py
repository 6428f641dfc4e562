"""Search efficiency on a small DSR task: TPE + ASHA (our states), TPE + ASHA (stock states),
random search without pruning; several seeds each, all on one local Ray.

All three use the same space, trainable, concurrency and actor reuse; only the searcher and the
scheduler differ:

- `tpe_asha`: `tuner.searcher.BudgetAwareOptunaSearch` (PRUNED/COMPLETE/FAIL as they happened);
- `tpe_asha_stock`: Ray's `OptunaSearch` recording every ended trial COMPLETE with its last value
  (its config is the define function's return value as is: stock would unflatten the `/` in our
  Optuna parameter names, which changes nothing about how it records trials);
- `random`: `RandomSampler`, no pruning (FIFO), every trial trained to `n_epochs`.

A driver callback records every reported epoch in arrival order; "epochs consumed" counts them.
The target is the median over seeds of random search's final best score.

    python -m benchmarks.search_efficiency            # 5 seeds x 3 methods, 24 trials x 12 epochs
    python -m benchmarks.search_efficiency --quick    # 1 seed, 6 tiny trials x 4 epochs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from benchmarks._common import header, ray_environment, spread, write_section

TITLE = "Search efficiency: TPE + ASHA vs stock state handling vs random search"
METHODS = ("tpe_asha", "tpe_asha_stock", "random")
SEARCH = {
    "learning_rate": {"lr": {"log_uniform": [1.0e-4, 5.0e-2]}},
    "dsr_subject_multiplier": {"log_uniform": [1.0, 30.0]},
    "lr_scheduling": {
        "choice": {
            "MultiStepLR": {"gamma": {"log_uniform": [0.1, 0.5]}, "milestones": [0.5, 0.8]},
            "ExponentialLR": {"gamma": {"uniform": [0.8, 0.99]}},
        }
    },
    "settings": {"alpha": {"uniform": [0.1, 0.5]}},
}
FULL = {
    "trials": 24,
    "epochs": 12,
    "grace": 2,
    "rf": 3,
    "startup": 8,
    "fixed": {"n_subjects": 4, "train_steps": 500, "test_steps": 1000, "eval_every": 3},
}
QUICK = {
    "trials": 6,
    "epochs": 4,
    "grace": 1,
    "rf": 2,
    "startup": 3,
    "fixed": {"n_subjects": 2, "train_steps": 200, "test_steps": 300, "eval_every": 2},
}


def load_task_space(folder: Path, task: dict[str, Any]) -> Any:
    """The task as a validated space file (its `define` is what every method samples)."""
    from tuner.space import load_space

    data = {
        "name": "search_efficiency",
        "trainable": "dsr",
        "n_epochs": task["epochs"],
        "metric": "score",
        "mode": "min",
        "num_samples": task["trials"],
        "fixed": task["fixed"],
        "search": SEARCH,
        "checkpoint_every": 0,
        "storage_path": str(folder),
    }
    path = folder / "search_efficiency.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_space(path)


def build_searcher(method: str, space: Any, task: dict[str, Any], seed: int) -> Any:
    """The method's searcher on an in-memory study (same storage for every method)."""
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    from tuner.searcher import BudgetAwareOptunaSearch
    from tuner.sweep import TrialConfig

    define = TrialConfig(space)
    if method == "tpe_asha_stock":

        class StockOptunaSearch(OptunaSearch):
            """Ray's OptunaSearch; only the config is taken from `define` as is."""

            def _suggest_from_define_by_run_func(self, func: Any, ot_trial: Any) -> dict:
                return func(ot_trial)

        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=task["startup"])
        return StockOptunaSearch(space=define, metric="score", mode="min", sampler=sampler)
    if method == "random":
        sampler: Any = optuna.samplers.RandomSampler(seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=task["startup"])
    return BudgetAwareOptunaSearch(
        define,
        max_t=task["epochs"],
        sampler=sampler,
        study_name=f"{method}_{seed}",
        storage=optuna.storages.InMemoryStorage(),
    )


def run_method(method: str, space: Any, task: dict[str, Any], seed: int, folder: Path) -> list:
    """One sweep; every reported (trial, epoch, score) in the order the driver received them."""
    from ray import tune
    from ray.tune import Callback
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    from tuner.searcher import NonFiniteStopper
    from tuner.sweep import ray_trainable, trial_dirname

    arrivals: list[tuple[str, int, float]] = []

    class Record(Callback):
        def on_trial_result(self, iteration, trials, trial, result, **info):  # noqa: ANN001
            arrivals.append((trial.trial_id, int(result["training_iteration"]), result["score"]))

    if method == "random":
        scheduler: Any = FIFOScheduler()
    else:
        scheduler = ASHAScheduler(
            time_attr="training_iteration",
            max_t=task["epochs"],
            grace_period=task["grace"],
            reduction_factor=task["rf"],
        )
    tuner = tune.Tuner(
        ray_trainable(space),
        param_space={"n_epochs": task["epochs"]},
        tune_config=tune.TuneConfig(
            metric="score",
            mode="min",
            search_alg=build_searcher(method, space, task, seed),
            scheduler=scheduler,
            num_samples=task["trials"],
            max_concurrent_trials=os.cpu_count() or 1,
            reuse_actors=True,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=f"{method}_{seed}",
            storage_path=str(folder),
            stop=NonFiniteStopper("score"),
            callbacks=[Record()],
            verbose=0,
        ),
    )
    tuner.fit()
    return arrivals


def curve(arrivals: list[tuple[str, int, float]]) -> list[float]:
    """Best score so far after each epoch consumed (NaN scores never count)."""
    best, out = math.inf, []
    for _, _, score in arrivals:
        if isinstance(score, (int, float)) and math.isfinite(score):
            best = min(best, float(score))
        out.append(best)
    return out


def summarize(runs: dict[str, dict[int, list[float]]]) -> dict[str, Any]:
    """Target, epochs to reach it, best at the common budget, totals: per method and seed."""
    target = statistics.median(c[-1] for c in runs["random"].values())
    budget = min(len(c) for method in runs.values() for c in method.values())
    rows = {}
    for method, by_seed in runs.items():
        reach = [
            next((i + 1 for i, b in enumerate(c) if b <= target), None) for c in by_seed.values()
        ]
        rows[method] = {
            "epochs_to_target": [r for r in reach if r is not None],
            "reached": sum(r is not None for r in reach),
            "seeds": len(by_seed),
            "best_at_budget": [c[budget - 1] for c in by_seed.values()],
            "final_best": [c[-1] for c in by_seed.values()],
            "total_epochs": [float(len(c)) for c in by_seed.values()],
        }
    return {"target": target, "budget": budget, "rows": rows}


def to_markdown(s: dict[str, Any]) -> str:
    lines = [
        f"| method | reached target {s['target']:.3f} | epochs to target | best at "
        f"{s['budget']} epochs | final best | epochs consumed |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for method, r in s["rows"].items():
        lines.append(
            f"| {method} | {r['reached']}/{r['seeds']} | {spread(r['epochs_to_target'], 0)} | "
            f"{spread(r['best_at_budget'], 3)} | {spread(r['final_best'], 3)} | "
            f"{spread(r['total_epochs'], 0)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 seed, 6 tiny trials x 4 epochs")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="rewrite the BENCHMARKS.md section")
    parser.add_argument("--json", help="also write every run's best-so-far curve here")
    parser.add_argument("--grace-period", type=int, help="ASHA grace_period (full: 2)")
    parser.add_argument("--reduction-factor", type=int, help="ASHA reduction_factor (full: 3)")
    parser.add_argument("--n-startup-trials", type=int, help="TPE random trials first (full: 8)")
    args = parser.parse_args(argv)
    task, seeds = (QUICK, 1) if args.quick else (FULL, args.seeds)
    given = {
        "grace": args.grace_period,
        "rf": args.reduction_factor,
        "startup": args.n_startup_trials,
    }
    task = {**task, **{k: v for k, v in given.items() if v is not None}}
    ray_environment()
    import optuna

    from tuner.ray_session import ray_session

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs: dict[str, dict[int, list[float]]] = {m: {} for m in METHODS}
    with tempfile.TemporaryDirectory() as tmp, ray_session():
        space = load_task_space(Path(tmp), task)
        for seed in range(seeds):
            for method in METHODS:
                arrivals = run_method(method, space, task, seed, Path(tmp))
                runs[method][seed] = curve(arrivals)
                print(
                    json.dumps(
                        {
                            "method": method,
                            "seed": seed,
                            "epochs": len(arrivals),
                            "best": runs[method][seed][-1],
                        }
                    ),
                    flush=True,
                )
    if args.json:
        Path(args.json).write_text(json.dumps(runs))
    summary = summarize(runs)
    table = to_markdown(summary)
    print(table)
    if args.write:
        title = TITLE
        if task != FULL and not args.quick:
            title += f" (grace {task['grace']}, rf {task['rf']}, startup {task['startup']})"
        write_section(title, body(summary, table, task, seeds, argv))
    return 0


def body(s: dict[str, Any], table: str, task: dict[str, Any], seeds: int, argv: list) -> str:
    random_epochs = statistics.median(s["rows"]["random"]["total_epochs"])
    return (
        f"{header('benchmarks.search_efficiency', [a for a in argv if a != '--write'])}"
        f"- Task: DSR with {task['fixed']}, {task['trials']} trials x {task['epochs']} epochs, "
        f"score (lower is better); searched: base lr, DSR subject multiplier, schedule "
        f"(MultiStepLR or ExponentialLR with its gamma), teacher-forcing alpha. TPE with "
        f"`n_startup_trials: {task['startup']}`; ASHA grace period {task['grace']}, reduction "
        f"factor {task['rf']}; {os.cpu_count()} trials at a time, actor reuse; seeds 0-"
        f"{seeds - 1} for each method. Spread: median (min-max) over seeds.\n"
        f"- Target: the median over seeds of random search's final best ({s['target']:.3f}); "
        f'a third of random search\'s epochs is {random_epochs / 3:.0f}. "best at N epochs": '
        "the best score after the first N reported epochs (N = the fewest any run consumed).\n\n"
        f"{table}\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
