"""`python -m tuner`: exit codes, clean messages for bad input, a whole run/best/resume cycle."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import ray
import yaml
from optuna.trial import TrialState

from tests.tuner.spaces import toy_space
from tuner.cli import BAD_INPUT, OK, main
from tuner.experiment import load_experiment

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


@pytest.fixture
def no_ray_start(monkeypatch: pytest.MonkeyPatch) -> list:
    """Records every attempt to start or connect to Ray (even with the session's Ray up)."""
    calls: list = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda *a, **k: calls.append((a, k)))
    return calls


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates(example: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["validate", str(example)]) == OK
    assert f"{example}: OK" in capsys.readouterr().out


def test_bad_file_is_answered_cleanly_without_ray(
    tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture, no_ray_start: list
) -> None:
    typos = toy_space(tmp_path, results_dir, name="typos", mode="minimize", num_sampels=3)
    grace = toy_space(tmp_path, results_dir, name="grace", asha={"grace_period": 20})
    for command in ("run", "validate", "sample"):
        assert main([command, str(typos)]) == BAD_INPUT
        err = capsys.readouterr().err
        assert f"{typos}: num_sampels is not a known key" in err
        assert f"{typos}: mode is 'minimize', but " in err
        assert main([command, str(grace)]) == BAD_INPUT
        err += capsys.readouterr().err
        assert f"{grace}: asha.grace_period is 20, but must be <= n_epochs (6)" in err
        assert "Traceback" not in err
    assert no_ray_start == []
    assert list(results_dir.iterdir()) == []


def test_missing_files_and_folders_are_bad_input(tmp_path: Path, capsys) -> None:
    assert main(["run", str(tmp_path / "nope.yaml")]) == BAD_INPUT
    assert "nope.yaml" in capsys.readouterr().err
    for command in ("best", "resume"):
        assert main([command, str(tmp_path)]) == BAD_INPUT
        assert "is not an experiment folder" in capsys.readouterr().err


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    for argv in (["run", "x.yaml", "--num-samples", "0"], ["sample", "x.yaml", "--n", "two"], []):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == BAD_INPUT


def test_sample_prints_seeded_configs(tmp_path: Path, results_dir: Path, capsys) -> None:
    path = toy_space(tmp_path, results_dir)
    assert main(["sample", str(path), "--n", "3", "--seed", "5"]) == OK
    first = yaml.safe_load(capsys.readouterr().out)
    assert main(["sample", str(path), "--n", "3", "--seed", "5"]) == OK
    assert yaml.safe_load(capsys.readouterr().out) == first
    assert [sorted(c) for c in first] == [["n_epochs", "x"]] * 3
    assert all(0 <= c["x"] <= 1 for c in first) and len({c["x"] for c in first}) == 3


def test_run_best_resume_cycle(
    ray_local: None, tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    path = toy_space(tmp_path, results_dir, name="cycle")
    argv = ["run", str(path), "--name", "cli", "--num-samples", "4", "--seed", "3"]
    assert main(argv) == OK
    out = capsys.readouterr().out
    exp_dir = results_dir / "cli"
    assert f"sweep cli -> {exp_dir}" in out
    assert "running on the running Ray" in out
    assert out.count(" started | running ") == 4
    assert f"best configs   {exp_dir / 'best_configs.yaml'}" in out

    experiment = load_experiment(exp_dir)
    assert experiment.space_file.read_text() == path.read_text()
    assert experiment.overrides == {"name": "cli", "num_samples": 4, "seed": 3}
    assert experiment.optuna_storage == str(exp_dir / "optuna.journal")
    study = experiment.load_study()
    assert len(study.trials) == 4
    done = sum(t.state == TrialState.COMPLETE for t in study.trials)
    pruned = sum(t.state == TrialState.PRUNED for t in study.trials)
    last_progress = [line for line in out.splitlines() if line.startswith("[")][-1]
    assert f"running 0 · completed {done} · pruned {pruned} · failed 0 |" in last_progress
    assert f"best score {study.best_value:.6g} (" in last_progress
    record = json.loads((exp_dir / "experiment.json").read_text())
    assert record["study_name"] == study.study_name and record["max_t"] == 6

    assert main(["best", str(exp_dir), "--k", "2"]) == OK
    top = yaml.safe_load(capsys.readouterr().out)
    assert 1 <= len(top) <= 2
    assert top[0]["number"] == study.best_trial.number
    assert top[0]["config"] == study.best_trial.user_attrs["config"]

    # a finished sweep resumes to itself: no trial runs twice, none is lost
    assert main(["resume", str(exp_dir)]) == OK
    capsys.readouterr()
    after = experiment.load_study().trials
    assert [(t.number, t.state, t.value) for t in after] == [
        (t.number, t.state, t.value) for t in study.trials
    ]
    assert all(t.state != TrialState.RUNNING for t in after)

    # a copied results folder answers `best` from its own journal
    copy = shutil.copytree(exp_dir, tmp_path / "elsewhere" / "cli")
    shutil.rmtree(exp_dir)
    assert main(["best", str(copy), "--k", "2"]) == OK
    assert yaml.safe_load(capsys.readouterr().out) == top

    # the same name again is refused before Ray starts: nothing is overwritten or mixed
    (results_dir / "cli").mkdir()
    (results_dir / "cli" / "keep.txt").write_text("an earlier result")
    assert main(argv) == BAD_INPUT
    err = capsys.readouterr().err
    assert f"{path}: name is 'cli', but {exp_dir} already holds an experiment" in err
    assert f"python -m tuner resume {exp_dir}" in err
    assert [p.name for p in results_dir.iterdir()] == ["cli"]
    assert (results_dir / "cli" / "keep.txt").read_text() == "an earlier result"
