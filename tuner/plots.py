"""The report's PNGs, drawn on matplotlib's Agg canvas (no display, no global pyplot state).

- `plot_learning_curves`: the metric of every trial per epoch; COMPLETE trials in colour, PRUNED
  ones grey and dashed with an x where ASHA stopped them, FAIL ones red, the best one thick black;
- `plot_metric_vs_params`: the last metric against each sampled number (lrs, multipliers, ...) and
  each group's effective lr, log axes where the values are log-distributed; COMPLETE trials blue
  dots, PRUNED ones grey x (their value is from the epoch ASHA stopped them), the best a red star,
  with a legend; every panel has both axes labelled;
- `plot_importances`: Optuna's parameter importances as bars, with what they rest on;
- `plot_message`: a placeholder with a sentence, where a plot cannot be drawn (too few trials).

Every figure has a fixed size in pixels (`SIZE`, or `grid_size` for the panel grid).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

DPI = 100
#: (width, height) in pixels of the single-panel figures
SIZE = (900, 550)
#: (width, height) in pixels of one panel of the metric-vs-parameter grid; title strip height
PANEL, TITLE_PX, COLUMNS = (320, 260), 40, 3


def _figure(width: int, height: int) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: str | Path) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", dpi=DPI)
    return out


def wide_range(values: Any) -> bool:
    """True when every value is positive and they span more than a factor of 10 (log axis)."""
    array = np.asarray(values, dtype=float)
    array = array[np.isfinite(array)]
    return bool(array.size and (array > 0).all() and array.max() / array.min() > 10)


def plot_learning_curves(
    curves: pd.DataFrame, metric: str, path: str | Path, best_trial: str | None = None
) -> Path:
    """Every trial's `metric` per epoch (see the module docstring for the marks)."""
    figure = _figure(*SIZE)
    axes = figure.add_subplot()
    styles = {
        "COMPLETE": {"color": "tab:blue", "lw": 1.2, "alpha": 0.8},
        "PRUNED": {"color": "0.55", "ls": "--", "lw": 1.2},
        "FAIL": {"color": "tab:red", "ls": ":", "lw": 1.0},
        "RUNNING": {"color": "tab:orange", "ls": "-.", "lw": 1.0},
    }
    labelled: set[str] = set()
    counts = curves.groupby("trial_id", sort=False)["state"].first().value_counts()
    for _, rows in curves.groupby("trial_id", sort=False):
        state = str(rows["state"].iloc[0])
        style = dict(styles.get(state, styles["RUNNING"]))
        label = None if state in labelled else f"{state.lower()} ({counts.get(state, 0)})"
        labelled.add(state)
        x, y = rows["epoch"].to_numpy(), rows[metric].to_numpy(dtype=float)
        axes.plot(x, y, label=label, marker="." if len(x) <= 60 else None, **style)
        if state in ("PRUNED", "FAIL") and len(x):
            axes.plot(x[-1], y[-1], marker="x", ms=9, mew=2, color=style["color"])
    if best_trial is not None and best_trial in set(curves["trial_id"]):
        rows = curves[curves["trial_id"] == best_trial]
        axes.plot(rows["epoch"], rows[metric], color="black", lw=3, label=f"best: {best_trial}")
    if wide_range(curves[metric]):
        _log_axis(axes, "y")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel(metric)
    axes.set_title(f"{metric} per epoch of every trial (x: stopped early)")
    axes.grid(True, which="both", alpha=0.3)
    if len(curves):
        axes.legend(fontsize="small", loc="best")
    figure.tight_layout()
    return _save(figure, path)


def short_number(value: float) -> str:
    """A tick label of at most 5 characters: `1e-4`, `3e-3`, `0.05`, `2`, `500`, `2e+04`."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if 1e-2 <= abs(value) < 1e4:
        return f"{value:.2g}"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _log_axis(axes: Any, which: str, crowded: bool = False) -> None:
    """A log axis with short labels (`short_number`): at 1, 2 and 5 times each power of ten, or
    1 and 3 on a small panel, only at powers of ten where the values span more than 2 decades."""
    getattr(axes, f"set_{which}scale")("log")
    axis = axes.xaxis if which == "x" else axes.yaxis
    low, high = sorted(abs(v) for v in (axes.get_xlim() if which == "x" else axes.get_ylim()))
    wide = low > 0 and high / low > 100
    subs = (1.0,) if wide else (1.0, 3.0) if crowded else (1.0, 2.0, 5.0)
    axis.set_major_locator(LogLocator(base=10, subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda value, _: short_number(value)))
    axis.set_minor_formatter(NullFormatter())


def grid_size(panels: int) -> tuple[int, int]:
    """The pixel size of the metric-vs-parameter figure with `panels` panels."""
    columns = min(COLUMNS, max(panels, 1))
    rows = max(1, math.ceil(panels / COLUMNS))
    return columns * PANEL[0], rows * PANEL[1] + TITLE_PX


def plot_metric_vs_params(
    trials: pd.DataFrame, metric: str, mode: str, columns: Mapping[str, bool], path: str | Path
) -> Path:
    """The last `metric` of every trial against each column in `columns` (name -> log x axis).

    COMPLETE trials are blue dots, PRUNED ones grey x (their value is from the epoch they were
    stopped at), the best COMPLETE trial a red star; one legend for the figure.
    """
    names = list(columns)
    figure = _figure(*grid_size(len(names)))
    y_col = f"last/{metric}"
    done = trials["state"] == "COMPLETE"
    finished = trials[done][y_col].dropna()
    best = None if finished.empty else finished.idxmin() if mode == "min" else finished.idxmax()
    log_y = wide_range(trials[y_col])
    pruned = trials["state"] == "PRUNED"
    for index, name in enumerate(names, start=1):
        axes = figure.add_subplot(math.ceil(len(names) / COLUMNS), COLUMNS, index)
        x = pd.to_numeric(trials[name], errors="coerce")
        axes.scatter(x[done], trials[y_col][done], color="tab:blue", s=25, label="complete")
        axes.scatter(
            x[pruned], trials[y_col][pruned], marker="x", color="0.55", s=30,
            label="pruned (value when stopped)",
        )  # fmt: skip
        if best is not None and np.isfinite(x[best]):
            axes.scatter(
                [x[best]], [trials[y_col][best]], marker="*", color="tab:red", s=150, label="best"
            )
        if columns[name]:
            _log_axis(axes, "x", crowded=True)
        if log_y:
            _log_axis(axes, "y", crowded=True)
        label = f"effective lr {name[3:]}" if name.startswith("lr/") else name[6:]
        axes.set_xlabel(label, fontsize="small")
        if (index - 1) % COLUMNS == 0:
            axes.set_ylabel(f"last {metric}", fontsize="small")
        axes.tick_params(labelsize="x-small")
        axes.grid(True, which="both", alpha=0.3)
        if index == 1:
            handles, labels = axes.get_legend_handles_labels()
    figure.suptitle(f"last {metric} of each trial against its sampled values", x=0.02, ha="left")
    figure.tight_layout(rect=(0, 0, 1, 1 - 30 / figure.bbox.height))
    if names:
        figure.legend(handles, labels, loc="upper right", fontsize="x-small", ncols=3)
    return _save(figure, path)


def plot_importances(importances: Mapping[str, float], path: str | Path, note: str) -> Path:
    """Horizontal bars of Optuna's importances, largest on top; `note` under the title."""
    figure = _figure(*SIZE)
    axes = figure.add_subplot()
    names = list(importances)[::-1]
    axes.barh(names, [float(importances[n]) for n in names], color="tab:blue")
    axes.set_xlabel("importance (sums to 1)")
    caption = "\n".join(textwrap.wrap(note, 80))
    axes.set_title(f"parameter importances\n{caption}", fontsize="medium")
    axes.tick_params(axis="y", labelsize="small")
    axes.grid(True, axis="x", alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def plot_message(path: str | Path, title: str, text: str) -> Path:
    """A figure of `SIZE` holding only `title` and a sentence: why a plot could not be drawn."""
    figure = _figure(*SIZE)
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_title(title)
    axes.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize="large")
    return _save(figure, path)
