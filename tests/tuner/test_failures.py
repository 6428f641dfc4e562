"""A trainable's exception reaches progress, summary and `fail_reason` intact; `fail_fast`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from optuna.trial import TrialState

from tests.tuner.spaces import toy_space
from tuner.cli import FAILURE, main
from tuner.experiment import load_experiment
from tuner.failures import FailFast, exception_text
from tuner.searcher import FAIL_REASON

RAY_ERROR = """Failure # 1 (occurred at 2026-12-02_18-10-00)
ray::ImplicitFunc.train() (pid=1, ip=127.0.0.1, actor_id=ab, repr=fails)
  File "/site-packages/ray/tune/trainable/function_trainable.py", line 261, in _trainable_func
    output = fn()
             ^^^^
  File "/work/tests/tuner/failing.py", line 22, in fails_at_epoch_2
    raise ConfigError(problems)
trainables.lr.errors.ConfigError: config: learning_rate.body is not a component
config: groups is 3, but must be a mapping
Failure # 2 (occurred at 2026-12-02_18-10-05)
ray::ImplicitFunc.train() (pid=2, ip=127.0.0.1, actor_id=ab, repr=fails)
  File "/work/tests/tuner/failing.py", line 24, in fails_at_epoch_2
    raise ValueError(f"bad {x}")
ValueError: bad 3
"""


def test_the_last_exception_of_rays_error_file_is_read_in_full() -> None:
    assert exception_text(RAY_ERROR) == "ValueError: bad 3"
    first = RAY_ERROR.split("Failure # 2")[0]
    assert exception_text(first) == (
        "trainables.lr.errors.ConfigError: config: learning_rate.body is not a component\n"
        "config: groups is 3, but must be a mapping"
    )
    died = "Failure # 1 (occurred at x)\nThe actor died unexpectedly before finishing this task.\n"
    assert exception_text(died) == "The actor died unexpectedly before finishing this task."


def test_fail_fast_stops_only_when_the_first_n_endings_are_one_exception() -> None:
    same = FailFast(3, "a")
    for trial in "xyz":
        assert not same.stop_all()
        same.ended(trial, "ValueError: bad")
    assert same.stop_all()
    assert same.reason == "the first 3 trials failed with the same error: ValueError: bad"
    mixed = FailFast(2, "b")
    mixed.ended("x", "ValueError: bad")
    mixed.ended("y", None)  # completed or pruned
    mixed.ended("z", "ValueError: bad")
    assert not mixed.stop_all()
    other = FailFast(2, "c")
    other.ended("x", "ValueError: bad")
    other.ended("y", "ValueError: worse")
    assert not other.stop_all()
    assert not FailFast(0, "d").stop_all()


def failing_space(tmp: Path, results: Path, name: str, error: str, **fields) -> Path:
    return toy_space(
        tmp,
        results,
        name=name,
        trainable="tests.tuner.failing:fails_at_epoch_2",
        fixed={"error": error, "rows": 48},
        asha=None,
        max_concurrent_trials=1,
        **fields,
    )


def test_a_failing_trainable_shows_its_exception_and_fail_fast_stops_the_sweep(
    ray_local: None, tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    line = "ValueError: the data file has 48 rows, but the model needs 64"
    path = failing_space(
        tmp_path, results_dir, "failfast", "ValueError", num_samples=8, fail_fast=2
    )
    assert main(["run", str(path)]) == FAILURE
    out = capsys.readouterr().out
    failed = [text for text in out.splitlines() if " failed at epoch " in text]
    assert failed and all(f"failed at epoch 1 ({line})" in text for text in failed[:2]), out
    assert (
        f"sweep stopped (fail_fast): the first 2 trials failed with the same error: {line}" in out
    )
    study = load_experiment(results_dir / "failfast").load_study()
    assert 2 <= len(study.trials) <= 3  # stopped after 2 (a third may have been started)
    assert all(t.state == TrialState.FAIL for t in study.trials)
    assert [t.user_attrs[FAIL_REASON] for t in study.trials[:2]] == [line, line]
    frame = pd.read_csv(results_dir / "failfast" / "trials.csv")
    assert list(frame["fail_reason"])[:2] == [line, line]


def test_a_config_error_raised_in_a_trial_keeps_its_problems(
    ray_local: None, tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    path = failing_space(tmp_path, results_dir, "configerror", "ConfigError", num_samples=2)
    assert main(["run", str(path)]) == FAILURE
    out = capsys.readouterr().out
    first = (
        "ConfigError: config: learning_rate.body is not a component of the model: (known: model)"
    )
    reason = f"{first}\nconfig: groups is 3, but must be a mapping"
    study = load_experiment(results_dir / "configerror").load_study()
    assert [t.user_attrs[FAIL_REASON] for t in study.trials] == [
        f"trainables.lr.errors.{reason}"
    ] * 2
    assert f"failed at epoch 1 (trainables.lr.errors.{first})" in out
    assert f"2 x trainables.lr.errors.{first}" in out  # the summary
