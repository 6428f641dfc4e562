"""Failures on the session's local Ray: divergence, errors and retries, a sweep that only fails,
existing experiments, an unwritable results root, and records nothing will continue."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import optuna
import pandas as pd
import pytest
import ray
from optuna.trial import TrialState

from tests.tuner.spaces import ray_curves, toy_space
from tests.tuner.toy import score
from tuner.api import run_space
from tuner.cli import BAD_INPUT, FAILURE, OK, main
from tuner.experiment import load_experiment
from tuner.recovery import close_orphans
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
            assert reason.startswith("the trainable raised an error (after its retries)")
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
    assert "3 x the trainable raised an error (after its retries)" in out
    study = load_experiment(results_dir / "allfail").load_study()
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 3


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
