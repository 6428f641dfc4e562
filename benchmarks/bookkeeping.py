"""Per-trial bookkeeping: `python -m tuner run` against Optuna alone on a sweep of short trials.

Both sides run the same trials: `--trials` (70) trials of `--epochs` (52) epochs that each
sleep `--epoch-ms` (20 ms) and report a Hartmann-6 learning curve (`benchmarks.mf_trainable`),
2 at a time, random search with seed 0, no pruning, so both train the very same configs for
the very same epochs and the difference is what each spends per trial and per report:

- optuna: `study.optimize(objective, n_jobs=2)`, `trial.report` every epoch, in-memory study;
- tuner: `tuner.api.run_space` (what `python -m tuner run` calls) on a space file naming the
  trainable, `asha: null`: a local Ray, the Optuna journal, true states, the exports;
- tuner_stock (`--stock`): the same with `TUNER_STOCK_RAY=1`, Ray's stock behaviour without
  the tuner's patches of its internals (run-ahead among them, `tuner/run_ahead.py`).

`--pruning` runs each side's pruning instead: the tuner's defaults (searcher `tpe`, ASHA with
grace period 1 and reduction factor 2) and Optuna's TPE with `SuccessiveHalvingPruner(
min_resource=1, reduction_factor=2)`; their epochs then differ, and the table shows them.
Each side runs in a fresh process, sides alternating, `--reps` times. "sweep" is the time from
the start of the search (Ray already up for the tuner) to its end; "from the first trial's
start" leaves out the tuner's wait for its first trial process (the fit's start to the first
"started" progress line, whole seconds); "process" is the whole process.

    python -m benchmarks.bookkeeping                # 70 x 52 x 20 ms, 3 repetitions
    python -m benchmarks.bookkeeping --quick        # 6 trials x 5 epochs, 1 repetition
    python -m benchmarks.bookkeeping --stock        # also the tuner without its Ray patches
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks._common import header, timed_run, write_section
from tuner.ray_patches import STOCK_ENV

TITLE = "Bookkeeping: python -m tuner run vs Optuna alone, short trials"
FUNCTION = "hartmann6"


def run_optuna(trials: int, epochs: int, epoch_s: float, pruning: bool) -> dict[str, Any]:
    import optuna

    from benchmarks.mf_trainable import run_curve

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    reported = [0]

    def objective(trial: optuna.Trial) -> float:
        config = {"function": FUNCTION, "n_epochs": epochs, "epoch_seconds": epoch_s}
        config.update({f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(6)})

        def report(epoch: int, value: float) -> bool:
            reported[0] += 1
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
            return False

        return run_curve(config, report)

    if pruning:
        sampler: Any = optuna.samplers.TPESampler(seed=0)
        pruner: Any = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
    else:
        sampler, pruner = optuna.samplers.RandomSampler(seed=0), optuna.pruners.NopPruner()
    start = time.perf_counter()
    study = optuna.create_study(sampler=sampler, pruner=pruner)
    study.optimize(objective, n_trials=trials, n_jobs=2)
    return {"sweep": time.perf_counter() - start, "epochs": reported[0]}


def run_tuner(trials: int, epochs: int, epoch_s: float, pruning: bool) -> dict[str, Any]:
    from tuner.api import run_space

    with tempfile.TemporaryDirectory() as tmp:
        space = {
            "name": "bookkeeping",
            "trainable": "benchmarks.mf_trainable:mf_trainable",
            "n_epochs": epochs,
            "metric": "loss",
            "mode": "min",
            "num_samples": trials,
            "max_concurrent_trials": 2,
            "fixed": {"function": FUNCTION, "epoch_seconds": epoch_s},
            "search": {"settings": {f"x{i}": {"uniform": [0.0, 1.0]} for i in range(6)}},
            "searcher": {"name": "tpe" if pruning else "random", "seed": 0},
            "checkpoint_every": 0,
            "storage_path": str(Path(tmp) / "results"),
        }
        if not pruning:
            space["asha"] = None
        path = Path(tmp) / "space.yaml"
        path.write_text(yaml.safe_dump(space))
        started: list[float] = []
        outcome = run_space(path, announce=lambda *_: started.append(time.perf_counter()))
        sweep = time.perf_counter() - started[0]
        study = outcome.experiment.load_study()
        epochs_run = sum(len(t.intermediate_values) for t in study.get_trials(deepcopy=False))
    return {"sweep": sweep, "epochs": epochs_run}


#: the figures each child reports besides the whole sweep
PHASES = ("trials_phase", "epochs")
_STARTED = re.compile(r"^\[\s*(\d+)s\] trial \S+ started", re.MULTILINE)


def first_trial_started(log: str) -> float:
    """Seconds from the start of the fit to the first trial's start, from the tuner's progress
    lines (whole seconds; 0 for Optuna alone, whose first trial starts at once)."""
    match = _STARTED.search(log)
    return float(match.group(1)) if match else 0.0


def measure(args: argparse.Namespace, folder: Path) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {}
    common = [str(args.trials), str(args.epochs), str(args.epoch_ms)]
    sides = ("optuna", "tuner", "tuner_stock") if args.stock else ("optuna", "tuner")
    for rep in range(args.reps):
        for side in sides:
            result = folder / f"{side}_{rep}.json"
            runner = "optuna" if side == "optuna" else "tuner"
            child = ["-m", "benchmarks.bookkeeping", "--child", runner, *common, str(result)]
            if args.pruning:
                child.append("--pruning")
            log = folder / f"{side}_{rep}.log"
            env = {STOCK_ENV: "1"} if side == "tuner_stock" else {STOCK_ENV: "0"}
            wall = timed_run(child, log, env=env)
            row = json.loads(result.read_text())
            row["trials_phase"] = row["sweep"] - first_trial_started(log.read_text())
            side_rows = out.setdefault(side, {k: [] for k in ("process", "sweep", *PHASES)})
            for key in ("sweep", *PHASES):
                side_rows[key].append(row[key])
            side_rows["process"].append(wall)
            print(json.dumps({"side": side, "rep": rep, "process": wall, **row}), flush=True)
    return out


def to_markdown(m: dict[str, dict[str, list[float]]]) -> str:
    keys = ("trials_phase", "sweep", "process")
    lines = [
        "| side | from the first trial's start, s | sweep, s | process, s | epochs run |",
        "| --- | --- | --- | --- | --- |",
    ]
    for side, rows in m.items():
        cells = [
            f"{statistics.median(rows[k]):.2f} ({', '.join(f'{v:.2f}' for v in rows[k])})"
            for k in keys
        ]
        epochs = statistics.median(rows["epochs"])
        lines.append(f"| {side} | {' | '.join(cells)} | {epochs:.0f} |")
    lines.append("")
    for side in (s for s in m if s != "optuna"):
        for key in keys:
            ratios = [t / o for t, o in zip(m[side][key], m["optuna"][key], strict=True)]
            lines.append(
                f"- {side} / optuna, {key.replace('_', ' ')}: median "
                f"{statistics.median(ratios):.2f} "
                f"(per repetition {', '.join(f'{r:.2f}' for r in ratios)})"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        side, trials, epochs, epoch_ms, result = argv[1:6]
        run = run_optuna if side == "optuna" else run_tuner
        row = run(int(trials), int(epochs), float(epoch_ms) / 1000, "--pruning" in argv)
        Path(result).write_text(json.dumps(row))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 trials x 5 epochs, 1 repetition")
    parser.add_argument("--trials", type=int, default=70)
    parser.add_argument("--epochs", type=int, default=52)
    parser.add_argument("--epoch-ms", type=float, default=20.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--pruning", action="store_true", help="each side's own pruning")
    parser.add_argument(
        "--stock", action="store_true", help=f"also the tuner with {STOCK_ENV}=1 (no patches)"
    )
    parser.add_argument("--write", action="store_true", help="rewrite the BENCHMARKS.md section")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.epochs, args.reps = 6, 5, 1
    with tempfile.TemporaryDirectory() as tmp:
        m = measure(args, Path(tmp))
    table = to_markdown(m)
    print(table)
    if args.write:
        what = "each side's pruning" if args.pruning else "random search, no pruning"
        body = (
            f"{header('benchmarks.bookkeeping', [a for a in argv if a != '--write'])}"
            f"- {args.trials} trials x {args.epochs} epochs of {args.epoch_ms:g} ms, 2 at a "
            f"time, {what}; sides alternate, each in a fresh process.\n\n{table}\n"
        )
        write_section(TITLE + (" (pruning)" if args.pruning else ""), body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
