"""`population: K` sweeps end to end on a real Ray: one Optuna trial per member, true states.

The toy population trainable reports `(x - 0.3) ** 2 + 1 / epoch` per member and drops a member
with `x > nan_above` at epoch 2. Every member's record is checked against what it must be: its
intermediate values are the closed form, FAIL exactly for the diverging members, PRUNED exactly
for the members the member ASHA stopped (its decisions replayed with the rule written out), and
COMPLETE for the rest; the tables match an unfused sweep of the same space column for column.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from optuna.trial import TrialState

from tests.tuner.spaces import toy_space
from tests.tuner.test_population_units import _reference_asha
from tests.tuner.toy import score
from tuner.api import resume, run_space
from tuner.experiment import load_experiment
from tuner.population_asha import LOG_FILE

REPO = Path(__file__).resolve().parents[2]
TOY_POPULATION = "tests.tuner.toy_population:trainable"
N_EPOCHS, GRACE, RF = 6, 2, 3  # rungs at epochs 2 and 6 (the end: no decision there)
NAN_ABOVE = 0.75  # those members diverge at epoch 2, before the first rung


def population_space(tmp: Path, results: Path, name: str, **fields) -> Path:
    return toy_space(
        tmp,
        results,
        name=name,
        trainable=TOY_POPULATION,
        n_epochs=N_EPOCHS,
        fixed={"nan_above": NAN_ABOVE},
        searcher={"name": "random", "seed": 1},
        asha={"grace_period": GRACE, "reduction_factor": RF},
        **fields,
    )


def check_members(exp_dir: Path, num_samples: int) -> None:
    """Every Optuna trial is one member with the values and the state its rules decide."""
    study = load_experiment(exp_dir).load_study()
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == num_samples
    log = json.loads((exp_dir / LOG_FILE).read_text())
    assert [e["stop"] for e in log] == _reference_asha(log, GRACE, RF, N_EPOCHS, "min")
    stopped = {e["number"]: e["epoch"] for e in log if e["stop"]}
    assert len(stopped) == sum(e["stop"] for e in log)  # a member is stopped once
    for trial in trials:
        x = trial.params["x"]
        steps = sorted(trial.intermediate_values)
        assert trial.user_attrs["config"]["x"] == x
        finite = [s for s in steps if math.isfinite(trial.intermediate_values[s])]
        expected = [score(x, s) for s in finite]
        assert [trial.intermediate_values[s] for s in finite] == pytest.approx(expected, rel=1e-12)
        decided = [e for e in log if e["number"] == trial.number]  # the rung epochs it reached
        assert [e["value"] for e in decided] == [
            trial.intermediate_values[e["epoch"]] for e in decided
        ]
        if x > NAN_ABOVE:
            assert trial.state == TrialState.FAIL and finite == [1] and steps == [1, 2]
            assert trial.user_attrs["fail_reason"].startswith("diverged at epoch 2: loss is nan")
        elif trial.number in stopped:
            assert trial.state == TrialState.PRUNED and steps[-1] == stopped[trial.number]
        else:
            assert trial.state == TrialState.COMPLETE and steps == list(range(1, N_EPOCHS + 1))
            assert trial.value == pytest.approx(score(x, N_EPOCHS), rel=1e-12)
    states = {t.state for t in trials}
    assert states == {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}


def check_tables_like(exp_dir: Path, unfused_dir: Path, num_samples: int) -> None:
    """The population sweep's tables have the unfused sweep's columns, one row per trial."""
    trials = pd.read_parquet(exp_dir / "trials.parquet")
    unfused = pd.read_parquet(unfused_dir / "trials.parquet")
    assert list(trials.columns) == list(unfused.columns)
    assert list(pd.read_csv(exp_dir / "trials.csv").columns) == list(unfused.columns)
    assert sorted(trials["number"]) == list(range(num_samples))
    assert trials["trial_id"].is_unique
    curves = pd.read_parquet(exp_dir / "curves.parquet")
    assert list(curves.columns) == list(pd.read_parquet(unfused_dir / "curves.parquet").columns)
    study = load_experiment(exp_dir).load_study()
    for trial in study.get_trials(deepcopy=False):
        mine = curves[curves["number"] == trial.number]
        assert list(mine["epoch"]) == sorted(trial.intermediate_values), trial.number
        row = trials[trials["number"] == trial.number].iloc[0]
        assert row["state"] == trial.state.name and row["epochs"] == len(mine)
    best = (exp_dir / "best_configs.yaml").read_text()
    assert f"number: {study.best_trial.number}\n" in best


def test_population_sweep_through_the_api(
    ray_local: None, tmp_path: Path, results_dir: Path
) -> None:
    path = population_space(tmp_path, results_dir, "pop4", population=4, num_samples=14)
    outcome = run_space(path)
    assert outcome.ok and outcome.unfinished == 0
    assert sum(outcome.counts.values()) == 14
    check_members(outcome.experiment.dir, 14)
    before = [(t.number, t.state, t.value) for t in outcome.experiment.load_study().trials]
    again = resume(outcome.experiment.dir)  # a finished population sweep resumes to itself
    assert not again.interrupted
    assert [(t.number, t.state, t.value) for t in again.experiment.load_study().trials] == before

    plain = population_space(tmp_path, results_dir, "plain", num_samples=4)
    unfused = run_space(plain)
    assert len(unfused.experiment.load_study().trials) == 4
    check_tables_like(outcome.experiment.dir, unfused.experiment.dir, 14)


@pytest.mark.slow
def test_population_sweep_through_the_cli(tmp_path: Path, results_dir: Path) -> None:
    path = population_space(tmp_path, results_dir, "pop8", population=8, num_samples=24)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "tuner", "run", str(path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout
    check_members(results_dir / "pop8", 24)
    plain = population_space(tmp_path, results_dir, "plain8", num_samples=3)
    done = subprocess.run(
        [sys.executable, "-m", "tuner", "run", str(plain)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    check_tables_like(results_dir / "pop8", results_dir / "plain8", 24)


def dsr_space(tmp: Path, results: Path, name: str, **fields) -> Path:
    """A small DSR sweep: 3 subjects, short series, 4 epochs."""
    small = {"n_subjects": 3, "hidden_dim": 8, "train_steps": 200, "test_steps": 300}
    search = {"learning_rate": {"lr": {"log_uniform": [1.0e-3, 3.0e-2]}}}
    return toy_space(
        tmp, results, name=name, trainable="dsr", n_epochs=4, fixed=small, search=search,
        searcher={"name": "random", "seed": 0}, asha={"grace_period": 2, "reduction_factor": 2},
        **fields,
    )  # fmt: skip


@pytest.mark.slow
def test_dsr_population_sweep(ray_local: None, tmp_path: Path, results_dir: Path) -> None:
    outcome = run_space(dsr_space(tmp_path, results_dir, "dsr4", population=4, num_samples=6))
    assert outcome.ok
    exp_dir = outcome.experiment.dir
    trials = outcome.experiment.load_study().get_trials(deepcopy=False)
    assert len(trials) == 6 and TrialState.RUNNING not in {t.state for t in trials}
    log = json.loads((exp_dir / LOG_FILE).read_text())
    assert [e["stop"] for e in log] == _reference_asha(log, 2, 2, 4, "min")
    stopped = {e["number"]: e["epoch"] for e in log if e["stop"]}
    for trial in trials:
        steps = sorted(trial.intermediate_values)
        if trial.number in stopped:
            assert trial.state == TrialState.PRUNED and steps == [1, 2]
        elif trial.state != TrialState.FAIL:
            assert trial.state == TrialState.COMPLETE and steps == [1, 2, 3, 4]
            assert trial.value == trial.intermediate_values[4]
    unfused = run_space(dsr_space(tmp_path, results_dir, "dsr1", num_samples=2))
    check_tables_like(exp_dir, unfused.experiment.dir, 6)
