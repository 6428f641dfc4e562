"""Regret curves, paired comparisons and Wilcoxon tests from `benchmarks.search_suite` runs.

Regret of a run after k epochs of its budget: the best final value (a trial that reached the
last epoch, z = 1, where the reported value is the noiseless function) among the reports that
arrived within those k epochs, minus the function's optimum. It is normalized by the function's
scale (the median over 10,000 uniform points of f - optimum), so functions pool; a run with no
finished trial yet has normalized regret 1 (a median random point). Paired comparisons match
runs by function and seed; the test is scipy's Wilcoxon signed-rank test (two-sided).

    python -m benchmarks.search_report /tmp/suite.jsonl            # print the tables
    python -m benchmarks.search_report /tmp/suite.jsonl --write    # and BENCHMARKS.md's section
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import header, write_section
from benchmarks.mf_functions import FUNCTIONS, curve_value

TITLE = "Search suite: multi-fidelity functions from the literature"
FRACTIONS = (0.25, 0.5, 0.75, 1.0)
BASELINE = "default"


@functools.cache
def scale(name: str) -> float:
    """Median of f - optimum over 10,000 uniform points (seed 0) at full fidelity."""
    function = FUNCTIONS[name]
    points = np.random.default_rng(0).random((10000, function.dims))
    return float(np.median([function.value(p, 1.0) for p in points]) - function.optimum)


def regret_curve(run: dict[str, Any]) -> list[float]:
    """Normalized regret after each fraction of the budget in `FRACTIONS`."""
    function, epochs, budget = FUNCTIONS[run["function"]], run["epochs"], run["budget"]
    out = []
    for fraction in FRACTIONS:
        used = run["arrivals"][: int(round(fraction * budget))]
        finals = [value for _, epoch, value in used if epoch == epochs]
        out.append(
            min((min(finals) - function.optimum) / scale(run["function"]), 1.0) if finals else 1.0
        )
    return out


def good_set_table(path: str | Path, method: str = "tpe_optuna") -> str:
    """What Optuna's TPE calls its good set at the end of `method`'s runs: n_below =
    min(ceil(0.1 n), 25) of n finished trials, filled first by every full-budget trial."""
    rows: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for line in Path(path).read_text().splitlines():
        run = json.loads(line)
        if run["method"] == method:
            trials = {t for t, _, _ in run["arrivals"]}
            full = {t for t, e, _ in run["arrivals"] if e == run["epochs"]}
            rows[run["function"]].append((len(trials), len(full)))
    lines = [
        "| function | trials | full-budget trials | good set n_below | full-budget share of it |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, pairs in sorted(rows.items()):
        n, full = (statistics.median(p[i] for p in pairs) for i in (0, 1))
        below = [min(math.ceil(0.1 * t), 25) for t, _ in pairs]
        share = statistics.median(min(f, b) / b for (_, f), b in zip(pairs, below, strict=True))
        lines.append(
            f"| {name} | {n:.0f} | {full:.0f} | {statistics.median(below):.0f} | {share:.0%} |"
        )
    return "\n".join(lines)


def load_runs(path: str | Path) -> dict[str, dict[tuple[str, int], list[float]]]:
    """method -> (function, seed) -> regret curve (the last line of a repeated run wins)."""
    runs: dict[str, dict[tuple[str, int], list[float]]] = defaultdict(dict)
    for line in Path(path).read_text().splitlines():
        run = json.loads(line)
        runs[run["method"]][(run["function"], run["seed"])] = regret_curve(run)
    return dict(runs)


def paired(a: dict, b: dict, index: int = -1, function: str | None = None) -> dict[str, Any]:
    """`a` against `b` on the runs both have: wins (a lower), losses, ties, median paired
    difference a - b, Wilcoxon p."""
    from scipy.stats import wilcoxon

    keys = sorted(k for k in a.keys() & b.keys() if function is None or k[0] == function)
    diffs = np.array([a[k][index] - b[k][index] for k in keys])
    nonzero = diffs[diffs != 0]
    p = float(wilcoxon(nonzero).pvalue) if len(nonzero) >= 2 else float("nan")
    return {
        "n": len(keys),
        "wins": int((diffs < 0).sum()),
        "losses": int((diffs > 0).sum()),
        "ties": int((diffs == 0).sum()),
        "median_diff": float(np.median(diffs)) if len(diffs) else float("nan"),
        "p": p,
    }


def mean_ranks(runs: dict[str, dict]) -> dict[str, float]:
    """Each method's mean rank (1 = lowest final regret, ties averaged) over shared runs."""
    from scipy.stats import rankdata

    methods = sorted(runs)
    keys = sorted(set.intersection(*(set(runs[m]) for m in methods)))
    ranks = np.array([rankdata([runs[m][k][-1] for m in methods]) for k in keys])
    return {m: float(ranks[:, i].mean()) for i, m in enumerate(methods)} if keys else {}


def curve_table(runs: dict[str, dict]) -> str:
    head = " | ".join(f"{int(f * 100)} % of budget" for f in FRACTIONS)
    lines = [f"| function | method | {head} |", "|" + " --- |" * (2 + len(FRACTIONS))]
    for name in sorted(FUNCTIONS):
        for method in sorted(runs):
            curves = [c for (f, _), c in runs[method].items() if f == name]
            if curves:
                cells = " | ".join(
                    f"{statistics.median(c[i] for c in curves):.4f}" for i in range(len(FRACTIONS))
                )
                lines.append(f"| {name} | {method} | {cells} |")
    return "\n".join(lines)


def comparison_table(runs: dict[str, dict], baseline: str = BASELINE) -> str:
    lines = [
        f"| {baseline} vs | function | runs | {baseline} better | worse | tied | median "
        "paired difference | Wilcoxon p |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for method in sorted(m for m in runs if m != baseline):
        for name in [*sorted(FUNCTIONS), None]:
            r = paired(runs[baseline], runs[method], function=name)
            if r["n"]:
                label = name or "**pooled**"
                lines.append(
                    f"| {method} | {label} | {r['n']} | {r['wins']} | {r['losses']} | "
                    f"{r['ties']} | {r['median_diff']:+.4f} | {r['p']:.3g} |"
                )
    return "\n".join(lines)


def correlation_table(epochs: int, points: int = 300) -> str:
    """Spearman's rho of the value at each epoch with the final value, uniform points."""
    from scipy.stats import spearmanr

    shown = sorted({1, 2, 3, max(1, epochs // 3), max(1, epochs // 2), epochs - 1} - {0})
    lines = [
        "| function | " + " | ".join(f"epoch {e}" for e in shown) + " |",
        "|" + " --- |" * (1 + len(shown)),
    ]
    for name, function in sorted(FUNCTIONS.items()):
        xs = np.random.default_rng(0).random((points, function.dims))
        final = [curve_value(name, x, epochs, epochs) for x in xs]
        rhos = [spearmanr([curve_value(name, x, e, epochs) for x in xs], final)[0] for e in shown]
        lines.append(f"| {name} | " + " | ".join(f"{r:.2f}" for r in rhos) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", help="the JSON lines file search_suite --json wrote")
    parser.add_argument("--write", action="store_true", help="rewrite the BENCHMARKS.md section")
    parser.add_argument("--command", default="", help="the search_suite command, for the record")
    parser.add_argument("--baseline", nargs="+", default=[BASELINE], help="methods compared")
    args = parser.parse_args(argv)
    runs = load_runs(args.runs)
    first = json.loads(Path(args.runs).read_text().splitlines()[0])
    ranks = mean_ranks(runs)
    text = (
        "Median normalized regret (0 = the optimum, 1 = a median random point):\n\n"
        f"{curve_table(runs)}\n\nPaired by function and seed, final regret:\n\n"
        + "\n\n".join(comparison_table(runs, b) for b in args.baseline)
        + "\n\nMean rank by final regret (1 best): "
        + ", ".join(f"{m} {r:.2f}" for m, r in sorted(ranks.items(), key=lambda i: i[1]))
        + f"\n\nSpearman's rho of epoch e with epoch {first['epochs']} (300 uniform points):\n\n"
        f"{correlation_table(first['epochs'])}\n"
    )
    if "tpe_optuna" in runs:
        text += (
            "\nOptuna's TPE (`tpe_optuna`) at the end of its runs (medians over seeds):\n\n"
            f"{good_set_table(args.runs)}\n"
        )
    print(text)
    if args.write:
        seeds = sorted({seed for m in runs.values() for _, seed in m})
        body = (
            header("benchmarks.search_report", [a for a in argv if a != "--write"])
            + f"- Runs: `{args.command}`; {first['epochs']} epochs per trial, a budget of "
            f"{first['budget']} epochs per run, 2 trials at a time, "
            f"seeds {seeds[0]}-{seeds[-1]}\n\n" + text
        )
        write_section(TITLE, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
