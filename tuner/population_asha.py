"""Asynchronous successive halving per population member, in one small Ray actor per sweep.

Ray's `ASHAScheduler` sees Ray trials, and with `population: K` a Ray trial holds K members,
so the members' rungs are kept here, where every population trainable asks each epoch which of
its members to stop. The rule is Ray's own bracket (`ray.tune.schedulers.async_hyperband.
_Bracket`, one bracket, `max_t = n_epochs`, the space's grace period and reduction factor, the
reward `-value` for `mode: min`): a member reaching a rung is stopped when its reward is below
the `(1 - 1/reduction_factor)` percentile of the rewards recorded at that rung before it.

Every decision is logged in order (`log()`), and `finish_member_asha` appends the log to
`member_asha.json` in the experiment folder, so the decisions can be checked afterwards.

A decision is taken once: a member asked again about an epoch it was decided at (its Ray trial
restarted from a checkpoint before that epoch and trained it again) gets the same answer, and
nothing is recorded or logged twice. A resumed sweep starts its actor with every decision so
far put back (`replay`): those in `member_asha.json`, and those a killed driver could not write
there, rebuilt from the Optuna study (`study_decisions`: every finite intermediate value of a
member before `max_t` was a decision, a stop where a PRUNED member's values end). The study is
written as results arrive, so it may miss the last decisions before a crash; the epochs they
were taken at are trained again from the trial's checkpoint and decided afresh, unless the
checkpoint was saved after them: a restarted trial puts its checkpoint epoch's decisions back
itself (`trainables.population`). Rebuilt decisions are logged marked `"rebuilt": true` (their
order is not known, the rungs they record are).
"""

from __future__ import annotations

import json
import math
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
        #: (number, epoch) -> stop, for every decision taken or put back
        self._decided: dict[tuple[int, int], bool] = {}

    def decide(self, epoch: int, values: dict[int, float]) -> list[int]:
        """The members (Optuna numbers) to stop after `epoch`, given their metric values."""
        from ray.tune.schedulers import TrialScheduler

        stop = []
        for number, value in sorted(values.items()):
            if epoch >= self._max_t:
                continue  # finished: COMPLETE, never a rung decision
            earlier = self._decided.get((int(number), epoch))
            if earlier is not None:  # asked again (a restarted trial): the same answer
                if earlier:
                    stop.append(int(number))
                continue
            member = SimpleNamespace(trial_id=str(number))
            action = self._bracket.on_result(member, epoch, self._sign * float(value))
            stopped = action == TrialScheduler.STOP
            self._decided[(int(number), epoch)] = stopped
            self._log.append(
                {"number": int(number), "epoch": epoch, "value": float(value), "stop": stopped}
            )
            if stopped:
                stop.append(int(number))
        return stop

    def replay(self, log: list[dict[str, Any]], record: bool = False) -> None:
        """Put back earlier decisions and their rungs (a resumed sweep, a restarted trial); a
        decision known already is skipped. With `record`, the others are logged, marked
        `"rebuilt": true` (decisions taken by an actor that was lost, as a checkpoint kept them)."""
        for entry in log:
            key = (int(entry["number"]), int(entry["epoch"]))
            if key in self._decided:
                continue
            member = SimpleNamespace(trial_id=str(key[0]))
            self._bracket.on_result(member, key[1], self._sign * float(entry["value"]))
            self._decided[key] = bool(entry["stop"])
            if record:
                self._log.append({**entry, "rebuilt": True})

    def log(self) -> list[dict[str, Any]]:
        """Every decision so far, in the order they were taken."""
        return list(self._log)


def actor_name(study_name: str) -> str:
    """The Ray actor name of a sweep's member ASHA."""
    return f"member-asha-{study_name}"


def study_decisions(study: Any, max_t: int) -> list[dict[str, Any]]:
    """The decisions the member ASHA took, as far as the study shows them (module docstring),
    by epoch and member number."""
    from optuna.trial import TrialState

    decisions = []
    for trial in study.get_trials(deepcopy=False):
        steps = sorted(s for s, v in trial.intermediate_values.items() if math.isfinite(v))
        steps = [s for s in steps if s < max_t]
        for step in steps:
            stop = trial.state == TrialState.PRUNED and step == max(trial.intermediate_values)
            value = float(trial.intermediate_values[step])
            decisions.append({"number": trial.number, "epoch": step, "value": value, "stop": stop})
    return sorted(decisions, key=lambda d: (d["epoch"], d["number"]))


def _put_back(actor: Any, exp_dir: Path, max_t: int) -> None:
    """Replay `member_asha.json` and the decisions only the study still shows into `actor`;
    the latter are appended to the file (`"rebuilt": true`)."""
    import ray

    from tuner.experiment import load_experiment

    path = Path(exp_dir) / LOG_FILE
    logged = json.loads(path.read_text()) if path.is_file() else []
    known = {(int(e["number"]), int(e["epoch"])) for e in logged}
    study = load_experiment(exp_dir).load_study()
    rebuilt = [
        {**d, "rebuilt": True}
        for d in study_decisions(study, max_t)
        if (d["number"], d["epoch"]) not in known
    ]
    ray.get(actor.replay.remote(logged + rebuilt))
    if rebuilt:
        path.write_text(json.dumps([*logged, *rebuilt], indent=1) + "\n")


def start_member_asha(space: Any, study_name: str, exp_dir: Path | None = None) -> str | None:
    """Start the member ASHA of a sweep (its name; None without ASHA). With `exp_dir` (a
    resumed sweep) every earlier decision is put back first (module docstring)."""
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
    if exp_dir is not None:
        _put_back(actor, Path(exp_dir), space.n_epochs)
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
