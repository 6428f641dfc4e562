"""Where and when each Ray trial ran, read from its `result.json` alone (no Ray needed).

Every report Ray logs carries the reporting node's address (`node_ip`), the time of the
report (`timestamp`) and the time spent inside the trainable so far (`time_total_s`, which
leaves out the time a trial waited for resources or for its worker to start, and carries over
a restore). From them, per Ray trial: `node` (where its last report came from: a trial moved by
a node failure names the node it finished on), `started_at` (when its trainable started: first
report's timestamp less the trainable time it covers; UTC) and `train_s` (time inside the
trainable by its last report).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from tuner._report_curves import read_result_log

#: the columns `run_columns` adds to the trials table, in this order
RUN_COLUMNS = ("node", "started_at", "train_s")


def trial_runs(exp_dir: str | Path) -> dict[str, dict[str, Any]]:
    """`{ray trial id: {"node", "started_at", "train_s"}}` for every trial folder with reports."""
    runs: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(exp_dir).glob("*/result.json")):
        rows = [row for row in read_result_log(path) if "timestamp" in row]
        if not rows:
            continue
        first, last = rows[0], rows[-1]
        start = float(first["timestamp"]) - float(first.get("time_total_s", 0.0))
        runs[str(last.get("trial_id", path.parent.name))] = {
            "node": str(last.get("node_ip", "")),
            "started_at": pd.Timestamp(start, unit="s", tz="UTC"),
            "train_s": float(last.get("time_total_s", float("nan"))),
        }
    return runs


def run_of(runs: Mapping[str, Mapping[str, Any]], trial_id: str) -> Mapping[str, Any]:
    """The run of a table row's `trial_id` (a population member's `<ray trial>-<number>` is its
    Ray trial's run); empty when Ray logged none (never started, or logs not copied)."""
    if trial_id in runs:
        return runs[trial_id]
    ray_trial, _, member = trial_id.rpartition("-")
    return runs.get(ray_trial, {}) if member.isdigit() else {}


def run_columns(trial_ids: pd.Series, runs: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """The `RUN_COLUMNS` for the rows with `trial_ids` (missing values where no run is known)."""
    found = [run_of(runs, str(trial_id)) for trial_id in trial_ids]
    return pd.DataFrame(
        {
            "node": pd.Series([run.get("node") for run in found], dtype="string"),
            "started_at": pd.to_datetime([run.get("started_at") for run in found], utc=True).astype(
                "datetime64[ns, UTC]"
            ),
            "train_s": pd.Series([run.get("train_s") for run in found], dtype="float64"),
        },
        index=trial_ids.index,
    )
