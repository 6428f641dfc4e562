"""Short trials at full concurrency: actors are reused, none is started only to be killed."""

from __future__ import annotations

from pathlib import Path

import pytest
from optuna.trial import TrialState

from tests.tuner.patched_side import patched_side
from tests.tuner.spaces import ray_curves, toy_space
from tuner.api import run_space

#: 4 trials per CPU on the session's 2-CPU Ray
CONCURRENT = 8


def _worker_logs() -> set[str]:
    """The worker processes the session's Ray has started so far (one log per process)."""
    import ray

    logs = Path(ray._private.worker._global_node.get_logs_dir_path())  # noqa: SLF001
    return {p.name for p in logs.glob("worker-*.out")}


@patched_side
@pytest.mark.slow
def test_short_trials_start_no_actor_in_vain(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    """60 two-epoch trials, each far shorter than an actor's start: at most one new worker
    process per concurrent slot (Ray Tune alone starts and kills one for nearly every trial),
    every trial recorded COMPLETE, and the trials spread over several processes."""
    before = _worker_logs()
    path = toy_space(
        tmp_path,
        results_dir,
        name="short",
        trainable="benchmarks.load_500:trivial",
        n_epochs=2,
        num_samples=60,
        max_concurrent_trials=CONCURRENT,
        resources={"cpu": 2 / CONCURRENT},
        asha=None,
        checkpoint_every=0,
    )
    outcome = run_space(path)
    started = _worker_logs() - before
    assert len(started) <= CONCURRENT, sorted(started)
    states = [t.state for t in outcome.experiment.load_study().trials]
    assert states == [TrialState.COMPLETE] * 60
    pids = {rows[-1]["pid"] for rows in ray_curves(outcome.experiment.dir).values()}
    assert 2 <= len(pids) <= CONCURRENT
