"""Load: a sweep of 500 trials of a trivial trainable at full concurrency, every trial recorded.

Runs `tuner.api.run_space` in this process on a new local Ray, then checks that the Optuna study,
the trials table and Ray's trial folders each hold every trial, none RUNNING, and prints the
driver's peak memory (`ru_maxrss` of this process) with the wall time as a Markdown row for
BENCHMARKS.md. `--quick` runs 60 trials.

    python -m benchmarks.load_500            # 500 trials
    python -m benchmarks.load_500 --quick    # 60 trials
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from trainables.declare import trainable

TRIVIAL = "benchmarks.load_500:trivial"


@trainable
def trivial(config: dict[str, Any]) -> None:
    """Reports `(x - 0.3) ** 2 + 1 / epoch` for each epoch, with no work in between."""
    from ray import tune

    for epoch in range(1, int(config["n_epochs"]) + 1):
        tune.report({"score": (float(config["x"]) - 0.3) ** 2 + 1.0 / epoch})


def write_space(folder: Path, n: int, per_cpu: int, cpus: int) -> Path:
    """The load sweep's space file: `n` trials, `per_cpu` trials sharing each CPU."""
    space = {
        "name": f"load_{n}",
        "trainable": TRIVIAL,
        "n_epochs": 2,
        "metric": "score",
        "mode": "min",
        "num_samples": n,
        "max_concurrent_trials": per_cpu * cpus,
        "search": {"settings": {"x": {"uniform": [0.0, 1.0]}}},
        "searcher": {"name": "tpe", "seed": 0},
        "asha": None,
        "resources": {"cpu": 1.0 / per_cpu},
        "checkpoint_every": 0,
        "storage_path": str(folder / "results"),
    }
    path = folder / f"load_{n}.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False))
    return path


def run_load(n: int, folder: Path, per_cpu: int = 4) -> dict[str, Any]:
    """Run the load sweep; what was recorded, the wall time and the driver's peak memory."""
    import pandas as pd

    from tuner.api import run_space

    cpus = os.cpu_count() or 1
    path = write_space(folder, n, per_cpu, cpus)
    start = time.perf_counter()
    outcome = run_space(path)
    wall = time.perf_counter() - start
    study = outcome.experiment.load_study()
    frame = pd.read_csv(outcome.exports.csv)
    ray_trials = [p for p in outcome.experiment.dir.iterdir() if (p / "result.json").is_file()]
    return {
        "trials": n,
        "concurrency": per_cpu * cpus,
        "optuna_trials": len(study.trials),
        "states": outcome.counts,
        "table_rows": len(frame),
        "ray_trial_folders": len(ray_trials),
        "distinct_ray_ids": len({t.user_attrs.get("ray_trial_id") for t in study.trials}),
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 trials instead of 500")
    parser.add_argument("--trials", type=int, help="number of trials (default 500)")
    parser.add_argument("--per-cpu", type=int, default=4, help="trials sharing one CPU")
    args = parser.parse_args(argv)
    n = args.trials or (60 if args.quick else 500)
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory() as folder:
        report = run_load(n, Path(folder), args.per_cpu)
    complete = report["states"].get("COMPLETE", 0)
    ok = report["optuna_trials"] == report["table_rows"] == report["ray_trial_folders"] == n
    ok = ok and complete == n and report["distinct_ray_ids"] == n
    report.update(
        ok=ok,
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        machine=f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        command="python -m benchmarks.load_500" + (" --quick" if args.quick else ""),
    )
    print(json.dumps(report, indent=2), file=sys.stderr)
    print(
        f"| {n} | {report['concurrency']} | {complete}/{n} COMPLETE, {report['table_rows']} rows "
        f"| {report['wall_s']} s | {report['peak_rss_mb']} MB |"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
