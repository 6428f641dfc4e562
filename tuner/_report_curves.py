"""The per-epoch table of every trial (`curves.parquet`), read from files alone.

Ray writes each trial's reports to `<experiment>/<trial>/result.json` (one JSON line per epoch);
they hold every metric the trainable reported, including each group's `lr/<component>/<level>`.
A trial without such a log (a folder copied without the trial folders, a trial that never
started) falls back to its Optuna intermediate values: the metric only. Neither needs Ray.

Columns, in this order: `trial_id, number, state, epoch, <metric>`, the other reported numbers
and Ray's `time_total_s` (sorted), then the `lr/...` keys in the order the trainable reported
them. `epoch` is Ray's `training_iteration` (the step ASHA and Optuna use); a resumed trial that
replayed epochs keeps the last report of each epoch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from tuner.searcher import RAY_TRIAL_ID

#: Ray's own bookkeeping in every result; not metrics of the trial
RAY_KEYS = frozenset(
    {
        "timestamp", "checkpoint_dir_name", "done", "training_iteration", "trial_id", "date",
        "time_this_iter_s", "time_since_restore", "iterations_since_restore", "pid", "hostname",
        "node_ip", "config", "should_checkpoint", "experiment_tag", "epoch",
    }
)  # fmt: skip
BASE = ("trial_id", "number", "state", "epoch")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def read_result_log(path: Path) -> list[dict[str, Any]]:
    """The rows of one Ray `result.json` (JSON lines; NaN allowed); a torn last line is skipped."""
    rows = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut short by a crash: every complete epoch is still there
    return rows


def ray_logs(exp_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every trial's numeric reports by Ray trial id, one row per epoch (the last of each)."""
    logs: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(exp_dir.glob("*/result.json")):
        by_epoch: dict[int, dict[str, Any]] = {}
        trial_id = None
        for row in read_result_log(path):
            step = row.get("training_iteration")
            if not isinstance(step, int):
                continue
            trial_id = str(row.get("trial_id", path.parent.name))
            values = {k: v for k, v in row.items() if k not in RAY_KEYS and _is_number(v)}
            by_epoch[step] = {"epoch": step, **values}
        if trial_id is not None:
            logs[trial_id] = [by_epoch[e] for e in sorted(by_epoch)]
    return logs


def _column_order(rows: Iterable[dict[str, Any]], metric: str) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row))
    keys = [k for k in seen if k not in BASE and k != metric]
    others = sorted(k for k in keys if not k.startswith("lr/"))
    return [*BASE, metric, *others, *(k for k in keys if k.startswith("lr/"))]


def curves_to_frame(exp_dir: str | Path, study: optuna.Study, metric: str) -> pd.DataFrame:
    """One row per trial and epoch, trials in Optuna order (module docstring)."""
    logs = ray_logs(Path(exp_dir))
    rows: list[dict[str, Any]] = []
    for trial in study.get_trials(deepcopy=False):
        ray_id = str(trial.user_attrs.get(RAY_TRIAL_ID, ""))
        who = {"trial_id": ray_id, "number": trial.number, "state": trial.state.name}
        if ray_id in logs:
            rows += [{**who, **row} for row in logs[ray_id]]
        else:
            steps = sorted(trial.intermediate_values.items())
            rows += [{**who, "epoch": step, metric: value} for step, value in steps]
    frame = pd.DataFrame(rows, columns=_column_order(rows, metric))
    frame["epoch"] = frame["epoch"].astype("int64")
    frame["number"] = frame["number"].astype("int64")
    for column in frame.columns[len(BASE) :]:
        frame[column] = frame[column].astype("float64")
    return frame.reset_index(drop=True)
