"""A population's checkpoint: the `PopulationRun` state and the member configs it belongs to.

`population_checkpoint(run, configs)` is what `train_dsr_population` hands its reporter;
`resume_population(run, saved, configs)` continues from what the reporter's `load_checkpoint()`
gave back (`{"checkpoint": ..., "stop": [...]}`), after checking that the checkpoint belongs to
these member configs: a population of other configs is refused with a `ConfigError` naming each
differing key (`members[2].learning_rate.lr is 0.02, but the checkpoint has 0.01`). Only run
knobs that do not change what is trained may differ (`RESUME_MAY_DIFFER`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from trainables.dsr.population_run import PopulationRun
from trainables.lr.errors import ConfigError, Problem

#: member config keys a resumed population may change: they do not change what is trained
RESUME_MAY_DIFFER = ("checkpoint_every", "device")
_FIX = "resume with the member configs the checkpoint was saved with, or start afresh"
_NOT_SET = "<not set>"


def member_record(config: Mapping[str, Any]) -> str:
    """A member config as a checkpoint records it: JSON, without `RESUME_MAY_DIFFER`."""
    kept = {k: v for k, v in config.items() if k not in RESUME_MAY_DIFFER}
    return json.dumps(kept, sort_keys=True, default=str)


def population_checkpoint(
    run: PopulationRun, configs: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """All it takes to continue `run` exactly, and the member configs it was trained with."""
    return {"run": run.state_dict(), "configs": [member_record(c) for c in configs]}


def resume_population(
    run: PopulationRun, saved: Mapping[str, Any], configs: Sequence[Mapping[str, Any]]
) -> None:
    """Continue `run` from `saved` (`load_checkpoint()`'s answer): check the configs, load the
    state, mark the members that trained every epoch done and stop those in `saved["stop"]`."""
    checkpoint = saved["checkpoint"]
    mine = [json.loads(member_record(c)) for c in configs]
    problems = config_problems(mine, [json.loads(c) for c in checkpoint["configs"]])
    if problems:
        raise ConfigError(problems, source="checkpoint")
    run.load_state_dict(checkpoint["run"])
    if run.epoch >= run.settings.n_epochs:
        for k in run.members():
            run.finish(k)
    for k in saved.get("stop") or ():
        run.stop(int(k))


def config_problems(mine: Sequence[Any], theirs: Sequence[Any]) -> list[Problem]:
    """How the member configs `mine` differ from those a checkpoint holds (`theirs`)."""
    if len(mine) != len(theirs):
        message = f"are {len(mine)} configs, but the checkpoint holds {len(theirs)}"
        return [Problem("members", message, _FIX)]
    problems = []
    for i, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        ours, saved = _flatten(a, f"members[{i}]"), _flatten(b, f"members[{i}]")
        for path in sorted(set(ours) | set(saved)):
            value, recorded = ours.get(path, _NOT_SET), saved.get(path, _NOT_SET)
            if value != recorded:
                message = f"is {value!r}, but the checkpoint has {recorded!r}"
                problems.append(Problem(path, message, _FIX))
    return problems


def _flatten(value: Any, path: str) -> dict[str, Any]:
    """`{dotted path: leaf}` of a nested config (lists are leaves)."""
    if not isinstance(value, Mapping) or not value:
        return {path: value}
    out: dict[str, Any] = {}
    for key, item in value.items():
        out.update(_flatten(item, f"{path}.{key}"))
    return out
