"""Signals and daemons (issue 16, item 9): SIGTERM as Slurm and Kubernetes send it, and the GCS
of the sweep's own local Ray killed by pid. Real `python -m tuner` drivers, real signals."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest
from optuna.trial import TrialState

from tests.faults._driver import run_cli
from tests.tuner.cluster_driver import ray_pids, wait_until
from tests.tuner.test_reliability_driver import (
    N_SAMPLES,
    _attempts,
    _check_finished,
    _driver_midway,
    _ended,
    _records,
)
from tuner.experiment import load_experiment
from tuner.gcs_watch import _processes
from tuner.searcher import FAIL_REASON, RAY_TRIAL_ID


def _resumed(exp_dir: Path, attempts_log: Path, kept: dict | None = None) -> dict:
    """`python -m tuner resume` to its end (on a 2-core machine shared by many test runs this
    can take minutes), the sweep checked complete (`_check_finished`); every trial's attempts."""
    resumed = run_cli(["resume", str(exp_dir)], timeout=900)
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    assert "Traceback" not in resumed.stdout
    _check_finished(exp_dir, kept)
    return _attempts(exp_dir, attempts_log)


@pytest.mark.slow
def test_sigterm_stops_like_ctrl_c_and_resume_finishes(tmp_path: Path, results_dir: Path) -> None:
    with _driver_midway(tmp_path, results_dir, "sigterm") as run:
        os.kill(run.driver.pid, signal.SIGTERM)  # to the driver alone, as Kubernetes does
        code = run.driver.wait(timeout=120)
    exp_dir, text = run.exp_dir, run.out.read_text()
    assert code == 143, text[-3000:]
    assert f"interrupted: state saved; continue with: python -m tuner resume {exp_dir}" in text
    assert "Traceback" not in text
    study = load_experiment(exp_dir).load_study()
    stopped = [t for t in study.trials if t.state == TrialState.RUNNING and t.intermediate_values]
    assert stopped, "no trial was stopped midway"
    frame = pd.read_csv(exp_dir / "trials.csv")  # the tables were written
    assert list(frame["state"]) == [t.state.name for t in study.trials]
    assert len(_ended(run.out)) < N_SAMPLES
    attempts = _resumed(exp_dir, run.attempts_log)
    for trial in stopped:  # went on from its checkpoint, not from epoch 1
        assert attempts[trial.user_attrs[RAY_TRIAL_ID]][1] > 1


def _gcs_of(driver_pid: int) -> int:
    """The pid of the GCS the driver started (its child process `gcs_server`), from /proc."""
    (gcs,) = [
        pid
        for pid, (parent, name, _) in _processes().items()
        if parent == driver_pid and name == "gcs_server"
    ]
    return gcs


@pytest.mark.slow
def test_a_killed_gcs_ends_the_sweep_promptly_with_tables_and_the_resume_command(
    tmp_path: Path, results_dir: Path
) -> None:
    with _driver_midway(tmp_path, results_dir, "gcs") as run:
        os.kill(_gcs_of(run.driver.pid), signal.SIGKILL)  # the sweep's own Ray's GCS, by pid
        killed = time.monotonic()
        code = run.driver.wait(timeout=120)
        took = time.monotonic() - killed
        wait_until(lambda: not ray_pids(run.tmpdir), 30, "the driver's Ray processes to end")
    exp_dir, text = run.exp_dir, run.out.read_text()
    assert code == 1, text[-3000:]
    assert took < 20, f"{took:.1f} s after the GCS died (Ray alone waits 60 s)"
    command = f"python -m tuner resume {exp_dir}"
    assert "Ray's GCS process died: the tables hold what was recorded" in text, text[-3000:]
    assert command in text and "Traceback" not in text
    study = load_experiment(exp_dir).load_study()
    assert all(t.state != TrialState.RUNNING for t in study.trials)
    lost = [t for t in study.trials if "lost with Ray's GCS" in t.user_attrs.get(FAIL_REASON, "")]
    assert lost, [t.user_attrs for t in study.trials]
    frame = pd.read_csv(exp_dir / "trials.csv")
    assert list(frame["state"]) == [t.state.name for t in study.trials]
    before = _records(exp_dir)  # every record, closed
    assert len(before) == len(study.trials)

    attempts = _resumed(exp_dir, run.attempts_log, before)  # records kept, the rest finished
    for record in lost:  # a closed record's trial is not run again
        assert len(attempts[record.user_attrs[RAY_TRIAL_ID]]) == 1
