"""Storage faults (issue 16, item 10): a disk filling up mid-sweep, a truncated `state.pt`.

The full disk is real: the results root is a 64 MiB tmpfs mounted for the test (root can mount
one here; elsewhere the test is skipped, saying why) and filled by a file written until the
kernel answers ENOSPC, while a real `python -m tuner run` is midway. A tmpfs rather than
`RLIMIT_FSIZE`: the limit would hit one process's file size (EFBIG, SIGXFSZ), not the disk
every process of the sweep writes to (Ray's workers, its driver, the journal).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from optuna.trial import TrialState

from tests.faults._driver import driver, run_cli
from tests.tuner.cluster_driver import wait_until
from tests.tuner.killed_snapshot import as_killed_before_a_snapshot, trial_folder
from tests.tuner.spaces import ray_curves, toy_space
from tests.tuner.toy import score
from trainables.reporting import CHECKPOINT_FILE
from tuner.api import resume, run_space
from tuner.experiment import load_experiment
from tuner.searcher import FAIL_REASON, RAY_TRIAL_ID

TOY = "tests.tuner.cluster_toy:trainable"


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A fresh 64 MiB tmpfs, unmounted at the end."""
    point = Path(tempfile.mkdtemp(prefix="small_disk_"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        point.rmdir()
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): needs root")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)
        point.rmdir()


def _fill(disk: Path) -> Path:
    """Write a file on `disk` until the kernel refuses (ENOSPC)."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    block = bytes(1 << 16)
    try:
        while True:
            os.write(descriptor, block)
    except OSError as error:
        assert error.errno == 28, error  # ENOSPC
    finally:
        os.close(descriptor)
    return filler


def _journal_lines_whole(journal: Path) -> bool:
    data = journal.read_bytes()
    return data.endswith(b"\n") and all(json.loads(line) for line in data.splitlines())


@pytest.mark.slow
def test_a_disk_filling_mid_sweep_closes_every_record_and_resume_agrees(
    small_disk: Path, tmp_path: Path
) -> None:
    log = tmp_path / "attempts"
    log.mkdir()
    results = small_disk / "results"
    results.mkdir()
    path = toy_space(
        tmp_path,
        results,
        name="full",
        trainable=TOY,
        num_samples=6,
        asha=None,
        checkpoint_every=1,
        fixed={"sleep": 0.6, "attempts_dir": str(log)},
        searcher={"name": "random", "seed": 4},
    )
    exp_dir = results / "full"
    with driver(["run", str(path)], tmp_path / "run.log") as run:

        def midway() -> bool:
            try:
                return any(len(rows) >= 2 for rows in ray_curves(exp_dir).values())
            except ValueError:  # a line being written
                return False

        wait_until(midway, 300, "a trial midway")
        filler = _fill(small_disk)
        code = run.process.wait(timeout=300)
        text = run.text()
    assert code == 1, text[-3000:]
    assert f"no space left on the disk holding {exp_dir}" in text, text[-3000:]
    assert f"python -m tuner resume {exp_dir}" in text
    assert _journal_lines_whole(exp_dir / "optuna.journal")  # no half line from ENOSPC
    study = load_experiment(exp_dir).load_study()
    assert study.trials and all(t.state != TrialState.RUNNING for t in study.trials)
    frame = pd.read_csv(exp_dir / "trials.csv")
    assert list(frame["state"]) == [t.state.name for t in study.trials]
    failed = {t.number: t for t in study.trials if t.state == TrialState.FAIL}
    assert failed, [t.state for t in study.trials]
    before = ray_curves(exp_dir)  # written by the driver alone

    filler.unlink()  # space freed
    resumed = run_cli(["resume", str(exp_dir)])
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-3000:]
    after = load_experiment(exp_dir).load_study()
    assert all(t.state != TrialState.RUNNING for t in after.trials)
    curves = ray_curves(exp_dir)
    for number, record in failed.items():  # kept, and not run again
        again = after.trials[number]
        assert (again.state, again.intermediate_values) == (
            record.state,
            record.intermediate_values,
        )
        assert again.user_attrs[FAIL_REASON] == record.user_attrs[FAIL_REASON]
        ray_id = record.user_attrs.get(RAY_TRIAL_ID)  # none: its config was never sampled whole
        rows = curves.get(ray_id, [])
        assert rows == before.get(ray_id, [])  # its curve did not go on
        epochs = [row["training_iteration"] for row in rows]
        assert max(epochs, default=0) <= max(record.intermediate_values, default=0)
    from ray.tune import ExperimentAnalysis

    assert len(ExperimentAnalysis(str(exp_dir)).trials) == 6  # num_samples Ray trials
    ray_ids = [t.user_attrs.get(RAY_TRIAL_ID) for t in after.trials]
    assert len(set(ray_ids)) == len(ray_ids)  # one record each (a record asked for as the
    # disk filled, never in Ray's state, is closed FAIL and a new trial takes its place)
    assert any(t.state == TrialState.COMPLETE for t in after.trials)


def test_a_truncated_state_pt_resumes_from_the_previous_intact_checkpoint(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    """Ray's snapshot names checkpoint 3 (epoch 4), whose `state.pt` was cut in half after it
    was written; checkpoint 2 (epoch 3) is whole. Resume goes on from epoch 3's checkpoint
    (epoch 4 is trained again) and the trial ends COMPLETE with every epoch's value."""
    log = tmp_path / "attempts"
    log.mkdir()
    path = toy_space(
        tmp_path,
        results_dir,
        name="truncated",
        trainable=TOY,
        num_samples=1,
        asha=None,
        checkpoint_every=1,
        keep_checkpoints=6,
        fixed={"attempts_dir": str(log)},
        searcher={"name": "random", "seed": 2},
    )
    exp_dir = run_space(path).experiment.dir
    as_killed_before_a_snapshot(exp_dir, "checkpoint_000003", epochs=4, keep=2)
    state = trial_folder(exp_dir) / "checkpoint_000003" / CHECKPOINT_FILE
    data = state.read_bytes()
    state.write_bytes(data[: len(data) // 2])
    (record,) = load_experiment(exp_dir).load_study().trials
    x = record.params["x"]
    (log / f"{x!r}.txt").write_text("1\n")

    (record,) = resume(exp_dir).experiment.load_study().trials
    assert record.state == TrialState.COMPLETE, record.user_attrs
    assert record.value == pytest.approx(score(x, 6), rel=1e-12)
    assert record.intermediate_values == {
        epoch: pytest.approx(score(x, epoch), rel=1e-12) for epoch in range(1, 7)
    }
    assert [int(s) for s in (log / f"{x!r}.txt").read_text().split()] == [1, 4]
