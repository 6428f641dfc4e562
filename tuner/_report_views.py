"""The tuner's own interactive views for report.html (plotly): learning curves by state, and each
group's lr per epoch for the top trials.

Epochs are 1-based everywhere, as the trainables report them (Ray's `training_iteration`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

#: line style of each Optuna state in the learning curves
STATE_STYLES: dict[str, dict[str, object]] = {
    "COMPLETE": {"color": "#1f77b4", "width": 1.5},
    "PRUNED": {"color": "#8c8c8c", "width": 1.2, "dash": "dash"},
    "FAIL": {"color": "#d62728", "width": 1.2, "dash": "dot"},
    "RUNNING": {"color": "#ff7f0e", "width": 1.2, "dash": "dashdot"},
}
#: one colour per top trial (plotly's default sequence)
TRIAL_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")


def _wide(values: pd.Series, ratio: float = 10) -> bool:
    """Every value positive, spanning more than `ratio` (a log axis shows them better)."""
    array = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    array = array[np.isfinite(array)]
    return bool(array.size and (array > 0).all() and array.max() / array.min() > ratio)


def learning_curves_figure(curves: pd.DataFrame, metric: str, best: str | None) -> go.Figure:
    """Every trial's `metric` per epoch: one legend entry per state (click to hide a state),
    PRUNED grey and dashed with an x where ASHA stopped them, the best COMPLETE trial thick
    black."""
    figure = go.Figure()
    counts = curves.groupby("trial_id", sort=False)["state"].first().value_counts()
    shown: set[str] = set()
    for trial_id, rows in curves.groupby("trial_id", sort=False):
        state = str(rows["state"].iloc[0])
        style = STATE_STYLES.get(state, STATE_STYLES["RUNNING"])
        symbols = ["circle"] * len(rows)
        if state in ("PRUNED", "FAIL"):
            symbols[-1] = "x"
        figure.add_trace(
            go.Scatter(
                x=rows["epoch"],
                y=rows[metric],
                mode="lines+markers",
                line=style,
                marker={"symbol": symbols, "size": [4] * (len(rows) - 1) + [9]},
                name=f"{state.lower()} ({counts.get(state, 0)})",
                legendgroup=state,
                showlegend=state not in shown,
                hovertemplate=f"trial {trial_id} (#{int(rows['number'].iloc[0])}, "
                f"{state.lower()})<br>epoch %{{x}}<br>{metric} %{{y:.4g}}<extra></extra>",
            )
        )
        shown.add(state)
    if best is not None and best in set(curves["trial_id"]):
        rows = curves[curves["trial_id"] == best]
        figure.add_trace(
            go.Scatter(
                x=rows["epoch"],
                y=rows[metric],
                mode="lines",
                line={"color": "black", "width": 4},
                name=f"best: {best}",
            )
        )
    figure.update_xaxes(title="epoch", dtick=1 if curves["epoch"].max() <= 20 else None)
    # early divergent epochs would squeeze the converged ones flat on a linear axis
    figure.update_yaxes(title=metric, type="log" if _wide(curves[metric], 5) else "linear")
    figure.update_layout(legend_title_text="state (trials)", margin={"t": 30})
    return figure


def lr_schedules_figure(tables: Mapping[str, pd.DataFrame], groups: Sequence[str]) -> go.Figure:
    """One panel per group: the lr per epoch of each top trial (`tables`: trial label -> lr per
    group, rows 1-based epochs); log axes; a frozen epoch (lr 0) is a gap."""
    columns = min(3, max(1, len(groups)))
    rows = -(-len(groups) // columns)
    figure = make_subplots(
        rows=rows, cols=columns, subplot_titles=list(groups), shared_xaxes=True,
        vertical_spacing=0.12 if rows > 1 else 0.0,
    )  # fmt: skip
    for rank, (label, table) in enumerate(tables.items()):
        colour = TRIAL_COLOURS[rank % len(TRIAL_COLOURS)]
        for index, group in enumerate(groups):
            if group not in table:
                continue
            values = table[group].where(table[group] > 0)  # frozen: no point on a log axis
            figure.add_trace(
                go.Scatter(
                    x=table.index,
                    y=values,
                    mode="lines+markers",
                    line={"color": colour},
                    marker={"size": 4},
                    name=label,
                    legendgroup=label,
                    showlegend=index == 0,
                    hovertemplate=f"{label}<br>{group}<br>epoch %{{x}}<br>lr %{{y:.3g}}"
                    "<extra></extra>",
                ),
                row=index // columns + 1,
                col=index % columns + 1,
            )
    figure.update_yaxes(type="log", exponentformat="power")
    figure.update_xaxes(title="epoch", row=rows)
    figure.update_yaxes(title="lr", col=1)
    figure.update_layout(height=300 * rows + 60, margin={"t": 40}, legend_title_text="trial")
    return figure
