"""`population: K` in a space file: K Optuna trials trained together in one Ray trial.

- `population_problems`: K > 1 needs a trainable with population support: a registry entry with
  `population_path`, or a trainable given by import path whose function carries a `population`
  attribute (the population function `train(configs, reporter)`, see `trainables.population`).
- `population_ray_function`: what Ray runs for each population (`trainables.population`).
- `ray_trial_count`: Ray trials for `num_samples` members, K per trial (the last may be smaller).
- `expected_ray_trials`: how many Ray trials a finished sweep should show (for `was_interrupted`).
- `write_member_logs`: each member's epochs as its own `<member id>/result.json` beside Ray's
  trial folders, so `curves.parquet` has one row per member and epoch with the same columns as an
  unfused sweep (the metrics the member reported and its Ray trial's `time_total_s`); a
  restarted trial's checkpoint epoch sent again (`previous/...`) is a row of that epoch.

The searcher is `tuner.population_search`, the member ASHA `tuner.population_asha`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from trainables.lr.errors import Problem
from trainables.population import PREVIOUS, PREVIOUS_EPOCH

#: Ray's keys copied into each member's log (they are columns of an unfused sweep's curves)
_RAY_KEYS = ("trial_id", "training_iteration", "time_total_s", "timestamp")


def population_function(entry: Any) -> Callable[..., Any] | None:
    """The population function of a resolved trainable, None when it has no population support.

    A registry entry names it by import path (imported in the worker, never in the driver).
    """
    path = getattr(entry, "population_path", None)
    if path:
        from trainables._lazy import lazy_function

        return lazy_function(path)
    if hasattr(entry, "function_path"):
        return None  # a registry entry without population support: do not import its trainable
    function = getattr(entry.function, "population", None)
    return function if callable(function) else None


def population_problems(population: int, entry: Any, trainable: str) -> list[Problem]:
    """K > 1 with a trainable that cannot train populations."""
    if population <= 1 or population_function(entry) is not None:
        return []
    return [
        Problem(
            "population",
            f"is {population}, but the trainable {trainable!r} does not support populations",
            "remove population (or set it to 1), or choose a trainable with population support",
        )
    ]


def nonfinite_problems(on_nonfinite: str, population: int) -> list[Problem]:
    """`on_nonfinite: worst` with populations, whose members end through their own reports."""
    if on_nonfinite != "worst" or population <= 1:
        return []
    return [
        Problem(
            "on_nonfinite",
            f"is 'worst', which population sweeps (population: {population}) do not support",
            "set on_nonfinite: fail (the default), or remove population",
        )
    ]


def population_ray_function(entry: Any) -> Callable[[dict[str, Any]], None]:
    """The Ray function trainable training one population with the entry's population function."""
    from trainables.population import population_trainable

    function = getattr(entry, "population_path", None) or population_function(entry)
    if function is None:
        raise ValueError(f"{entry.name!r} does not support populations")
    return population_trainable(function)


def ray_trial_count(num_samples: int, population: int) -> int:
    """Ray trials holding `num_samples` members, `population` per trial."""
    return -(-num_samples // max(1, population))


def expected_ray_trials(trials: Iterable[Any], num_samples: int) -> int:
    """The Ray trial count a sweep of `num_samples` trials should end with: `num_samples`
    unfused, else the Ray trials seen plus one when their members fall short of it."""
    trials = list(trials)
    sizes = [len((t.config or {}).get("population", {}).get("members", [])) for t in trials]
    if not trials or not any(sizes):
        return num_samples
    return len(trials) + (1 if sum(sizes) < num_samples else 0)


def member_rows(rows: Iterable[dict[str, Any]], number: int, member: str) -> list[dict[str, Any]]:
    """The rows of member `number` in its Ray trial's results, as an unfused trial would log."""
    prefix = f"member/{number}/"
    out = []
    for row in rows:
        kept = {k: row[k] for k in _RAY_KEYS if k in row}
        again = {
            k[len(PREVIOUS + prefix) :]: v
            for k, v in row.items()
            if k.startswith(PREVIOUS + prefix)
        }
        if again:  # a restarted trial's checkpoint epoch, sent again with its next epoch
            out.append(
                {**kept, "training_iteration": row[PREVIOUS_EPOCH], **again, "trial_id": member}
            )
        values = {k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)}
        if values:
            out.append({**kept, **values, "trial_id": member})
    return out


def write_member_logs(exp_dir: Path, study: Any) -> int:
    """Write `<member id>/result.json` for every member of the study; returns how many."""
    from tuner._report_curves import read_result_log
    from tuner.population_search import POPULATION_TRIAL
    from tuner.searcher import RAY_TRIAL_ID

    exp_dir = Path(exp_dir)
    written = 0
    for trial in study.get_trials(deepcopy=False):
        ray_id = trial.user_attrs.get(POPULATION_TRIAL)
        member = trial.user_attrs.get(RAY_TRIAL_ID)
        source = exp_dir / str(ray_id) / "result.json"
        if not ray_id or not member or not source.is_file():
            continue
        rows = member_rows(read_result_log(source), trial.number, str(member))
        folder = exp_dir / str(member)
        folder.mkdir(exist_ok=True)
        text = "".join(json.dumps(row) + "\n" for row in rows)
        (folder / "result.json").write_text(text)
        written += 1
    return written
