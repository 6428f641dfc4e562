"""Optuna's interactive views of a sweep's study (`optuna.visualization`, plotly), for report.html.

Each builder returns a `View` (a plotly figure and its caption) or a note saying why it cannot
be drawn (too few trials, no numeric parameter). The intermediate-values view marks PRUNED trials
(grey, dashed, an x where ASHA stopped them); the importances carry the number of COMPLETE
trials they rest on, with a caveat when those are few.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna import visualization as vis
from optuna.trial import TrialState

#: below this many COMPLETE trials the importances get a caveat
FEW_TRIALS = 20
#: parameters shown in the slice, parallel-coordinate and contour views (most important first)
SLICE_PARAMS, PARALLEL_PARAMS, CONTOUR_PARAMS = 6, 8, 3
PRUNED_GREY = "#8c8c8c"


@dataclass(frozen=True)
class View:
    """One interactive figure of the report (`figure` None: `caption` says why not)."""

    name: str
    title: str
    figure: Any
    caption: str


def _complete(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def numeric_params(study: optuna.Study) -> list[str]:
    """Parameters sampled in some COMPLETE trial with more than one value."""
    values: dict[str, set[Any]] = {}
    for trial in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        for name, value in trial.params.items():
            values.setdefault(name, set()).add(repr(value))
    return sorted(name for name, seen in values.items() if len(seen) > 1)


def importance_note(n_complete: int) -> str:
    """What the importances rest on, with a caveat when the trials are few."""
    note = f"fANOVA over {n_complete} COMPLETE trials (parameters sampled in all of them)"
    if n_complete < FEW_TRIALS:
        note += (
            f"; with fewer than {FEW_TRIALS} trials the importances are rough: read their order "
            "as a hint, not a measurement"
        )
    return note


def _quiet(build: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build()


def _intermediate_values(study: optuna.Study) -> Any:
    """Optuna's intermediate-values figure, PRUNED trials grey and dashed with an x at the end."""
    figure = vis.plot_intermediate_values(study)
    states = {f"Trial{t.number}": t.state for t in study.get_trials(deepcopy=False)}
    shown: set[str] = set()
    for trace in figure.data:
        state = states.get(trace.name)
        pruned = state == TrialState.PRUNED
        group = "pruned" if pruned else str(state.name.lower() if state else "other")
        symbols = ["circle"] * len(trace.x)
        if pruned and symbols:
            symbols[-1] = "x"
            trace.update(line={"dash": "dash", "color": PRUNED_GREY}, opacity=0.8)
        trace.update(
            marker={"symbol": symbols, "maxdisplayed": 0, "size": 6},
            legendgroup=group,
            legendgrouptitle=None,
            showlegend=group not in shown,
            name=trace.name if group in shown else f"{group} ({trace.name})",
        )
        shown.add(group)
    figure.update_layout(
        showlegend=True, xaxis_title="epoch", yaxis_title="reported value", title=None
    )
    return figure


def _importances(study: optuna.Study, n_complete: int) -> tuple[Any, str]:
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    figure = _quiet(lambda: vis.plot_param_importances(study, evaluator=evaluator))
    note = importance_note(n_complete)
    figure.update_layout(title=None, xaxis_title="importance (sums to 1)")
    return figure, note


def study_views(study: optuna.Study, metric: str, ranked: Sequence[str]) -> list[View]:
    """Optuna's views of `study`; `ranked`: numeric parameters, most important first."""
    n_complete = _complete(study)
    params = list(ranked) or numeric_params(study)
    views: list[View] = []

    def add(
        name: str, title: str, build: Callable[[], Any], caption: str, need: int, why: str = ""
    ) -> None:
        if n_complete < need:
            why = f"needs at least {need} COMPLETE trials; this sweep has {n_complete}"
        if why:
            views.append(View(name, title, None, why))
            return
        try:
            result = _quiet(build)
        except (ValueError, RuntimeError, ImportError) as error:
            views.append(View(name, title, None, f"Optuna could not draw it: {error}"))
            return
        figure, text = result if isinstance(result, tuple) else (result, caption)
        figure.update_layout(title=None, margin={"t": 30})
        views.append(View(name, title, figure, text))

    add(
        "intermediate_values",
        f"{metric} per epoch (Optuna's intermediate values)",
        lambda: _intermediate_values(study),
        "every trial's reported value per epoch; grey dashed with an x: PRUNED by ASHA",
        0,
    )
    add(
        "optimization_history",
        "optimization history",
        lambda: vis.plot_optimization_history(study, target_name=metric),
        f"each COMPLETE trial's {metric} in the order they ended, and the best so far",
        1,
    )
    add("importances", "parameter importances", lambda: _importances(study, n_complete), "", 2)
    add(
        "slice",
        "slice: the metric against each parameter",
        lambda: vis.plot_slice(study, params=params[:SLICE_PARAMS] or None, target_name=metric),
        f"{metric} of each COMPLETE trial against its sampled values (colour: trial number); "
        f"the {min(len(params), SLICE_PARAMS)} most important parameters",
        1,
    )
    add(
        "parallel_coordinate",
        "parallel coordinates",
        lambda: vis.plot_parallel_coordinate(
            study, params=params[:PARALLEL_PARAMS] or None, target_name=metric
        ),
        "each line a COMPLETE trial through its sampled values; drag along an axis to filter",
        2,
    )
    contour = params[:CONTOUR_PARAMS]
    add(
        "contour",
        "contour of the most important parameters",
        lambda: vis.plot_contour(study, params=contour, target_name=metric),
        f"{metric} interpolated over each pair of {', '.join(contour)}",
        3,
        "" if len(contour) >= 2 else "needs two numeric parameters that took several values",
    )
    add(
        "timeline",
        "timeline",
        lambda: vis.plot_timeline(study),
        "when each trial ran and how it ended",
        0,
    )
    return views
