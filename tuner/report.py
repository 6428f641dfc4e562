"""`python -m tuner report DIR`: PNG plots and one self-contained `report.html` for a sweep.

    from tuner.report import write_report
    paths = write_report("results/quickstart", k=5)   # paths.html, paths.plots["..."]

Plots (in `DIR/plots/`): `learning_curves.png` (every trial's metric per epoch, pruned ones
marked), `metric_vs_params.png` (the metric against each sampled number and each group's
effective lr, log axes where log-distributed), `lr_schedule_best.png` (the best trial's lr per
group and epoch, as reported, else previewed from its config) and `importance.png` (Optuna's
parameter importances). A plot that cannot be drawn (no COMPLETE trial, too few trials for
importances, a trainable without LR groups) is a placeholder that says why, so the set of files
is always the same. Needs no running Ray.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from trainables.lr import ConfigError, LRSpec, preview_lrs
from trainables.lr.preview_plot import plot_preview
from tuner import plots
from tuner._report_groups import uses_lr_library
from tuner._report_html import render_report
from tuner.export import top_trials, write_atomic
from tuner.results import Results, load
from tuner.searcher import CONFIG, RAY_TRIAL_ID
from tuner.sweep import state_counts

PLOTS = ("learning_curves", "metric_vs_params", "lr_schedule_best", "importance")
#: fewest COMPLETE trials Optuna's importances are computed from
MIN_IMPORTANCE_TRIALS = 2


@dataclass(frozen=True)
class ReportPaths:
    """What `write_report` wrote: the page and each plot by name (`PLOTS`)."""

    html: Path
    plots: dict[str, Path]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def param_axes(results: Results) -> dict[str, bool]:
    """Trials-table columns to plot the metric against -> log x axis: every numeric sampled
    parameter that took more than one value, then each group's effective lr."""
    distributions: dict[str, Any] = {}
    for trial in results.study.get_trials(deepcopy=False):
        distributions.update(trial.distributions)
    axes: dict[str, bool] = {}
    frame = results.trials
    for name in sorted(distributions):
        dist, column = distributions[name], f"param/{name}"
        if column not in frame or pd.to_numeric(frame[column], errors="coerce").nunique() < 2:
            continue
        if isinstance(dist, FloatDistribution | IntDistribution):
            axes[column] = bool(dist.log)
        elif isinstance(dist, CategoricalDistribution):
            choices = [c for c in dist.choices if c is not None]
            if choices and all(_is_number(c) for c in choices):
                axes[column] = plots.wide_range(choices)
    for column in (c for c in frame.columns if c.startswith("lr/")):
        if frame[column].nunique() >= 2:
            axes[column] = True
    return axes


def importances_of(study: optuna.Study) -> tuple[dict[str, float], str]:
    """Optuna's fANOVA importances (seeded) and a note; ({}, why) when they cannot be had."""
    n_done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if n_done < MIN_IMPORTANCE_TRIALS:
        return {}, (
            f"importances need at least {MIN_IMPORTANCE_TRIALS} COMPLETE trials; "
            f"this sweep has {n_done}"
        )
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError) as error:
        return {}, f"Optuna could not compute importances: {error}"
    if not found:
        return {}, "no parameter was sampled in every COMPLETE trial"
    note = f"fANOVA over {n_done} COMPLETE trials (parameters sampled in all of them)"
    return {k: float(v) for k, v in found.items()}, note


def best_lr_table(results: Results) -> tuple[pd.DataFrame | None, str]:
    """The best COMPLETE trial's lr per group (rows: 1-based epochs) and where it came from."""
    best = top_trials(results.study, results.mode, 1)
    if not best:
        return None, "no COMPLETE trial"
    trial = best[0]
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
        return table, f"best trial {ray_id}: lr per group as reported each epoch"
    config = trial.user_attrs.get(CONFIG, {})
    if not uses_lr_library(config):
        return None, f"best trial {ray_id} reported no lr and its config has no LR groups"
    try:
        spec = LRSpec.from_config(config, results.group_names)
        n_epochs = int(config.get("n_epochs", results.experiment.max_t))
        table = preview_lrs(spec, n_epochs)
    except (ConfigError, TypeError, ValueError) as error:
        return None, f"best trial {ray_id}: its lr schedule cannot be previewed ({error})"
    table.index = table.index + 1  # as in the curves: epoch 1 is the first
    frozen = table.attrs.get("frozen", {})
    table.attrs["frozen"] = {name: [int(e) + 1 for e in epochs] for name, epochs in frozen.items()}
    return table, f"best trial {ray_id}: lr per group previewed from its config"


def _lr_plot(results: Results, path: Path) -> tuple[Path, str]:
    table, source = best_lr_table(results)
    if table is None:
        return plots.plot_message(path, "lr schedule of the best trial", source), source
    plot_preview(table, path, title=source)
    return path, f"{source}; frozen epochs are gaps on a log axis"


def write_report(path: str | Path, k: int = 5) -> ReportPaths:
    """Draw the plots into `DIR/plots/` and write `DIR/report.html` (see the module docstring)."""
    results = load(path)
    folder = results.dir / "plots"
    metric = results.metric
    out = {name: folder / f"{name}.png" for name in PLOTS}
    best = top_trials(results.study, results.mode, 1)
    best_id = str(best[0].user_attrs.get(RAY_TRIAL_ID, "")) if best else None
    captions: dict[str, tuple[Path, str]] = {}

    if results.curves.empty:
        note = "no trial has reported a value yet"
        plots.plot_message(out["learning_curves"], f"{metric} per epoch", note)
    else:
        plots.plot_learning_curves(results.curves, metric, out["learning_curves"], best_id)
        note = (
            f"{metric} per epoch; grey dashed: pruned by ASHA (x where stopped), red: failed, "
            "thick black: the best COMPLETE trial"
        )
    captions["learning_curves"] = (out["learning_curves"], note)
    axes = param_axes(results)
    if axes:
        plots.plot_metric_vs_params(
            results.trials, metric, results.mode, axes, out["metric_vs_params"]
        )
        note = f"last {metric} against each sampled value and effective group lr"
    else:
        note = "no numeric parameter took more than one value"
        plots.plot_message(out["metric_vs_params"], f"{metric} vs sampled values", note)
    captions["metric_vs_params"] = (out["metric_vs_params"], note)
    captions["lr_schedule_best"] = _lr_plot(results, out["lr_schedule_best"])
    found, note = importances_of(results.study)
    if found:
        plots.plot_importances(found, out["importance"], note)
    else:
        plots.plot_message(out["importance"], "parameter importances", note)
    captions["importance"] = (out["importance"], note)

    top = results.best_trials(k)
    keep = [c for c in top.columns if not c.startswith("config/")]
    configs = results.best_configs(1)
    page = render_report(
        title=f"sweep {results.experiment.name}: {metric} ({results.mode})",
        counts=state_counts(results.study),
        top=top[keep].dropna(axis=1, how="all"),
        best_config=configs[0] if configs else None,
        plots=captions,
        settings=results.settings(),
        space_text=results.space_text,
    )
    html_path = write_atomic(results.dir / "report.html", lambda p: p.write_text(page))
    return ReportPaths(html_path, out)


__all__ = ["PLOTS", "ReportPaths", "best_lr_table", "importances_of", "param_axes", "write_report"]
