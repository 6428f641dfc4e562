"""Turn a finished one-trial toy sweep into what a driver SIGKILLed mid-sweep leaves behind.

Ray snapshots its experiment state now and then, while the trial goes on checkpointing and
rotating (`keep_checkpoints`) and Optuna's storage is written live. `as_killed_before_a_snapshot`
rewrites the sweep's own files (Ray's state, the searcher's saved state, the Optuna storage, the
trial's `result.json` and checkpoints) into exactly that state, deterministically.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

from tuner.trust import sign_folder

#: Optuna journal operations: set a trial's state and values; set an intermediate value
_SET_STATE, _SET_INTERMEDIATE = 6, 7


def trial_folder(exp_dir: Path) -> Path:
    """The folder of the sweep's one trial."""
    (folder,) = [p for p in exp_dir.iterdir() if (p / "result.json").is_file()]
    return folder


def as_killed_before_a_snapshot(exp_dir: Path, named: str, epochs: int, keep: int) -> str:
    """Leave `exp_dir`'s one finished trial (run with every checkpoint kept) as a driver
    SIGKILLed after epoch `epochs` leaves it when Ray's last snapshot, taken earlier, names
    checkpoint `named`: that snapshot (and the searcher's saved state) has the trial RUNNING with
    `named`'s result and checkpoint index and Ray rotating to `keep` checkpoints; `result.json`
    goes up to epoch `epochs`, and so do the checkpoints, of which rotation left the newest
    `keep`; its Optuna record is RUNNING with the values of those epochs. Returns the Ray trial
    id."""
    import dataclasses

    from ray import cloudpickle
    from ray.train import Checkpoint
    from ray.train._internal.session import _TrainingResult
    from ray.tune.trainable.metadata import _TrainingRunMetadata

    folder = trial_folder(exp_dir)
    rows = [json.loads(line) for line in (folder / "result.json").read_text().splitlines()]
    rows = rows[:epochs]
    (folder / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    written = sorted(r["checkpoint_dir_name"] for r in rows if r["checkpoint_dir_name"])
    for checkpoint in folder.glob("checkpoint_*"):
        if checkpoint.name not in written[-keep:]:
            shutil.rmtree(checkpoint)
    (row,) = [r for r in rows if r.get("checkpoint_dir_name") == named]

    (state_file,) = exp_dir.glob("experiment_state-*.json")
    state = json.loads(state_file.read_text())
    (entry,) = state["trial_data"]
    trial = json.loads(entry[0])
    trial["status"] = "RUNNING"
    storage = cloudpickle.loads(bytes.fromhex(trial["storage"]["value"]))
    storage.current_checkpoint_index = int(named.rsplit("_", 1)[-1])
    trial["storage"]["value"] = cloudpickle.dumps(storage).hex()
    metadata = _TrainingRunMetadata.from_json_state(entry[1])
    manager = metadata.checkpoint_manager
    filesystem = manager.latest_checkpoint_result.checkpoint.filesystem
    result = _TrainingResult(Checkpoint(str(folder / named), filesystem=filesystem), row)
    manager._latest_checkpoint_result = result
    manager._checkpoint_results = [result]
    manager._checkpoint_config = dataclasses.replace(manager._checkpoint_config, num_to_keep=keep)
    metadata.last_result = row
    metadata.invalidate_cache()
    state["trial_data"] = [[json.dumps(trial, indent=2), metadata.get_json_state()]]
    state_file.write_text(json.dumps(state, indent=2))

    _truncate_optuna_record(exp_dir, epochs)

    (searcher_file,) = exp_dir.glob("searcher-state-*.pkl")
    searcher = pickle.loads(searcher_file.read_bytes())
    searcher["_completed_trials"].discard(row["trial_id"])
    searcher["_last_step"][row["trial_id"]] = row["training_iteration"]
    values = searcher["_ot_trials"][row["trial_id"]]._cached_frozen_trial.intermediate_values
    for step in [step for step in values if step > row["training_iteration"]]:
        del values[step]
    searcher_file.write_bytes(pickle.dumps(searcher))
    sign_folder(exp_dir)  # as the driver signs each state it saves (`tuner.trust`)
    return row["trial_id"]


def _truncate_optuna_record(exp_dir: Path, epochs: int) -> None:
    """The study's one record back to RUNNING with the values of epochs 1..`epochs` only, in
    the folder's Optuna storage (a journal file, or an SQLite file)."""
    journal, sqlite = exp_dir / "optuna.journal", exp_dir / "optuna.db"
    if journal.is_file():
        kept = []
        for line in journal.read_text().splitlines():
            op = json.loads(line)
            if op["op_code"] == _SET_STATE:
                continue
            if op["op_code"] == _SET_INTERMEDIATE and op["step"] > epochs:
                continue
            kept.append(line + "\n")
        journal.write_text("".join(kept))
        return
    import sqlite3

    with sqlite3.connect(sqlite) as db:
        db.execute("UPDATE trials SET state = 'RUNNING', datetime_complete = NULL")
        db.execute("DELETE FROM trial_values")
        db.execute("DELETE FROM trial_intermediate_values WHERE step > ?", (epochs,))
