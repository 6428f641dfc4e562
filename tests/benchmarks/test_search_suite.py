"""The search suite's simulated-time driver and its report: Ray's call order, the budget, true
Optuna states, determinism, and regret arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from benchmarks.mf_functions import FUNCTIONS, curve_value
from benchmarks.search_methods import tuner_objects
from benchmarks.search_report import paired, regret_curve, scale
from benchmarks.search_sim import run_ray_objects, run_sim_method


def test_tuner_default_in_simulated_time_records_true_states_within_the_budget(
    tmp_path: Path,
) -> None:
    _, experiment, searcher, scheduler = tuner_objects("default", "hartmann3", 0, 9, tmp_path)
    searcher.set_search_properties("loss", "min", {"n_epochs": 9})
    scheduler.set_search_properties("loss", "min")
    arrivals = run_ray_objects(searcher, scheduler, budget=90)
    assert len(arrivals) == 90
    study = experiment.load_study()
    by_trial: dict[str, list[int]] = {}
    for trial_id, epoch, _ in arrivals:
        by_trial.setdefault(trial_id, []).append(epoch)
    records = {t.user_attrs["ray_trial_id"]: t for t in study.get_trials()}
    for trial_id, epochs in by_trial.items():
        assert epochs == list(range(1, len(epochs) + 1))  # every epoch once, in order
        record = records[trial_id]
        assert sorted(record.intermediate_values) == epochs
        x = [record.params[f"x{i}"] for i in range(3)]
        assert record.intermediate_values[epochs[-1]] == curve_value("hartmann3", x, epochs[-1], 9)
        if record.state == TrialState.COMPLETE:
            assert epochs[-1] == 9 and record.value == record.intermediate_values[9]
        elif record.state == TrialState.PRUNED:
            assert epochs[-1] < 9
        else:  # cut by the budget at the end of the run
            assert record.state == TrialState.RUNNING
    states = [t.state for t in study.get_trials()]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    assert sum(s == TrialState.RUNNING for s in states) <= 2  # the 2 slots at the end


@pytest.mark.parametrize("method", ["default", "stock_ray", "optuna_sha"])
def test_a_run_is_repeatable_and_spends_exactly_the_budget(method: str, tmp_path: Path) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    runs = []
    for rep in range(2):
        folder = tmp_path / str(rep)
        folder.mkdir()
        runs.append(run_sim_method(method, "branin", 3, 9, 60, folder))
    assert len(runs[0]) == 60
    assert [a[1:] for a in runs[0]] == [a[1:] for a in runs[1]]


def test_regret_curve_takes_the_best_final_value_within_each_share_of_the_budget() -> None:
    optimum, s = FUNCTIONS["branin"].optimum, scale("branin")
    arrivals = [("a", 1, 50.0), ("a", 2, 3.0), ("b", 1, 9.0), ("b", 2, 1.0)]
    run = {"function": "branin", "epochs": 2, "budget": 4, "arrivals": arrivals}
    # 25 %: one report, none final -> 1; 50 %: a's final 3.0; 100 %: b's final 1.0
    assert regret_curve(run) == pytest.approx(
        [1.0, (3.0 - optimum) / s, (3.0 - optimum) / s, (1.0 - optimum) / s], rel=1e-12
    )


def test_paired_counts_wins_and_tests_the_differences() -> None:
    a = {("f", i): [0.0, float(i)] for i in range(10)}
    b = {("f", i): [0.0, float(i) + 1.0 + i / 100] for i in range(10)}
    result = paired(a, b)
    assert (result["n"], result["wins"], result["losses"], result["ties"]) == (10, 10, 0, 0)
    assert result["median_diff"] == pytest.approx(-1.045)
    assert result["p"] == pytest.approx(2 / 1024)  # exact two-sided: all 10 signs agree
    json.dumps(result)


def test_quick_suite_writes_one_line_per_run_and_the_report_reads_them(tmp_path: Path) -> None:
    from benchmarks.search_report import load_runs
    from benchmarks.search_suite import main

    out = tmp_path / "runs.jsonl"
    assert main(["--quick", "--methods", "default", "random", "--json", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["method"], r["function"]) for r in rows] == [
        ("default", "branin"),
        ("random", "branin"),
        ("default", "hartmann3"),
        ("random", "hartmann3"),
    ]
    assert all(len(r["arrivals"]) == r["budget"] == 36 for r in rows)
    runs = load_runs(out)
    assert set(runs) == {"default", "random"}
    assert all(0.0 <= v <= 1.0 for curves in runs.values() for c in curves.values() for v in c)
