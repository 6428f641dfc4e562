"""Results of a sweep as files: `trials.csv`, `trials.parquet` and `best_configs.yaml`.

Everything is read from the Optuna study alone (each trial carries its full config and Ray trial
id as user attributes, its per-epoch metric as intermediate values), so exporting needs no running
Ray. One row per trial, in Optuna order, with a fixed column order:

    trial_id, number, state, epochs, best/<metric>, last/<metric>, duration_s, config/<a>/<b>...

`epochs` is the last epoch reported, `best/<metric>` the best finite value over all epochs,
`last/<metric>` the value of the last epoch. Config columns are flattened with `/`, sorted; lists
and values of mixed types are stored as JSON text so every column has one type.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import yaml
from optuna.trial import FrozenTrial, TrialState

from tuner.searcher import CONFIG, RAY_TRIAL_ID

BASE_COLUMNS = ("trial_id", "number", "state", "epochs")


@dataclass(frozen=True)
class ExportPaths:
    """The files `write_exports` wrote."""

    csv: Path
    parquet: Path
    best_configs: Path


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` -> `{"a/b": 1}` (an empty mapping stays a value)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def _curve(trial: FrozenTrial) -> list[tuple[int, float]]:
    return sorted(trial.intermediate_values.items())


def _best(values: list[float], mode: str) -> float:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan
    return min(finite) if mode == "min" else max(finite)


def trial_row(trial: FrozenTrial, metric: str, mode: str) -> dict[str, Any]:
    """One exported row: identity, state, epochs, best and last metric, flattened config."""
    curve = _curve(trial)
    duration = (
        (trial.datetime_complete - trial.datetime_start).total_seconds()
        if trial.datetime_complete and trial.datetime_start
        else math.nan
    )
    row: dict[str, Any] = {
        "trial_id": trial.user_attrs.get(RAY_TRIAL_ID, ""),
        "number": trial.number,
        "state": trial.state.name,
        "epochs": curve[-1][0] if curve else 0,
        f"best/{metric}": _best([v for _, v in curve], mode),
        f"last/{metric}": curve[-1][1] if curve else math.nan,
        "duration_s": duration,
    }
    config = flatten(trial.user_attrs.get(CONFIG, {}))
    row.update({f"config/{k}": config[k] for k in sorted(config)})
    return row


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _uniform_column(values: pd.Series) -> pd.Series:
    """JSON text for a column of lists or of mixed kinds (so CSV and parquet keep one type)."""
    kinds = {"bool" if isinstance(v, bool) else type(v).__name__ for v in values if not _missing(v)}
    if kinds <= {"int", "float"} or kinds in ({"bool"}, {"str"}):
        return values
    return values.map(lambda v: None if _missing(v) else json.dumps(v))


def trials_to_frame(study: optuna.Study, metric: str, mode: str) -> pd.DataFrame:
    """Every trial of `study` as one row, columns in the fixed order described above."""
    rows = [trial_row(t, metric, mode) for t in study.get_trials(deepcopy=False)]
    fixed = [*BASE_COLUMNS, f"best/{metric}", f"last/{metric}", "duration_s"]
    config_cols = sorted({c for row in rows for c in row if c.startswith("config/")})
    frame = pd.DataFrame(rows, columns=[*fixed, *config_cols])
    for col in config_cols:
        frame[col] = _uniform_column(frame[col])
    return frame.sort_values("number", kind="stable").reset_index(drop=True)


def top_trials(study: optuna.Study, mode: str, k: int) -> list[FrozenTrial]:
    """The `k` best COMPLETE trials (ties broken by trial number)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sign = 1.0 if mode == "min" else -1.0
    return sorted(done, key=lambda t: (sign * t.value, t.number))[:k]


def best_configs(study: optuna.Study, metric: str, mode: str, k: int = 5) -> list[dict[str, Any]]:
    """The top `k` COMPLETE trials, each with its full config in the seed format."""
    return [
        {
            "rank": rank,
            "trial_id": t.user_attrs.get(RAY_TRIAL_ID, ""),
            "number": t.number,
            metric: t.value,
            "epochs": max(t.intermediate_values, default=0),
            "config": t.user_attrs.get(CONFIG, {}),
        }
        for rank, t in enumerate(top_trials(study, mode, k), start=1)
    ]


def best_configs_yaml(study: optuna.Study, metric: str, mode: str, k: int = 5) -> str:
    """`best_configs` as YAML with a header naming the metric; each `config` pastes as is."""
    entries = best_configs(study, metric, mode, k)
    header = (
        f"# top {len(entries)} COMPLETE trials of study {study.study_name!r} "
        f"by {metric} ({mode}); paste any `config:` block into a training config\n"
    )
    return header + yaml.safe_dump(entries, sort_keys=False, default_flow_style=False)


def write_exports(
    exp_dir: Path, study: optuna.Study, metric: str, mode: str, k: int = 5
) -> ExportPaths:
    """Write the trials table (CSV and parquet) and `best_configs.yaml` into `exp_dir`."""
    frame = trials_to_frame(study, metric, mode)
    paths = ExportPaths(
        exp_dir / "trials.csv", exp_dir / "trials.parquet", exp_dir / "best_configs.yaml"
    )
    frame.to_csv(paths.csv, index=False)
    frame.to_parquet(paths.parquet, index=False)
    paths.best_configs.write_text(best_configs_yaml(study, metric, mode, k))
    return paths
