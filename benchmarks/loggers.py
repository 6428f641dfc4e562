"""Result loggers: what `loggers: [tensorboard]` costs per reported result.

1. Driver CPU per result: Ray's TensorBoard logger callback (and its JSON logger, which every
   sweep has) fed `--results` results of a DSR-like size (20 numbers) in this process, timed
   with `time.process_time` (CPU time: other work on the machine does not inflate it).
2. End to end: a trivial trainable (no work between reports) runs 2 trials x 300 epochs at once
through `tuner.api.run_space` on one local Ray started here, with no extra logger and with the
TensorBoard logger, interleaved, `--reps` times each. A trial waits for the driver to take each
result, so the driver's work per result is paid in wall time: the cost per result is the
difference of the medians divided by the results reported.

    python -m benchmarks.loggers              # 3 interleaved repetitions
    python -m benchmarks.loggers --write      # and replace its section of BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks._common import header, ray_environment, spread, write_section
from benchmarks.load_500 import TRIVIAL

TITLE = "Result loggers: TensorBoard cost per result"
TRIALS, EPOCHS = 2, 300
CASES: dict[str, list[str]] = {"none (JSON and CSV only)": [], "tensorboard": ["tensorboard"]}


#: a DSR epoch's report: metrics and each group's lr
RESULT = {
    "score": 0.5, "pred_error": 0.4, "train_loss": 0.3, "alpha": 0.1, "d_stsp": 1.2, "d_h": 0.3,
    **{f"lr/g{i}": 1e-3 * (i + 1) for i in range(14)},
}  # fmt: skip


class _Trial:
    """What Ray's logger callbacks read of a trial: its folder, id and config."""

    def __init__(self, folder: Path) -> None:
        self.local_path = str(folder)
        self.trial_id = folder.name
        self.config: dict[str, Any] = {"x": 0.5}
        self.evaluated_params: dict[str, Any] = {"x": 0.5}
        self.checkpoint = None

    def init_local_path(self) -> None:
        Path(self.local_path).mkdir(parents=True, exist_ok=True)


def cpu_per_result(n: int) -> dict[str, float]:
    """Driver CPU microseconds per result of each logger callback (`n` results each)."""
    from ray.tune.logger import JsonLoggerCallback, TBXLoggerCallback

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, cls in (
            ("json (every sweep)", JsonLoggerCallback),
            ("tensorboard", TBXLoggerCallback),
        ):
            callback, trial = cls(), _Trial(Path(tmp) / name.split()[0])
            Path(trial.local_path).mkdir()
            callback.log_trial_start(trial)
            start = time.process_time()
            for epoch in range(1, n + 1):
                result = {**RESULT, "training_iteration": epoch, "trial_id": trial.trial_id}
                callback.log_trial_result(epoch, trial, result)
            out[name] = (time.process_time() - start) / n * 1e6
            callback.log_trial_end(trial)
    return out


def write_space(folder: Path, name: str, loggers: list[str]) -> Path:
    space: dict[str, Any] = {
        "name": name,
        "trainable": TRIVIAL,
        "n_epochs": EPOCHS,
        "metric": "score",
        "mode": "min",
        "num_samples": TRIALS,
        "max_concurrent_trials": TRIALS,
        "search": {"settings": {"x": {"uniform": [0.0, 1.0]}}},
        "searcher": {"name": "random", "seed": 0},
        "asha": None,
        "resources": {"cpu": 1.0 / TRIALS},
        "checkpoint_every": 0,
        "loggers": loggers,
        "storage_path": str(folder / "results"),
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def measure(reps: int) -> dict[str, list[float]]:
    """Wall seconds of `run_space` per case, the cases interleaved."""
    import ray

    from tuner.api import run_space

    ray_environment()
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    times: dict[str, list[float]] = {case: [] for case in CASES}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for rep in range(reps + 1):  # the first round warms the workers up, not counted
                for index, (case, loggers) in enumerate(CASES.items()):
                    path = write_space(Path(tmp), f"run{rep}_{index}", loggers)
                    start = time.perf_counter()
                    outcome = run_space(path)
                    wall = time.perf_counter() - start
                    assert outcome.ok, outcome.counts
                    if rep:
                        times[case].append(wall)
    finally:
        ray.shutdown()
    return times


def cpu_markdown(cpu: dict[str, float], n: int) -> str:
    rows = ["| logger callback | driver CPU per result |", "| --- | --- |"]
    rows += [f"| {name} | {value:.0f} µs |" for name, value in cpu.items()]
    return f"Driver CPU per result ({n} results of 20 numbers each):\n\n" + "\n".join(rows) + "\n"


def to_markdown(times: dict[str, list[float]]) -> str:
    if not all(times.values()):
        return ""
    results = TRIALS * EPOCHS
    base = statistics.median(times["none (JSON and CSV only)"])
    rows = [
        "| loggers | run wall time | added per result |",
        "| --- | --- | --- |",
    ]
    for case, values in times.items():
        added = (statistics.median(values) - base) / results * 1000
        rows.append(f"| {case} | {spread(values)} s | {added:+.2f} ms |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="end-to-end runs (0: none)")
    parser.add_argument("--results", type=int, default=3000, help="results per logger (CPU)")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args(argv)
    cpu = cpu_per_result(args.results)
    times = measure(args.reps) if args.reps else {case: [] for case in CASES}
    shown = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--write"]
    end_to_end = (
        f"End to end: {TRIALS} trials x {EPOCHS} epochs of a trivial trainable at once, "
        f"`tuner.api.run_space` on one local Ray (2 CPUs), median (min-max) of {args.reps} "
        "interleaved runs after a warm-up round; a trial waits for the driver to take each "
        "result, so the driver's work per result is paid in wall time.\n\n" + to_markdown(times)
        if args.reps
        else ""
    )
    body = (
        header("benchmarks.loggers", shown)
        + "\n"
        + cpu_markdown(cpu, args.results)
        + ("\n" + end_to_end if end_to_end else "")
        + "\nWithout `tensorboard` in `loggers` the sweep writes no event files "
        "(`tuner/_ray_loggers.py`).\n"
    )
    print(body)
    if args.write:
        write_section(TITLE, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
