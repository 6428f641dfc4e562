"""Before a resume: does the Optuna study still hold a record of every trial Ray saved?

Every Ray trial is asked from Optuna (and its record written to the journal) before Ray knows
it, so Ray's saved state never names a trial the study lacks, unless records were lost: a
damaged or cut journal, a machine crash within the last second of writes. Resuming then would
train trials whose results have nowhere to go and leave tables without them, so `resume`
refuses and says which trials and epochs are gone. Ray's state is read as plain JSON (its trial
ids, statuses and last results); nothing is unpickled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna

from trainables.lr.errors import TunerError
from tuner.population_search import POPULATION_TRIAL
from tuner.searcher import RAY_TRIAL_ID

_UNFINISHED = ("PENDING", "RUNNING", "PAUSED")


def saved_ray_trials(exp_dir: Path) -> dict[str, dict[str, Any]]:
    """Ray's newest saved state: trial id -> {"status", "iteration"}; {} when there is none
    (or it does not read as JSON: `tuner.state_backup.repair_state` deals with that)."""
    states = sorted(Path(exp_dir).glob("experiment_state-*.json"))
    if not states:
        return {}
    try:
        state = json.loads(states[-1].read_bytes())
        trials = {}
        for trial_json, metadata_json in state["trial_data"]:
            trial, metadata = json.loads(trial_json), json.loads(metadata_json)
            last = metadata.get("last_result") or {}
            iteration = last.get("training_iteration")
            trials[str(trial["trial_id"])] = {
                "status": str(trial.get("status")),
                "iteration": iteration if isinstance(iteration, int) else 0,
            }
    except (OSError, ValueError, TypeError, KeyError):
        return {}
    return trials


def lost_records(study: optuna.Study, ray_trials: dict[str, dict[str, Any]]) -> list[str]:
    """What the study lacks of the Ray trials in Ray's saved state, one line per trial: no
    record at all, or (for a trial `resume` continues) epochs Ray ran that its record lacks."""
    records: dict[str, list[Any]] = {}
    for record in study.get_trials(deepcopy=False):
        attrs = record.user_attrs
        key = attrs.get(POPULATION_TRIAL) or attrs.get(RAY_TRIAL_ID)
        records.setdefault(str(key), []).append(record)
    lines = []
    for trial_id, saved in sorted(ray_trials.items()):
        found = records.get(trial_id)
        if not found:
            lines.append(f"Ray trial {trial_id} ({saved['status']}) has no Optuna record")
            continue
        if len(found) != 1 or saved["status"] not in _UNFINISHED:
            continue  # population members: their epochs are checked by their own logic
        steps = set(found[0].intermediate_values)
        lacking = [e for e in range(1, saved["iteration"] + 1) if e not in steps]
        if lacking:
            shown = f"{lacking[0]}-{lacking[-1]}" if len(lacking) > 1 else str(lacking[0])
            lines.append(
                f"Ray trial {trial_id} ran {saved['iteration']} epochs, but its record lacks "
                f"epoch(s) {shown} ({len(lacking)} of them)"
            )
    return lines


def check_records(exp_dir: Path, study: optuna.Study, journal: str) -> None:
    """Raise `TunerError` when the study lost records of trials in Ray's saved state."""
    lines = lost_records(study, saved_ray_trials(exp_dir))
    if not lines:
        return
    shown = "; ".join(lines[:10]) + (f"; and {len(lines) - 10} more" if len(lines) > 10 else "")
    raise TunerError(
        f"{journal}: records are lost ({shown}). Resuming would leave them out of the study "
        "and the tables, so it is refused: `best`, `export` and `report` show what is "
        "recorded; run the sweep again under another --name to redo it"
    )
