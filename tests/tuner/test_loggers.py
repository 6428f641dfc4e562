"""`loggers: [tensorboard, mlflow, wandb]`: a real toy sweep writes all three, and each is read
back with its own library (TensorBoard's event reader, MLflow's client on the local SQLite store,
W&B's offline run folders). Nothing is sent anywhere: W&B runs offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.tuner.spaces import toy_space
from tests.tuner.toy import score
from tuner import _logger_settings
from tuner._ray_loggers import mlflow_uri
from tuner.cli import BAD_INPUT, OK, main
from tuner.experiment import load_experiment

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")
pytest.importorskip("wandb")

N_EPOCHS = 3


@pytest.fixture(scope="module")
def sweep(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("loggers")
    path = toy_space(
        tmp,
        tmp / "results",
        name="logged",
        num_samples=2,
        n_epochs=N_EPOCHS,
        asha=None,
        loggers=["tensorboard", "mlflow", "wandb"],
    )
    assert main(["run", str(path)]) == OK
    exp_dir = tmp / "results" / "logged"
    trials = load_experiment(exp_dir).load_study().get_trials()
    xs = {t.user_attrs["ray_trial_id"]: t.params["x"] for t in trials}
    return {"dir": exp_dir, "xs": xs}


def expected(x: float) -> list[tuple[int, float]]:
    return [(epoch, score(x, epoch)) for epoch in range(1, N_EPOCHS + 1)]


def test_tensorboard_event_files_hold_every_epoch(sweep: dict[str, Any]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for trial_id, x in sweep["xs"].items():
        files = list((sweep["dir"] / trial_id).glob("events.out.tfevents.*"))
        assert len(files) == 1, trial_id
        events = EventAccumulator(str(files[0]))
        events.Reload()
        scalars = events.Scalars("ray/tune/score")
        got = [(e.step, e.value) for e in scalars]
        want = expected(x)
        assert [s for s, _ in got] == [s for s, _ in want]
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-6)  # float32


def test_mlflow_runs_read_back_from_the_local_store(sweep: dict[str, Any]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri(sweep["dir"]))
    assert (sweep["dir"] / "mlflow.db").is_file()
    experiment = client.get_experiment_by_name("logged")
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == len(sweep["xs"])
    for run in runs:
        x = float(run.data.params["x"])
        history = client.get_metric_history(run.info.run_id, "score")
        got, want = sorted((m.step, m.value) for m in history), expected(x)
        assert [step for step, _ in got] == [step for step, _ in want]
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-12)
        assert run.info.status == "FINISHED"
    assert sorted(float(r.data.params["x"]) for r in runs) == sorted(sweep["xs"].values())


def test_wandb_offline_run_folders(sweep: dict[str, Any]) -> None:
    for trial_id in sweep["xs"]:
        runs = list((sweep["dir"] / trial_id / "wandb").glob(f"offline-run-*-{trial_id}"))
        assert len(runs) == 1, trial_id
        records = list(runs[0].glob("run-*.wandb"))
        assert len(records) == 1 and records[0].stat().st_size > 0


def test_without_loggers_no_event_files(ray_local: None, tmp_path: Path) -> None:
    path = toy_space(tmp_path, tmp_path / "results", name="quiet", num_samples=1, n_epochs=2)
    assert main(["run", str(path)]) == OK
    exp_dir = tmp_path / "results" / "quiet"
    assert not list(exp_dir.glob("*/events.out.tfevents.*"))
    assert not (exp_dir / "mlflow.db").exists() and not list(exp_dir.glob("*/wandb"))


def test_a_logger_without_its_package_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setitem(_logger_settings.LOGGERS, "mlflow", ("no_such_module_here", "mlflow"))
    path = toy_space(tmp_path, tmp_path / "results", loggers=["tensorboard", "mlflow"])
    assert main(["validate", str(path)]) == BAD_INPUT
    err = capsys.readouterr().err
    assert "loggers[1] is 'mlflow', but its package 'no_such_module_here' is not installed" in err
    assert "pip install 'lr-tuner[mlflow]'" in err
    bad = toy_space(tmp_path, tmp_path / "results", name="bad", loggers=["tensorbored"])
    assert main(["validate", str(bad)]) == BAD_INPUT
    assert "loggers" in capsys.readouterr().err
