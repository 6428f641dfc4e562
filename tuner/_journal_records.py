"""Which lines of an Optuna journal are records Optuna can replay, and why the others are not.

Optuna replays every line of its journal and stops at the first it cannot apply, with a bare
`AssertionError` ("Should not reach.") for an unknown operation or a `KeyError` for a missing
field. `record_problem` names what is wrong with one record, so that the line can be skipped
with a warning instead. The fields are those Optuna's own writer puts in each operation.
"""

from __future__ import annotations

from typing import Any

#: Optuna's journal operations -> fields each must carry (Optuna writes them all)
FIELDS: dict[int, tuple[str, ...]] = {
    0: ("study_name", "directions"),  # create study
    1: ("study_id",),  # delete study
    2: ("study_id", "user_attr"),  # set study user attr
    3: ("study_id", "system_attr"),  # set study system attr
    4: ("study_id", "datetime_start"),  # create trial
    5: ("trial_id", "param_name", "param_value_internal", "distribution"),  # set param
    6: ("trial_id", "state", "values"),  # set state and values
    7: ("trial_id", "step", "intermediate_value"),  # set intermediate value
    8: ("trial_id", "user_attr"),  # set trial user attr
    9: ("trial_id", "system_attr"),  # set trial system attr
    10: (),  # discard trials (written by other Optuna implementations, ignored)
}
#: fields that must be a one-entry mapping
_ONE_ENTRY = ("user_attr", "system_attr")
_IDS = ("study_id", "trial_id", "step")
#: Optuna's trial states: RUNNING, COMPLETE, PRUNED, FAIL, WAITING
_STATES = range(5)


def _known_operations() -> set[int]:
    """The operations this Optuna knows: ours, and any newer one it declares."""
    try:  # only widens what is accepted; the table above stands without it
        from optuna.storages.journal._storage import JournalOperation

        return set(FIELDS) | {int(op) for op in JournalOperation}
    except (ImportError, TypeError):
        return set(FIELDS)


KNOWN = _known_operations()


def record_problem(log: Any) -> str | None:
    """Why `log` (a parsed journal line) is not a record Optuna can replay, or None."""
    if not isinstance(log, dict):
        return f"a JSON {type(log).__name__}, not a record"
    op = log.get("op_code")
    if not isinstance(op, int) or isinstance(op, bool) or op not in KNOWN:
        return f"unknown operation (op_code {str(op)[:20]})"
    if not isinstance(log.get("worker_id"), str):
        return f"operation {op} without a worker_id"
    missing = [name for name in FIELDS.get(op, ()) if name not in log]
    if missing:
        return f"operation {op} lacks {', '.join(missing)}"
    for name in _IDS:
        if name in log and (not isinstance(log[name], int) or isinstance(log[name], bool)):
            return f"operation {op}: {name} is {str(log[name])[:20]}, not an integer"
    for name in _ONE_ENTRY:
        if name in log and not (isinstance(log[name], dict) and len(log[name]) == 1):
            return f"operation {op}: {name} is not a single attribute"
    if op == 6 and log["state"] not in _STATES:
        return f"operation 6: unknown trial state {str(log['state'])[:20]}"
    if op == 6 and log["state"] == 0 and "datetime_start" not in log:
        return "operation 6 lacks datetime_start"
    if op == 6 and log["state"] in (1, 2, 3) and "datetime_complete" not in log:
        return "operation 6 lacks datetime_complete"
    return None
