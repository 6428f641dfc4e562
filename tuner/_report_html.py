"""`report.html`: one self-contained page for a sweep's results, that works offline.

plotly.js is inlined once in the head (no CDN); each interactive figure is a `<div>` with the
figure's JSON and a call to `Plotly.newPlot`; PNGs are embedded as base64.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.io
import yaml
from plotly.offline import get_plotlyjs

from tuner._report_figures import View

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f0f0f0; }
pre { background: #f6f6f6; padding: 0.8em; overflow: auto; font-size: 0.85em; max-height: 24em; }
figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; }
.scroll { overflow-x: auto; }
.view { margin: 1.5em 0 2.5em; } .view h3 { margin-bottom: 0.2em; }
.note { color: #555; font-size: 0.9em; margin: 0.2em 0 0.6em; }
.missing { color: #8a6d3b; background: #fcf8e3; padding: 0.6em; }
nav a { margin-right: 0.8em; font-size: 0.9em; }
"""

#: plotly's per-figure options: no logo, resize with the page
_CONFIG = {"displaylogo": False, "responsive": True}


def _view(view: View) -> str:
    """One interactive figure: heading, caption, the plotly div (or why it is missing)."""
    esc = html.escape
    head = f'<section class="view" id="{esc(view.name)}"><h3>{esc(view.title)}</h3>'
    if view.figure is None:
        return f'{head}<p class="missing">Not drawn: {esc(view.caption)}.</p></section>'
    body = plotly.io.to_html(
        view.figure,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"figure-{view.name}",
        config=_CONFIG,
        default_height=520,
    )
    return f'{head}<p class="note">{esc(view.caption)}</p>{body}</section>'


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame) -> str:
    text = frame.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0)
    return f'<div class="scroll">{text}</div>'


def render_report(
    *,
    title: str,
    counts: Mapping[str, int],
    top: pd.DataFrame,
    best_config: Mapping[str, Any] | None,
    best_line: str,
    views: list[View],
    plots: Mapping[str, tuple[Path, str]],
    settings: Mapping[str, Any],
    space_text: str,
) -> str:
    """The page: state counts, the top-k table, the best config, the interactive `views`, each
    PNG with its caption, the sweep's recorded settings and its space file."""
    esc = html.escape
    count_text = ", ".join(f"{state.lower()} {n}" for state, n in counts.items())
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>',
        f"<style>{_STYLE}</style>",
        '<script type="text/javascript">window.PlotlyConfig = {MathJaxConfig: "local"};</script>',
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>{sum(counts.values())} trials: {esc(count_text)}. {esc(best_line)}</p>",
        "<nav>"
        + "".join(f'<a href="#{esc(v.name)}">{esc(v.name.replace("_", " "))}</a>' for v in views)
        + '<a href="#plots">PNGs</a><a href="#settings">settings</a></nav>',
        "<h2>Best trials (COMPLETE only)</h2>",
        _table(top) if not top.empty else "<p>No trial ran the full budget: nothing to rank.</p>",
    ]
    if best_config is not None:
        dumped = yaml.safe_dump(best_config, sort_keys=False, default_flow_style=False)
        parts += [
            "<h3>Best config, ready to paste</h3>",
            f"<pre>{esc(dumped)}</pre>",
        ]
    parts.append("<h2>Interactive figures</h2>")
    parts += [_view(view) for view in views]
    parts.append('<h2 id="plots">Figures for papers (PNG, in plots/)</h2>')
    for name, (path, caption) in plots.items():
        parts.append(
            f'<figure id="{esc(name)}">{_image(path)}<figcaption>{esc(caption)}</figcaption>'
            "</figure>"
        )
    rows = pd.DataFrame({"setting": list(settings), "value": [str(v) for v in settings.values()]})
    parts += [
        '<h2 id="settings">Sweep settings</h2>',
        _table(rows),
        "<h3>Space file</h3>",
        f"<pre>{esc(space_text)}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
