"""tuner.results on a real small DSR sweep: tables, curves, best configs, loading without Ray."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import timezone
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.tuner._results_sweep import copy_of, dsr_sweep
from trainables.dsr.model import HierarchicalDSR
from trainables.dsr.settings import settings_of
from trainables.lr import SEED_GROUPS, build_lr_plan
from tuner.cli import BAD_INPUT, OK, main
from tuner.export import flatten, write_atomic
from tuner.results import Results, compare, load

REPO = Path(__file__).resolve().parents[2]
LR_COLUMNS = ["lr/" + g.replace(".", "/") for g in SEED_GROUPS]


@pytest.fixture(scope="module")
def sweep(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dsr_sweep(tmp_path_factory)


@pytest.fixture(scope="module")
def results(sweep: Path) -> Results:
    return load(sweep)


def test_one_row_per_trial_with_optuna_states(results: Results) -> None:
    trials, study = results.trials, results.study
    assert len(trials) == len(study.trials) == 6
    assert list(trials["number"]) == [t.number for t in study.trials]
    assert list(trials["state"]) == [t.state.name for t in study.trials]
    assert list(trials["trial_id"]) == [t.user_attrs["ray_trial_id"] for t in study.trials]
    assert set(trials["state"]) == {"COMPLETE", "PRUNED"}  # ASHA stopped some
    for row, trial in zip(trials.to_dict("records"), study.trials, strict=True):
        steps = sorted(trial.intermediate_values)
        assert row["epochs"] == steps[-1] == len(steps)
        assert (row["state"] == "COMPLETE") == (row["epochs"] == 3)
        assert row["best/score"] == min(trial.intermediate_values.values())
        assert row["last/score"] == trial.intermediate_values[steps[-1]] == trial.value
        assert row["duration_s"] > 0
        # where and when it ran, from Ray's log: the session's one node, its trainable's time
        # within the Optuna record's span (int-second timestamps: 1 s of slack)
        assert row["node"] == "127.0.0.1"
        assert 0 < row["train_s"] <= row["duration_s"] + 1.0
        began = pd.Timestamp(trial.datetime_start.astimezone(timezone.utc))  # naive local time
        ended = pd.Timestamp(trial.datetime_complete.astimezone(timezone.utc))
        assert began - pd.Timedelta(seconds=1) <= row["started_at"] <= ended


def test_columns_have_stable_names_and_order(results: Results, sweep: Path) -> None:
    trials, study = results.trials, results.study
    params = sorted({name for t in study.trials for name in t.params})
    configs = [flatten(t.user_attrs["config"]) for t in study.trials]
    config_columns = sorted({f"config/{k}" for c in configs for k in c})
    fixed = ["trial_id", "number", "state", "epochs", "best/score", "last/score", "duration_s"]
    fixed += ["fail_reason", "node", "started_at", "train_s"]
    assert list(trials.columns) == [
        *fixed,
        *LR_COLUMNS,
        *(f"param/{p}" for p in params),
        *config_columns,
    ]
    assert "param/learning_rate/encoder/multiplier" in trials.columns
    assert "config/learning_rate/encoder/shared/lr" in trials.columns
    # the same folder loads to the same table, and the run wrote exactly this table at its end
    pd.testing.assert_frame_equal(load(sweep).trials, trials)
    pd.testing.assert_frame_equal(pd.read_parquet(sweep / "trials.parquet"), trials)
    assert list(pd.read_csv(sweep / "trials.csv").columns) == list(trials.columns)


def test_effective_lrs_are_the_sampled_lr_times_its_multipliers(results: Results) -> None:
    for row in results.trials.to_dict("records"):
        base = row["param/learning_rate/lr"]
        encoder = base * row["param/learning_rate/encoder/multiplier"]
        subjects = base * row["param/learning_rate/dsr/subjects/multiplier"]
        expected = [encoder, encoder, base, base, subjects]
        for column, value in zip(LR_COLUMNS, expected, strict=True):
            assert row[column] == pytest.approx(value, rel=1e-12), (row["trial_id"], column)


def test_curves_hold_every_epoch_metric_and_group_lr(results: Results) -> None:
    curves, study = results.curves, results.study
    assert list(curves.columns[:5]) == ["trial_id", "number", "state", "epoch", "score"]
    assert list(curves.columns[-5:]) == LR_COLUMNS
    others = list(curves.columns[5:-5])
    assert others == sorted(others) and {"pred_error", "d_stsp", "d_h", "train_loss"} <= set(others)
    assert len(curves) == sum(len(t.intermediate_values) for t in study.trials)
    for trial in study.trials:
        rows = curves[curves["number"] == trial.number]
        assert list(rows["epoch"]) == sorted(trial.intermediate_values)
        assert list(rows["score"]) == [trial.intermediate_values[e] for e in rows["epoch"]]
        assert set(rows["state"]) == {trial.state.name}
    # epoch 1 runs at each group's base lr: the derived columns of the trials table
    first = curves[curves["epoch"] == 1].set_index("trial_id")[LR_COLUMNS]
    derived = results.trials.set_index("trial_id")[LR_COLUMNS]
    pd.testing.assert_frame_equal(first, derived.loc[first.index], rtol=1e-12)
    pd.testing.assert_frame_equal(pd.read_parquet(results.dir / "curves.parquet"), curves)


def test_best_configs_are_ranked_and_round_trip_through_build_lr_plan(results: Results) -> None:
    configs = results.best_configs(5)
    done = results.trials[results.trials["state"] == "COMPLETE"].sort_values("last/score")
    assert len(configs) == len(done) >= 2
    assert configs == [results.study.trials[n].user_attrs["config"] for n in done["number"]]
    assert results.best_configs(1) == configs[:1]
    from_file = [
        e["config"] for e in yaml.safe_load((results.dir / "best_configs.yaml").read_text())
    ]
    assert from_file == configs
    for config, trial_id in zip(configs, done["trial_id"], strict=True):
        pasted = yaml.safe_load(yaml.safe_dump(config))  # as a user pastes it
        settings = settings_of(pasted)
        model = HierarchicalDSR(
            8, 5, settings.latent_dim, settings.hidden_dim, settings.subject_dim
        )
        plan = build_lr_plan(model, pasted, n_epochs=settings.n_epochs)
        preview = plan.preview()
        reported = results.curves[results.curves["trial_id"] == trial_id]
        for group, column in zip(SEED_GROUPS, LR_COLUMNS, strict=True):
            assert list(preview[group]) == pytest.approx(list(reported[column]), rel=1e-12)


def test_loading_needs_no_ray_and_works_on_a_copied_folder(
    results: Results, sweep: Path, tmp_path: Path
) -> None:
    copy = copy_of(sweep, tmp_path / "elsewhere")
    script = f"""
import json, ray
from tuner.results import load
results = load({str(copy)!r})
out = {{
    "storage": results.experiment.optuna_storage,
    "states": list(results.trials["state"]),
    "lr": results.trials["lr/dsr/subjects"].tolist(),
    "curves": results.curves["score"].tolist(),
    "best": results.best_configs(2),
    "ray": ray.is_initialized(),
}}
print(json.dumps(out))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["ray"] is False
    assert out["storage"] == str(copy / "optuna.journal")
    assert out["states"] == list(results.trials["state"])
    assert out["lr"] == results.trials["lr/dsr/subjects"].tolist()
    assert out["curves"] == results.curves["score"].tolist()
    assert out["best"] == results.best_configs(2)


def test_curves_fall_back_to_optuna_values_without_ray_logs(
    results: Results, sweep: Path, tmp_path: Path
) -> None:
    copy = copy_of(sweep, tmp_path)
    gone = results.trials["trial_id"][0]
    for path in (copy / gone).iterdir():
        if path.name == "result.json":
            path.unlink()
    curves = load(copy).curves
    assert list(curves.columns) == list(results.curves.columns)
    rows = curves[curves["trial_id"] == gone]
    trial = results.study.trials[0]
    assert list(rows["score"]) == [trial.intermediate_values[e] for e in rows["epoch"]]
    assert rows[LR_COLUMNS].isna().all().all()
    kept = curves[curves["trial_id"] != gone].reset_index(drop=True)
    expected = results.curves[results.curves["trial_id"] != gone].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, expected)


def test_compare_stacks_experiments(results: Results, sweep: Path, tmp_path: Path) -> None:
    copy = copy_of(sweep, tmp_path / "again")
    renamed = copy.rename(copy.parent / "second")
    frame = compare([sweep, renamed])
    assert list(frame.columns) == ["experiment", *results.trials.columns]
    assert list(frame["experiment"]) == [sweep.name] * 6 + ["second"] * 6
    pd.testing.assert_frame_equal(
        frame.iloc[6:, 1:].reset_index(drop=True), results.trials, check_dtype=False
    )


def test_export_rewrites_every_file(results: Results, sweep: Path, tmp_path: Path, capsys) -> None:
    copy = copy_of(sweep, tmp_path)
    names = ("trials.csv", "trials.parquet", "curves.parquet", "best_configs.yaml")
    for name in names:
        (copy / name).unlink()
    assert main(["export", str(copy), "--k", "1"]) == OK
    assert capsys.readouterr().out.split() == [str(copy / n) for n in names]
    pd.testing.assert_frame_equal(pd.read_parquet(copy / "trials.parquet"), results.trials)
    pd.testing.assert_frame_equal(pd.read_parquet(copy / "curves.parquet"), results.curves)
    entries = yaml.safe_load((copy / "best_configs.yaml").read_text())
    assert [e["config"] for e in entries] == results.best_configs(1)
    assert not list(copy.glob(".*.tmp"))


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "trials.csv"
    target.write_text("old, complete\n")

    def broken(path: Path) -> None:
        path.write_text("half a ta")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, broken)
    assert target.read_text() == "old, complete\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trials.csv"]
    write_atomic(target, lambda p: p.write_text("new\n"))
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trials.csv"]


def test_best_formats(results: Results, sweep: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["best", str(sweep), "--k", "2", "--format", "json"]) == OK
    entries = json.loads(capsys.readouterr().out)
    assert entries == results.best_entries(2)
    assert [e["config"] for e in entries] == results.best_configs(2)
    assert main(["best", str(sweep), "--k", "2"]) == OK
    assert yaml.safe_load(capsys.readouterr().out) == entries
    assert main(["best", str(sweep), "--k", "2", "--format", "table"]) == OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["rank", "trial_id", "number", "epochs", "last/score",
                                    "best/score"]  # fmt: skip
    assert "lr/dsr/subjects" in lines[0] and "param/learning_rate/lr" in lines[0]
    for rank, (line, entry) in enumerate(zip(lines[1:], entries, strict=True), start=1):
        cells = line.split()
        assert cells[:3] == [str(rank), entry["trial_id"], str(entry["number"])]
        assert math.isclose(float(cells[4]), entry["score"], rel_tol=1e-5)
    with pytest.raises(SystemExit) as exit_info:
        main(["best", str(sweep), "--format", "xml"])
    assert exit_info.value.code == BAD_INPUT


def test_not_an_experiment_folder_is_bad_input(tmp_path: Path, capsys) -> None:
    for command in ("export", "report"):
        assert main([command, str(tmp_path)]) == BAD_INPUT
        assert "is not an experiment folder" in capsys.readouterr().err
