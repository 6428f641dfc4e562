"""Resume after a driver killed at the worst moments (issue 16, items 1 and 12).

- Item 1: the driver is SIGKILLed right after a trial's record turned COMPLETE, before Ray saved
  that; on resume every run of that trial would raise. Before the fix, Ray ran it again, the
  searcher wrote `fail_reason` into the finished record and `UpdateFinishedTrialError` ended the
  resume (exit 1, records RUNNING, no tables).
- Item 12: the checkpoint a resumed trial goes on from is newer than any result the driver
  recorded. Before the fix Ray ended the trial on its snapshot's result, epochs behind the record
  ("assert 5 == 3" in `test_sigkilled_driver_resumes_to_a_complete_record`).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import SimpleNamespace

import optuna
import pandas as pd
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from tests.faults._driver import COMPLETE, driver, journal_states, run_cli
from tests.tuner.cluster_driver import wait_until
from tests.tuner.killed_snapshot import (
    _truncate_optuna_record,
    as_killed_before_a_snapshot,
    trial_folder,
)
from tests.tuner.spaces import ray_curves, toy_space
from tests.tuner.toy import score
from tuner.api import resume, run_space
from tuner.experiment import load_experiment
from tuner.recovery import close_orphans
from tuner.searcher import FAIL_REASON, RAY_TRIAL_ID, BudgetAwareOptunaSearch

TOY = "tests.tuner.cluster_toy:trainable"


def _attempts(log: Path, x: float) -> list[int]:
    return [int(line) for line in (log / f"{x!r}.txt").read_text().split()]


@pytest.mark.slow
def test_a_trial_recorded_complete_just_before_a_kill_is_kept_and_not_run_again(
    tmp_path: Path, results_dir: Path
) -> None:
    log, fault = tmp_path / "attempts", tmp_path / "every_run_raises_from_now_on"
    log.mkdir()
    fixed = {"sleep": 0.3, "attempts_dir": str(log), "raise_if_exists": str(fault)}
    path = toy_space(
        tmp_path,
        results_dir,
        name="completed",
        trainable=TOY,
        num_samples=2,
        max_concurrent_trials=1,
        n_epochs=3,
        asha=None,
        checkpoint_every=1,
        fixed=fixed,
        searcher={"name": "random", "seed": 3},
    )
    exp_dir = results_dir / "completed"
    # Ray snapshots only every 2 checkpoints of a trial (keep_checkpoints) and at the start:
    # the third epoch's result and the trial's end are recorded by Optuna, not by Ray
    slow_snapshots = {"TUNE_GLOBAL_CHECKPOINT_S": "100000"}
    with driver(["run", str(path)], tmp_path / "run.log", slow_snapshots) as run:
        journal = exp_dir / "optuna.journal"
        wait_until(lambda: COMPLETE in journal_states(journal).values(), 300, "a COMPLETE record")
        os.killpg(run.process.pid, signal.SIGKILL)
        run.process.wait(timeout=30)
    (first,) = [t for t in load_experiment(exp_dir).load_study().trials if t.state.is_finished()]
    assert first.state == TrialState.COMPLETE
    from ray.tune import ExperimentAnalysis

    saved = {t.trial_id: t for t in ExperimentAnalysis(str(exp_dir)).trials}
    ray_id = first.user_attrs[RAY_TRIAL_ID]
    assert saved[ray_id].status != "TERMINATED", "Ray saved the trial's end: nothing to show"
    assert saved[ray_id].last_result.get("training_iteration", 0) < 3

    fault.write_text("")  # from now on every run of a trial raises
    resumed = run_cli(["resume", str(exp_dir)])
    output = resumed.stdout + resumed.stderr
    assert resumed.returncode == 0, output[-3000:]
    assert "UpdateFinishedTrialError" not in output  # Ray logs the raising trial's traceback
    assert "Traceback" not in resumed.stdout
    assert not [line for line in resumed.stderr.splitlines() if line.startswith("error:")]
    study = load_experiment(exp_dir).load_study()
    kept = study.trials[first.number]
    assert (kept.state, kept.value, kept.intermediate_values) == (
        first.state,
        first.value,
        first.intermediate_values,
    )
    assert kept.value == pytest.approx(score(first.params["x"], 3), rel=1e-12)
    assert _attempts(log, first.params["x"]) == [1]  # never run again
    assert all(t.state != TrialState.RUNNING for t in study.trials)
    others = [t for t in study.trials if t.number != first.number]
    assert others and all(t.state == TrialState.FAIL for t in others)
    reasons = [t.user_attrs[FAIL_REASON] for t in others]
    raised = "RuntimeError: toy trainable fails on purpose"  # its exception line (fail_reason)
    assert any(r.startswith(raised) for r in reasons), reasons  # ran, raised
    # a record asked for just before the kill, never in Ray's state, is closed as such
    assert all(r.startswith((raised, "created but never run")) for r in reasons), reasons
    frame = pd.read_csv(exp_dir / "trials.csv")
    assert list(frame["state"]) == [t.state.name for t in study.trials]


def _define_x(trial: optuna.Trial) -> dict:
    return {"x": trial.suggest_float("x", 0.0, 1.0)}


def test_the_searcher_never_writes_into_a_record_finished_before_a_restart(
    tmp_path: Path,
) -> None:
    """A searcher restored from a state saved before its trial's record was finished (what Ray
    does on resume) is told the trial errored: the record keeps its verdict, nothing raises."""
    url = str(tmp_path / "optuna.journal")

    def searcher() -> BudgetAwareOptunaSearch:
        search = BudgetAwareOptunaSearch(
            _define_x,
            max_t=3,
            sampler=optuna.samplers.RandomSampler(seed=0),
            study_name="s",
            storage=JournalStorage(JournalFileBackend(url)),
        )
        search.set_search_properties("score", "min", {})
        return search

    first = searcher()
    first.suggest("t1")
    first.on_trial_result("t1", {"score": 0.5, "training_iteration": 1})
    saved = tmp_path / "searcher.pkl"
    first.save(str(saved))  # Ray's snapshot: the trial still RUNNING
    for epoch, value in ((2, 0.4), (3, 0.3)):
        first.on_trial_result("t1", {"score": value, "training_iteration": epoch})
    first.on_trial_complete("t1", {"score": 0.3, "training_iteration": 3})  # then the kill

    restored = searcher()
    restored.restore(str(saved))
    restored.on_trial_complete("t1", {"score": 0.5, "training_iteration": 1}, error=True)
    storage = JournalStorage(JournalFileBackend(url))
    (record,) = optuna.load_study(study_name="s", storage=storage).trials
    assert (record.state, record.value) == (TrialState.COMPLETE, 0.3)
    assert record.intermediate_values == {1: 0.5, 2: 0.4, 3: 0.3}
    assert FAIL_REASON not in record.user_attrs


def test_a_verdict_never_goes_back_behind_the_records_own_epochs() -> None:
    """A record whose values go on past Ray's last result is judged on its own last epoch."""
    study = optuna.create_study()
    records = [study.ask() for _ in range(2)]
    for record, ray_id in zip(records, ["a", "b"], strict=True):
        record.set_user_attr(RAY_TRIAL_ID, ray_id)
        for epoch in range(1, 6 if ray_id == "a" else 7):
            record.report(1.0 / epoch, epoch)
    ray_trials = [  # Ray's last results at iteration 3 (its saved state), ended
        SimpleNamespace(trial_id=i, status="TERMINATED", last_result=_res(1 / 3, 3, True))
        for i in ("a", "b")
    ]
    assert close_orphans(study, ray_trials, "score", max_t=6) == 2
    a, b = study.get_trials()
    assert (a.state, a.value) == (TrialState.PRUNED, 0.2)  # stopped at epoch 5, not 3
    assert (b.state, b.value) == (TrialState.COMPLETE, pytest.approx(1 / 6, rel=1e-15))
    assert sorted(a.intermediate_values) == [1, 2, 3, 4, 5]


def _res(value: float, epoch: int, done: bool = False) -> dict:
    return {"score": value, "training_iteration": epoch, "done": done}


def test_a_checkpoint_newer_than_the_record_gives_its_own_result_on_resume(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    """Ray's snapshot names checkpoint 1 (epoch 2); the trial checkpointed on to epoch 6 (its
    last) but the driver died before recording epoch 6: the record has epochs 1-5. Resume goes
    on from checkpoint 5 (epoch 6) and the driver gets epoch 6's result from it: COMPLETE."""
    log = tmp_path / "attempts"
    log.mkdir()
    path = toy_space(
        tmp_path,
        results_dir,
        name="ahead",
        trainable=TOY,
        num_samples=1,
        asha=None,
        checkpoint_every=1,
        keep_checkpoints=6,
        fixed={"attempts_dir": str(log)},
        searcher={"name": "random", "seed": 2},
    )
    exp_dir = run_space(path).experiment.dir
    ray_id = as_killed_before_a_snapshot(exp_dir, "checkpoint_000001", epochs=6, keep=2)
    _truncate_optuna_record(exp_dir, 5)  # the driver recorded up to epoch 5, in Optuna
    result_file = trial_folder(exp_dir) / "result.json"  # and in Ray's log
    result_file.write_text("".join(result_file.read_text().splitlines(keepends=True)[:5]))
    (record,) = load_experiment(exp_dir).load_study().trials
    assert record.state == TrialState.RUNNING and max(record.intermediate_values) == 5
    x = record.params["x"]

    (record,) = resume(exp_dir).experiment.load_study().trials
    last = ray_curves(exp_dir)[ray_id][-1]
    assert (last["training_iteration"], last["epoch"]) == (6, 6)
    assert record.state == TrialState.COMPLETE, record.user_attrs
    assert record.value == pytest.approx(score(x, 6), rel=1e-12)
    assert record.intermediate_values == {
        epoch: pytest.approx(score(x, epoch), rel=1e-12) for epoch in range(1, 7)
    }
    assert _attempts(log, x)[0] == 1 and all(start == 7 for start in _attempts(log, x)[1:])
    from ray.tune import ExperimentAnalysis

    (trial,) = ExperimentAnalysis(str(exp_dir)).trials
    assert (trial.status, trial.last_result["training_iteration"]) == ("TERMINATED", 6)
