"""A PNG of every group's learning-rate curve from a preview table (`preview_lrs`).

The x axis is in epochs. A per-step table (index `step` with an `epoch` column) is drawn at step
resolution, each step at its fraction of the epoch, with the optimizer step on a second axis on
top; any other table uses its `step` or `epoch` column, else its index. Frozen stretches (lr 0)
break the curve on a log axis and show as a bar in the group's colour along the bottom, named in
the legend. Uses matplotlib's Agg canvas directly: no display, no global pyplot state.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

_X_COLUMNS = ("step", "epoch")
_STYLES = ("-", "--", "-.", ":")


def _x_axis(frame: pd.DataFrame) -> tuple[str, np.ndarray, int | None]:
    """The x label, x values and, for a per-step table, its steps per epoch (else None)."""
    steps = frame["step"] if "step" in frame.columns else None
    if steps is None and frame.index.name == "step":
        steps = frame.index.to_series()
    if steps is not None and "epoch" in frame.columns:
        epoch = frame["epoch"].to_numpy()
        step = steps.to_numpy()
        keys, first, counts = np.unique(epoch, return_index=True, return_counts=True)
        start = dict(zip(keys, step[first], strict=True))
        count = dict(zip(keys, counts, strict=True))
        x = np.array([e + (s - start[e]) / count[e] for e, s in zip(epoch, step, strict=True)])
        per_epoch = int(counts[0]) if len(set(counts[:-1].tolist())) <= 1 else None
        return "epoch", x, per_epoch
    for column in _X_COLUMNS:
        if column in frame.columns:
            return column, frame[column].to_numpy(dtype=float), None
    return frame.index.name or "epoch", frame.index.to_numpy(dtype=float), None


def _runs(epochs: Sequence[int]) -> list[tuple[int, int]]:
    """Consecutive epochs as (first, last) runs."""
    runs: list[tuple[int, int]] = []
    for e in sorted(epochs):
        if runs and e == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], e)
        else:
            runs.append((e, e))
    return runs


def _frozen_label(runs: list[tuple[int, int]]) -> str:
    text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
    return f"frozen epoch{'s' if len(runs) > 1 or runs[0][0] != runs[0][1] else ''} {text}"


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
    factor of 10 (typical of per-group ratios and decays). Frozen epochs come from
    `frame.attrs["frozen"]` (set by `preview_lrs`).

    >>> plot_preview(plan.preview(), "results/lr_preview.png")
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    x_label, x, per_epoch = _x_axis(frame)
    names = (
        list(columns) if columns is not None else [c for c in frame.columns if c not in _X_COLUMNS]
    )
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise KeyError(f"preview has no column {missing}; it has {list(frame.columns)}")
    curves = [(str(n), frame[n].to_numpy(dtype=float)) for n in names]
    values = np.concatenate([v for _, v in curves]) if curves else np.zeros(0)
    positive = values[values > 0]
    if log_y is None:
        log_y = bool(positive.size and (values >= 0).all() and positive.max() / positive.min() > 10)
    frozen: dict[str, Any] = dict(frame.attrs.get("frozen", {}))

    tracks = [(i, name, _runs(frozen.get(name, ()))) for i, (name, _) in enumerate(curves)]
    tracks = [t for t in tracks if t[2]]
    figure = Figure(figsize=(9.0, 4.8 + 0.25 * len(tracks)), dpi=100)
    FigureCanvasAgg(figure)
    if tracks:
        ratios = [5.0, 0.4 + 0.3 * len(tracks)]
        axes, track = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": ratios})
    else:
        axes, track = figure.add_subplot(), None
    dense = len(x) > 60
    colors = {}
    for i, (name, y) in enumerate(curves):
        shown = np.where(y > 0, y, np.nan) if log_y else y
        runs = _runs(frozen.get(name, ()))
        label = f"{name} ({_frozen_label(runs)})" if runs else name
        (line,) = axes.plot(
            x,
            shown,
            linestyle=_STYLES[i % len(_STYLES)],  # overlapping curves stay visible
            marker=None if dense else ".",
            label=label,
            linewidth=1.6,
        )
        colors[name] = line.get_color()
    if track is not None:
        stepped = "epoch" in frame.columns and "epoch" != x_label  # x is the fractional epoch
        stepped = stepped or per_epoch is not None
        half = 0.0 if stepped else 0.5  # per-epoch points sit at integers, steps fill [e, e+1)
        for row, (_, name, runs) in enumerate(tracks):
            bars = [(a - half, b - a + 1) for a, b in runs]
            track.broken_barh(bars, (row - 0.35, 0.7), color=colors[name], alpha=0.85)
        track.set_yticks(range(len(tracks)), [name for _, name, _ in tracks], fontsize="small")
        track.set_ylim(len(tracks) - 0.5, -0.5)
        track.set_title("frozen (lr 0)", fontsize="small", loc="left")
        track.grid(True, axis="x", alpha=0.3)
        track.set_xlabel(x_label)
    else:
        axes.set_xlabel(x_label)
    if log_y:
        axes.set_yscale("log")
    axes.set_ylabel("lr" + (" (log scale)" if log_y else ""))
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    if per_epoch:
        top = axes.secondary_xaxis(
            "top", functions=(lambda e: e * per_epoch, lambda s: s / per_epoch)
        )
        top.set_xlabel(f"optimizer step ({per_epoch} per epoch)")
    if curves:
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    figure.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png")
    return out
