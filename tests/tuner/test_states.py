"""Real sweeps on the session's local Ray: Optuna records the truth about every trial."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from optuna.trial import TrialState

from tests.tuner.spaces import ray_curves, toy_space
from tests.tuner.toy import score
from tuner.api import run_space
from tuner.searcher import FAIL_REASON

N_EPOCHS = 6


def test_states_match_what_ray_ran(ray_local: None, tmp_path: Path, results_dir: Path) -> None:
    """PRUNED exactly for trials stopped before max_t, COMPLETE for the rest, none RUNNING;
    intermediate values are the reported curves; best_trial is COMPLETE and the exported best."""
    path = toy_space(tmp_path, results_dir, num_samples=12, fixed={"rising": True})
    outcome = run_space(path)
    study = outcome.experiment.load_study()
    trials = study.get_trials()
    curves = ray_curves(outcome.experiment.dir)

    assert len(trials) == 12
    assert {t.user_attrs["ray_trial_id"] for t in trials} == set(curves)
    for trial in trials:
        rows = curves[trial.user_attrs["ray_trial_id"]]
        epochs = rows[-1]["training_iteration"]
        x = trial.params["x"]
        assert trial.user_attrs["config"]["x"] == x
        expected = TrialState.COMPLETE if epochs == N_EPOCHS else TrialState.PRUNED
        assert trial.state == expected, f"trial {trial.number} ran {epochs} epochs"
        assert trial.intermediate_values == {r["training_iteration"]: r["score"] for r in rows}
        assert trial.intermediate_values == {
            e: pytest.approx(score(x, e, rising=True), rel=1e-12) for e in range(1, epochs + 1)
        }
        assert trial.value == pytest.approx(score(x, epochs, rising=True), rel=1e-12)

    states = Counter(t.state for t in trials)
    assert states[TrialState.PRUNED] >= 1 and states[TrialState.COMPLETE] >= 1
    assert states[TrialState.RUNNING] == 0 and states[TrialState.FAIL] == 0
    assert outcome.counts == {
        "COMPLETE": states[TrialState.COMPLETE],
        "PRUNED": states[TrialState.PRUNED],
        "FAIL": 0,
    }

    # rising curves: a stopped trial's truncated value beats every full run, so calling stopped
    # trials COMPLETE would make best_trial a killed one
    best = study.best_trial
    pruned_values = [t.value for t in trials if t.state == TrialState.PRUNED]
    assert min(pruned_values) < best.value
    assert best.state == TrialState.COMPLETE
    assert best.value == min(t.value for t in trials if t.state == TrialState.COMPLETE)

    frame = pd.read_parquet(outcome.exports.parquet)
    assert list(frame["number"]) == sorted(t.number for t in trials)
    done = frame[frame["state"] == "COMPLETE"]
    row = done.loc[done["last/score"].idxmin()]
    assert row["number"] == best.number
    assert row["trial_id"] == best.user_attrs["ray_trial_id"]
    assert row["last/score"] == best.value
    assert row["epochs"] == N_EPOCHS
    assert row["config/x"] == best.params["x"]

    top = yaml.safe_load(outcome.exports.best_configs.read_text())
    assert top[0]["number"] == best.number and top[0]["score"] == best.value
    assert top[0]["config"] == best.user_attrs["config"]
    assert len(top) == min(5, states[TrialState.COMPLETE])


def test_nan_and_errors_fail_alone(ray_local: None, tmp_path: Path, results_dir: Path) -> None:
    """A NaN trial and an erroring trial are FAIL; the sweep finishes; the others complete
    with exactly their own values."""
    fixed = {"nan_above": 0.8, "raise_below": 0.43}
    path = toy_space(
        tmp_path,
        results_dir,
        name="nan",
        num_samples=10,
        asha=None,
        fixed=fixed,
        searcher={"name": "random", "seed": 0},
    )
    outcome = run_space(path)
    trials = outcome.experiment.load_study().get_trials()
    xs = [t.params["x"] for t in trials]
    nan_xs = [x for x in xs if x > fixed["nan_above"]]
    raise_xs = [x for x in xs if x < fixed["raise_below"]]
    assert nan_xs and raise_xs, f"the seed must draw both failure kinds, drew {xs}"

    assert len(trials) == 10
    for trial in trials:
        x = trial.params["x"]
        if x > fixed["nan_above"] or x < fixed["raise_below"]:
            assert trial.state == TrialState.FAIL, f"x={x}"
            assert trial.value is None
            assert trial.intermediate_values[1] == pytest.approx(score(x, 1), rel=1e-12)
        else:
            assert trial.state == TrialState.COMPLETE, f"x={x}"
            assert trial.value == pytest.approx(score(x, N_EPOCHS), rel=1e-12)
            assert sorted(trial.intermediate_values) == list(range(1, N_EPOCHS + 1))
    nan_trials = [t for t in trials if t.params["x"] > fixed["nan_above"]]
    assert all(t.intermediate_values[2] != t.intermediate_values[2] for t in nan_trials)  # NaN
    assert outcome.counts["FAIL"] == len(nan_xs) + len(raise_xs)
    assert outcome.counts["COMPLETE"] == 10 - len(nan_xs) - len(raise_xs)
    assert "RUNNING" not in outcome.counts

    frame = pd.read_parquet(outcome.exports.parquet)
    assert sorted(frame.loc[frame["state"] == "FAIL", "config/x"]) == sorted(nan_xs + raise_xs)


@pytest.mark.parametrize("mode", ["min", "max"])
def test_on_nonfinite_worst_records_the_modes_worst_value(
    ray_local: None, tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture, mode: str
) -> None:
    """`on_nonfinite: worst`: a NaN trial ends at its NaN epoch PRUNED with the mode's worst
    value there (its earlier epochs intact) and the reason in `fail_reason`; the progress line
    says so; the other trials are as without it; no FAIL."""
    fixed = {"nan_above": 0.8}
    path = toy_space(
        tmp_path, results_dir, name=f"worst_{mode}", num_samples=8, asha=None, fixed=fixed,
        searcher={"name": "random", "seed": 0}, mode=mode, on_nonfinite="worst",
    )  # fmt: skip
    outcome = run_space(path)
    out = capsys.readouterr().out
    trials = outcome.experiment.load_study().get_trials()
    worst = math.inf if mode == "min" else -math.inf
    nan_trials = [t for t in trials if t.params["x"] > fixed["nan_above"]]
    assert nan_trials, "the seed must draw a NaN trial"
    assert len(trials) == 8 and outcome.counts.get("FAIL", 0) == 0
    for trial in trials:
        x = trial.params["x"]
        if x > fixed["nan_above"]:
            assert trial.state == TrialState.PRUNED, f"x={x}"
            assert trial.intermediate_values == {1: pytest.approx(score(x, 1), rel=1e-12), 2: worst}
            assert trial.value == worst
            reason = trial.user_attrs[FAIL_REASON]
            assert reason == "recorded as worst: score is nan at epoch 2, not a finite number"
        else:
            assert trial.state == TrialState.COMPLETE, f"x={x}"
            assert trial.value == pytest.approx(score(x, N_EPOCHS), rel=1e-12)
    assert out.count("pruned at epoch 2 (score nan, recorded as worst)") == len(nan_trials)
    frame = pd.read_parquet(outcome.exports.parquet)
    flagged = frame.loc[frame["fail_reason"].notna(), "config/x"]
    assert sorted(flagged) == sorted(t.params["x"] for t in nan_trials)


def test_on_nonfinite_worst_is_refused_for_population_sweeps(
    tmp_path: Path, results_dir: Path
) -> None:
    from tuner.cli import BAD_INPUT, main

    path = toy_space(
        tmp_path, results_dir, name="worst_pop", population=2, on_nonfinite="worst",
        trainable="tests.tuner.test_population_resume:trainable",
    )  # fmt: skip
    assert main(["validate", str(path)]) == BAD_INPUT


def test_final_state_under_on_nonfinite_worst() -> None:
    """NaN/inf metrics end a trial by its epochs under `worst`; a missing metric stays FAIL."""
    from tuner.searcher import final_state

    nan_at_2 = {"score": math.nan, "training_iteration": 2}
    inf_at_6 = {"score": -math.inf, "training_iteration": 6}
    assert final_state(nan_at_2, "score", 6) == TrialState.FAIL
    assert final_state(nan_at_2, "score", 6, worst=True) == TrialState.PRUNED
    assert final_state(inf_at_6, "score", 6, worst=True) == TrialState.COMPLETE
    assert final_state({"training_iteration": 2}, "score", 6, worst=True) == TrialState.FAIL
    assert final_state({"score": "x", "training_iteration": 6}, "score", 6, worst=True) == (
        TrialState.FAIL
    )
    assert final_state(nan_at_2, "score", 6, error=True, worst=True) == TrialState.FAIL
