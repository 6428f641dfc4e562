"""A PNG of every group's learning-rate curve from a preview table (`LRPlan.preview()`).

The table has one row per epoch (or step: the index, or an `epoch`/`step` column, is the x axis)
and one column per group. Frozen stretches (lr 0) show as gaps on a log axis, so a group that
unfreezes later is visible at once. Uses matplotlib's Agg canvas directly: no display, no global
pyplot state, safe on workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

_X_COLUMNS = ("step", "epoch")


def _curves(frame: pd.DataFrame, columns: Sequence[str] | None) -> tuple[str, np.ndarray, list]:
    """The x label, x values and the (name, values) of every curve to draw."""
    x_col = next((c for c in _X_COLUMNS if c in frame.columns), None)
    if x_col is None:
        x_label, x = frame.index.name or "epoch", frame.index.to_numpy()
    else:
        x_label, x = x_col, frame[x_col].to_numpy()
    names = list(columns) if columns is not None else [c for c in frame.columns if c != x_col]
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise KeyError(f"preview has no column {missing}; it has {list(frame.columns)}")
    curves = [(str(n), frame[n].to_numpy(dtype=float)) for n in names]
    return x_label, x, curves


def plot_preview(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    columns: Sequence[str] | None = None,
    title: str = "learning rate per group",
    log_y: bool | None = None,
) -> Path:
    """Draw every group's curve of `frame` into the PNG `path`; returns the path.

    `log_y` None picks a log axis when every non-zero lr is positive and they span more than a
    factor of 10 (typical of per-group ratios and decays).

    >>> plot_preview(plan.preview(), "results/lr_preview.png")
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x_label, x, curves = _curves(frame, columns)
    values = np.concatenate([v for _, v in curves]) if curves else np.zeros(0)
    positive = values[values > 0]
    if log_y is None:
        log_y = bool(positive.size and (values >= 0).all() and positive.max() / positive.min() > 10)
    figure = Figure(figsize=(7.5, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for name, y in curves:
        shown = np.where(y > 0, y, np.nan) if log_y else y
        axes.plot(x, shown, marker="." if len(x) <= 60 else None, label=name)
    if log_y:
        axes.set_yscale("log")
    axes.set_xlabel(x_label)
    axes.set_ylabel("lr")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    if curves:
        axes.legend(fontsize="small", loc="best")
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png")
    return out
