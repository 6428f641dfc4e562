"""The embedded local Ray is lean: no process a one-machine sweep does not use, trials on the
workers Ray prestarts, which import the trainable before the first trial."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ray.tune.execution.class_cache import DEFAULT_ENV_VARS

from tests.tuner.patched_side import patched_side
from tests.tuner.spaces import toy_space
from tuner.local_ray import TUNE_ACTOR_ENV_VARS
from tuner.ray_patches import STOCK_ENV

REPO = Path(__file__).resolve().parents[2]

SWEEP = """
import json, sys
from pathlib import Path
import ray
from tuner.api import run_space

seen = {}

def announce(session, experiment):
    node = ray._private.worker._global_node
    seen["kind"] = session.kind
    seen["logs"] = node.get_logs_dir_path()
    seen["processes"] = sorted(node.all_processes)

outcome = run_space(sys.argv[1], announce=announce)
workers = sorted(p.name for p in Path(seen["logs"]).glob("worker-*.out"))
errors = [p.read_text() for p in Path(seen["logs"]).glob("worker-*.err")]
unloaded = [line for text in errors for line in text.splitlines() if "Failed to preload" in line]
curves = {}
for result in sorted(outcome.experiment.dir.glob("*/result.json")):
    rows = [json.loads(line) for line in result.read_text().splitlines() if line]
    curves[result.parent.name] = rows
states = [t.state.name for t in outcome.experiment.load_study().trials]
print(json.dumps({**seen, "workers": workers, "curves": curves, "states": states,
                  "unloaded": unloaded}))
"""


def test_tune_actor_variables_are_all_set_for_the_local_ray() -> None:
    """What Tune would put in each actor's runtime env reaches the workers another way."""
    assert DEFAULT_ENV_VARS.items() <= TUNE_ACTOR_ENV_VARS.items()


@patched_side
def test_local_sweep_runs_on_the_prestarted_preloaded_workers(
    tmp_path: Path, results_dir: Path
) -> None:
    """4 trials, one CPU each, on a new 2-CPU local Ray (its own process): the two workers Ray
    prestarts run every trial (no other worker process is started), each was started with the
    trainable's module in its preload list in one interpreter (not exec'd again), and each trial
    sees Tune's actor variables. No dashboard, log monitor or autoscaler monitor process."""
    path = toy_space(
        tmp_path,
        results_dir,
        name="lean",
        trainable="tests.tuner.env_trainable:trainable",
        n_epochs=2,
        num_samples=4,
        searcher={"name": "random", "seed": 0},
        asha=None,
        resources={"cpu": 1},
        checkpoint_every=0,
    )
    done = subprocess.run(
        [sys.executable, "-c", SWEEP, str(path)], cwd=REPO, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["kind"] == "local"
    assert report["states"] == ["COMPLETE"] * 4
    assert {"raylet", "gcs_server"} <= set(report["processes"])
    assert not {"dashboard", "log_monitor", "monitor"} & set(report["processes"])
    assert len(report["workers"]) == 2, report["workers"]
    # the trainable's module, found from the driver's folder (not installed), imported too
    assert report["unloaded"] == []
    rows = [row for curve in report["curves"].values() for row in curve]
    assert len(report["curves"]) == 4 and len(rows) == 8
    assert len({row["pid"] for row in rows}) == 2
    assert all(row["preloaded"] and row["pl_disable_fork"] == "1" for row in rows)
    assert all(row["one_interpreter"] for row in rows)


def test_stock_ray_runs_the_same_sweep_without_the_patches(
    tmp_path: Path, results_dir: Path
) -> None:
    """The other side of `tuner.ray_patches`' gate: with `TUNER_STOCK_RAY=1` the same sweep
    runs on Ray's stock local Ray (its log monitor and autoscaler monitor run, workers are
    started the stock way, nothing preloaded), records the same states and says so once."""
    path = toy_space(
        tmp_path,
        results_dir,
        name="stock",
        trainable="tests.tuner.env_trainable:trainable",
        n_epochs=2,
        num_samples=4,
        searcher={"name": "random", "seed": 0},
        asha=None,
        resources={"cpu": 1},
        checkpoint_every=0,
    )
    done = subprocess.run(
        [sys.executable, "-c", SWEEP, str(path)], cwd=REPO, capture_output=True, text=True,
        timeout=300, check=False, env={**os.environ, STOCK_ENV: "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["kind"] == "local" and report["states"] == ["COMPLETE"] * 4
    assert {"log_monitor", "monitor"} <= set(report["processes"])
    rows = [row for curve in report["curves"].values() for row in curve]
    assert len(report["curves"]) == 4 and len(rows) == 8
    assert not any(row["preloaded"] or row["one_interpreter"] for row in rows)
    assert done.stderr.count("running stock Ray behaviour") == 1, done.stderr[-3000:]


RUNTIME_ENV_TASK = """
import json, os, sys
import ray
from tuner.ray_session import ray_session

def worker():
    return {"x": os.environ.get("TUNER_TEST_X"), "script": sys.orig_argv[1],
            "preloaded": "colorsys" in sys.modules}

with ray_session(num_cpus=1, preload=("colorsys",)):
    plain = ray.get(ray.remote(worker).remote())
    with_env = ray.get(
        ray.remote(worker).options(runtime_env={"env_vars": {"TUNER_TEST_X": "1"}}).remote()
    )
print(json.dumps({"plain": plain, "with_env": with_env}))
"""


@patched_side
def test_workers_with_a_runtime_env_start_as_ray_starts_them() -> None:
    """A task with a runtime env gets it (its worker is exec'd by Ray's own code, with the
    preload); a task without one runs on a worker started in one interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", RUNTIME_ENV_TASK], cwd=REPO, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["plain"]["x"] is None and report["plain"]["preloaded"]
    assert report["plain"]["script"].endswith("_local_worker.py")
    assert report["with_env"]["x"] == "1" and report["with_env"]["preloaded"]
    assert report["with_env"]["script"].endswith("default_worker.py")
