"""Overhead ratio: one fixed set of DSR trials run three ways, each in a fresh process.

(a) plain: `train_dsr` on each config in a `ProcessPoolExecutor` with as many processes as the
    concurrency (one torch thread each): the ideal;
(b) tuner: `python -m tuner run` on a space file whose random searcher (seed 0) draws the configs
    from `choice` lists, `asha: null`;
(c) stock: a Ray Tune script with Ray's defaults: `tune.Tuner(tune.with_resources(dsr_trainable,
    {"cpu": 1}), param_space=grid of the same configs)` (no actor reuse, Ray's default storage);
(d) tuner, unpatched: (b) with `TUNER_STOCK_RAY=1`, i.e. without the patches of Ray's internals
    (`tuner/ray_patches.py`): what a user whose Ray differs from the one they were written for gets.

The configs of (a) and (c) are read from the study of the first (b) run, so all three train the
very same trials. Every wall time covers the whole process: interpreter, imports, Ray start.

    python -m benchmarks.overhead                 # 16 trials x 10 epochs, 3 repetitions
    python -m benchmarks.overhead --quick         # 4 small trials x 2 epochs, 1 repetition
    python -m benchmarks.overhead --write         # also rewrite its BENCHMARKS.md section
    python -m benchmarks.overhead --gpu 0.25      # on CUDA, 4 trials per GPU (1 CPU each)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from benchmarks._common import header, spread, timed_run, write_section
from tuner.ray_patches import STOCK_ENV

TITLE = "Overhead: plain loops vs python -m tuner run vs stock Ray Tune"
LRS = (2e-3, 5e-3, 1e-2, 2e-2)
MULTIPLIERS = (1.0, 3.0, 10.0, 30.0)
#: the quick mode's smaller data (the full mode keeps the DSR defaults)
QUICK_FIXED = {"n_subjects": 2, "train_steps": 300, "test_steps": 300}


def write_space(folder: Path, trials: int, epochs: int, quick: bool, gpu: float = 0.0) -> Path:
    """The space file of (b): `trials` random draws over LRS x MULTIPLIERS, no pruning;
    `gpu` > 0 gives each trial that fraction of a GPU (`device: auto` then trains on it)."""
    space = {
        "name": "overhead",
        "trainable": "dsr",
        "n_epochs": epochs,
        "metric": "score",
        "mode": "min",
        "num_samples": trials,
        "search": {
            "learning_rate": {"lr": {"choice": list(LRS)}},
            "dsr_subject_multiplier": {"choice": list(MULTIPLIERS)},
        },
        "searcher": {"name": "random", "seed": 0},
        "asha": None,
        "resources": {"cpu": 1, "gpu": gpu},
        "storage_path": str(folder / "results"),
    }
    if quick:
        space["fixed"] = dict(QUICK_FIXED)
    path = folder / "overhead.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def configs_of(exp_dir: Path, epochs: int) -> list[dict[str, Any]]:
    """The trial configs a (b) run trained, in trial order (from its Optuna study); `n_epochs`
    reaches the trainable through Ray's `param_space`, so it is added here."""
    from tuner.experiment import load_experiment
    from tuner.searcher import CONFIG

    study = load_experiment(exp_dir).load_study()
    trials = study.get_trials(deepcopy=False)
    return [{**t.user_attrs[CONFIG], "n_epochs": epochs} for t in trials]


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _train(config: dict[str, Any]) -> float:
    from trainables.dsr import train_dsr

    return float(train_dsr(config)[-1]["score"])


def run_plain(configs: list[dict[str, Any]], workers: int) -> list[float]:
    """(a): every config through `train_dsr`, `workers` processes; the final scores."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
        return list(pool.map(_train, configs))


def run_stock(configs: list[dict[str, Any]], storage: Path, cpus: int, gpu: float = 0.0) -> int:
    """(c): a grid over `configs` in a stock `tune.Tuner`; how many trials ended."""
    import ray
    from ray import tune

    from trainables.dsr import dsr_trainable

    def trainable(config: dict[str, Any]) -> None:
        dsr_trainable(config["config"])

    ray.init(address="local", include_dashboard=False, num_cpus=cpus)
    try:
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1, "gpu": gpu}),
            param_space={"config": tune.grid_search(configs)},
            tune_config=tune.TuneConfig(metric="score", mode="min"),
            run_config=tune.RunConfig(name="stock", storage_path=str(storage)),
        )
        return len(tuner.fit())
    finally:
        ray.shutdown()


def concurrency(gpu: float) -> int:
    """Trials at a time: one per CPU, or with `gpu` > 0 as many as the GPUs' fractions allow."""
    cpus = os.cpu_count() or 1
    if gpu <= 0:
        return cpus
    import torch

    return max(1, min(cpus, int(torch.cuda.device_count() / gpu + 1e-9)))


def measure(
    trials: int, epochs: int, reps: int, quick: bool, folder: Path, gpu: float = 0.0
) -> dict[str, Any]:
    """Wall times of (a), (b) and (c) per repetition, interleaved b, a, c."""
    cpus = concurrency(gpu)
    space = write_space(folder, trials, epochs, quick, gpu)
    me = "benchmarks.overhead"
    walls: dict[str, list[float]] = {"plain": [], "tuner": [], "stock": [], "unpatched": []}
    configs_file = folder / "configs.json"
    for rep in range(reps):
        name = f"overhead_{rep}"
        args = ["-m", "tuner", "run", str(space), "--name", name]
        walls["tuner"].append(timed_run(args, folder / f"tuner_{rep}.log"))
        if rep == 0:
            configs = configs_of(folder / "results" / name, epochs)
            if gpu > 0:  # the plain loops train on the GPU too
                configs = [{**c, "device": "cuda"} for c in configs]
            configs_file.write_text(json.dumps(configs))
        plain = ["-m", me, "--plain", str(configs_file), "--workers", str(cpus)]
        walls["plain"].append(timed_run(plain, folder / f"plain_{rep}.log"))
        stock = ["-m", me, "--stock", str(configs_file), "--storage", str(folder / f"ray_{rep}")]
        stock += ["--gpu", str(gpu)]
        walls["stock"].append(timed_run(stock, folder / f"stock_{rep}.log"))
        args = ["-m", "tuner", "run", str(space), "--name", f"unpatched_{rep}"]
        log = folder / f"unpatched_{rep}.log"
        walls["unpatched"].append(timed_run(args, log, env={STOCK_ENV: "1"}))
        print(json.dumps({k: round(v[-1], 2) for k, v in walls.items()}), flush=True)
    return {"walls": walls, "trials": trials, "epochs": epochs, "cpus": cpus, "gpu": gpu}


def to_markdown(m: dict[str, Any]) -> str:
    """Wall times and ratios (per repetition ratios against that repetition's (a))."""
    walls = m["walls"]
    ratio_b = [b / a for a, b in zip(walls["plain"], walls["tuner"], strict=True)]
    ratio_c = [c / a for a, c in zip(walls["plain"], walls["stock"], strict=True)]
    ratio_d = [d / a for a, d in zip(walls["plain"], walls["unpatched"], strict=True)]
    lines = [
        "| way | wall time, s: median (min-max) | / plain: median (min-max) |",
        "| --- | --- | --- |",
        f"| (a) plain loops, {m['cpus']} processes | {spread(walls['plain'])} | 1 |",
        f"| (b) `python -m tuner run` | {spread(walls['tuner'])} | {spread(ratio_b)} |",
        f"| (c) stock Ray Tune | {spread(walls['stock'])} | {spread(ratio_c)} |",
        f"| (d) `python -m tuner run`, `{STOCK_ENV}=1` (no patches of Ray's internals) "
        f"| {spread(walls['unpatched'])} | {spread(ratio_d)} |",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 small trials x 2 epochs, once")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--gpu", type=float, default=0.0, help="GPU fraction per trial (CUDA)")
    parser.add_argument("--write", action="store_true", help="rewrite the BENCHMARKS.md section")
    parser.add_argument("--plain", help=argparse.SUPPRESS)  # internal: run (a) on a configs file
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help=argparse.SUPPRESS)
    parser.add_argument("--stock", help=argparse.SUPPRESS)  # internal: run (c) on a configs file
    parser.add_argument("--storage", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.plain:
        run_plain(json.loads(Path(args.plain).read_text()), args.workers)
        return 0
    if args.stock:
        configs = json.loads(Path(args.stock).read_text())
        run_stock(configs, Path(args.storage), os.cpu_count() or 1, args.gpu)
        return 0
    trials, epochs, reps = (4, 2, 1) if args.quick else (args.trials, args.epochs, args.reps)
    with tempfile.TemporaryDirectory() as folder:
        m = measure(trials, epochs, reps, args.quick, Path(folder), args.gpu)
    table = to_markdown(m)
    print(table)
    if args.write:
        title = TITLE if args.gpu <= 0 else f"{TITLE} (GPU, {args.gpu:g} GPU per trial)"
        write_section(title, body(m, table, argv))
    return 0


def body(m: dict[str, Any], table: str, argv: list[str]) -> str:
    walls = m["walls"]
    ratio = statistics.median(b / a for a, b in zip(walls["plain"], walls["tuner"], strict=True))
    unpatched = statistics.median(
        d / a for a, d in zip(walls["plain"], walls["unpatched"], strict=True)
    )
    verdict = "meets" if ratio <= 1.2 else "misses"
    return (
        f"{header('benchmarks.overhead', [a for a in argv if a != '--write'])}"
        f"- Trials: {m['trials']} DSR trials x {m['epochs']} epochs (default settings, lr in "
        f"{list(LRS)} x subject multiplier in {list(MULTIPLIERS)}, drawn by the random searcher "
        f"with seed 0), no pruning, {m['cpus']} at a time, one CPU and one torch thread each; "
        f"{len(m['walls']['plain'])} repetitions interleaved (b, a, c, d). Each wall time is the "
        "whole process: interpreter, imports, data, Ray start and shutdown.\n\n"
        f"{table}\n\n"
        f"(b)/(a) = {ratio:.2f}: {verdict} the target of 1.2. With the patches of Ray's "
        f"internals off (d, what runs where Ray's internals differ from those they were "
        f"written for), (d)/(a) = {unpatched:.2f}.\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
