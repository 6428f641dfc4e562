"""Where and when each trial ran, from Ray's `result.json` lines alone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from tuner.trial_runs import RUN_COLUMNS, run_columns, trial_runs


def _log(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True)
    (folder / "result.json").write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_node_start_and_trainable_time_of_each_trial(tmp_path: Path) -> None:
    """`started_at` = first report's timestamp less its trainable time; `train_s` and `node`
    from the last report (a trial restarted on another node names that node)."""
    _log(
        tmp_path / "train_a",
        [
            {"trial_id": "a_00000", "timestamp": 1_000, "time_total_s": 2.5, "node_ip": "10.0.0.1"},
            {"trial_id": "a_00000", "timestamp": 1_003, "time_total_s": 5.0, "node_ip": "10.0.0.2"},
        ],
    )
    _log(tmp_path / "train_b", [{"trial_id": "a_00001", "timestamp": 2_000, "time_total_s": 1.0,
                                 "node_ip": "10.0.0.1"}])  # fmt: skip
    (tmp_path / "train_c").mkdir()  # a trial that never reported: no run
    runs = trial_runs(tmp_path)
    assert runs == {
        "a_00000": {
            "node": "10.0.0.2",
            "started_at": pd.Timestamp(997.5, unit="s", tz="UTC"),
            "train_s": 5.0,
        },
        "a_00001": {
            "node": "10.0.0.1",
            "started_at": pd.Timestamp(1_999.0, unit="s", tz="UTC"),
            "train_s": 1.0,
        },
    }
    ids = pd.Series(["a_00001", "a_00000-3", "never", "a_00000"])
    frame = run_columns(ids, runs)
    assert list(frame.columns) == list(RUN_COLUMNS)
    # a population member `<ray trial>-<number>` is its Ray trial's run; unknown ids are missing
    assert frame["node"].tolist()[:2] == ["10.0.0.1", "10.0.0.2"] and pd.isna(frame["node"][2])
    assert frame["train_s"].tolist()[3] == 5.0 and pd.isna(frame["train_s"][2])
    assert frame["started_at"][1] == pd.Timestamp(997.5, unit="s", tz="UTC")
    assert str(frame["started_at"].dtype) == "datetime64[ns, UTC]"
