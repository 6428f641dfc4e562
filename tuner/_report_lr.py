"""A trial's lr per group and epoch, for the report: as reported, else previewed from its config.

Rows are 1-based epochs, as the trainables report them; `attrs["frozen"]` lists each group's
frozen epochs (lr 0).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from optuna.trial import FrozenTrial

from trainables.lr import ConfigError, LRSpec, preview_lrs
from tuner._report_groups import uses_lr_library
from tuner.export import top_trials
from tuner.searcher import CONFIG, RAY_TRIAL_ID


def trial_lr_table(results: Any, trial: FrozenTrial) -> tuple[pd.DataFrame | None, str]:
    """`trial`'s lr per group (rows: 1-based epochs) and where it came from."""
    ray_id = str(trial.user_attrs.get(RAY_TRIAL_ID, ""))
    curves = results.curves
    rows = curves[curves["trial_id"] == ray_id]
    lr_cols = [c for c in rows.columns if c.startswith("lr/") and rows[c].notna().any()]
    if lr_cols:
        table = rows.set_index("epoch")[lr_cols]
        table.columns = [c[3:].replace("/", ".") for c in lr_cols]
        table.attrs["frozen"] = {
            name: [int(e) for e in table.index[table[name] == 0]] for name in table.columns
        }
        return table, f"trial {ray_id}: lr per group as reported each epoch"
    config = trial.user_attrs.get(CONFIG, {})
    if not uses_lr_library(config):
        return None, f"trial {ray_id} reported no lr and its config has no LR groups"
    try:
        spec = LRSpec.from_config(config, results.group_names)
        n_epochs = int(config.get("n_epochs", results.experiment.max_t))
        table = preview_lrs(spec, n_epochs)
    except (ConfigError, TypeError, ValueError) as error:
        return None, f"trial {ray_id}: its lr schedule cannot be previewed ({error})"
    table.index = table.index + 1  # as in the curves: epoch 1 is the first
    frozen = table.attrs.get("frozen", {})
    table.attrs["frozen"] = {name: [int(e) + 1 for e in epochs] for name, epochs in frozen.items()}
    return table, f"trial {ray_id}: lr per group previewed from its config"


def best_lr_table(results: Any) -> tuple[pd.DataFrame | None, str]:
    """The best COMPLETE trial's lr per group (rows: 1-based epochs) and where it came from."""
    best = top_trials(results.study, results.mode, 1)
    if not best:
        return None, "no COMPLETE trial"
    table, source = trial_lr_table(results, best[0])
    return table, f"best {source}"


def top_lr_tables(results: Any, k: int) -> dict[str, pd.DataFrame]:
    """The lr tables of the `k` best COMPLETE trials, by label `#rank trial_id`."""
    tables = {}
    for rank, trial in enumerate(top_trials(results.study, results.mode, k), start=1):
        table, _ = trial_lr_table(results, trial)
        if table is not None:
            tables[f"#{rank} {trial.user_attrs.get(RAY_TRIAL_ID, trial.number)}"] = table
    return tables
