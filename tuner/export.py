"""Results of a sweep as files: `trials.csv`/`.parquet`, `curves.parquet`, `best_configs.yaml`.

The trials table is read from the Optuna study alone (each trial carries its full config and Ray
trial id as user attributes, its per-epoch metric as intermediate values), the curves from Ray's
per-trial logs in the folder, so exporting needs no running Ray. One row per trial, in Optuna
order, with a fixed column order:

    trial_id, number, state, epochs, best/<metric>, last/<metric>, duration_s, fail_reason,
    node, started_at, train_s,
    lr/<component>/<level>..., param/<optuna name>..., config/<a>/<b>...

`epochs` is the last epoch reported, `best/<metric>` the best finite value over all epochs,
`last/<metric>` the value of the last epoch, `duration_s` the wall time, `fail_reason` why a
FAIL trial failed (the exception it raised, `Type: message`), or, under `on_nonfinite: worst`,
why a trial's value is the worst ("recorded as worst: ..."; empty otherwise); `node`,
`started_at`, `train_s` (time inside the trainable) come from Ray's logs (`tuner.trial_runs`).
`lr/...` is each
group's effective base lr derived from the config with the LR library (group order; absent when the
trainable does not use it), `param/...` the values Optuna sampled (multipliers included, sorted).
Config columns are flattened with `/`, sorted; lists and values of mixed types are stored as JSON
text so every column has one type. Every file is written to a temporary name, then renamed.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
import yaml
from optuna.trial import FrozenTrial, TrialState

from tuner._report_curves import curves_to_frame
from tuner._report_groups import effective_lrs, experiment_groups
from tuner.searcher import CONFIG, FAIL_REASON, RAY_TRIAL_ID, WORST
from tuner.trial_runs import RUN_COLUMNS, run_columns, trial_runs

BASE_COLUMNS = ("trial_id", "number", "state", "epochs")


@dataclass(frozen=True)
class ExportPaths:
    """The files `write_exports` wrote."""

    csv: Path
    parquet: Path
    best_configs: Path
    curves: Path


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


def trial_row(
    trial: FrozenTrial, metric: str, mode: str, group_names: Sequence[str] | None = None
) -> dict[str, Any]:
    """One exported row: identity, state, epochs, best and last metric, wall time, effective
    group lrs, sampled parameters, flattened config."""
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
        "fail_reason": _reason(trial),
    }
    raw = trial.user_attrs.get(CONFIG, {})
    row.update(effective_lrs(raw, group_names))
    row.update({f"param/{k}": trial.params[k] for k in sorted(trial.params)})
    config = flatten(raw)
    row.update({f"config/{k}": config[k] for k in sorted(config)})
    return row


def _reason(trial: FrozenTrial) -> str | None:
    """Why a FAIL trial failed, or why a trial's value is the worst (`on_nonfinite: worst`)."""
    reason = trial.user_attrs.get(FAIL_REASON)
    if trial.state.name == "FAIL" or str(reason or "").startswith(WORST):
        return reason
    return None


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _uniform_column(values: pd.Series) -> pd.Series:
    """JSON text for a column of lists or of mixed kinds (so CSV and parquet keep one type)."""
    kinds = {"bool" if isinstance(v, bool) else type(v).__name__ for v in values if not _missing(v)}
    if kinds <= {"int", "float"} or kinds in ({"bool"}, {"str"}):
        return values
    return values.map(lambda v: None if _missing(v) else json.dumps(v))


def _lr_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The `lr/...` columns in group order (first appearance), the same for every row."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(c for c in row if c.startswith("lr/")))
    return list(seen)


def trials_to_frame(
    study: optuna.Study,
    metric: str,
    mode: str,
    group_names: Sequence[str] | None = None,
    runs: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """Every trial of `study` as one row, columns in the fixed order described above.

    `group_names` are the trainable's groups for the derived `lr/...` columns (default: the
    config's `groups:` keys, else the seed's five groups); `runs` what `tuner.trial_runs`
    read from the experiment folder (none: the run columns are empty).
    """
    rows = [trial_row(t, metric, mode, group_names) for t in study.get_trials(deepcopy=False)]
    fixed = [*BASE_COLUMNS, f"best/{metric}", f"last/{metric}", "duration_s", "fail_reason"]
    params = sorted({c for row in rows for c in row if c.startswith("param/")})
    config_cols = sorted({c for row in rows for c in row if c.startswith("config/")})
    frame = pd.DataFrame(rows, columns=[*fixed, *_lr_columns(rows), *params, *config_cols])
    for col in [*params, *config_cols]:
        frame[col] = _uniform_column(frame[col])
    ran = run_columns(frame["trial_id"], runs or {})
    at = len(fixed)
    for offset, col in enumerate(RUN_COLUMNS):
        frame.insert(at + offset, col, ran[col])
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


def write_atomic(path: Path, write: Callable[[Path], Any]) -> Path:
    """`write(temporary)` beside `path`, then rename it to `path`: a reader (or a crash) never
    sees half a file, and an earlier complete file stays until the new one is whole."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_exports(
    exp_dir: Path,
    study: optuna.Study,
    metric: str,
    mode: str,
    k: int = 5,
    group_names: Sequence[str] | None = None,
) -> ExportPaths:
    """Write the trials table (CSV, parquet), `curves.parquet` and `best_configs.yaml` into
    `exp_dir`, each atomically. `group_names` default: those of the folder's space file."""
    exp_dir = Path(exp_dir)
    if group_names is None:
        group_names = experiment_groups(exp_dir)
    frame = trials_to_frame(study, metric, mode, group_names, trial_runs(exp_dir))
    curves = curves_to_frame(exp_dir, study, metric)
    paths = ExportPaths(
        exp_dir / "trials.csv",
        exp_dir / "trials.parquet",
        exp_dir / "best_configs.yaml",
        exp_dir / "curves.parquet",
    )
    text = best_configs_yaml(study, metric, mode, k)
    write_atomic(paths.csv, lambda p: frame.to_csv(p, index=False))
    write_atomic(paths.parquet, lambda p: frame.to_parquet(p, index=False))
    write_atomic(paths.curves, lambda p: curves.to_parquet(p, index=False))
    write_atomic(paths.best_configs, lambda p: p.write_text(text))
    return paths
