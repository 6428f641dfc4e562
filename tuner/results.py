"""A finished (or interrupted) sweep as pandas tables, best configs and its Optuna study.

    from tuner.results import load, compare
    results = load("results/quickstart")
    results.trials                       # one row per trial (columns: tuner.export)
    results.curves                       # one row per trial and epoch, every metric and group lr
    results.best_configs(3)              # top 3 configs in the seed format, ready to paste
    compare(["results/a", "results/b"])  # the trials of several sweeps in one table

Everything is read from the folder: the Optuna storage (`optuna.journal`, found relative to the
folder, so a copy from a cluster works), Ray's per-trial logs and the space file. No Ray is started.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from trainables.lr.errors import ConfigError, Problem
from tuner._report_curves import curves_to_frame
from tuner._report_groups import experiment_groups
from tuner.experiment import Experiment, load_experiment
from tuner.export import ExportPaths, best_configs, best_configs_yaml, trials_to_frame
from tuner.export import write_exports as _write_exports
from tuner.trial_runs import trial_runs

#: `python -m tuner best --format` choices
FORMATS = ("yaml", "json", "table")


class Results:
    """The tables of one experiment folder; each is computed on first use and kept."""

    def __init__(self, experiment: Experiment) -> None:
        self.experiment = experiment

    @property
    def dir(self) -> Path:
        return self.experiment.dir

    @property
    def metric(self) -> str:
        return self.experiment.metric

    @property
    def mode(self) -> str:
        return self.experiment.mode

    @cached_property
    def study(self) -> optuna.Study:
        """The sweep's Optuna study, with its true trial states."""
        return self.experiment.load_study()

    @cached_property
    def group_names(self) -> tuple[str, ...] | None:
        """The trainable's parameter groups (from the space file), None when unknown here."""
        return experiment_groups(self.dir)

    @cached_property
    def trials(self) -> pd.DataFrame:
        """One row per trial in Optuna order: ids, state, epochs, best/last metric, wall time,
        effective group lrs, sampled params, the config flattened with `/`."""
        return trials_to_frame(
            self.study, self.metric, self.mode, self.group_names, trial_runs(self.dir)
        )

    @cached_property
    def curves(self) -> pd.DataFrame:
        """One row per trial and epoch: every reported metric and the lr of every group."""
        return curves_to_frame(self.dir, self.study, self.metric)

    def best_trials(self, k: int = 5) -> pd.DataFrame:
        """The `k` best COMPLETE trials' rows, best first (ties by trial number), with `rank`."""
        done = self.trials[self.trials["state"] == "COMPLETE"]
        top = done.sort_values(
            [f"last/{self.metric}", "number"], ascending=[self.mode == "min", True], kind="stable"
        ).head(k)
        top = top.reset_index(drop=True)
        top.insert(0, "rank", range(1, len(top) + 1))
        return top

    def best_configs(self, k: int = 5) -> list[dict[str, Any]]:
        """The configs of the `k` best COMPLETE trials, best first, each exactly as its trainable
        received it (seed format: paste it into a training config or `build_lr_plan`)."""
        return [e["config"] for e in best_configs(self.study, self.metric, self.mode, k)]

    def best_entries(self, k: int = 5) -> list[dict[str, Any]]:
        """`best_configs` with rank, trial id, number, metric value and epochs of each."""
        return best_configs(self.study, self.metric, self.mode, k)

    @cached_property
    def space_text(self) -> str:
        """The space file the sweep ran, verbatim ('' when the copy is missing)."""
        path = self.experiment.space_file
        return path.read_text() if path.is_file() else ""

    def settings(self) -> dict[str, Any]:
        """The sweep's recorded facts: study, storage, metric, mode, max_t, overrides."""
        exp = self.experiment
        return {
            "name": exp.name,
            "folder": str(exp.dir),
            "study_name": exp.study_name,
            "optuna_storage": exp.optuna_storage,
            "metric": exp.metric,
            "mode": exp.mode,
            "max_t": exp.max_t,
            "overrides": dict(exp.overrides),
        }

    def write_exports(self, k: int = 5) -> ExportPaths:
        """(Re)write trials.csv/.parquet, curves.parquet and best_configs.yaml, atomically."""
        return _write_exports(
            self.dir, self.study, self.metric, self.mode, k, group_names=self.group_names
        )


def load(path: str | Path) -> Results:
    """The results of the experiment folder `path` (a ConfigError when it is not one)."""
    return Results(load_experiment(path))


def compare(paths: Sequence[str | Path]) -> pd.DataFrame:
    """The trials of several experiments in one table, an `experiment` column (the folder name)
    first; columns are the union, in first-seen order, missing values NaN."""
    frames = []
    for path in paths:
        results = load(path)
        frame = results.trials.copy()
        frame.insert(0, "experiment", results.experiment.name)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["experiment"])
    return pd.concat(frames, ignore_index=True, sort=False)


def best_text(path: str | Path, k: int = 5, fmt: str = "yaml") -> str:
    """The top `k` configs of a sweep as `yaml` (paste-ready, with a header), `json`, or a
    `table` of the best trials (rank, metric, epochs, group lrs, sampled params)."""
    if fmt not in FORMATS:
        problem = Problem("format", f"is {fmt!r}, but must be one of {', '.join(FORMATS)}")
        raise ConfigError([problem], source="best")
    results = load(path)
    if fmt == "yaml":
        return best_configs_yaml(results.study, results.metric, results.mode, k)
    if fmt == "json":
        return json.dumps(results.best_entries(k), indent=2) + "\n"
    return best_table(results, k)


def best_table(results: Results, k: int = 5) -> str:
    """A plain-text table of the `k` best COMPLETE trials (what `best --format table` prints)."""
    top = results.best_trials(k)
    if top.empty:
        return f"no COMPLETE trial in {results.dir}: nothing to rank\n"
    metric = results.metric
    keep = ["rank", "trial_id", "number", "epochs", f"last/{metric}", f"best/{metric}"]
    keep += [c for c in top.columns if c.startswith(("lr/", "param/"))]
    shown = top[keep].dropna(axis=1, how="all")
    with pd.option_context("display.width", 250, "display.max_columns", None):
        return shown.to_string(index=False) + "\n"


__all__ = ["FORMATS", "Results", "best_table", "best_text", "compare", "load"]
