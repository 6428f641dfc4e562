"""Population sweeps interrupted and resumed on a real Ray: members go on from their checkpoint.

The toy population here reports `tests.tuner.toy.score(x, epoch)` per member, checkpoints
(`{"epoch", "active"}`) every `checkpoint_every` epochs and resumes from `load_checkpoint()`;
members with `x > nan_above` diverge at epoch 2. Every attempt appends the epoch it starts at to
`<attempts_dir>/<x>.txt` for each member it trains, so a test sees where each member went on
from. After the interruption (a Ray trial that raises once, or a SIGKILLed driver and
`python -m tuner resume`) every member must be one Optuna record with one value per epoch, the
closed form, no gap, a state its values decide, and none RUNNING.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from optuna.trial import TrialState

from tests.tuner.spaces import ray_curves, toy_space
from tests.tuner.test_population_units import _reference_asha
from tests.tuner.toy import score
from tests.tuner.toy_population import trainable as _lone
from tuner.api import run_space
from tuner.experiment import load_experiment
from tuner.population_asha import LOG_FILE
from tuner.population_search import POPULATION_TRIAL
from tuner.searcher import FAIL_REASON, RAY_TRIAL_ID

N_EPOCHS, GRACE, RF = 6, 2, 3  # one rung, at epoch 2
NAN_ABOVE = 0.8


def train_population(configs: list[dict[str, Any]], reporter: Any) -> None:
    """All `configs` at once, checkpointing and resuming (module docstring). With
    `raise_after: e`, the first attempt of each population raises after reporting epoch e."""
    first = configs[0]
    n_epochs, every = int(first["n_epochs"]), int(first.get("checkpoint_every") or 1)
    active, start = set(range(len(configs))), 1
    saved = reporter.load_checkpoint()
    if saved is not None:
        start = int(saved["checkpoint"]["epoch"]) + 1
        active = set(saved["checkpoint"]["active"]) - set(saved["stop"])
    log = Path(first["attempts_dir"])
    for index in sorted(active):
        with open(log / f"{float(configs[index]['x'])!r}.txt", "a") as attempts:
            attempts.write(f"{start}\n")
    marker = log / f"raised-{float(first['x'])!r}"
    for epoch in range(start, n_epochs + 1):
        if not active:
            return
        time.sleep(float(first.get("sleep", 0.0)))
        reports: dict[int, dict[str, Any]] = {}
        for index in sorted(active):
            x = float(configs[index]["x"])
            if epoch >= 2 and x > float(first.get("nan_above", math.inf)):
                reports[index] = {"epoch": epoch, "failed": f"loss is nan (x={x:.3f})"}
            else:
                reports[index] = {"score": score(x, epoch), "epoch": epoch, "start": start}
        active -= {i for i, r in reports.items() if "failed" in r}
        due = epoch % every == 0 or epoch == n_epochs
        checkpoint = {"epoch": epoch, "active": sorted(active)} if due else None
        active -= set(reporter.report(reports, checkpoint) or ())
        if epoch == first.get("raise_after") and not marker.exists():
            marker.write_text("raised once")
            raise RuntimeError("the population's worker dies on purpose")


def trainable(config: dict[str, Any]) -> None:
    """One config alone (unused: these sweeps train populations)."""
    _lone(config)


trainable.population = train_population


def _space(tmp: Path, results: Path, name: str, attempts: Path, **fields: Any) -> Path:
    fixed = {"nan_above": NAN_ABOVE, "attempts_dir": str(attempts), **fields.pop("fixed", {})}
    return toy_space(
        tmp,
        results,
        name=name,
        trainable="tests.tuner.test_population_resume:trainable",
        n_epochs=N_EPOCHS,
        searcher={"name": "random", "seed": 3},  # x > 0.8 in the second population
        asha={"grace_period": GRACE, "reduction_factor": RF},
        fixed=fixed,
        **fields,
    )


def _attempts(attempts: Path, x: float) -> list[int]:
    return [int(s) for s in (attempts / f"{x!r}.txt").read_text().split()]


def check_members(exp_dir: Path) -> dict[int, Any]:
    """Every member that ran: one record, each epoch once from 1 on with the closed form, the
    state its values decide; records never run are FAIL as such. Returns the members by number."""
    study = load_experiment(exp_dir).load_study()
    records = study.get_trials(deepcopy=False)
    assert TrialState.RUNNING not in {t.state for t in records}
    ids = [t.user_attrs[RAY_TRIAL_ID] for t in records]
    assert len(ids) == len(set(ids))  # a member is one record
    log = json.loads((exp_dir / LOG_FILE).read_text())
    decided = [(e["number"], e["epoch"]) for e in log]
    assert len(decided) == len(set(decided))  # each decision logged once
    stopped = {e["number"]: e["epoch"] for e in log if e["stop"]}
    members = {}
    for trial in records:
        steps = sorted(trial.intermediate_values)
        if not steps:  # asked from Optuna after Ray's last saved state: never trained
            assert trial.state == TrialState.FAIL
            assert trial.user_attrs[FAIL_REASON].startswith("created but never run")
            continue
        members[trial.number] = trial
        x = trial.params["x"]
        assert steps == list(range(1, steps[-1] + 1)), trial.number  # no gap
        values = [trial.intermediate_values[s] for s in steps]
        if x > NAN_ABOVE:
            assert trial.state == TrialState.FAIL and steps == [1, 2] and math.isnan(values[1])
            assert trial.user_attrs[FAIL_REASON].startswith("diverged at epoch 2: loss is nan")
            values = values[:1]
        assert values == pytest.approx([score(x, s) for s in steps[: len(values)]], rel=1e-12)
        if x > NAN_ABOVE:
            continue
        if steps[-1] == N_EPOCHS:
            assert trial.state == TrialState.COMPLETE and trial.value == values[-1]
        else:
            assert trial.state == TrialState.PRUNED and stopped[trial.number] == steps[-1] == GRACE
    assert {t.state for t in members.values()} == {
        TrialState.COMPLETE,
        TrialState.PRUNED,
        TrialState.FAIL,
    }
    curves = pd.read_parquet(exp_dir / "curves.parquet")
    for number, trial in members.items():
        mine = curves[curves["number"] == number]
        assert list(mine["epoch"]) == sorted(trial.intermediate_values), number
    return members


def test_a_restarted_population_goes_on_from_its_checkpoint(
    ray_local: None, tmp_path: Path, results_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """Each population's worker dies after epoch 3; Ray restarts it from its checkpoint of
    epoch 2 (pruned and failed members ended there stay ended): epoch 3 is reported again and
    recorded once, and every member ends as an uninterrupted sweep would end it."""
    attempts = tmp_path / "attempts"
    attempts.mkdir()
    path = _space(
        tmp_path, results_dir, "restarted", attempts, population=4, num_samples=8,
        checkpoint_every=2, max_failures=1, fixed={"raise_after": 3},
    )  # fmt: skip
    outcome = run_space(path)
    assert outcome.ok and outcome.unfinished == 0
    exp_dir = outcome.experiment.dir
    members = check_members(exp_dir)
    assert len(members) == 8
    log = json.loads((exp_dir / LOG_FILE).read_text())  # one actor throughout: the plain rule
    assert [e["stop"] for e in log] == _reference_asha(log, GRACE, RF, N_EPOCHS, "min")
    populations = {t.user_attrs[POPULATION_TRIAL] for t in members.values()}
    curves = ray_curves(exp_dir)
    went_on = {
        t.user_attrs[POPULATION_TRIAL] for t in members.values() if t.state.name == "COMPLETE"
    }
    assert went_on, "no population got past epoch 3"
    for ray_id in populations:
        epochs = [row["training_iteration"] for row in curves[ray_id]]
        if ray_id in went_on:
            assert epochs == [1, 2, 3, 3, 4, 5, 6], ray_id  # epoch 3 again, from epoch 2 on
        else:
            assert epochs == [1, 2], ray_id  # every member ended at epoch 2
    for trial in members.values():
        runs = _attempts(attempts, trial.params["x"])
        if trial.state == TrialState.COMPLETE:
            assert runs == [1, 3], trial.number  # went on from its checkpoint
        else:
            assert runs == [1], trial.number  # ended at epoch 2: stayed ended
    counts = outcome.counts
    lines = [line for line in capsys.readouterr().out.splitlines() if "members running" in line]
    assert sum("] member " in line for line in lines) == 8  # one line per member that ended
    assert lines[-1].endswith(
        f"members running 0 · completed {counts['COMPLETE']} · pruned {counts['PRUNED']} · "
        f"failed {counts['FAIL']} | best score {outcome.experiment.load_study().best_value:.6g} "
        f"({outcome.experiment.load_study().best_trial.user_attrs[RAY_TRIAL_ID]})"
    )
