"""The table printed when a sweep ends: state counts, the best trials, and where everything is."""

from __future__ import annotations

import pandas as pd

from tuner.sweep import SweepOutcome


def summary_text(outcome: SweepOutcome, top: int = 5) -> str:
    """Counts per Optuna state, the `top` COMPLETE trials by the metric, and the output paths."""
    exp = outcome.experiment
    frame = pd.read_parquet(outcome.exports.parquet)
    metric = f"last/{exp.metric}"
    done = frame[frame["state"] == "COMPLETE"].sort_values(
        [metric, "number"], ascending=[exp.mode == "min", True]
    )
    counts = ", ".join(f"{k.lower()} {v}" for k, v in outcome.counts.items())
    lines = [f"sweep {exp.name}: {len(frame)} trials ({counts})", ""]
    failed = outcome.counts.get("FAIL", 0)
    if failed and failed == len(frame):
        lines.append(f"every trial failed ({failed} of {failed}): nothing to rank")
    elif done.empty:
        lines.append("no trial ran the full budget: nothing to rank")
    else:
        shown = done.head(top)[["trial_id", "number", "epochs", metric, f"best/{exp.metric}"]]
        shown.insert(0, "rank", range(1, len(shown) + 1))
        lines.append(f"best by {exp.metric} ({exp.mode}), COMPLETE trials only:")
        lines.append(shown.to_string(index=False))
    if outcome.stopped:
        lines += ["", f"sweep stopped (fail_fast): {outcome.stopped}"]
    if outcome.budget.endswith("(spent)"):
        lines += ["", f"{outcome.budget}: the sweep asked for no more trials"]
    if outcome.fail_reasons:
        lines += ["", "why trials failed:"]
        lines += [f"  {n} x {reason}" for reason, n in list(outcome.fail_reasons.items())[:5]]
    lines += [
        "",
        f"experiment     {exp.dir}",
        f"trials         {outcome.exports.csv}",
        f"               {outcome.exports.parquet}",
        f"best configs   {outcome.exports.best_configs}",
        f"optuna study   {exp.study_name} in {exp.optuna_storage}",
        f"               (optuna-dashboard {exp.optuna_storage})",
        f"top configs    python -m tuner best {exp.dir}",
    ]
    if outcome.unfinished:
        lines.append(
            f"interrupted    {outcome.unfinished} trials unfinished: "
            f"python -m tuner resume {exp.dir}"
        )
    return "\n".join(lines)
