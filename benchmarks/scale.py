"""Scale: bookkeeping per trial over 1,000 trials of a trivial trainable, and TPE suggestion time.

1. Runs the sweep of `benchmarks.load_500` (trivial trainable, 2 epochs, TPE on the journal
   storage, actor reuse) with 1,000 trials; bookkeeping per trial = (wall time - Ray start
   and shutdown) / trials - the trainables' own time / (trials x concurrency).
2. Times `study.ask()` plus the space's define function (the sampler's work happens there) on a
   journal-storage study already holding 10 and 1,000 finished trials, for the trivial space and for
   `examples/dsr_full.yaml` (19 parameters, conditional schedule branches).

    python -m benchmarks.scale            # 1,000 trials
    python -m benchmarks.scale --quick    # 60 trials; suggestion time at 10 and 100
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT, header, ray_environment, write_section
from benchmarks.load_500 import TRIVIAL, run_load
from tuner._report_curves import read_result_log
from tuner.storage import open_storage

TITLE = "Scale: 1,000 trials of a trivial trainable"


def trainable_seconds(exp_dir: Path) -> float:
    """The sum over trials of Ray's `time_total_s` (the trainable's own time) at its end."""
    total = 0.0
    for result_file in exp_dir.glob("*/result.json"):
        rows = read_result_log(result_file)
        if rows:
            total += float(rows[-1].get("time_total_s", 0.0))
    return total


def ray_start_stop_seconds() -> float:
    """Seconds to start and shut down a new local Ray (what a sweep pays once)."""
    from tuner.ray_session import ray_session

    start = time.perf_counter()
    with ray_session():
        pass
    return time.perf_counter() - start


def trial_processes(exp_dir: Path) -> int:
    """How many worker processes ran the trials (distinct `pid` in Ray's results)."""
    logs = exp_dir.glob("*/result.json")
    return len({row.get("pid") for log in logs for row in read_result_log(log)})


def workers_started() -> int:
    """Worker processes the last local Ray session started (its `worker-*.out` logs)."""
    logs = Path(os.environ.get("RAY_TMPDIR", tempfile.gettempdir())) / "ray" / "session_latest"
    return len(list((logs / "logs").glob("worker-*.out")))


def bookkeeping(n: int, folder: Path, per_cpu: int) -> dict[str, Any]:
    """The load sweep's wall time, split into Ray start, trainables and per-trial bookkeeping."""
    folder = folder / f"per_cpu_{per_cpu}"
    folder.mkdir()
    report = run_load(n, folder, per_cpu)
    started = workers_started()
    exp_dir = next(p for p in (folder / "results").iterdir() if p.is_dir())
    trained = trainable_seconds(exp_dir)
    ray_once = ray_start_stop_seconds()
    per_trial = (report["wall_s"] - ray_once) / n - trained / (n * report["concurrency"])
    return {
        **report,
        "ray_start_stop_s": ray_once,
        "trial_processes": trial_processes(exp_dir),
        "workers_started": started,
        "trainable_s": trained,
        "per_trial_s": per_trial,
    }


def trivial_define(trial: Any) -> dict[str, Any]:
    return {"x": trial.suggest_float("x", 0.0, 1.0), "n_epochs": 2}


def dsr_full_define() -> Any:
    from tuner.space import load_space
    from tuner.sweep import TrialConfig

    return TrialConfig(load_space(ROOT / "examples" / "dsr_full.yaml"))


def fill(study: Any, define: Any, upto: int, epochs: int) -> None:
    """Add random finished trials (each with `epochs` intermediate values) up to `upto`."""
    import random

    import optuna

    rng = random.Random(0)
    sampler = optuna.samplers.RandomSampler(seed=len(study.trials))
    filler = optuna.load_study(study_name=study.study_name, storage=study._storage, sampler=sampler)
    while len(filler.trials) < upto:
        trial = filler.ask()
        define(trial)
        for step in range(1, epochs + 1):
            trial.report(rng.random() + 1.0 / step, step)
        filler.tell(trial, rng.random())


def time_suggestions(study: Any, define: Any, reps: int = 7) -> float:
    """Median seconds of `ask()` + define with TPE (each timed trial is then told FAIL)."""
    from optuna.trial import TrialState

    times = []
    for _ in range(reps):
        start = time.perf_counter()
        trial = study.ask()
        define(trial)
        times.append(time.perf_counter() - start)
        study.tell(trial, state=TrialState.FAIL)
    return statistics.median(times)


def suggestion_times(folder: Path, sizes: tuple[int, ...]) -> dict[str, dict[int, float]]:
    """TPE ask + define seconds at each study size, per space."""
    import optuna

    out: dict[str, dict[int, float]] = {}
    for name, define, epochs in (
        ("trivial (1 parameter)", trivial_define, 2),
        ("examples/dsr_full.yaml", dsr_full_define(), 5),
    ):
        storage = open_storage(str(folder / (name.split()[0].replace("/", "_") + ".journal")))
        sampler = optuna.samplers.TPESampler(seed=0)
        study = optuna.create_study(study_name="scale", storage=storage, sampler=sampler)
        out[name] = {}
        for size in sizes:
            fill(study, define, size, epochs)
            out[name][size] = time_suggestions(study, define)
    return out


def to_markdown(runs: list[dict[str, Any]], s: dict[str, dict[int, float]]) -> str:
    lines = [
        "| trials | trials per CPU | concurrent | recorded | wall time | Ray start + stop "
        "| trainables (sum) | processes that ran trials | worker processes started "
        "| bookkeeping per trial |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for b in runs:
        lines.append(
            f"| {b['trials']} | {b['per_cpu']} | {b['concurrency']} | "
            f"{b['states'].get('COMPLETE', 0)} COMPLETE | {b['wall_s']:.1f} s | "
            f"{b['ray_start_stop_s']:.1f} s | {b['trainable_s']:.1f} s | "
            f"{b['trial_processes']} | {b['workers_started']} | {1000 * b['per_trial_s']:.0f} ms |"
        )
    lines += [
        "",
        "| space | "
        + " | ".join(f"TPE ask + define at {n} trials" for n in next(iter(s.values())))
        + " |",
        "| --- |" + " --- |" * len(next(iter(s.values()))),
    ]
    for name, by_size in s.items():
        lines.append(
            f"| {name} | " + " | ".join(f"{1000 * t:.1f} ms" for t in by_size.values()) + " |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 trials; sizes 10 and 100")
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument(
        "--per-cpu",
        type=lambda text: [int(v) for v in text.split(",")],
        default=[1, 4],
        help="trials sharing one CPU, one sweep per value (default 1,4)",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the BENCHMARKS.md section")
    args = parser.parse_args(argv)
    n, sizes = (60, (10, 100)) if args.quick else (args.trials, (10, 1000))
    ray_environment()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        runs = []
        for per_cpu in args.per_cpu:
            b = {**bookkeeping(n, Path(folder), per_cpu), "per_cpu": per_cpu}
            print(json.dumps({k: v for k, v in b.items() if k != "states"}), file=sys.stderr)
            runs.append(b)
        s = suggestion_times(Path(folder), sizes)
    table = to_markdown(runs, s)
    print(table)
    if args.write:
        write_section(
            TITLE,
            f"{header('benchmarks.scale', [a for a in argv if a != '--write'])}"
            f"- Sweep: `{TRIVIAL}` (2 epochs, one report each, no work), `python -m tuner`'s "
            f"own Tuner (`tuner.api.run_space`: actor reuse, TPE on the journal storage, FIFO), "
            f"{' and '.join(map(str, args.per_cpu))} trials per CPU (one sweep each). Bookkeeping "
            "per trial = (wall time - one Ray start and shutdown) / trials - trainables' time / "
            "(trials x concurrency).\n"
            "- Suggestion: median of 7 `study.ask()` + define calls with a seeded TPESampler on "
            "a journal-storage study holding that many finished trials (random configs, "
            "intermediate values per epoch).\n\n"
            f"{table}\n",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
