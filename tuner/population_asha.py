"""Asynchronous successive halving per population member, in one small Ray actor per sweep.

Ray's `ASHAScheduler` sees Ray trials, and with `population: K` a Ray trial holds K members,
so the members' rungs are kept here, where every population trainable asks each epoch which of
its members to stop. The rule is Ray's own bracket (`ray.tune.schedulers.async_hyperband.
_Bracket`, one bracket, `max_t = n_epochs`, the space's grace period and reduction factor, the
reward `-value` for `mode: min`): a member reaching a rung is stopped when its reward is below
the `(1 - 1/reduction_factor)` percentile of the rewards recorded at that rung before it.

Every decision is logged in order (`log()`), and `finish_member_asha` appends the log to
`member_asha.json` in the experiment folder, so the decisions can be checked afterwards and a
resumed sweep starts its actor with the rungs so far (`replay`).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from trainables.population import ASHA_NAMESPACE

#: the file in the experiment folder holding every member ASHA decision, in order
LOG_FILE = "member_asha.json"
#: the driver's handles of the actors it started: Ray ends an actor once no handle is left
_HANDLES: dict[str, Any] = {}


class MemberAsha:
    """ASHA's rungs over population members, keyed by Optuna trial number."""

    def __init__(self, grace_period: int, reduction_factor: float, max_t: int, mode: str) -> None:
        from ray.tune.schedulers.async_hyperband import _Bracket

        self._bracket = _Bracket(grace_period, max_t, reduction_factor, s=0)
        self._sign = -1.0 if mode == "min" else 1.0
        self._max_t = max_t
        self._log: list[dict[str, Any]] = []

    def decide(self, epoch: int, values: dict[int, float]) -> list[int]:
        """The members (Optuna numbers) to stop after `epoch`, given their metric values."""
        from ray.tune.schedulers import TrialScheduler

        stop = []
        for number, value in sorted(values.items()):
            if epoch >= self._max_t:
                continue  # finished: COMPLETE, never a rung decision
            member = SimpleNamespace(trial_id=str(number))
            action = self._bracket.on_result(member, epoch, self._sign * float(value))
            stopped = action == TrialScheduler.STOP
            self._log.append(
                {"number": int(number), "epoch": epoch, "value": float(value), "stop": stopped}
            )
            if stopped:
                stop.append(int(number))
        return stop

    def replay(self, log: list[dict[str, Any]]) -> None:
        """Put back the rungs of earlier decisions (a resumed sweep), without logging them again."""
        for entry in log:
            member = SimpleNamespace(trial_id=str(entry["number"]))
            self._bracket.on_result(member, int(entry["epoch"]), self._sign * entry["value"])

    def log(self) -> list[dict[str, Any]]:
        """Every decision so far, in the order they were taken."""
        return list(self._log)


def actor_name(study_name: str) -> str:
    """The Ray actor name of a sweep's member ASHA."""
    return f"member-asha-{study_name}"


def start_member_asha(space: Any, study_name: str, exp_dir: Path | None = None) -> str | None:
    """Start the member ASHA of a sweep (its name; None without ASHA). With `exp_dir` (a
    resumed sweep) the rungs of the decisions logged there are put back first."""
    if space.asha is None:
        return None
    import ray

    name = actor_name(study_name)
    options = {"name": name, "namespace": ASHA_NAMESPACE, "get_if_exists": True}
    actor = (
        ray.remote(num_cpus=0)(MemberAsha)
        .options(**options)
        .remote(space.asha.grace_period, space.asha.reduction_factor, space.n_epochs, space.mode)
    )
    _HANDLES[name] = actor
    log = Path(exp_dir) / LOG_FILE if exp_dir is not None else None
    if log is not None and log.is_file():
        ray.get(actor.replay.remote(json.loads(log.read_text())))
    return name


def finish_member_asha(study_name: str, exp_dir: Path) -> Path | None:
    """Append the actor's decisions to `member_asha.json` in `exp_dir`, then end the actor."""
    import ray

    try:
        actor = ray.get_actor(actor_name(study_name), ASHA_NAMESPACE)
    except ValueError:
        return None  # no population sweep, or no ASHA
    path = Path(exp_dir) / LOG_FILE
    earlier = json.loads(path.read_text()) if path.is_file() else []
    path.write_text(json.dumps([*earlier, *ray.get(actor.log.remote())], indent=1) + "\n")
    ray.kill(actor)
    _HANDLES.pop(actor_name(study_name), None)
    return path
