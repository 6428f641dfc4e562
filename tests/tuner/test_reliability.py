"""Failures on the session's local Ray: divergence, errors and retries, a sweep that only fails,
existing experiments, an unwritable results root, records nothing will continue, and a driver
killed after rotation deleted the checkpoint Ray's last snapshot names."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import optuna
import pandas as pd
import pytest
import ray
from optuna.trial import TrialState

from tests.tuner.killed_snapshot import as_killed_before_a_snapshot, trial_folder
from tests.tuner.patched_side import patched_side
from tests.tuner.spaces import ray_curves, toy_space
from tests.tuner.toy import score
from tuner.api import resume, run_space
from tuner.cli import BAD_INPUT, FAILURE, OK, main
from tuner.experiment import load_experiment
from tuner.population_search import POPULATION_TRIAL
from tuner.recovery import close_orphans, was_interrupted
from tuner.searcher import FAIL_REASON, RAY_TRIAL_ID

TOY = "tests.tuner.cluster_toy:trainable"


def attempts(folder: Path, x: float) -> list[int]:
    """The epochs each attempt of the trial with parameter `x` started at."""
    return [int(line) for line in (folder / f"{x!r}.txt").read_text().split()]


def test_divergence_fails_once_errors_retry_from_checkpoint(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    """TrainingDiverged: FAIL at once with its reason (a retry would diverge again); a plain
    error: retried max_failures times, each retry from the last checkpoint, then FAIL; the
    other trials COMPLETE with their own values."""
    log = tmp_path / "attempts"
    log.mkdir()
    fixed = {"diverge_above": 0.7, "raise_below": 0.1, "attempts_dir": str(log)}
    path = toy_space(
        tmp_path,
        results_dir,
        name="diverge",
        trainable=TOY,
        num_samples=6,
        asha=None,
        fixed=fixed,
        checkpoint_every=1,
        max_failures=2,
        searcher={"name": "random", "seed": 1},
    )
    outcome = run_space(path)
    trials = outcome.experiment.load_study().get_trials()
    xs = [t.params["x"] for t in trials]
    assert any(x > 0.7 for x in xs) and any(x < 0.1 for x in xs), xs
    assert any(0.1 <= x <= 0.7 for x in xs), xs
    curves = ray_curves(outcome.experiment.dir)
    for trial in trials:
        x = trial.params["x"]
        reason = trial.user_attrs.get(FAIL_REASON)
        rows = curves[trial.user_attrs[RAY_TRIAL_ID]]
        if x > 0.7:
            assert trial.state == TrialState.FAIL and attempts(log, x) == [1]
            assert reason == "diverged at epoch 2: loss is nan at epoch 2"
            assert [r["training_iteration"] for r in rows] == [1, 2]
        elif x < 0.1:
            assert trial.state == TrialState.FAIL and attempts(log, x) == [1, 2, 2]
            assert reason == f"RuntimeError: toy trainable fails on purpose (x={x})"
            assert [r["epoch"] for r in rows] == [1]
        else:
            assert trial.state == TrialState.COMPLETE and reason is None
            assert attempts(log, x) == [1]
            assert trial.value == pytest.approx(score(x, 6), rel=1e-12)
    assert outcome.counts["FAIL"] == sum(x > 0.7 or x < 0.1 for x in xs)
    assert sum(outcome.fail_reasons.values()) == outcome.counts["FAIL"]
    frame = pd.read_parquet(outcome.exports.parquet)
    assert sorted(frame["state"]) == sorted(t.state.name for t in trials)


def test_sweep_where_every_trial_fails_exits_1(
    ray_local: None, tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    path = toy_space(
        tmp_path, results_dir, name="allfail", num_samples=3, asha=None, fixed={"raise_below": 2.0}
    )
    assert main(["run", str(path)]) == FAILURE
    out = capsys.readouterr().out
    assert "every trial failed (3 of 3): nothing to rank" in out
    study = load_experiment(results_dir / "allfail").load_study()
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 3
    for trial in study.trials:  # each its own message: not the same error, so no fail_fast
        reason = f"RuntimeError: toy trainable fails on purpose (x={trial.params['x']})"
        assert trial.user_attrs[FAIL_REASON] == reason and f"1 x {reason}" in out


def test_run_resume_continues_an_existing_experiment(
    ray_local: None, tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    path = toy_space(tmp_path, results_dir, name="again", num_samples=3)
    assert main(["run", str(path)]) == OK
    before = load_experiment(results_dir / "again").load_study().trials
    assert main(["run", str(path)]) == BAD_INPUT
    assert "already holds an experiment" in capsys.readouterr().err
    assert main(["run", str(path), "--resume"]) == OK
    after = load_experiment(results_dir / "again").load_study().trials
    assert [(t.number, t.state, t.value) for t in after] == [
        (t.number, t.state, t.value) for t in before
    ]
    assert [p.name for p in results_dir.iterdir()] == ["again"]


def test_unwritable_results_root_is_bad_input_before_ray(
    tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture, monkeypatch
) -> None:
    calls: list = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda *a, **k: calls.append(a))
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for root, why in ((a_file / "sub", "is not a folder"), ("/proc/results", "not writable")):
        path = toy_space(tmp_path, results_dir, storage_path=str(root))
        assert main(["run", str(path)]) == BAD_INPUT
        err = capsys.readouterr().err
        assert f"{path}: storage_path is '{root}', but " in err and why in err
        assert "Traceback" not in err
    assert calls == []


def test_close_orphans_closes_only_what_nothing_continues() -> None:
    """A record Ray never ran: FAIL with its reason; a finished Ray trial: its true state;
    an unfinished one (also one Ray stopped on Ctrl-C): left RUNNING for resume."""
    study = optuna.create_study()
    records = [study.ask() for _ in range(5)]
    for record, ray_id in zip(records, ["a", "b", "c", "d", "e"], strict=True):
        record.set_user_attr(RAY_TRIAL_ID, ray_id)
    records[1].report(0.5, 1)
    ray_trials = [
        SimpleNamespace(trial_id="b", status="TERMINATED", last_result=_res(0.4, 6, True)),
        SimpleNamespace(trial_id="c", status="TERMINATED", last_result=_res(0.7, 2, True)),
        SimpleNamespace(trial_id="d", status="PAUSED", last_result=_res(0.9, 1)),
        SimpleNamespace(trial_id="e", status="TERMINATED", last_result=_res(0.9, 3)),
    ]
    assert close_orphans(study, ray_trials, "score", max_t=6) == 3
    a, b, c, d, e = study.get_trials()
    assert a.state == TrialState.FAIL and "never run" in a.user_attrs[FAIL_REASON]
    assert b.state == TrialState.COMPLETE and b.value == 0.4
    assert b.intermediate_values == {1: 0.5, 6: 0.4}
    assert c.state == TrialState.PRUNED and c.intermediate_values == {2: 0.7}
    assert d.state == TrialState.RUNNING
    assert e.state == TrialState.RUNNING  # stopped by Ctrl-C: TERMINATED without `done`


def test_a_trial_that_returned_early_is_not_taken_for_an_interrupted_one() -> None:
    """Restored by `resume`, a Ray trial (or population) whose trainable returned at epoch 2 of 6
    is TERMINATED without `done` (Ray added it to the cached last result in place): with its
    records closed it ended, with a record still RUNNING it was stopped by Ctrl-C."""
    study = optuna.create_study()
    alone, member, stopped = study.ask(), study.ask(), study.ask()
    alone.set_user_attr(RAY_TRIAL_ID, "a")
    member.set_user_attr(RAY_TRIAL_ID, "p-0")
    member.set_user_attr(POPULATION_TRIAL, "p")
    stopped.set_user_attr(RAY_TRIAL_ID, "c")
    for record in (alone, member):
        record.report(0.7, 2)
        study.tell(record, state=TrialState.PRUNED)
    returned = [
        SimpleNamespace(trial_id=i, status="TERMINATED", last_result=_res(0.7, 2)) for i in "ap"
    ]
    done = SimpleNamespace(trial_id="c", status="TERMINATED", last_result=_res(0.4, 6, True))
    assert not was_interrupted([*returned, done], 3, max_t=6, study=study)
    cut = SimpleNamespace(trial_id="c", status="TERMINATED", last_result=_res(0.9, 3))
    assert was_interrupted([*returned, cut], 3, max_t=6, study=study)
    assert was_interrupted(returned, 3, max_t=6, study=study)  # one Ray trial short


def _res(value: float, epoch: int, done: bool = False) -> dict:
    return {"score": value, "training_iteration": epoch, "done": done}


def test_damaged_ray_state_is_put_back_from_its_last_intact_copy(tmp_path: Path) -> None:
    """A driver killed while Ray writes its state leaves a truncated file: the copy is used."""
    from trainables.lr.errors import TunerError
    from tuner.state_backup import BACKUP, backup_state, repair_state

    state = tmp_path / "experiment_state-2026.json"
    files = {
        state: b'{"trials": [1, 2]}',
        tmp_path / "search_gen_state-2026.json": b"\x80\x04K\x02.",
        tmp_path / "searcher-state-2026.pkl": b"\x80\x04K\x01.",
    }
    for path, data in files.items():
        path.write_bytes(data)
    assert repair_state(tmp_path) is False  # intact: nothing to do
    assert backup_state(tmp_path) is True
    state.write_bytes(b'{"trials": [1, 2')  # cut off mid-write
    assert repair_state(tmp_path) is True
    assert {p: p.read_bytes() for p in files} == files
    (tmp_path / "searcher-state-2026.pkl").write_bytes(b"\x80\x04K")  # a pickle cut off
    assert repair_state(tmp_path) is True
    assert {p: p.read_bytes() for p in files} == files
    state.write_bytes(b"")
    (tmp_path / BACKUP / state.name).write_bytes(b"{")
    with pytest.raises(TunerError, match="is damaged"):
        repair_state(tmp_path)


def test_a_sweep_keeps_an_intact_copy_of_rays_state(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    from tuner.state_backup import BACKUP, intact, state_files

    outcome = run_space(toy_space(tmp_path, results_dir, name="backed", num_samples=3))
    copies = state_files(outcome.experiment.dir / BACKUP)
    assert [p.name for p in copies] == [p.name for p in state_files(outcome.experiment.dir)]
    assert len(copies) == 3 and all(intact(p) for p in copies)


def _rotation_sweep(tmp_path: Path, results_dir: Path, name: str, log: Path) -> Path:
    """A finished one-trial sweep of the checkpointing toy: six epochs, all six checkpoints."""
    path = toy_space(
        tmp_path,
        results_dir,
        name=name,
        trainable=TOY,
        num_samples=1,
        asha=None,
        checkpoint_every=1,
        keep_checkpoints=6,
        fixed={"attempts_dir": str(log)},
        searcher={"name": "random", "seed": 2},
    )
    return run_space(path).experiment.dir


def _marked(trial_dir: Path) -> dict[str, tuple[int, int]]:
    """Each checkpoint folder: (its marker's training_iteration, the epoch its state holds)."""
    import json

    import torch

    from trainables.reporting import CHECKPOINT_FILE
    from tuner.resumable import MARKER

    return {
        folder.name: (
            json.loads((folder / MARKER).read_text())["training_iteration"],
            torch.load(folder / CHECKPOINT_FILE, weights_only=True)["epoch"],
        )
        for folder in sorted(trial_dir.glob("checkpoint_*"))
    }


@patched_side
def test_every_checkpoint_carries_its_training_iteration(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    (tmp_path / "attempts").mkdir()
    exp_dir = _rotation_sweep(tmp_path, results_dir, "marked", tmp_path / "attempts")
    assert _marked(trial_folder(exp_dir)) == {
        f"checkpoint_{i:06d}": (i + 1, i + 1) for i in range(6)
    }


def test_newest_intact_checkpoint_is_the_highest_marked_iteration(tmp_path: Path) -> None:
    """Not the highest folder index (Ray numbers on from its snapshot after a restore); folders
    without a marker (incomplete, or written before markers) and placeholders never count."""
    import pyarrow.fs
    from ray.train import Checkpoint

    from tuner.resumable import PLACEHOLDER, newest_intact, usable, write_marker

    fs = pyarrow.fs.LocalFileSystem()
    for index, iteration in ((2, 5), (3, 6), (4, 4), (5, None), (7, None)):
        folder = tmp_path / f"checkpoint_{index:06d}"
        folder.mkdir()
        if iteration is not None:
            write_marker(Checkpoint(str(folder), filesystem=fs), iteration, 1.5 * iteration)
    (tmp_path / "checkpoint_000007" / PLACEHOLDER).write_bytes(b"")
    (tmp_path / "checkpoint_000009").write_text("not a folder")
    folder, marker = newest_intact(fs, str(tmp_path))
    assert (Path(folder).name, marker) == (
        "checkpoint_000003",
        {"training_iteration": 6, "time_total_s": 9.0, "files": {}},
    )
    checkpoint = {
        i: Checkpoint(str(tmp_path / f"checkpoint_{i:06d}"), filesystem=fs) for i in (1, 5, 7)
    }
    assert [usable(checkpoint[i]) for i in (1, 5, 7)] == [False, True, False]
    assert newest_intact(fs, str(tmp_path / "nothing")) is None


@patched_side
def test_a_driver_killed_after_rotation_resumes_from_the_newest_intact_checkpoint(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    """Ray's last snapshot names checkpoint 1 (epoch 2); the trial checkpointed on to epoch 4 and
    rotation (keep 2) deleted checkpoints 0 and 1 before the driver died. Resume goes on after
    epoch 4 from checkpoint 3, not from epoch 1 or 3, and the record ends COMPLETE."""
    log = tmp_path / "attempts"
    log.mkdir()
    exp_dir = _rotation_sweep(tmp_path, results_dir, "rotated", log)
    ray_id = as_killed_before_a_snapshot(exp_dir, "checkpoint_000001", epochs=4, keep=2)
    folder = trial_folder(exp_dir)
    assert sorted(p.name for p in folder.glob("checkpoint_*")) == [
        "checkpoint_000002",
        "checkpoint_000003",
    ]
    (record,) = load_experiment(exp_dir).load_study().trials
    x = record.params["x"]
    assert record.state == TrialState.RUNNING and sorted(record.intermediate_values) == [1, 2, 3, 4]
    (log / f"{x!r}.txt").write_text("1\n")

    (record,) = resume(exp_dir).experiment.load_study().trials
    assert record.state == TrialState.COMPLETE, record.user_attrs
    assert record.value == pytest.approx(score(x, 6), rel=1e-12)
    assert record.intermediate_values == {
        epoch: pytest.approx(score(x, epoch), rel=1e-12) for epoch in range(1, 7)
    }
    assert attempts(log, x) == [1, 5]  # went on after epoch 4, from checkpoint_000003
    rows = ray_curves(exp_dir)[ray_id]
    assert [(r["start"], r["epoch"], r["training_iteration"]) for r in rows if r["start"] > 1] == [
        (5, 5, 5),
        (5, 6, 6),
    ]
    # Ray numbered on from its snapshot (2, 3) and rotated its placeholder for checkpoint 1 out;
    # each folder's marker matches the state it holds
    assert _marked(folder) == {"checkpoint_000002": (5, 5), "checkpoint_000003": (6, 6)}


def test_a_rotated_out_checkpoint_without_a_marked_one_left_fails_with_rays_reason(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    """Checkpoints without markers (e.g. from before markers existed) are not trusted: Ray's
    own error ends the trial, recorded FAIL with its reason."""
    from tuner.resumable import MARKER

    log = tmp_path / "attempts"
    log.mkdir()
    exp_dir = _rotation_sweep(tmp_path, results_dir, "unmarked", log)
    as_killed_before_a_snapshot(exp_dir, "checkpoint_000001", epochs=4, keep=2)
    folder = trial_folder(exp_dir)
    for marker in folder.glob(f"checkpoint_*/{MARKER}"):
        marker.unlink()

    outcome = resume(exp_dir)
    (record,) = outcome.experiment.load_study().trials
    assert record.state == TrialState.FAIL
    assert "Could not recover from checkpoint" in record.user_attrs[FAIL_REASON]
    assert sorted(record.intermediate_values) == [1, 2, 3, 4]
    error = (folder / "error.txt").read_text()
    assert "Could not recover from checkpoint as it does not exist on storage anymore" in error
    assert attempts(log, record.params["x"]) == [1]  # never started again
