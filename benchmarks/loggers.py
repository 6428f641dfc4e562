"""Result loggers: the wall time `loggers: [tensorboard]` adds per reported result.

A trivial trainable (no work between reports) runs 2 trials x 300 epochs at once through
`tuner.api.run_space` on one local Ray started here, with no extra logger and with the
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


def to_markdown(times: dict[str, list[float]]) -> str:
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
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args(argv)
    times = measure(args.reps)
    shown = [a for a in (argv if argv is not None else sys.argv[1:]) if a != "--write"]
    body = (
        header("benchmarks.loggers", shown)
        + f"- {TRIALS} trials x {EPOCHS} epochs of a trivial trainable at once, "
        f"`tuner.api.run_space` on one local Ray (2 CPUs), median (min-max) of {args.reps} "
        "interleaved runs after a warm-up round; a trial waits for the driver to take each "
        "result, so the driver's work per result is paid in wall time.\n\n"
        + to_markdown(times)
        + "\nWithout `tensorboard` in `loggers` the sweep writes no event files "
        "(`tuner/_ray_loggers.py`).\n"
    )
    print(body)
    if args.write:
        write_section(TITLE, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
