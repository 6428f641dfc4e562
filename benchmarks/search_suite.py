"""Search suite: the tuner's default search against random search, stock Ray Tune and Optuna
alone, on the multi-fidelity functions of `benchmarks.mf_functions` (Branin, Hartmann-3/6,
Borehole with fidelity: published definitions, known optima), 2 trials at a time.

Every method gets the same budget, counted in epochs (fidelity steps) across all its trials:
`--full-trials` (20) times `--epochs` (27); a run stops once it has used it, and the epochs
reported after that do not count. Methods:

- `default`: `python -m tuner run`'s machinery with the space file's defaults (searcher,
  ASHA): `tuner.sweep.build_searcher`/`build_scheduler` (and `ray_trainable` on Ray) on an
  experiment folder with its Optuna journal;
- `tpe`, `tpe_optuna`, `gp`, `random`, `hyperband`: the same with `searcher: {name: tpe}` (TPE
  at the trusted budget), `{name: tpe_optuna}` (Optuna's TPE as it ranks PRUNED trials),
  `{name: gp}` (Optuna's GP on COMPLETE trials), `{name: random}`, or `asha: {brackets: 3}`;
- `stock_ray`: a stock Ray Tune script: Ray's `OptunaSearch` (TPE, seeded) and Ray's
  `ASHAScheduler` with the same grace period and reduction factor;
- `optuna_hyperband`, `optuna_sha`, `optuna_median`: Optuna alone with TPE and each pruner at
  its defaults (`max_resource` = the epochs): ask and tell in the simulation, `study.optimize`
  with 2 threads on the Ray engine.

`--engine sim` (the default) calls the very searcher and scheduler objects (or Optuna's
ask-and-tell) in simulated time, as Ray Tune's controller calls them, 2 trials at a time
(`benchmarks.search_sim`); `--engine ray` runs the same methods on a real local Ray
(`benchmarks.search_ray`; a minute or more per run on a shared 2-core machine). Each run's
reports are written, in the order they arrived, to `--json`; `benchmarks.search_report`
turns them into regret curves, paired comparisons and Wilcoxon tests.

    python -m benchmarks.search_suite --seeds 10 --json /tmp/suite.jsonl
    python -m benchmarks.search_suite --engine ray --seeds 3 --json /tmp/suite_ray.jsonl
    python -m benchmarks.search_suite --quick      # 1 seed, 2 functions, 9 epochs, smoke test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import tempfile
from pathlib import Path

from benchmarks._common import ray_environment
from benchmarks.mf_functions import FUNCTIONS
from benchmarks.search_methods import METHODS, TUNER_METHODS


def run_method(
    engine: str, method: str, name: str, seed: int, epochs: int, budget: int, folder: Path
) -> list:
    """One run of `method` on function `name` with `seed`: its reports in arrival order."""
    if engine == "sim":
        from benchmarks.search_sim import run_sim_method

        return run_sim_method(method, name, seed, epochs, budget, folder)
    from benchmarks import search_ray

    if method in TUNER_METHODS:
        return search_ray.run_tuner_method(method, name, seed, epochs, budget, folder)
    if method == "stock_ray":
        return search_ray.run_stock_ray(name, seed, epochs, budget, folder)
    return search_ray.run_optuna_alone(method.removeprefix("optuna_"), name, seed, epochs, budget)


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
    parser.add_argument("--engine", choices=("sim", "ray"), default="sim")
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
    session = ray_session() if args.engine == "ray" else contextlib.nullcontext()
    with tempfile.TemporaryDirectory() as tmp, session:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for name in args.functions:
                for method in args.methods:
                    folder = Path(tmp) / f"{method}_{name}_{seed}"
                    folder.mkdir()
                    arrivals = run_method(
                        args.engine, method, name, seed, args.epochs, budget, folder
                    )
                    row = {
                        "engine": args.engine,
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
