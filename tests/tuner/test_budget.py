"""`budget:` / `--budget`: a real toy sweep bounded by total epochs or by wall time stops asking
for trials, ends its running trials cleanly (at their ASHA rung for an epoch budget), writes its
tables and exits 0; the progress line shows the budget used."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from optuna.trial import TrialState

from tests.tuner.spaces import toy_space
from tuner._budget_settings import BudgetSettings, format_duration, parse_budget, parse_duration
from tuner.budget import BudgetTracker, rungs
from tuner.cli import BAD_INPUT, OK, main
from tuner.experiment import load_experiment


def test_durations_and_the_budget_argument() -> None:
    assert [parse_duration(t) for t in ("90s", "30m", "2h", "1.5d")] == [90, 1800, 7200, 129600]
    assert [format_duration(s) for s in (42, 65, 7200)] == ["42s", "1m05s", "2h00m"]
    assert parse_budget("epochs=200,wall_time=2h") == {"epochs": 200, "wall_time": "2h"}
    assert parse_budget("2h") == {"wall_time": "2h"} and parse_budget("50") == {"epochs": 50}
    for bad in ("2 hours", "epochs=many", "", "walltime=2h"):
        with pytest.raises(ValueError):
            parse_budget(bad)
    # ASHA's rungs (grace 1, reduction 3) below max_t 10, then max_t
    assert rungs(10, 1, 3) == [1, 3, 9, 10] and rungs(6, None, None) == [6]
    tracker = BudgetTracker(BudgetSettings(epochs=12, wall_time="2h"))
    tracker.epochs = 5
    assert tracker.line() == "budget 5/12 epochs · 0s/2h" and not tracker.spent
    tracker.epochs = 12
    assert tracker.spent and tracker.epochs_spent and not tracker.time_spent


def run(tmp_path: Path, capsys: pytest.CaptureFixture, budget: str, **fields) -> tuple:
    path = toy_space(tmp_path, tmp_path / "results", name="budgeted", num_samples=20, **fields)
    assert main(["run", str(path), "--budget", budget]) == OK
    out = capsys.readouterr().out
    exp_dir = tmp_path / "results" / "budgeted"
    return out, load_experiment(exp_dir).load_study().get_trials(), exp_dir


def test_epoch_budget_lets_running_trials_finish_their_rung(
    ray_local: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out, trials, exp_dir = run(tmp_path, capsys, "epochs=12")
    epochs = [max(t.intermediate_values) for t in trials]
    assert 12 <= sum(epochs) < 12 + 2 * 3  # two running trials, at most 3 epochs to their rung
    assert len(trials) < 20
    assert set(epochs) <= {1, 3, 6}  # ASHA's rungs (1, 3) and max_t: no trial cut mid-rung
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    lines = [line for line in out.splitlines() if line.startswith("[")]
    assert lines[-1].endswith(f"| budget {sum(epochs)}/12 epochs")
    assert f"budget {sum(epochs)}/12 epochs (spent): the sweep asked for no more trials" in out
    table = pd.read_csv(exp_dir / "trials.csv")
    assert table["epochs"].tolist() == epochs
    assert load_experiment(exp_dir).overrides["budget"] == {"epochs": 12}


def test_wall_time_budget_stops_running_trials_at_their_next_epoch(
    ray_local: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # each trial sleeps 6 x 2 s: none can end within the 5 s after the sweep first asks for one,
    # so the two started first are all there are (the limiter asks for no third); without ASHA,
    # which would stop the second to reach epoch 1 when it is the worse (which one is timing)
    out, trials, exp_dir = run(
        tmp_path, capsys, "wall_time=5s", fixed={"sleep": 2.0}, max_concurrent_trials=2,
        asha=None,
    )  # fmt: skip
    assert len(trials) == 2
    assert all(t.state == TrialState.PRUNED for t in trials)
    assert all(max(t.intermediate_values) < 6 for t in trials)
    assert re.search(r"budget \d+s/5s \(spent\): the sweep asked for no more trials", out)
    assert "no trial ran the full budget: nothing to rank" in out  # and still exit 0
    assert (exp_dir / "trials.parquet").is_file()


def test_bad_budgets_are_refused_before_ray_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = toy_space(tmp_path, tmp_path / "results", budget={"epochs": 0, "wall_time": "2 hours"})
    assert main(["validate", str(path)]) == BAD_INPUT
    err = capsys.readouterr().err
    assert "budget.epochs" in err and "budget.wall_time" in err
    assert "'2 hours' is not a duration like 90s, 30m, 2h or 1.5d" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(path), "--budget", "two hours"])
    assert exit_info.value.code == BAD_INPUT
