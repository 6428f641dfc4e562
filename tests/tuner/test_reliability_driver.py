"""The driver stops mid-sweep: SIGKILL, Ctrl-C once or twice; `python -m tuner resume` finishes it.

Each driver is a real `python -m tuner` process with its own local Ray (its own RAY_TMPDIR);
whatever Ray process it leaves behind is found by that folder and ended by pid.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from optuna.trial import TrialState

from tests.tuner.cluster_driver import (
    REPO,
    discard,
    driver_env,
    end_pids,
    ray_pids,
    ray_tmpdir,
    start_cli,
    wait_until,
)
from tests.tuner.spaces import ray_curves, toy_space
from tuner.experiment import load_experiment
from tuner.searcher import FAIL_REASON, RAY_TRIAL_ID, final_state

N_SAMPLES, N_EPOCHS = 8, 6
_ASHA = {"grace_period": 2, "reduction_factor": 2}
_ENDED = re.compile(r"trial (\w+) (?:completed|pruned|failed) at epoch")
_STOPPING = "Stop signal received"  # Ray Tune's warning on the first SIGINT


def _space(
    tmp_path: Path, results_dir: Path, name: str, sleep: float = 0.4, asha: Any = _ASHA
) -> tuple[Path, Path]:
    log = tmp_path / "attempts"
    log.mkdir()
    path = toy_space(
        tmp_path,
        results_dir,
        name=name,
        trainable="tests.tuner.cluster_toy:trainable",
        num_samples=N_SAMPLES,
        fixed={"sleep": sleep, "attempts_dir": str(log)},
        checkpoint_every=1,
        asha=asha,
    )
    return path, log


def _ended(log: Path) -> set[str]:
    return set(_ENDED.findall(log.read_text()))


def _resume(exp_dir: Path) -> subprocess.CompletedProcess:
    tmpdir = ray_tmpdir()
    try:
        return subprocess.run(
            [sys.executable, "-m", "tuner", "resume", str(exp_dir)],
            cwd=REPO,
            env=driver_env(tmpdir),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        discard(tmpdir)


def _left_running(tmpdir: str, timeout: float) -> list[int]:
    """The driver's Ray processes still alive after up to `timeout` s (Ray's processes die with
    the driver, its workers once they notice their raylet gone)."""
    try:
        wait_until(lambda: not ray_pids(tmpdir), timeout, "the driver's Ray processes to exit")
    except TimeoutError:
        pass
    return ray_pids(tmpdir)


def _records(exp_dir: Path) -> dict[int, tuple]:
    """Every finished Optuna record: number -> (state, value, intermediate values)."""
    study = load_experiment(exp_dir).load_study()
    return {
        t.number: (t.state, t.value, t.intermediate_values)
        for t in study.trials
        if t.state != TrialState.RUNNING
    }


def _resumed(exp_dir: Path, attempts_log: Path, kept: dict[int, tuple] | None = None) -> dict:
    """Run `python -m tuner resume` on `exp_dir`, check it finished the sweep completely
    (`_check_finished`), and return every trial's attempts."""
    resumed = _resume(exp_dir)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stdout
    _check_finished(exp_dir, kept)
    return _attempts(exp_dir, attempts_log)


def _check_finished(exp_dir: Path, kept: dict[int, tuple] | None = None) -> None:
    """`num_samples` Ray trials, each with exactly one Optuna record in its true final state, no
    record RUNNING, records Ray never ran FAIL with the reason, and the trials table complete.

    Records in `kept` (finished before a crash) are unchanged: a trial that ended after Ray's
    last state snapshot may be run again from its checkpoint, but its record keeps its verdict.
    """
    kept = kept or {}
    from ray.tune import ExperimentAnalysis

    ray_trials = {t.trial_id: t for t in ExperimentAnalysis(str(exp_dir)).trials}
    assert len(ray_trials) == N_SAMPLES
    # none ERROR: the toy never raises, and a trial whose checkpoint named in Ray's last
    # snapshot was rotated out goes on from its newest intact one (`tuner.resumable`)
    assert {t.status for t in ray_trials.values()} == {"TERMINATED"}
    study = load_experiment(exp_dir).load_study()
    records = Counter(t.user_attrs.get(RAY_TRIAL_ID) for t in study.trials)
    assert all(records[trial_id] == 1 for trial_id in ray_trials), records
    for record in study.trials:
        assert record.state != TrialState.RUNNING
        if record.number in kept:
            assert kept[record.number] == (
                record.state,
                record.value,
                record.intermediate_values,
            )
            continue
        ray_trial = ray_trials.get(record.user_attrs.get(RAY_TRIAL_ID))
        if ray_trial is None:  # asked from Optuna, never in Ray's saved state
            assert record.state == TrialState.FAIL
            lost = f"lost with the driver after epoch {max(record.intermediate_values or [0])}:"
            never_run = "created but never run"
            assert record.user_attrs[FAIL_REASON].startswith(
                lost if record.intermediate_values else never_run
            )
            continue
        last = ray_trial.last_result
        # what Ray recorded of the trial, to tell a failure's story: (iteration, epoch, start)
        rows = [
            (r["training_iteration"], r.get("epoch"), r.get("start"))
            for r in ray_curves(exp_dir).get(ray_trial.trial_id, [])
        ]
        story = (record.number, sorted(record.intermediate_values), rows)
        assert record.state == final_state(last, "score", N_EPOCHS), story
        assert record.state != TrialState.FAIL, record.user_attrs.get(FAIL_REASON)
        assert max(record.intermediate_values) == last["training_iteration"], story
        assert record.intermediate_values[last["training_iteration"]] == last["score"], story
    frame = pd.read_csv(exp_dir / "trials.csv")
    assert list(frame["number"]) == [t.number for t in study.trials]
    assert list(frame["state"]) == [t.state.name for t in study.trials]


def _running_at(exp_dir: Path, out: Path, epochs: tuple[int, ...]) -> bool:
    """Whether some trial that has not ended has reported one of `epochs` epochs so far."""
    ended = _ended(out)
    try:
        curves = ray_curves(exp_dir)
    except ValueError:  # a line being written
        return False
    return any(len(rows) in epochs and i not in ended for i, rows in curves.items())


def _midway(exp_dir: Path, out: Path) -> bool:
    """Whether some trial has reported two or three of its six epochs and not ended yet."""
    return _running_at(exp_dir, out, (2, 3))


def _between_rungs(exp_dir: Path, out: Path) -> bool:
    """Whether some trial has reported 1, 3 or 5 epochs (no rung of `_ASHA`, not the last) and
    not ended: killed now, it has a checkpoint to go on from and is not being judged."""
    return _running_at(exp_dir, out, (1, 3, 5))


def _restarts(rows: list[dict]) -> list[tuple[int, int]]:
    """For each restart of a trial: (last epoch the previous attempt reported, start epoch)."""
    last_by_start: dict[int, int] = {}
    for row in rows:
        last_by_start[row["start"]] = max(last_by_start.get(row["start"], 0), row["epoch"])
    starts = sorted(last_by_start)
    return [(last_by_start[a], b) for a, b in zip(starts, starts[1:], strict=False)]


def _attempts(exp_dir: Path, log: Path) -> dict[str, list[int]]:
    study = load_experiment(exp_dir).load_study()
    out = {}
    for record in study.trials:
        if "x" not in record.params:  # created just before a kill, never sampled: never ran
            continue
        file = log / f"{record.params['x']!r}.txt"
        if file.exists():
            out[record.user_attrs[RAY_TRIAL_ID]] = [int(s) for s in file.read_text().split()]
    return out


@pytest.mark.slow
def test_sigkilled_driver_resumes_to_a_complete_record(tmp_path: Path, results_dir: Path) -> None:
    path, attempts_log = _space(tmp_path, results_dir, "killed")
    exp_dir = results_dir / "killed"
    tmpdir, out = ray_tmpdir(), tmp_path / "run.log"
    driver = start_cli(["run", str(path)], tmpdir, out)
    try:
        wait_until(lambda: len(_ended(out)) >= 3, 180, "three trials to end")
        ended_early = _ended(out)
        time.sleep(2.0)  # Ray snapshots its state every couple of checkpoints
        wait_until(
            lambda: _between_rungs(exp_dir, out) or len(_ended(out)) == N_SAMPLES,
            120,
            "a trial between rungs",
        )
        running = len(_ended(out)) < N_SAMPLES
        os.killpg(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
        end_pids(ray_pids(tmpdir))
    assert ray_pids(tmpdir) == []
    discard(tmpdir)
    assert running, "the sweep ended before the driver was killed"
    attempts = _resumed(exp_dir, attempts_log, _records(exp_dir))
    for trial_id in ended_early:  # ended before Ray's last snapshot: never run again
        assert attempts[trial_id] == [1], trial_id
    assert any(len(a) > 1 for a in attempts.values()), "no trial was interrupted"
    for runs in attempts.values():
        assert runs == sorted(runs) and runs[0] == 1


@dataclass(frozen=True)
class Midway:
    """A running driver of a slow sweep without ASHA, two trials ended and one midway."""

    driver: subprocess.Popen
    exp_dir: Path
    attempts_log: Path
    out: Path
    tmpdir: str


@contextmanager
def _driver_midway(tmp_path: Path, results_dir: Path, name: str) -> Iterator[Midway]:
    """Start `python -m tuner run` on the sweep `name` and wait until it is `Midway`; the
    driver is killed (if still running) and its Ray folder discarded at the end."""
    # no ASHA and slower epochs: a trial interrupted early cannot end while Ray stops
    path, attempts_log = _space(tmp_path, results_dir, name, sleep=0.6, asha=None)
    exp_dir = results_dir / name
    tmpdir, out = ray_tmpdir(), tmp_path / "run.log"
    driver = start_cli(["run", str(path)], tmpdir, out)
    try:
        wait_until(lambda: len(_ended(out)) >= 2 and _midway(exp_dir, out), 180, "a trial midway")
        yield Midway(driver, exp_dir, attempts_log, out, tmpdir)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
        discard(tmpdir)


@pytest.mark.slow
def test_ctrl_c_stops_gracefully_and_resume_finishes(tmp_path: Path, results_dir: Path) -> None:
    with _driver_midway(tmp_path, results_dir, "ctrlc") as run:
        os.kill(run.driver.pid, signal.SIGINT)
        code = run.driver.wait(timeout=120)
    exp_dir, attempts_log, out = run.exp_dir, run.attempts_log, run.out
    text = out.read_text()
    assert code == 130, text[-3000:]
    assert f"interrupted: state saved; continue with: python -m tuner resume {exp_dir}" in text
    assert "Traceback" not in text
    study = load_experiment(exp_dir).load_study()
    midway = {  # trials stopped by Ctrl-C after some epochs
        t.user_attrs[RAY_TRIAL_ID]
        for t in study.trials
        if t.state == TrialState.RUNNING and t.intermediate_values
    }
    assert midway, "no trial was stopped midway"
    assert len(_ended(out)) < N_SAMPLES

    attempts = _resumed(exp_dir, attempts_log)
    curves = ray_curves(exp_dir)
    restarted = set()
    for trial_id, runs in attempts.items():
        rows = curves[trial_id]
        epochs = sorted({row["epoch"] for row in rows})
        assert epochs == list(range(1, epochs[-1] + 1)), trial_id  # nothing skipped
        assert runs[0] == 1
        for last, start in _restarts(rows):
            # went on from its last checkpoint (one per epoch): at most one epoch redone
            assert last - 1 <= start - 1 <= last, (trial_id, last, start)
            restarted.add(trial_id)
    assert midway <= restarted  # each went on from its checkpoint, not from epoch 1


@pytest.mark.slow
def test_second_ctrl_c_exits_at_once_and_resume_finishes(tmp_path: Path, results_dir: Path) -> None:
    # a terminal's Ctrl-C goes to the whole process group (Ray's own processes block SIGINT)
    with _driver_midway(tmp_path, results_dir, "ctrlc2") as run:
        os.killpg(run.driver.pid, signal.SIGINT)
        # Ray's handler prints this as it starts to stop the trials and save its state
        wait_until(lambda: _STOPPING in run.out.read_text(), 30, "Ray to start stopping")
        os.killpg(run.driver.pid, signal.SIGINT)
        code = run.driver.wait(timeout=60)
        left = _left_running(run.tmpdir, 30)
    exp_dir, attempts_log, out = run.exp_dir, run.attempts_log, run.out
    text = out.read_text()
    assert code == 130, text[-3000:]
    assert left == [], f"Ray processes left after the driver exited: {left}"
    assert "Traceback" not in text, text[-3000:]
    assert "interrupted: state saved" not in text  # the final save was skipped
    command = f"python -m tuner resume {exp_dir}"
    assert f"before the final save; continue from Ray's last saved state with: {command}" in text
    assert len(_ended(out)) < N_SAMPLES
    attempts = _resumed(exp_dir, attempts_log, _records(exp_dir))
    assert any(len(a) > 1 for a in attempts.values()), "no trial was interrupted"
    for runs in attempts.values():
        assert runs == sorted(runs) and runs[0] == 1
