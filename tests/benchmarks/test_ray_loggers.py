"""A sweep writes each trial's result.json and progress.csv, and no TensorBoard event files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.tuner.spaces import toy_space
from tuner._ray_loggers import NoTensorBoardLogger, result_loggers


def test_result_loggers_hold_one_of_each_kind() -> None:
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback, TBXLoggerCallback

    kinds = [type(c) for c in result_loggers()]
    assert kinds == [JsonLoggerCallback, CSVLoggerCallback, NoTensorBoardLogger]
    assert issubclass(NoTensorBoardLogger, TBXLoggerCallback)  # so Ray adds no TensorBoard one


@pytest.mark.usefixtures("ray_local")
def test_sweep_writes_json_and_csv_but_no_event_files(tmp_path: Path, results_dir: Path) -> None:
    from tuner.api import run_space

    path = toy_space(tmp_path, results_dir, num_samples=3, n_epochs=3, asha=None)
    outcome = run_space(path)
    trial_dirs = [p for p in outcome.experiment.dir.iterdir() if (p / "result.json").is_file()]
    assert len(trial_dirs) == 3
    for trial_dir in trial_dirs:
        rows = [json.loads(line) for line in (trial_dir / "result.json").read_text().splitlines()]
        assert [r["training_iteration"] for r in rows] == [1, 2, 3]
        assert len((trial_dir / "progress.csv").read_text().splitlines()) == 1 + 3
    assert not list(outcome.experiment.dir.rglob("events.out.tfevents*"))
