"""Exports from an Optuna study alone: trials table (CSV, parquet) and best_configs.yaml."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from tuner.export import best_configs, flatten, top_trials, trials_to_frame, write_exports
from tuner.searcher import CONFIG, RAY_TRIAL_ID


def add(study: optuna.Study, ray_id: str, config: dict, curve: list[float], state: TrialState):
    trial = study.ask()
    trial.set_user_attr(RAY_TRIAL_ID, ray_id)
    trial.set_user_attr(CONFIG, config)
    for step, value in enumerate(curve, start=1):
        trial.report(value, step)
    value = curve[-1] if state == TrialState.COMPLETE else None
    study.tell(trial, value, state=state)


def lr_config(lr: float, milestones: list[float] | None = None) -> dict:
    schedule = {"name": "MultiStepLR", "hyperparameters": {"gamma": 0.1}}
    if milestones is not None:
        schedule["hyperparameters"]["milestones"] = milestones
    return {
        "n_epochs": 3,
        "learning_rate": {"encoder": {"shared": {"lr": lr}}},
        "lr_scheduling": schedule,
    }


@pytest.fixture
def study() -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", study_name="export")
    add(study, "t0", lr_config(1e-3, [0.5]), [3.0, 2.0, 1.5], TrialState.COMPLETE)
    add(study, "t1", lr_config(1e-2), [0.5], TrialState.PRUNED)  # truncated but lower
    add(study, "t2", lr_config(3e-2, [0.2, 0.8]), [2.0, 1.0, 1.2], TrialState.COMPLETE)
    add(study, "t3", lr_config(1e-1), [0.9, math.nan], TrialState.FAIL)
    add(study, "t4", lr_config(2e-2), [2.5, 2.0, 1.2], TrialState.COMPLETE)  # ties t2
    return study


def test_flatten_uses_slashes_and_keeps_leaves() -> None:
    nested = {"a": {"b": 1, "c": {"d": None}}, "e": [1, 2], "f": {}}
    assert flatten(nested) == {"a/b": 1, "a/c/d": None, "e": [1, 2], "f": {}}


def test_one_row_per_trial_in_fixed_column_order(study: optuna.Study) -> None:
    frame = trials_to_frame(study, "score", "min")
    assert list(frame.columns) == [
        "trial_id", "number", "state", "epochs", "best/score", "last/score", "duration_s",
        "fail_reason", "node", "started_at", "train_s",
        "lr/encoder/shared", "lr/encoder/subjects", "lr/decoder/shared", "lr/dsr/shared",
        "lr/dsr/subjects",
        "config/learning_rate/encoder/shared/lr",
        "config/lr_scheduling/hyperparameters/gamma",
        "config/lr_scheduling/hyperparameters/milestones",
        "config/lr_scheduling/name",
        "config/n_epochs",
    ]  # fmt: skip
    assert list(frame["trial_id"]) == ["t0", "t1", "t2", "t3", "t4"]
    assert list(frame["state"]) == ["COMPLETE", "PRUNED", "COMPLETE", "FAIL", "COMPLETE"]
    assert list(frame["epochs"]) == [3, 1, 3, 2, 3]
    assert list(frame["best/score"]) == [1.5, 0.5, 1.0, 0.9, 1.2]
    assert list(frame["last/score"])[:3] == [1.5, 0.5, 1.2] and math.isnan(frame["last/score"][3])
    assert list(frame["config/learning_rate/encoder/shared/lr"]) == [1e-3, 1e-2, 3e-2, 1e-1, 2e-2]
    # effective lrs: the sampled encoder.shared lr; groups left out keep the default 1e-3, and
    # dsr.subjects gets the default subject multiplier 10 on top
    assert list(frame["lr/encoder/shared"]) == [1e-3, 1e-2, 3e-2, 1e-1, 2e-2]
    assert set(frame["lr/decoder/shared"]) == {1e-3} and set(frame["lr/dsr/subjects"]) == {1e-2}
    # lists become JSON text so the column has one type
    milestones = frame["config/lr_scheduling/hyperparameters/milestones"]
    assert [None if pd.isna(v) else v for v in milestones] == [
        "[0.5]",
        None,
        "[0.2, 0.8]",
        None,
        None,
    ]


def test_best_is_complete_only_ties_by_number(study: optuna.Study) -> None:
    assert [t.number for t in top_trials(study, "min", 5)] == [2, 4, 0]
    assert [t.number for t in top_trials(study, "max", 2)] == [0, 2]
    assert study.best_trial.number == 2
    entries = best_configs(study, "score", "min", k=2)
    assert [(e["rank"], e["number"], e["score"], e["epochs"]) for e in entries] == [
        (1, 2, 1.2, 3),
        (2, 4, 1.2, 3),
    ]
    assert entries[0]["config"] == lr_config(3e-2, [0.2, 0.8])


def test_files_round_trip(study: optuna.Study, tmp_path: Path) -> None:
    paths = write_exports(tmp_path, study, "score", "min", k=3)
    frame = trials_to_frame(study, "score", "min")
    pd.testing.assert_frame_equal(pd.read_parquet(paths.parquet), frame)
    from_csv = pd.read_csv(paths.csv)
    assert list(from_csv.columns) == list(frame.columns)
    assert list(from_csv["number"]) == list(frame["number"])
    text = paths.best_configs.read_text()
    assert text.startswith("# top 3 COMPLETE trials")
    entries = yaml.safe_load(text)
    assert [e["number"] for e in entries] == [2, 4, 0]
    assert entries[0]["config"]["learning_rate"]["encoder"]["shared"]["lr"] == 3e-2
