"""The report's PNGs for papers (`tuner.plots`), each with its caption; placeholders say why a
plot cannot be drawn."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainables.lr.preview_plot import plot_preview
from tuner import plots
from tuner._report_lr import best_lr_table
from tuner.export import top_trials
from tuner.searcher import RAY_TRIAL_ID


def _lr_plot(results: Any, path: Path) -> tuple[Path, str]:
    table, source = best_lr_table(results)
    if table is None:
        return plots.plot_message(path, "lr schedule of the best trial", source), source
    plot_preview(table, path, title=source)
    return path, f"{source}; frozen epochs are gaps on a log axis"


def draw_pngs(
    results: Any,
    out: Mapping[str, Path],
    axes: Mapping[str, bool],
    importances: Mapping[str, float],
    importance_text: str,
) -> dict[str, tuple[Path, str]]:
    """Draw every PNG into `out` (name -> path); returns name -> (path, caption)."""
    metric = results.metric
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
    if axes:
        plots.plot_metric_vs_params(
            results.trials, metric, results.mode, axes, out["metric_vs_params"]
        )
        note = (
            f"last {metric} against each sampled value and each group's effective lr (a group "
            "whose lr is a fixed multiple of one shown is left out); filled: COMPLETE, grey x: "
            "PRUNED (value at the epoch it was stopped)"
        )
    else:
        note = "no numeric parameter took more than one value"
        plots.plot_message(out["metric_vs_params"], f"{metric} vs sampled values", note)
    captions["metric_vs_params"] = (out["metric_vs_params"], note)
    captions["lr_schedule_best"] = _lr_plot(results, out["lr_schedule_best"])
    if importances:
        plots.plot_importances(importances, out["importance"], importance_text)
    else:
        plots.plot_message(out["importance"], "parameter importances", importance_text)
    captions["importance"] = (out["importance"], importance_text)
    return captions
