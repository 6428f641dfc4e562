"""`report.html`: one self-contained page (PNGs embedded as base64) for a sweep's results."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f0f0f0; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
figure { margin: 1.5em 0; } img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; }
.scroll { overflow-x: auto; }
"""


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
    plots: Mapping[str, tuple[Path, str]],
    settings: Mapping[str, Any],
    space_text: str,
) -> str:
    """The page: state counts, the top-k table, the best config, each plot with its caption,
    the sweep's recorded settings and its space file."""
    esc = html.escape
    count_text = ", ".join(f"{state.lower()} {n}" for state, n in counts.items())
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>',
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>{sum(counts.values())} trials: {esc(count_text)}.</p>",
        "<h2>Best trials (COMPLETE only)</h2>",
        _table(top) if not top.empty else "<p>No trial ran the full budget: nothing to rank.</p>",
    ]
    if best_config is not None:
        dumped = yaml.safe_dump(best_config, sort_keys=False, default_flow_style=False)
        parts += [
            "<h3>Best config, ready to paste</h3>",
            f"<pre>{esc(dumped)}</pre>",
        ]
    parts.append("<h2>Plots</h2>")
    for name, (path, caption) in plots.items():
        parts.append(
            f'<figure id="{esc(name)}">{_image(path)}<figcaption>{esc(caption)}</figcaption>'
            "</figure>"
        )
    rows = pd.DataFrame({"setting": list(settings), "value": [str(v) for v in settings.values()]})
    parts += [
        "<h2>Sweep settings</h2>",
        _table(rows),
        "<h3>Space file</h3>",
        f"<pre>{esc(space_text)}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
