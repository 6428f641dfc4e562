"""`python -m tuner report DIR`: one self-contained, interactive `report.html` and PNGs for papers.

    from tuner.report import write_report
    paths = write_report("results/quickstart", k=5)   # paths.html, paths.plots["..."]

`report.html` opens offline (plotly.js is inlined once, no CDN): the state counts, the top-k
table and the best config first, then interactive figures: the learning curves by state,
Optuna's views (optimization history, importances with the trials they rest on, slice, parallel
coordinates, contour, intermediate values with pruned trials marked, timeline) and each group's
lr per epoch of the top trials; then the PNGs, the settings and the space file.

PNGs (in `DIR/plots/`, `tuner.plots`): `learning_curves.png`, `metric_vs_params.png` (one panel
per sampled number and per group lr that is not a constant multiple of one already shown),
`lr_schedule_best.png` and `importance.png`. A plot that cannot be drawn (no COMPLETE trial, too
few trials, a trainable without LR groups) is a placeholder that says why, so the set of files
is always the same. Epochs are 1-based, as the trainables report them. Needs no running Ray.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from tuner import plots
from tuner._report_figures import View, importance_note, numeric_params, study_views
from tuner._report_html import render_report
from tuner._report_lr import best_lr_table, top_lr_tables
from tuner._report_png import draw_pngs
from tuner._report_views import learning_curves_figure, lr_schedules_figure
from tuner.export import top_trials, write_atomic
from tuner.results import Results, load
from tuner.searcher import RAY_TRIAL_ID
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
        shown = [frame[c] for c in axes]
        if frame[column].nunique() >= 2 and not any(scaled_copy(frame[column], s) for s in shown):
            axes[column] = True
    return axes


def scaled_copy(values: pd.Series, other: pd.Series) -> bool:
    """True when `values` is a constant multiple of `other` in every trial (the same points on
    a log axis, only shifted: e.g. a group whose lr is the base lr times a fixed multiplier)."""
    a = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    b = pd.to_numeric(other, errors="coerce").to_numpy(dtype=float)
    both = np.isfinite(a) & np.isfinite(b) & (b != 0)
    if both.sum() < 2 or (np.isfinite(a) != np.isfinite(b)).any():
        return False
    ratio = a[both] / b[both]
    return bool(np.allclose(ratio, ratio[0], rtol=1e-9, atol=0.0))


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
    return {k: float(v) for k, v in found.items()}, importance_note(n_done)


def interactive_views(results: Results, k: int, found: dict[str, float]) -> list[View]:
    """The report's interactive figures, in page order (module docstring)."""
    metric, curves = results.metric, results.curves
    best = top_trials(results.study, results.mode, 1)
    best_id = str(best[0].user_attrs.get(RAY_TRIAL_ID, "")) if best else None
    numeric = numeric_params(results.study)
    ranked = [p for p in found if p in numeric] + [p for p in numeric if p not in found]
    optuna_views = {v.name: v for v in study_views(results.study, metric, ranked)}
    if curves.empty:
        curves_view = View("learning_curves", f"{metric} per epoch", None, "no trial reported")
    else:
        curves_view = View(
            "learning_curves",
            f"{metric} per epoch, by state",
            learning_curves_figure(curves, metric, best_id),
            "click a state in the legend to hide it; x: where ASHA stopped a trial; "
            "thick black: the best COMPLETE trial",
        )
    tables = top_lr_tables(results, k)
    groups = list(dict.fromkeys(g for table in tables.values() for g in table.columns))
    lr_view = View(
        "lr_schedules",
        f"lr per group and epoch of the top {len(tables)} trials",
        lr_schedules_figure(tables, groups) if tables else None,
        "as each trial reported it (previewed from its config where it reported none); "
        "a gap on the log axis is a frozen epoch"
        if tables
        else "no COMPLETE trial with LR groups",
    )
    order = ("optimization_history", "importances", "slice", "parallel_coordinate", "contour")
    rest = ("intermediate_values", "timeline")
    return [
        curves_view,
        *(optuna_views[n] for n in order),
        lr_view,
        *(optuna_views[n] for n in rest),
    ]


def best_line(results: Results) -> str:
    """`Best score (its last epoch) 1.61: trial 58070cf2 (#13), 20 epochs.` (or why not)."""
    best = top_trials(results.study, results.mode, 1)
    if not best:
        return "No trial ran the full budget yet."
    trial = best[0]
    who = f"trial {trial.user_attrs.get(RAY_TRIAL_ID, '')} (#{trial.number})"
    epochs = max(trial.intermediate_values, default=0)
    return f"Best {results.metric} (its last epoch) {trial.value:.4g}: {who}, {epochs} epochs."


def write_report(path: str | Path, k: int = 5) -> ReportPaths:
    """Draw the PNGs into `DIR/plots/` and write `DIR/report.html` (module docstring)."""
    results = load(path)
    out = {name: results.dir / "plots" / f"{name}.png" for name in PLOTS}
    found, importance_text = importances_of(results.study)
    captions = draw_pngs(results, out, param_axes(results), found, importance_text)
    top = results.best_trials(k)
    keep = [c for c in top.columns if not c.startswith("config/")]
    configs = results.best_configs(1)
    page = render_report(
        title=f"sweep {results.experiment.name}: {results.metric} ({results.mode})",
        counts=state_counts(results.study),
        top=top[keep].dropna(axis=1, how="all"),
        best_config=configs[0] if configs else None,
        best_line=best_line(results),
        views=interactive_views(results, k, found),
        plots=captions,
        settings=results.settings(),
        space_text=results.space_text,
    )
    html_path = write_atomic(results.dir / "report.html", lambda p: p.write_text(page))
    return ReportPaths(html_path, out)


__all__ = [
    "PLOTS",
    "ReportPaths",
    "best_lr_table",
    "importances_of",
    "interactive_views",
    "param_axes",
    "scaled_copy",
    "write_report",
]
